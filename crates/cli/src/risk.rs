//! `fundtrace risk`: direct and indirect exposure of an address or transaction, on the
//! receiving side (where its funds came from) and the sending side (where they went), with
//! the score of methods.md §6.2 and the evidence behind it.

use std::collections::BTreeMap;
use std::path::Path;

use clap::Args;
use fundtrace_analysis::entity::Attribution;
use fundtrace_analysis::exposure::{self, IndexManifest, StoredIndex};
use fundtrace_analysis::risk::{self, Exposure, RiskParams, RiskScore};
use fundtrace_analysis::trace::{self, BackwardOptions, FlowGraph, ForwardOptions, Model, Origin, Seed, Stop};
use fundtrace_intel::sanctions::Date;
use serde_json::{json, Value};

use crate::context::Context;
use crate::show::print;
use crate::trace::{backward_targets, origin_json};
use crate::{usage, Failure};

#[derive(Args)]
pub struct RiskArgs {
    /// Addresses or txids; `-` reads them from standard input, one per line
    #[arg(required = true)]
    targets: Vec<String>,
    /// Hop decay λ
    #[arg(long, default_value_t = 0.5)]
    lambda: f64,
    /// Maximum hops H
    #[arg(long, default_value_t = 5)]
    max_hops: u32,
    /// Shares below this many satoshi are not followed
    #[arg(long, default_value_t = 1_000)]
    min_amount: u64,
    /// Override a category's severity and saturation share: CATEGORY=SEV:TAU (repeatable)
    #[arg(long = "category")]
    categories: Vec<String>,
    /// One line per target: the receiving-side (source of funds) score and its driver, as
    /// deposit screening needs; answered from the `fundtrace exposure` index when it is fresh
    #[arg(long)]
    brief: bool,
    #[arg(long)]
    json: bool,
}

fn params(a: &RiskArgs) -> Result<RiskParams, Failure> {
    let mut p = RiskParams { lambda: a.lambda, max_hops: a.max_hops, ..Default::default() };
    for c in &a.categories {
        let bad = || usage(format!("--category {c:?}: expected CATEGORY=SEVERITY:SATURATION, e.g. gambling=0.3:0.3"));
        let (name, rest) = c.split_once('=').ok_or_else(bad)?;
        let (sev, tau) = rest.split_once(':').ok_or_else(bad)?;
        let (sev, tau): (f64, f64) = (sev.parse().map_err(|_| bad())?, tau.parse().map_err(|_| bad())?);
        if !(0.0..=1.0).contains(&sev) || !(tau > 0.0 && tau <= 1.0) {
            return Err(bad());
        }
        p.severity.insert(name.to_string(), sev);
        p.saturation.insert(name.to_string(), tau);
    }
    Ok(p)
}

/// One side's exposures: (category, hop) -> value, entities and a sample path.
fn collect(items: impl Iterator<Item = (String, u32, u64, u32, Vec<u64>)>) -> Vec<Exposure> {
    let mut by: BTreeMap<(String, u32), Exposure> = BTreeMap::new();
    for (category, hop, value, entity, path) in items {
        let e = by.entry((category.clone(), hop)).or_insert(Exposure { category, hop, value: 0, entities: Vec::new(), path });
        e.value += value;
        if !e.entities.contains(&entity) {
            e.entities.push(entity);
        }
    }
    by.into_values().collect()
}

/// A direct counterparty on a sanctions list (the hard rule of methods.md §6.2): the address,
/// the transaction, and whether it was listed on that transaction's date and is today.
struct SanctionedCounterparty {
    address: u32,
    tx: u64,
    at_tx: bool,
    today: bool,
    name: Option<String>,
    programs: Vec<String>,
}

