//! `fundtrace trace forward|backward`: follow stolen funds to where they went, or an
//! address's funds back to where they came from, with the evidence for every amount.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use fundtrace_analysis::change::is_peeling_chain;
use fundtrace_analysis::cluster::build::rules_for;
use fundtrace_analysis::coinjoin;
use fundtrace_analysis::entity::Attribution;
use fundtrace_analysis::trace::{self, taint, BackwardOptions, FlowGraph, ForwardOptions, ForwardTrace, Model, Origin, Seed, Stop};
use fundtrace_analysis::TxView;
use serde_json::{json, Value};

use crate::context::Context;
use crate::show::{print, JsonFlag};
use crate::{usage, Failure};

#[derive(Subcommand)]
pub enum TraceCommand {
    /// Where did the value of the seeds go? Endpoints, flow graph, frontier
    Forward(ForwardArgs),
    /// Where did the value received by an address (or moved by a transaction) come from?
    Backward(BackwardArgs),
    /// Trace every planted theft of a simulated world with each model and score the
    /// endpoints against its ground truth (attribution comes from imported tags, not truth)
    Evaluate(EvaluateArgs),
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// The `truth/` directory written by `fundtrace simulate`
    #[arg(long)]
    truth: PathBuf,
    /// Models to score (comma-separated)
    #[arg(long, default_value = "haircut,fifo,lifo,tiho,seniority,poison")]
    models: String,
    #[arg(long, default_value_t = 100)]
    max_hops: u32,
    /// Poison spreads without bound: it stops after this many transactions
    #[arg(long, default_value_t = 200_000)]
    max_txs: usize,
    #[command(flatten)]
    out: JsonFlag,
}

/// Default stop categories: custodial services, where a trail legitimately ends and a freeze
/// request goes (mixers too: past them value is exposure, not traceable coins).
pub const DEFAULT_STOPS: &str = "exchange,wallet_service,payment_processor,gambling,market,escrow,mixing_service";

#[derive(Args)]
pub struct ForwardArgs {
    /// What is tainted: TXID:VOUT (one output), TXID (its outputs leaving the spender), or an
    /// address (everything it received). Repeatable; each seed is its own label.
    #[arg(long, required_unless_present = "seeds_file")]
    seed: Vec<String>,
    /// Seeds from a file, one per line: `SEED` or `LABEL<TAB>SEED` (# starts a comment)
    #[arg(long)]
    seeds_file: Option<PathBuf>,
    /// Taint model: poison, haircut, fifo, lifo, tiho, seniority. Several, comma-separated,
    /// compare them: the first gives the flow graph, frontier and exports; every endpoint
    /// shows its amount under each
    #[arg(long, default_value = "haircut")]
    model: String,
    /// Outputs this many transactions from a seed are not followed (long peel chains run to
    /// hundreds of steps; stops at services keep the trace bounded)
    #[arg(long, default_value_t = 100)]
    max_hops: u32,
    /// Taint below this many satoshi per output is dropped as dust
    #[arg(long, default_value_t = 1_000)]
    min_amount: u64,
    /// Do not follow transactions above this height
    #[arg(long)]
    until_height: Option<u64>,
    /// Stop at entities of these categories (GraphSense concepts, comma-separated), or `none`
    #[arg(long, default_value = DEFAULT_STOPS)]
    stop_at: String,
    /// Give up after this many transactions (poison grows without bound)
    #[arg(long, default_value_t = 1_000_000)]
    max_txs: usize,
    /// Rows of each table to print (all with --json)
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Write the flow graph as GraphML
    #[arg(long)]
    graphml: Option<PathBuf>,
    /// Write the flow graph's edges (tainted outputs) as CSV
    #[arg(long)]
    csv: Option<PathBuf>,
    #[command(flatten)]
    out: JsonFlag,
}

