//! `fundtrace cluster`: build or extend the clusters, and ask them questions (show, explain,
//! alarms, evaluate against ground truth).

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use fundtrace_analysis::change::Heuristic;
use fundtrace_analysis::cluster::{self, evaluate, ClusterConfig, Clusters, Explanation, Merge, MergeKind};
use fundtrace_bitcoin::{AddressKey, Network};
use fundtrace_core::{AddressId, TxId};
use fundtrace_store::Ledger;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::show::{self, print, JsonFlag};
use crate::{usage, Failure};

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ClusterArgs {
    #[command(subcommand)]
    command: Option<ClusterCommand>,
    #[command(flatten)]
    update: UpdateArgs,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// A cluster by id or by one of its addresses: size, balance, activity, largest members
    Show(ShowArgs),
    /// The chain of transactions that put two addresses in one cluster
    Explain(ExplainArgs),
    /// Merges of two large clusters (possible collapse through a false link)
    Alarms(JsonFlag),
    /// Pairwise precision and recall against a simulated world's ground truth
    Evaluate(EvaluateArgs),
}

/// Build or extend the clusters (the default when no subcommand is given).
#[derive(Args)]
struct UpdateArgs {
    /// Also merge change outputs chosen by this expression, e.g. "agree(2, legacy, optimal_change,
    /// address_type)"; heuristics: address_reuse, address_type, optimal_change, power_of_ten,
    /// fresh_address, legacy, locktime, peeling_chain, fixed_fee, meiklejohn; operators & | -
    /// unique(..) agree(k, ..)
    #[arg(long)]
    change: Option<String>,
    /// Apply the multi-input heuristic to CoinJoins too (BlockSci's ignore_coinjoin=False)
    #[arg(long)]
    keep_coinjoins: bool,
    /// Allow a --change expression that does not require two heuristics to agree (e.g.
    /// "unique(legacy)", as BlockSci users write): for comparisons, not for investigations
    #[arg(long)]
    single_heuristic: bool,
    /// Raise a collapse alarm when two clusters each larger than this merge [default: 1000]
    #[arg(long)]
    collapse_threshold: Option<u32>,
    /// Discard existing clusters and start over (needed to change the options above)
    #[arg(long)]
    rebuild: bool,
    /// Also print a SHA-256 of all cluster records (equal digests, equal clusterings)
    #[arg(long)]
    digest: bool,
    #[command(flatten)]
    out: JsonFlag,
}

#[derive(Args)]
struct ShowArgs {
    /// Cluster id (a number) or an address in the cluster
    cluster: String,
    /// How many of the largest members to list
    #[arg(long, default_value_t = 10)]
    members: usize,
    #[command(flatten)]
    out: JsonFlag,
}

#[derive(Args)]
struct ExplainArgs {
    address_a: String,
    address_b: String,
    #[command(flatten)]
    out: JsonFlag,
}

#[derive(Args)]
struct EvaluateArgs {
    /// The `truth/` directory written by `fundtrace simulate`
    #[arg(long)]
    truth: PathBuf,
    /// Also score each change heuristic: how often its unique candidate is truly change
    #[arg(long)]
    heuristics: bool,
    #[command(flatten)]
    out: JsonFlag,
}

pub fn run(data_dir: &Path, a: ClusterArgs) -> Result<(), Failure> {
    match a.command {
        None => update(data_dir, a.update),
        Some(ClusterCommand::Show(s)) => show_cluster(data_dir, s),
        Some(ClusterCommand::Explain(e)) => explain(data_dir, e),
        Some(ClusterCommand::Alarms(j)) => alarms(data_dir, j),
        Some(ClusterCommand::Evaluate(e)) => evaluate_cmd(data_dir, e),
    }
}

/// methods.md §2.3: change merges need a unique candidate named by at least two heuristics
/// (`agree(k >= 2, ...)` at the top of the expression), unless the user opts out.
fn check_agreement(expr: &str, single_heuristic: bool) -> Result<(), Failure> {
    let e = fundtrace_analysis::expr::ChangeExpr::parse(expr).map_err(|why| usage(format!("--change: {why}")))?;
    match e {
        fundtrace_analysis::expr::ChangeExpr::Agree(k, _) if k >= 2 => Ok(()),
        _ if single_heuristic => Ok(()),
        _ => Err(usage(format!(
            "--change {expr:?}: change merges need at least two heuristics to agree on a unique output \
             (methods.md §2.3), e.g. \"agree(2, meiklejohn, power_of_ten, locktime)\"; pass --single-heuristic \
             to use this expression anyway (single heuristics collapse clusters: see BENCHMARKS.md)"
        ))),
    }
}