/// Checks each (counterparty address, transaction) against the sanctions lists, per address
/// and as of the transaction's date and today, whatever the amount.
fn sanctioned_counterparties(ctx: &Context, pairs: &[(u32, u64)]) -> Vec<SanctionedCounterparty> {
    let Some(sanctions) = ctx.sanctions.as_ref().filter(|s| !s.listings().is_empty()) else { return Vec::new() };
    let mut out = Vec::new();
    for &(address, tx) in pairs {
        let Some(key) = fundtrace_bitcoin::AddressKey::from_bytes(ctx.ledger.address_key(fundtrace_core::AddressId(address))) else { continue };
        let date = Date::from_unix(ctx.when(tx).1 as i64);
        let at_tx = sanctions.is_sanctioned_bitcoin(&key, Some(date));
        let today = sanctions.is_sanctioned_bitcoin(&key, None);
        if let Some(l) = at_tx.or(today) {
            out.push(SanctionedCounterparty {
                address,
                tx,
                at_tx: at_tx.is_some(),
                today: today.is_some(),
                name: l.entry.as_ref().map(|e| e.name.clone()),
                programs: l.entry.as_ref().map(|e| e.programs.clone()).unwrap_or_default(),
            });
        }
    }
    out
}

/// Receiving side's direct counterparties: the other addresses funding each inflow.
fn senders(ctx: &Context, attribution: &Attribution, targets: &[(u64, u64)], me: Option<u32>) -> Vec<(u32, u64)> {
    let g = &ctx.graph();
    let mut ins = Vec::new();
    let mut out = Vec::new();
    for &(o, _) in targets {
        let tx = g.creator(o);
        g.inputs(tx, &mut ins);
        out.extend(ins.iter().filter_map(|&(i, _)| g.address(i)).filter(|&a| me != Some(attribution.key(a))).map(|a| (a, tx)));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The entity key of an address target (none for a transaction).
fn target_key(ctx: &Context, attribution: &Attribution, target: &str) -> Result<Option<u32>, Failure> {
    if target.len() == 64 && target.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(Some(attribution.key(ctx.address_id(target)?)))
}

/// Receiving side: backward haircut from the target's inflows.
fn receiving(ctx: &Context, attribution: &Attribution, target: &str, p: &RiskParams, min_amount: u64) -> Result<(RiskScore, Vec<SanctionedCounterparty>), Failure> {
    let targets = backward_targets(ctx, attribution, target)?;
    let direct = sanctioned_counterparties(ctx, &senders(ctx, attribution, &targets, target_key(ctx, attribution, target)?));
    let opts = BackwardOptions { max_hops: p.max_hops, min_amount, ..Default::default() };
    let source_at = |x: u32| attribution.entity_of(x).map(|e| e.key);
    let t = trace::backward(&ctx.graph(), &targets, &opts, &source_at);
    let items = t.sources.iter().filter_map(|s| match s.origin {
        Origin::Entity(k) => Some((attribution.entity(k)?.risk_category.to_string(), s.hop, s.amount, k, s.path.clone())),
        _ => None,
    });
    Ok((risk::score(collect(items), t.target_value, !direct.is_empty(), p), direct))
}

/// Sending side: forward haircut from what the target paid out, stopping at entities.
fn sending(ctx: &Context, attribution: &Attribution, target: &str, p: &RiskParams, min_amount: u64) -> Result<(RiskScore, Vec<SanctionedCounterparty>), Failure> {
    let g = &ctx.graph();
    let mut seeds: Vec<Seed> = Vec::new();
    if target.len() == 64 && target.bytes().all(|b| b.is_ascii_hexdigit()) {
        // What the transaction paid to others (change back to the spender is not "sent").
        let outs = crate::trace::outputs_leaving(ctx, attribution, ctx.tx_id(target)?);
        seeds.extend(outs.into_iter().map(|o| Seed { output: o, label: 0, amount: g.value(o) }));
    } else {
        // What the address spent, followed from the transactions that spent it.
        let a = ctx.address_id(target)?;
        let me = attribution.key(a);
        let mut outs = Vec::new();
        g.outputs_to(a, &mut outs);
        for o in outs {
            let Some(tx) = g.spender(o) else { continue };
            for x in g.outputs(tx) {
                if g.address(x).is_none_or(|y| attribution.key(y) != me) && g.value(x) > 0 {
                    seeds.push(Seed { output: x, label: 0, amount: g.value(x) });
                }
            }
        }
        seeds.sort_by_key(|s| s.output);
        seeds.dedup_by_key(|s| s.output);
    }
    let total: u64 = seeds.iter().map(|s| s.amount).sum();
    // Direct counterparties: whom the target paid.
    let mut paid: Vec<(u32, u64)> = seeds.iter().filter_map(|s| Some((g.address(s.output)?, g.creator(s.output)))).collect();
    paid.sort_unstable();
    paid.dedup();
    let direct = sanctioned_counterparties(ctx, &paid);
    // Outputs the target paid are hop 1; forward hop k is risk hop k + 1, so H - 1 forward.
    let opts = ForwardOptions { model: Model::Haircut, max_hops: p.max_hops.saturating_sub(1), min_amount, ..Default::default() };
    // Any attributed entity ends a path on the sending side.
    let stop_at = |x: u32| attribution.entity_of(x).map(|e| e.key);
    let t = trace::forward(g, &seeds, &opts, &stop_at);
    // A seed output paid straight to an entity is hop 1 (a direct counterparty).
    let items = t.outputs.iter().filter_map(|o| match o.stop {
        Some(Stop::Entity(k)) => Some((attribution.entity(k)?.risk_category.to_string(), o.hop + 1, trace::taint::tainted(&o.taint), k, vec![o.tx])),
        _ => None,
    });
    Ok((risk::score(collect(items), total, !direct.is_empty(), p), direct))
}

fn side_json(ctx: &Context, attribution: &Attribution, r: &RiskScore) -> Value {
    let exposures: Vec<Value> = r
        .exposures
        .iter()
        .map(|x| {
            json!({
                "category": x.category,
                "hop": x.hop,
                "value": x.value,
                "entities": x.entities.iter().map(|&k| origin_json(ctx, attribution, Origin::Entity(k))["label"].clone()).collect::<Vec<_>>(),
                "path": x.path.iter().map(|&t| ctx.txid(t)).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "score": (r.score * 100.0).round() / 100.0,
        "driver": r.driver,
        "sanctions_alert": r.sanctions_alert,
        "total_value": r.total_value,
        "categories": r.categories,
        "exposures": exposures,
    })
}

fn sanctions_json(ctx: &Context, direct: &[SanctionedCounterparty]) -> Vec<Value> {
    direct
        .iter()
        .map(|d| {
            json!({
                "address": ctx.address_str(d.address),
                "name": d.name,
                "programs": d.programs,
                "transaction": ctx.txid(d.tx),
                "listed_at_transaction_date": d.at_tx,
                "listed_today": d.today,
            })
        })
        .collect()
}

pub fn run(data_dir: &Path, a: RiskArgs) -> Result<(), Failure> {
    let p = params(&a)?;
    let ctx = Context::open(data_dir)?;
    let attribution = ctx.attribution();
    let targets = crate::args_or_stdin(&a.targets, false)?;
    if a.brief && !a.json {
        // Screening: source of funds only, from the index when it still matches.
        let index = StoredIndex::open(&index_dir(data_dir))
            .filter(|i| u8::try_from(p.max_hops).is_ok_and(|h| i.manifest == index_manifest(&ctx, &attribution, h)));
        for target in &targets {
            let scored = match index.as_ref().map(|i| indexed_score(i, &ctx, &attribution, target, &p)).transpose() {
                Ok(Some(Some(r))) => Ok(r),
                Ok(_) => receiving(&ctx, &attribution, target, &p, a.min_amount).map(|x| x.0),
                Err(e) => Err(e),
            };
            // One bad line (malformed, unknown address) must not stop a batch: say why, go on.
            match scored {
                Ok(r) => say!("{target}\t{:.2}\t{}", r.score, r.driver.as_deref().unwrap_or("-")),
                Err(f) => say!("{target}\t-\terror: {}", f.message),
            }
        }
        return Ok(());
    }
    let mut results = Vec::new();
    for target in &targets {
        let (recv, recv_direct) = receiving(&ctx, &attribution, target, &p, a.min_amount)?;
        let (send, send_direct) = sending(&ctx, &attribution, target, &p, a.min_amount)?;
        let score = recv.score.max(send.score);
        let mut sanctions = sanctions_json(&ctx, &recv_direct);
        sanctions.extend(sanctions_json(&ctx, &send_direct));
        results.push(json!({
            "target": target,
            "score": (score * 100.0).round() / 100.0,
            "sanctions_alert": recv.sanctions_alert || send.sanctions_alert,
            "direct_sanctions_exposure": sanctions,
            "receiving": side_json(&ctx, &attribution, &recv),
            "sending": side_json(&ctx, &attribution, &send),
        }));
    }
    let v = if results.len() == 1 {
        results.pop().expect("one")
    } else {
        json!({"parameters": p, "results": results})
    };
    print(&v, a.json);
    Ok(())
}


#[derive(Args)]
pub struct ExposureArgs {
    /// Hops to look back (must match `risk --max-hops` for the index to be used)
    #[arg(long, default_value_t = 5)]
    max_hops: u8,
    #[arg(long)]
    json: bool,
}

fn index_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("btc-exposure")
}

fn index_manifest(ctx: &Context, attribution: &Attribution, max_hops: u8) -> IndexManifest {
    let txs = ctx.ledger.tx_count();
    IndexManifest {
        format: fundtrace_analysis::exposure::INDEX_FORMAT.into(),
        format_version: 1,
        txs,
        last_txid: if txs > 0 { ctx.txid(txs - 1) } else { String::new() },
        max_hops,
        attribution: attribution.fingerprint(),
        clusters: ctx.clusters.as_ref().map_or_else(
            || "none".to_string(),
            |c| format!("{} transactions, {} merges, {}", c.manifest.txs, c.manifest.merges, fundtrace_analysis::cluster::build::describe(&c.manifest.config)),
        ),
        addresses: ctx.ledger.address_count(),
    }
}

/// `fundtrace exposure`: the receiving-side exposure of every address in one pass, stored
/// for screening (`risk --brief` uses it while ledger, attribution and hops are unchanged).
pub fn build_index(data_dir: &Path, a: ExposureArgs) -> Result<(), Failure> {
    let ctx = Context::open(data_dir)?;
    let attribution = ctx.attribution();
    let started = std::time::Instant::now();
    let category = |x: u32| attribution.entity_of(x).and_then(|e| exposure::category_index(e.risk_category));
    let entity = |x: u32| attribution.key(x);
    let bar = indicatif::ProgressBar::new(ctx.ledger.tx_count());
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} txs {per_sec} ETA {eta}").expect("valid template"));
    let index = exposure::build(&ctx.ledger, a.max_hops, &category, &entity, &mut |done, _| bar.set_position(done));
    bar.finish_and_clear();
    let build_seconds = started.elapsed().as_secs_f64();
    let manifest = index_manifest(&ctx, &attribution, a.max_hops);
    index.store(&index_dir(data_dir), &manifest)?;
    let v = json!({
        "transactions": index.txs,
        "addresses_with_inflows": index.len(),
        "entities": attribution.len(),
        "max_hops": a.max_hops,
        "build_seconds": build_seconds,
        "seconds": started.elapsed().as_secs_f64(),
        "transactions_per_second": index.txs as f64 / build_seconds.max(1e-9),
    });
    print(&v, a.json);
    Ok(())
}

/// Receiving-side score from a fresh stored index, if there is one.
fn indexed_score(index: &StoredIndex, ctx: &Context, attribution: &Attribution, target: &str, p: &RiskParams) -> Result<Option<RiskScore>, Failure> {
    if target.len() == 64 && target.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None); // transactions are traced, not indexed
    }
    let a = ctx.address_id(target)?;
    let Some((received, origins)) = index.get(a) else { return Ok(None) };
    // The hard rule is per counterparty address and date, not in the index: check it here.
    let direct = if ctx.sanctions.as_ref().is_some_and(|s| !s.listings().is_empty()) {
        let targets = backward_targets(ctx, attribution, target)?;
        sanctioned_counterparties(ctx, &senders(ctx, attribution, &targets, Some(attribution.key(a))))
    } else {
        Vec::new()
    };
    let exposures: Vec<Exposure> = origins
        .iter()
        .map(|o| Exposure { category: exposure::category_name(o.category).to_string(), hop: o.hop as u32, value: o.amount.round() as u64, entities: Vec::new(), path: Vec::new() })
        .collect();
    Ok(Some(risk::score(exposures, received, !direct.is_empty(), p)))
}