#[derive(Args)]
pub struct BackwardArgs {
    /// An address (its inflows from others) or a transaction (the value it moved)
    #[arg(long)]
    target: String,
    #[arg(long, default_value_t = 5)]
    max_hops: u32,
    #[arg(long, default_value_t = 1_000)]
    min_amount: u64,
    #[command(flatten)]
    out: JsonFlag,
}

pub fn run(data_dir: &Path, c: TraceCommand) -> Result<(), Failure> {
    match c {
        TraceCommand::Forward(a) => forward(data_dir, a),
        TraceCommand::Backward(a) => backward(data_dir, a),
        TraceCommand::Evaluate(a) => evaluate(data_dir, a),
    }
}

/// The outputs of `tx` that leave its spender: not paid back to the spender's entity (change
/// stays clean) and not empty.
pub fn outputs_leaving(ctx: &Context, attribution: &Attribution, tx: u64) -> Vec<u64> {
    let view = TxView::of(&ctx.ledger, tx);
    let spender: HashSet<u32> = view.inputs.iter().filter_map(|i| i.address).map(|a| attribution.key(a)).collect();
    ctx.graph()
        .outputs(tx)
        .zip(&view.outputs)
        .filter(|(_, o)| o.address.is_none_or(|a| !spender.contains(&attribution.key(a))) && o.value > 0)
        .map(|(o, _)| o)
        .collect()
}

/// A seed argument resolved to outputs.
pub fn resolve_seed(ctx: &Context, attribution: &Attribution, s: &str, label: u32) -> Result<Vec<Seed>, Failure> {
    let g = &ctx.graph();
    let seed = |o: u64| Seed { output: o, label, amount: g.value(o) };
    if let Some((txid, vout)) = s.split_once(':') {
        let tx = ctx.tx_id(txid)?;
        let outs = g.outputs(tx);
        let n: u64 = vout.parse().map_err(|_| usage(format!("{s}: output index {vout:?} is not a number")))?;
        if n >= outs.end - outs.start {
            return Err(usage(format!("{s}: the transaction has {} outputs", outs.end - outs.start)));
        }
        return Ok(vec![seed(outs.start + n)]);
    }
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        // A transaction: the outputs that leave the spender (change back to it stays clean).
        let outs: Vec<Seed> = outputs_leaving(ctx, attribution, ctx.tx_id(s)?).into_iter().map(seed).collect();
        if outs.is_empty() {
            return Err(Failure::from(format!("{s}: every output goes back to the spender; seed an output as TXID:VOUT")));
        }
        return Ok(outs);
    }
    let a = ctx.address_id(s)?;
    let mut outs = Vec::new();
    g.outputs_to(a, &mut outs);
    outs.sort_unstable();
    Ok(outs.into_iter().map(seed).collect())
}

/// Seed arguments and file lines as (name, seed text).
fn seed_args(a: &ForwardArgs) -> Result<Vec<(String, String)>, Failure> {
    let mut out: Vec<(String, String)> = a.seed.iter().map(|s| (s.clone(), s.clone())).collect();
    if let Some(path) = &a.seeds_file {
        let text = std::fs::read_to_string(path).map_err(|e| Failure::from(format!("{}: {e}", path.display())))?;
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (name, seed) = match line.split_once('\t') {
                Some((l, s)) => (l.trim().to_string(), s.trim().to_string()),
                None => (line.to_string(), line.to_string()),
            };
            if seed.is_empty() {
                return Err(usage(format!("{}:{}: no seed after the label", path.display(), n + 1)));
            }
            out.push((name, seed));
        }
    }
    Ok(out)
}

pub fn parse_model(s: &str) -> Result<Model, Failure> {
    Model::from_name(s).ok_or_else(|| {
        let names: Vec<_> = Model::ALL.iter().map(|m| m.name()).collect();
        usage(format!("unknown taint model {s:?} (models: {})", names.join(", ")))
    })
}