fn update(data_dir: &Path, a: UpdateArgs) -> Result<(), Failure> {
    if let Some(expr) = &a.change {
        check_agreement(expr, a.single_heuristic)?;
    }
    let (l, network) = show::open(data_dir)?;
    let dir = crate::btc_clusters(data_dir);
    // Without options, an existing clustering is extended as it was built.
    let stored = if a.rebuild { None } else { cluster::ClusterManifest::load(&dir)?.map(|m| m.config) };
    let config = match stored {
        Some(c) if a.change.is_none() && !a.keep_coinjoins && a.collapse_threshold.is_none() => c,
        _ => ClusterConfig {
            coinjoin_exclusion: !a.keep_coinjoins,
            change: a.change,
            collapse_threshold: a.collapse_threshold.unwrap_or(ClusterConfig::default().collapse_threshold),
        },
    };
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} txs {per_sec} ETA {eta}").expect("valid template"));
    let start = Instant::now();
    let identities = tag_identities(data_dir, &l, network)?;
    let result = cluster::update_with_tags(&l, &dir, &config, a.rebuild, &identities, &mut |p| {
        bar.set_length(p.total);
        bar.set_position(p.done);
    });
    bar.finish_and_clear();
    let s = result.map_err(|e| match e {
        cluster::ClusterError::BadExpression(_) | cluster::ClusterError::ConfigChanged { .. } => usage(e.to_string()),
        other => Failure::from(other),
    })?;
    for m in &s.alarms {
        eprintln!("collapse alarm: {}", alarm_line(&l, network, m));
    }
    let c = Clusters::open(&dir)?.ok_or("clusters vanished during the update")?;
    let st = &c.manifest.stats;
    let v = json!({
        "configuration": cluster::build::describe(&c.manifest.config),
        "transactions_processed": s.txs_processed,
        "merges_added": s.merges_added,
        "addresses": s.addresses,
        "clusters": s.clusters,
        "transactions_clustered": c.manifest.txs,
        "coinjoins_excluded": st.coinjoins_excluded,
        "multi_input_merges": st.multi_input_merges,
        "change_merges": st.change_merges,
        "change_merges_vetoed": st.change_merges_vetoed,
        "collapse_alarms": st.collapse_alarms,
        "seconds": start.elapsed().as_secs_f64(),
    });
    let mut v = v;
    if a.digest {
        v["content_sha256"] = Value::String(c.content_digest());
    }
    print(&v, a.out.json);
    Ok(())
}

/// After an ingest: extends existing clusters over the new transactions (nothing if the user
/// never clustered). Returns (transactions clustered, clusters).
pub fn refresh_after_ingest(data_dir: &Path) -> Result<Option<(u64, u64)>, Failure> {
    let dir = crate::btc_clusters(data_dir);
    let Some(m) = cluster::ClusterManifest::load(&dir)? else { return Ok(None) };
    let (l, network) = show::open(data_dir)?;
    let identities = tag_identities(data_dir, &l, network)?;
    let s = cluster::update_with_tags(&l, &dir, &m.config, false, &identities, &mut |_| {})?;
    for a in &s.alarms {
        eprintln!("collapse alarm: {}", alarm_line(&l, network, a));
    }
    Ok(Some((s.txs_processed, s.clusters)))
}

/// Tag identities for the change-merge veto, if tags were imported.
fn tag_identities(data_dir: &Path, l: &Ledger, network: Network) -> Result<std::collections::HashMap<u32, u32>, Failure> {
    if !data_dir.join(fundtrace_intel::db::FILE).exists() {
        return Ok(Default::default());
    }
    let intel = fundtrace_intel::Intel::open(data_dir)?;
    let tags = fundtrace_intel::tagpack::Tags::load_for_currency(&intel, "btc")?;
    Ok(fundtrace_analysis::entity::tag_identities(l, network, &tags))
}

fn open_clusters(data_dir: &Path) -> Result<Clusters, Failure> {
    Clusters::open(&crate::btc_clusters(data_dir))?.ok_or_else(|| Failure::from("no clusters yet: run `fundtrace cluster` first"))
}

use crate::show::{address_id, address_str};

fn merge_json(l: &Ledger, network: Network, m: &Merge) -> Value {
    let kind = MergeKind::from_u8(m.kind).unwrap_or(MergeKind::MultiInput);
    json!({
        "txid": l.txid(TxId(m.tx)).to_string(),
        "block_height": l.tx_height(TxId(m.tx)),
        "heuristic": kind.name(),
        "change_heuristics": Heuristic::names(m.heuristics),
        "address_a": address_str(l, network, m.a),
        "address_b": address_str(l, network, m.b),
        "kept_cluster": m.kept,
        "kept_size": m.kept_size,
        "retired_cluster": m.retired,
        "retired_size": m.retired_size,
    })
}

