//! `fundtrace path`: value paths between two addresses or clusters.

use std::path::Path;

use clap::Args;
use fundtrace_analysis::entity::Attribution;
use serde_json::{json, Value};

use crate::context::Context;
use crate::show::print;
use crate::Failure;

#[derive(Args)]
pub struct PathArgs {
    /// Address or cluster id the value leaves
    from: String,
    /// Address or cluster id the value reaches
    to: String,
    #[arg(long, default_value_t = 6)]
    max_hops: u32,
    /// Do not cross clusters with more addresses than this (exchanges and other hubs)
    #[arg(long, default_value_t = 1_000)]
    skip_clusters_above: u32,
    /// Number of paths to show
    #[arg(long, default_value_t = 5)]
    paths: usize,
    #[arg(long)]
    json: bool,
}

struct ClusterNodes<'a> {
    clusters: Option<&'a fundtrace_analysis::cluster::Clusters>,
    members: Option<fundtrace_analysis::cluster::store::MemberIndex>,
    attribution: &'a Attribution<'a>,
    skip_above: u32,
}

impl fundtrace_analysis::path::Nodes for ClusterNodes<'_> {
    fn node_of(&self, address: u32) -> u32 {
        self.attribution.key(address)
    }
    fn addresses_of(&self, node: u32, out: &mut Vec<u32>) {
        out.clear();
        match &self.members {
            Some(m) => out.extend_from_slice(m.of(node)),
            None => out.push(node),
        }
    }
    fn crossable(&self, node: u32) -> bool {
        let size = self.clusters.map_or(1, |c| c.size(node));
        let service = self.attribution.entity(node).is_some_and(|e| e.category.is_some());
        size <= self.skip_above && !service
    }
}

/// A node argument: a cluster id (a number) or an address (its cluster).
fn node_arg(ctx: &Context, attribution: &Attribution, s: &str) -> Result<u32, Failure> {
    match s.parse::<u32>() {
        Ok(n) if ctx.clusters.is_some() => Ok(n),
        _ => Ok(attribution.key(ctx.address_id(s)?)),
    }
}

pub fn path(data_dir: &Path, a: PathArgs) -> Result<(), Failure> {
    let ctx = Context::open(data_dir)?;
    let attribution = ctx.attribution();
    let (from, to) = (node_arg(&ctx, &attribution, &a.from)?, node_arg(&ctx, &attribution, &a.to)?);
    let nodes = ClusterNodes {
        clusters: ctx.clusters.as_ref(),
        members: ctx.clusters.as_ref().map(|c| c.member_index()),
        attribution: &attribution,
        skip_above: a.skip_clusters_above,
    };
    let opts = fundtrace_analysis::path::PathOptions { max_hops: a.max_hops, paths: a.paths, ..Default::default() };
    let found = fundtrace_analysis::path::find(&ctx.graph(), &nodes, from, to, &opts);
    let name = |n: u32| attribution.entity(n).map_or_else(|| format!("cluster {n}"), |e| format!("{} (cluster {n})", e.label));
    let paths: Vec<Value> = found
        .iter()
        .map(|p| {
            json!({
                "bottleneck": p.bottleneck,
                "hops": p.steps.len(),
                "steps": p.steps.iter().map(|s| json!({
                    "from": name(s.from),
                    "to": name(s.to),
                    "txid": ctx.txid(s.tx),
                    "block_height": ctx.when(s.tx).0,
                    "value": s.value,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let v = json!({"from": name(from), "to": name(to), "paths": paths});
    print(&v, a.json);
    Ok(())
}