/// `stop_at(address)`: the entity key if the address's entity has a stop category.
pub fn stop_fn<'a>(attribution: &'a Attribution, stops: &'a [String]) -> impl Fn(u32) -> Option<u32> + 'a {
    move |a| {
        let e = attribution.entity_of(a)?;
        let hit = e.category.as_deref().is_some_and(|c| stops.iter().any(|s| s == c));
        hit.then_some(e.key)
    }
}

fn forward(data_dir: &Path, a: ForwardArgs) -> Result<(), Failure> {
    let models: Vec<Model> = a.model.split(',').map(|m| parse_model(m.trim())).collect::<Result<_, _>>()?;
    let model = models[0];
    let ctx = Context::open(data_dir)?;
    let attribution = ctx.attribution();
    let names = seed_args(&a)?;
    let mut seeds = Vec::new();
    for (label, (_, s)) in names.iter().enumerate() {
        seeds.extend(resolve_seed(&ctx, &attribution, s, label as u32)?);
    }
    let stops: Vec<String> = if a.stop_at == "none" { Vec::new() } else { a.stop_at.split(',').map(|s| s.trim().to_string()).collect() };
    let opts = ForwardOptions { model, max_hops: a.max_hops, min_amount: a.min_amount, until_height: a.until_height, max_txs: a.max_txs };
    let started = std::time::Instant::now();
    let t = trace::forward(&ctx.graph(), &seeds, &opts, &stop_fn(&attribution, &stops));
    let seconds = started.elapsed().as_secs_f64();
    if let Some(path) = &a.graphml {
        write_graphml(&ctx, &attribution, &t, path)?;
    }
    if let Some(path) = &a.csv {
        write_csv(&ctx, &attribution, &t, path)?;
    }
    let top = if a.out.json { usize::MAX } else { a.top };
    let mut v = forward_json(&ctx, &attribution, &names, &seeds, &t, top, seconds);
    if models.len() > 1 {
        compare_models(&ctx, &attribution, &seeds, &opts, &stops, &models, &t, &mut v);
    }
    print(&v, a.out.json);
    Ok(())
}

/// Adds `amount_by_model` to every endpoint (and endpoints only the other models reach), so
/// one table shows how much each model attributes to each entity.
#[allow(clippy::too_many_arguments)]
fn compare_models(ctx: &Context, attribution: &Attribution, seeds: &[Seed], opts: &ForwardOptions, stops: &[String], models: &[Model], first: &ForwardTrace, v: &mut Value) {
    let mut amounts: BTreeMap<u32, BTreeMap<&'static str, u64>> = BTreeMap::new();
    for e in &first.endpoints {
        amounts.entry(e.entity).or_default().insert(models[0].name(), e.amount);
    }
    for &m in &models[1..] {
        let t = trace::forward(&ctx.graph(), seeds, &ForwardOptions { model: m, ..opts.clone() }, &stop_fn(attribution, stops));
        for e in &t.endpoints {
            amounts.entry(e.entity).or_default().insert(m.name(), e.amount);
        }
    }
    let Some(endpoints) = v["endpoints"].as_array_mut() else { return };
    let mut shown: HashSet<u32> = HashSet::new();
    for e in endpoints.iter_mut() {
        let Some(k) = e["entity"].as_u64() else { continue };
        shown.insert(k as u32);
        let by: BTreeMap<&str, u64> = models.iter().map(|m| (m.name(), amounts.get(&(k as u32)).and_then(|a| a.get(m.name())).copied().unwrap_or(0))).collect();
        e["amount_by_model"] = json!(by);
    }
    for (k, by) in amounts.into_iter().filter(|(k, _)| !shown.contains(k)) {
        let mut e = attribution.entity(k).map_or_else(|| json!({"entity": k}), |x| ctx.entity_json(x));
        e["amount"] = json!(0);
        e["amount_by_model"] = json!(models.iter().map(|m| (m.name(), by.get(m.name()).copied().unwrap_or(0))).collect::<BTreeMap<_, _>>());
        endpoints.push(e);
    }
}