fn alarm_line(l: &Ledger, network: Network, m: &Merge) -> String {
    format!(
        "tx {} at height {} joined cluster {} ({} addresses) and cluster {} ({} addresses) via {} and {}",
        l.txid(TxId(m.tx)),
        l.tx_height(TxId(m.tx)),
        m.kept,
        m.kept_size,
        m.retired,
        m.retired_size,
        address_str(l, network, m.a),
        address_str(l, network, m.b)
    )
}

/// Balance and activity of one address, from its outputs.
struct Activity {
    received: u64,
    sent: u64,
    first_height: u64,
    last_height: u64,
}

fn activity(l: &Ledger, a: u32) -> Activity {
    let mut act = Activity { received: 0, sent: 0, first_height: u64::MAX, last_height: 0 };
    for o in l.address_outputs(AddressId(a)) {
        let out = l.output(o);
        act.received += out.value;
        let h = l.tx_height(l.tx_of_output(o));
        act.first_height = act.first_height.min(h);
        act.last_height = act.last_height.max(h);
        if let Some(i) = out.spent_by {
            act.sent += out.value;
            act.last_height = act.last_height.max(l.tx_height(l.tx_of_input(i)));
        }
    }
    act
}

fn show_cluster(data_dir: &Path, a: ShowArgs) -> Result<(), Failure> {
    let (l, network) = show::open(data_dir)?;
    let c = open_clusters(data_dir)?;
    let id = match a.cluster.parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            let addr = address_id(&l, network, &a.cluster)?;
            c.cluster_of(addr).ok_or_else(|| Failure::from(format!("{} is newer than the last clustering; run `fundtrace cluster`", a.cluster)))?
        }
    };
    if id as u64 >= c.manifest.addresses {
        return Err(Failure::from(format!("no cluster {id} (cluster ids are address ids below {})", c.manifest.addresses)));
    }
    if c.size(id) == 0 {
        let m = c.retired_by(id).ok_or_else(|| Failure::from(format!("cluster {id} does not exist")))?;
        let v = json!({"cluster": id, "merged_into": c.cluster_of(id), "merged_by": merge_json(&l, network, m)});
        print(&v, a.out.json);
        return Ok(());
    }
    let members = c.members(id);
    let mut rows: Vec<(u32, Activity)> = members.iter().map(|&m| (m, activity(&l, m))).collect();
    let (received, sent) = rows.iter().fold((0u64, 0u64), |(r, s), (_, x)| (r + x.received, s + x.sent));
    let first = rows.iter().map(|(_, x)| x.first_height).min();
    let last = rows.iter().map(|(_, x)| x.last_height).max();
    let merges: Vec<&Merge> = c.merges().iter().filter(|m| c.cluster_of(m.a) == Some(id)).collect();
    let by_kind = |k: MergeKind| merges.iter().filter(|m| m.kind == k as u8).count();
    rows.sort_by_key(|(_, x)| std::cmp::Reverse((x.received - x.sent, x.received)));
    let largest: Vec<Value> = rows
        .iter()
        .take(a.members)
        .map(|(m, x)| json!({"address": address_str(&l, network, *m), "balance": x.received - x.sent, "received": x.received}))
        .collect();
    let v = json!({
        "cluster": id,
        "size": members.len(),
        "received": received,
        "sent": sent,
        "balance": received - sent,
        "first_seen_height": first,
        "last_seen_height": last,
        "multi_input_merges": by_kind(MergeKind::MultiInput),
        "change_merges": by_kind(MergeKind::Change),
        "oldest_address": address_str(&l, network, id),
        "largest_members": largest,
    });
    let mut v = v;
    attribution_of(data_dir, &l, network, &c, id, &members, &mut v)?;
    print(&v, a.out.json);
    Ok(())
}