/// The forward trace as one JSON value: summary, endpoints, frontier, what it passed through.
pub fn forward_json(ctx: &Context, attribution: &Attribution, names: &[(String, String)], seeds: &[Seed], t: &ForwardTrace, top: usize, seconds: f64) -> Value {
    let label_name = |l: taint::Label| names.get(l as usize).map_or_else(|| l.to_string(), |n| n.0.clone());
    let endpoints: Vec<Value> = t
        .endpoints
        .iter()
        .take(top)
        .map(|e| {
            let (height, time) = ctx.when(e.first_tx);
            let mut v = attribution.entity(e.entity).map_or_else(|| json!({"entity": e.entity}), |x| ctx.entity_json(x));
            v["amount"] = json!(e.amount);
            v["share"] = json!(e.amount as f64 / t.seeded.max(1) as f64);
            v["transfers"] = json!(e.transfers);
            v["first_txid"] = json!(ctx.txid(e.first_tx));
            v["first_height"] = json!(height);
            v["first_time"] = json!(time);
            v["hops"] = json!(e.first_hop);
            v["by_seed"] = e.by_label.iter().map(|&(l, x)| (label_name(l), json!(x))).collect::<serde_json::Map<_, _>>().into();
            if attribution.entity(e.entity).and_then(|x| x.category.as_deref()) == Some("mixing_service") {
                // methods.md §3.3: a custodial mixer pays out of its own pool, so past it the
                // value cannot be followed; its payouts carry exposure, not these coins.
                v["exposure_semantics"] = json!(true);
            }
            v
        })
        .collect();
    // Frontier: taint still held (unspent), or cut by the hop or time limit, by address.
    let mut frontier: BTreeMap<Option<u32>, (u64, u32, u32, &'static str)> = BTreeMap::new();
    for o in &t.outputs {
        let why = match o.stop {
            Some(Stop::Unspent) => "unspent",
            Some(Stop::HopLimit) => "hop_limit",
            Some(Stop::TimeLimit) => "time_limit",
            _ => continue,
        };
        let e = frontier.entry(o.address).or_insert((0, 0, 0, why));
        e.0 += taint::tainted(&o.taint);
        e.1 += 1;
        e.2 = e.2.max(o.hop);
    }
    let mut frontier: Vec<_> = frontier.into_iter().collect();
    frontier.sort_by_key(|(_, x)| std::cmp::Reverse(x.0));
    let frontier: Vec<Value> = frontier
        .iter()
        .take(top)
        .map(|(a, (amount, outputs, hop, why))| {
            json!({"address": a.map(|a| ctx.address_str(a)), "amount": amount, "outputs": outputs, "hops": hop, "reason": why})
        })
        .collect();
    let (coinjoins, peel_chains) = passed_through(ctx, t);
    json!({
        "model": t.model.map(|m| m.name()),
        "seeds": names.iter().enumerate().map(|(l, (name, s))| {
            let mine: Vec<&Seed> = seeds.iter().filter(|x| x.label == l as u32).collect();
            json!({"label": name, "seed": s, "outputs": mine.len(), "value": mine.iter().map(|x| x.amount).sum::<u64>()})
        }).collect::<Vec<_>>(),
        "seeded": t.seeded,
        "reached_endpoints": t.endpoints.iter().map(|e| e.amount).sum::<u64>(),
        "unspent": t.unspent,
        "hop_limited": t.hop_limited,
        "time_limited": t.time_limited,
        "dust": t.dust,
        "fees": t.fees,
        "seed_overlap": t.seed_overlap,
        "transactions": t.txs.len(),
        "tainted_addresses": t.tainted_addresses,
        "truncated": t.truncated,
        "seconds": seconds,
        "endpoints": endpoints,
        "frontier": frontier,
        "coinjoins": coinjoins.into_iter().take(top).collect::<Vec<_>>(),
        "peel_chains": peel_chains.into_iter().take(top).collect::<Vec<_>>(),
    })
}

/// CoinJoins the taint passed through, and peel chains (three steps or more) it followed.
fn passed_through(ctx: &Context, t: &ForwardTrace) -> (Vec<Value>, Vec<Value>) {
    let rules = rules_for(&ctx.ledger);
    let columns = ctx.ledger.columns();
    let mut coinjoins = Vec::new();
    let mut peel: HashMap<u64, u64> = HashMap::new(); // peel step -> tainted in
    for f in &t.txs {
        let view = TxView::of(&ctx.ledger, f.tx);
        let kinds = coinjoin::detect_all(&view, &rules);
        if !kinds.is_empty() {
            let (height, _) = ctx.when(f.tx);
            coinjoins.push(json!({"txid": ctx.txid(f.tx), "height": height, "detectors": kinds.iter().map(|k| k.name()).collect::<Vec<_>>(), "tainted_in": f.tainted_in}));
        }
        if is_peeling_chain(&columns, view.tx) {
            peel.insert(f.tx, f.tainted_in);
        }
    }
    // Chain links: a peel step whose continuation is spent by another peel step of the trace,
    // refined by methods.md §3.1: the peel is at most ρ = 0.1 of the continuation, and the
    // continuation keeps the script type of the step's input.
    let peel_link = |step: u64, continuation: u64| {
        let view = TxView::of(&ctx.ledger, step);
        let k = (continuation - ctx.ledger.outputs_of(fundtrace_core::TxId(step)).start) as usize;
        let (Some(cont), Some(peeled)) = (view.outputs.get(k), view.outputs.get(1 - k.min(1))) else { return false };
        let input_type = view.inputs.first().map(|i| i.script_type);
        peeled.script_type != fundtrace_core::ScriptType::OpReturn
            && cont.script_type != fundtrace_core::ScriptType::OpReturn
            && peeled.value * 10 <= cont.value
            && input_type == Some(cont.script_type)
    };
    let mut next: HashMap<u64, u64> = HashMap::new();
    let mut has_prev: HashSet<u64> = HashSet::new();
    for o in &t.outputs {
        if let (true, Some(s)) = (peel.contains_key(&o.tx), o.spender) {
            if peel.contains_key(&s) && o.stop.is_none() && !next.contains_key(&o.tx) && peel_link(o.tx, o.output) {
                next.insert(o.tx, s);
                has_prev.insert(s);
            }
        }
    }
    let mut chains = Vec::new();
    let mut starts: Vec<u64> = peel.keys().copied().filter(|x| !has_prev.contains(x)).collect();
    starts.sort_unstable();
    for s in starts {
        let mut steps = vec![s];
        while let Some(&n) = next.get(steps.last().unwrap()) {
            steps.push(n);
        }
        if steps.len() >= 3 {
            let last = *steps.last().unwrap();
            chains.push(json!({
                "first_txid": ctx.txid(s),
                "last_txid": ctx.txid(last),
                "steps": steps.len(),
                "tainted_in": peel[&s],
                "first_height": ctx.when(s).0,
                "last_height": ctx.when(last).0,
            }));
        }
    }
    chains.sort_by_key(|c| std::cmp::Reverse(c["steps"].as_u64()));
    (coinjoins, chains)
}

fn stop_name(attribution: &Attribution, stop: Option<Stop>) -> String {
    match stop {
        None => "followed".into(),
        Some(Stop::Entity(k)) => attribution.entity(k).map_or_else(|| format!("entity {k}"), |e| e.label.clone()),
        Some(Stop::Unspent) => "unspent".into(),
        Some(Stop::HopLimit) => "hop_limit".into(),
        Some(Stop::TimeLimit) => "time_limit".into(),
        Some(Stop::Dust) => "dust".into(),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Failure + '_ {
    move |e| Failure::from(format!("{}: {e}", path.display()))
}

/// GraphML: transactions and endpoint entities as nodes, tainted outputs as edges.
fn write_graphml(ctx: &Context, attribution: &Attribution, t: &ForwardTrace, path: &Path) -> Result<(), Failure> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(io_err(path))?);
    let mut body = String::new();
    body.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\">\n");
    for (id, for_, name, ty) in [
        ("kind", "node", "kind", "string"),
        ("label", "node", "label", "string"),
        ("height", "node", "height", "long"),
        ("value", "edge", "value", "long"),
        ("tainted", "edge", "tainted", "long"),
        ("hop", "edge", "hop", "int"),
        ("address", "edge", "address", "string"),
        ("stop", "edge", "stop", "string"),
    ] {
        body.push_str(&format!("  <key id=\"{id}\" for=\"{for_}\" attr.name=\"{name}\" attr.type=\"{ty}\"/>\n"));
    }
    body.push_str("  <graph id=\"flow\" edgedefault=\"directed\">\n");
    let mut nodes: Vec<u64> = t.outputs.iter().map(|o| o.tx).chain(t.outputs.iter().filter(|o| o.stop.is_none()).filter_map(|o| o.spender)).collect();
    nodes.sort_unstable();
    nodes.dedup();
    for tx in &nodes {
        body.push_str(&format!(
            "    <node id=\"tx:{0}\"><data key=\"kind\">transaction</data><data key=\"label\">{0}</data><data key=\"height\">{1}</data></node>\n",
            ctx.txid(*tx),
            ctx.when(*tx).0
        ));
    }
    for e in &t.endpoints {
        let label = attribution.entity(e.entity).map_or_else(|| e.entity.to_string(), |x| x.label.clone());
        body.push_str(&format!("    <node id=\"entity:{}\"><data key=\"kind\">entity</data><data key=\"label\">{}</data></node>\n", e.entity, xml_escape(&label)));
    }
    let mut held: HashSet<String> = HashSet::new();
    for o in &t.outputs {
        let address = o.address.map(|a| ctx.address_str(a)).unwrap_or_default();
        let target = match o.stop {
            None => format!("tx:{}", ctx.txid(o.spender.expect("followed outputs are spent"))),
            Some(Stop::Entity(k)) => format!("entity:{k}"),
            Some(_) => {
                let id = format!("address:{address}");
                if held.insert(id.clone()) {
                    body.push_str(&format!("    <node id=\"{id}\"><data key=\"kind\">address</data><data key=\"label\">{}</data></node>\n", xml_escape(&address)));
                }
                id
            }
        };
        body.push_str(&format!(
            "    <edge source=\"tx:{}\" target=\"{}\"><data key=\"value\">{}</data><data key=\"tainted\">{}</data><data key=\"hop\">{}</data><data key=\"address\">{}</data><data key=\"stop\">{}</data></edge>\n",
            ctx.txid(o.tx),
            xml_escape(&target),
            o.value,
            taint::tainted(&o.taint),
            o.hop,
            xml_escape(&address),
            xml_escape(&stop_name(attribution, o.stop)),
        ));
    }
    body.push_str("  </graph>\n</graphml>\n");
    w.write_all(body.as_bytes()).map_err(io_err(path))?;
    w.flush().map_err(io_err(path))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// CSV, one row per tainted output: where it was created, how much, and where it went.
fn write_csv(ctx: &Context, attribution: &Attribution, t: &ForwardTrace, path: &Path) -> Result<(), Failure> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(io_err(path))?);
    let e = io_err(path);
    writeln!(w, "txid,vout,address,value,tainted,hop,stop,spent_by").map_err(&e)?;
    for o in &t.outputs {
        let vout = o.output - ctx.ledger.outputs_of(fundtrace_core::TxId(o.tx)).start;
        writeln!(
            w,
            "{},{},{},{},{},{},{},{}",
            ctx.txid(o.tx),
            vout,
            o.address.map(|a| ctx.address_str(a)).unwrap_or_default(),
            o.value,
            taint::tainted(&o.taint),
            o.hop,
            csv_field(&stop_name(attribution, o.stop)),
            o.spender.map(|s| ctx.txid(s)).unwrap_or_default()
        )
        .map_err(&e)?;
    }
    w.flush().map_err(&e)
}

/// Targets of a backward trace: an address's inflows from others, or a transaction's outputs.
pub fn backward_targets(ctx: &Context, attribution: &Attribution, target: &str) -> Result<Vec<(u64, u64)>, Failure> {
    let g = &ctx.graph();
    if target.len() == 64 && target.bytes().all(|b| b.is_ascii_hexdigit()) {
        let tx = ctx.tx_id(target)?;
        return Ok(g.outputs(tx).map(|o| (o, g.value(o))).filter(|x| x.1 > 0).collect());
    }
    let a = ctx.address_id(target)?;
    let me = attribution.key(a);
    let mut outs = Vec::new();
    g.outputs_to(a, &mut outs);
    let mut ins = Vec::new();
    let mut targets = Vec::new();
    for o in outs {
        // Value the address sent itself (change) is not an inflow.
        g.inputs(g.creator(o), &mut ins);
        let own = ins.iter().any(|&(i, _)| g.address(i).is_some_and(|x| attribution.key(x) == me));
        if !own && g.value(o) > 0 {
            targets.push((o, g.value(o)));
        }
    }
    targets.sort_unstable();
    Ok(targets)
}