/// The tags and sanctions listings on a cluster's members: its best label, the conflicts
/// among its tags (reported, not resolved) and each tag with its provenance.
fn attribution_of(data_dir: &Path, l: &Ledger, network: Network, c: &Clusters, id: u32, members: &[u32], v: &mut Value) -> Result<(), Failure> {
    if !data_dir.join(fundtrace_intel::db::FILE).exists() {
        return Ok(());
    }
    let intel = fundtrace_intel::Intel::open(data_dir)?;
    let tags = fundtrace_intel::tagpack::Tags::load_for_currency(&intel, "btc")?;
    let sanctions = fundtrace_intel::sanctions::Sanctions::load(&intel)?;
    let attribution = fundtrace_analysis::entity::Attribution::build(l, network, Some(c), &tags, Some(&sanctions));
    let Some(e) = attribution.entity(id) else {
        v["label"] = Value::Null;
        return Ok(());
    };
    v["label"] = json!(e.label);
    v["category"] = json!(e.category);
    v["abuse"] = json!(e.abuse);
    v["actor"] = json!(e.actor);
    v["confidence"] = json!(e.confidence);
    v["risk_category"] = json!(e.risk_category);
    v["conflicts"] = json!(e.conflicts);
    v["sanctions"] = json!(e.sanctions.iter().map(|s| json!({
        "address": address_str(l, network, s.address), "name": s.name(), "programs": s.programs(),
        "listed_on": s.listing.listed_on, "delisted_on": s.listing.delisted_on,
    })).collect::<Vec<_>>());
    let packs: std::collections::HashMap<i64, String> = intel.packs()?.into_iter().map(|p| (p.id, p.uri)).collect();
    let mut rows = Vec::new();
    for &m in members {
        let a = address_str(l, network, m);
        for t in tags.get(&a) {
            rows.push(json!({
                "address": a, "label": &*t.label, "category": t.category.as_deref(), "abuse": t.abuse.as_deref(),
                "actor": t.actor.as_deref(), "confidence": t.confidence,
                "pack": packs.get(&t.pack),
            }));
        }
    }
    v["tags"] = json!(rows);
    Ok(())
}

fn explain(data_dir: &Path, a: ExplainArgs) -> Result<(), Failure> {
    let (l, network) = show::open(data_dir)?;
    let c = open_clusters(data_dir)?;
    let (x, y) = (address_id(&l, network, &a.address_a)?, address_id(&l, network, &a.address_b)?);
    let v = match cluster::explain(&c, x, y) {
        Explanation::Same => json!({"linked": true, "steps": []}),
        Explanation::NotClustered => return Err(Failure::from("an address is newer than the last clustering; run `fundtrace cluster`")),
        Explanation::Apart { cluster_a, cluster_b } => {
            json!({"linked": false, "cluster_a": cluster_a, "cluster_b": cluster_b})
        }
        Explanation::Linked(steps) => json!({
            "linked": true,
            "cluster": c.cluster_of(x),
            "steps": steps.iter().map(|s| json!({
                "from": address_str(&l, network, s.from),
                "to": address_str(&l, network, s.to),
                "txid": l.txid(TxId(s.tx)).to_string(),
                "block_height": l.tx_height(TxId(s.tx)),
                "heuristic": s.kind.name(),
                "change_heuristics": Heuristic::names(s.heuristics),
            })).collect::<Vec<_>>(),
        }),
    };
    print(&v, a.out.json);
    Ok(())
}

fn alarms(data_dir: &Path, j: JsonFlag) -> Result<(), Failure> {
    let (l, network) = show::open(data_dir)?;
    let c = open_clusters(data_dir)?;
    let t = c.manifest.config.collapse_threshold;
    let list: Vec<Value> =
        c.merges().iter().filter(|m| m.kept_size > t && m.retired_size > t).map(|m| merge_json(&l, network, m)).collect();
    print(&json!({"collapse_threshold": t, "alarms": list}), j.json);
    Ok(())
}

/// The owner of every address id of a ledger, from a simulated world's ground truth
/// (`truth/addresses.jsonl`); errors name the file and line.
pub fn truth_owners(l: &Ledger, network: Network, truth: &Path) -> Result<Vec<Option<u64>>, Failure> {
    let path = truth.join("addresses.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| Failure::from(format!("{}: {e}", path.display())))?;
    let mut owner: Vec<Option<u64>> = vec![None; l.address_count() as usize];
    for (n, line) in text.lines().enumerate() {
        let bad = |what: &str| Failure::from(format!("{}:{}: {what}", path.display(), n + 1));
        let v: Value = serde_json::from_str(line).map_err(|e| bad(&e.to_string()))?;
        let (Some(s), Some(e)) = (v["address"].as_str(), v["entity"].as_u64()) else { return Err(bad("expected {\"address\", \"entity\"}")) };
        let key = AddressKey::parse(s, network).map_err(|e| bad(&e.to_string()))?;
        if let Some(id) = l.find_address(key.as_bytes()) {
            owner[id.index()] = Some(e);
        }
    }
    Ok(owner)
}

fn evaluate_cmd(data_dir: &Path, a: EvaluateArgs) -> Result<(), Failure> {
    let (l, network) = show::open(data_dir)?;
    let c = open_clusters(data_dir)?;
    let owner = truth_owners(&l, network, &a.truth)?;
    let score = evaluate::pairwise(c.assignment(), &owner);
    let mut v = serde_json::to_value(&score).expect("serializable");
    v["configuration"] = Value::String(cluster::build::describe(&c.manifest.config));
    if a.heuristics {
        v["change_heuristics"] = serde_json::to_value(evaluate::change_accuracy(&l, &owner)).expect("serializable");
    }
    print(&v, a.out.json);
    Ok(())
}