pub fn origin_json(ctx: &Context, attribution: &Attribution, origin: Origin) -> Value {
    match origin {
        Origin::Entity(k) => attribution.entity(k).map_or_else(|| json!({"entity": k}), |e| ctx.entity_json(e)),
        Origin::Coinbase => json!({"label": "newly mined coins", "category": "miner", "risk_category": "other"}),
        Origin::Unattributed => json!({"label": "unattributed", "risk_category": "other"}),
        Origin::Dust => json!({"label": "below the minimum amount", "risk_category": "other"}),
    }
}

fn backward(data_dir: &Path, a: BackwardArgs) -> Result<(), Failure> {
    let ctx = Context::open(data_dir)?;
    let attribution = ctx.attribution();
    let targets = backward_targets(&ctx, &attribution, &a.target)?;
    let opts = BackwardOptions { max_hops: a.max_hops, min_amount: a.min_amount, ..Default::default() };
    let source_at = |x: u32| attribution.entity_of(x).map(|e| e.key);
    let t = trace::backward(&ctx.graph(), &targets, &opts, &source_at);
    let total = t.target_value.max(1) as f64;
    let sources: Vec<Value> = t
        .sources
        .iter()
        .map(|s| {
            let mut v = origin_json(&ctx, &attribution, s.origin);
            v["hop"] = json!(s.hop);
            v["amount"] = json!(s.amount);
            v["share"] = json!(s.amount as f64 / total);
            v["path"] = json!(s.path.iter().map(|&tx| ctx.txid(tx)).collect::<Vec<_>>());
            v
        })
        .collect();
    let mut by_category: BTreeMap<String, u64> = BTreeMap::new();
    for (s, v) in t.sources.iter().zip(&sources) {
        *by_category.entry(v["risk_category"].as_str().unwrap_or("other").to_string()).or_default() += s.amount;
    }
    let v = json!({
        "target": a.target,
        "received": t.target_value,
        "inflows": targets.len(),
        "transactions_split": t.txs_split,
        "truncated": t.truncated,
        "by_category": by_category,
        "sources": sources,
    });
    print(&v, a.out.json);
    Ok(())
}

fn read_jsonl(path: &Path) -> Result<Vec<Value>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| Failure::from(format!("{}: {e}", path.display())))?;
    text.lines()
        .enumerate()
        .map(|(n, l)| serde_json::from_str(l).map_err(|e| Failure::from(format!("{}:{}: {e}", path.display(), n + 1))))
        .collect()
}

/// Scores each model on a simulated world: of the stolen value that truly reached exchanges
/// and OTC desks by routes a value trace can follow (not the mixer's later payouts), the share
/// attributed to the right one (`found`), the share attributed to exchanges it never reached
/// (`wrong`), and how many addresses the model tainted (Anderson et al.'s measure).
fn evaluate(data_dir: &Path, a: EvaluateArgs) -> Result<(), Failure> {
    let ctx = Context::open(data_dir)?;
    let attribution = ctx.attribution();
    let entities = read_jsonl(&a.truth.join("entities.jsonl"))?;
    let incidents = read_jsonl(&a.truth.join("incidents.jsonl"))?;
    let name_of = |id: u64| entities.get(id as usize).and_then(|e| e["name"].as_str()).unwrap_or("?").to_string();
    let mut seeds = Vec::new();
    let mut truth: HashMap<String, u64> = HashMap::new();
    let mut exchange_names: HashSet<String> = HashSet::new();
    for e in &entities {
        if matches!(e["kind"].as_str(), Some("exchange") | Some("otc_broker")) {
            exchange_names.insert(e["name"].as_str().unwrap_or("").to_string());
        }
    }
    for (label, inc) in incidents.iter().enumerate() {
        for so in inc["stolen_outputs"].as_array().into_iter().flatten() {
            let s = format!("{}:{}", so["txid"].as_str().unwrap_or(""), so["vout"]);
            seeds.extend(resolve_seed(&ctx, &attribution, &s, label as u32)?);
        }
        for e in inc["endpoints"].as_array().into_iter().flatten() {
            let name = name_of(e["entity"].as_u64().unwrap_or(u64::MAX));
            if exchange_names.contains(&name) && e["route"] != "via_mixer" {
                *truth.entry(name).or_default() += e["amount"].as_u64().unwrap_or(0);
            }
        }
    }
    let total: u64 = truth.values().sum();
    let stops: Vec<String> = DEFAULT_STOPS.split(',').map(String::from).collect();
    let mut rows = Vec::new();
    for m in a.models.split(',') {
        let model = parse_model(m.trim())?;
        let opts = ForwardOptions { model, max_hops: a.max_hops, min_amount: 1, max_txs: a.max_txs, ..Default::default() };
        let started = std::time::Instant::now();
        let t = trace::forward(&ctx.graph(), &seeds, &opts, &stop_fn(&attribution, &stops));
        let seconds = started.elapsed().as_secs_f64();
        // An exchange may be several clusters (each tagged with its name): add them up first.
        let mut traced: HashMap<&str, u64> = HashMap::new();
        for ep in &t.endpoints {
            if let Some(e) = attribution.entity(ep.entity).filter(|e| exchange_names.contains(&e.label)) {
                *traced.entry(e.label.as_str()).or_default() += ep.amount;
            }
        }
        let (mut found, mut wrong) = (0u64, 0u64);
        for (name, amount) in traced {
            match truth.get(name) {
                Some(&v) => found += amount.min(v),
                None => wrong += amount,
            }
        }
        rows.push(json!({
            "model": model.name(),
            "found": found as f64 / total.max(1) as f64,
            "wrong": wrong as f64 / total.max(1) as f64,
            "tainted_addresses": t.tainted_addresses,
            "transactions": t.txs.len(),
            "truncated": t.truncated,
            "seconds": seconds,
        }));
    }
    let v = json!({
        "incidents": incidents.len(),
        "stolen": seeds.iter().map(|s| s.amount).sum::<u64>(),
        "reached_exchanges": total,
        "models": rows,
    });
    print(&v, a.out.json);
    Ok(())
}
