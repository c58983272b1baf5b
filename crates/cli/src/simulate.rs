//! `fundtrace simulate` and `fundtrace demo`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use fundtrace_bitcoin::blkfile::BlockFiles;
use fundtrace_bitcoin::Network;
use fundtrace_sim::{simulate, Config, Summary};
use fundtrace_store::ingest::{ingest_btc, IngestOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{usage, Failure};

#[derive(Args)]
pub struct SimulateArgs {
    /// Output directory (gets blocks/ and truth/)
    #[arg(long)]
    out: PathBuf,
    /// Seed: the same seed writes the same bytes
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Transactions to simulate (coinbases included)
    #[arg(long, default_value_t = 100_000)]
    txs: u64,
    /// Obfuscate block files with a xor.dat key, as Bitcoin Core 28+ does
    #[arg(long)]
    xor: bool,
    /// regtest (real proof of work, bcrt1 addresses) or main (mainnet magic and addresses)
    #[arg(long, default_value = "regtest")]
    network: String,
    /// Transactions per block
    #[arg(long, default_value_t = 500)]
    txs_per_block: u32,
    /// Planted thefts [default: 4 per million transactions, at least 1]
    #[arg(long)]
    incidents: Option<u32>,
    /// Individuals in the population [default: one per 20 transactions, 300 to 5 million]
    #[arg(long)]
    individuals: Option<u32>,
    /// Share of the victim's hot wallet each theft takes, as MIN-MAX
    #[arg(long, default_value = "0.5-0.8")]
    theft_share: String,
    /// Weights of the laundering routes of each dispersed stolen coin
    #[arg(long, default_value = "peel=40,mixer=20,coinjoin=15,consolidate=15,direct=10")]
    routes: String,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
}

fn bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} txs ({per_sec}, ETA {eta}) {msg}")
            .expect("valid template"),
    );
    bar
}

fn config(a: &SimulateArgs) -> Result<Config, Failure> {
    let network = match a.network.as_str() {
        "regtest" => Network::Regtest,
        "main" => Network::Main,
        other => return Err(usage(format!("--network {other}: the simulator writes regtest or main"))),
    };
    if a.txs == 0 || a.txs_per_block == 0 {
        return Err(usage("--txs and --txs-per-block must be positive"));
    }
    let mut cfg = Config::new(a.seed, a.txs);
    cfg.network = network;
    cfg.xor = a.xor;
    cfg.txs_per_block = a.txs_per_block;
    cfg.incidents = a.incidents;
    cfg.individuals = a.individuals;
    let bad_share = || usage(format!("--theft-share {:?}: expected MIN-MAX with 0 < MIN <= MAX < 1", a.theft_share));
    let (lo, hi) = a.theft_share.split_once('-').ok_or_else(bad_share)?;
    let (lo, hi): (f64, f64) = (lo.parse().map_err(|_| bad_share())?, hi.parse().map_err(|_| bad_share())?);
    if !(0.0 < lo && lo <= hi && hi < 1.0) {
        return Err(bad_share());
    }
    cfg.theft_share = (lo, hi);
    let names = ["peel", "mixer", "coinjoin", "consolidate", "direct"];
    let mut routes = [0u32; 5];
    for part in a.routes.split(',') {
        let (name, weight) = part.split_once('=').ok_or_else(|| usage(format!("--routes: {part:?} is not NAME=WEIGHT")))?;
        let i = names.iter().position(|n| *n == name.trim()).ok_or_else(|| usage(format!("--routes: unknown route {name:?} (routes: {})", names.join(", "))))?;
        routes[i] = weight.trim().parse().map_err(|_| usage(format!("--routes: weight {weight:?} is not a whole number")))?;
    }
    if routes.iter().all(|&r| r == 0) {
        return Err(usage("--routes: at least one route needs a positive weight"));
    }
    cfg.routes = routes;
    Ok(cfg)
}

fn run_sim(cfg: &Config, out: &Path) -> Result<(Summary, f64), Failure> {
    let bar = bar(cfg.txs);
    let start = Instant::now();
    let s = simulate(cfg, out, &mut |p| {
        bar.set_position(p.txs);
        bar.set_message(format!("{} blocks, {:.1} MB", p.blocks, p.bytes as f64 / 1e6));
    });
    bar.finish_and_clear();
    Ok((s?, start.elapsed().as_secs_f64()))
}

fn print_summary(s: &Summary, secs: f64, out: &Path) {
    say!(
        "simulated {} transactions in {} blocks ({:.1} MB in {} blk files) in {:.1}s ({:.0} tx/s)",
        s.transactions,
        s.blocks,
        s.bytes as f64 / 1e6,
        s.blk_files,
        secs,
        s.transactions as f64 / secs
    );
    let kinds: Vec<String> = s.entities_by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
    say!("{} entities: {}", s.entities, kinds.join(", "));
    say!("{} addresses; {} planted incidents stole {} sat in total", s.addresses, s.incidents, s.stolen_value);
    say!("blocks: {}/blocks  ground truth: {}/truth", out.display(), out.display());
}

pub fn simulate_cmd(a: SimulateArgs) -> Result<(), Failure> {
    let cfg = config(&a)?;
    let (s, secs) = run_sim(&cfg, &a.out)?;
    if a.json {
        say!("{}", serde_json::to_string_pretty(&s).expect("json"));
    } else {
        print_summary(&s, secs, &a.out);
    }
    Ok(())
}

#[derive(Args)]
pub struct DemoArgs {
    /// Where to put the simulated world [default: a fresh temporary directory]
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 100_000)]
    txs: u64,
}

/// Simulates a small world, ingests it, clusters and attributes it, and traces its theft
/// next to the ground truth.
pub fn demo(data_dir: Option<&Path>, a: DemoArgs) -> Result<(), Failure> {
    let out = a.out.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("fundtrace-demo-{}", std::process::id())));
    if out.join("blocks").exists() {
        return Err(usage(format!("{} already holds a world; pass another --out", out.display())));
    }
    let data_dir = data_dir.map(Path::to_path_buf).unwrap_or_else(|| out.join("data"));
    say!("1. simulating a world of {} transactions (seed {}) into {}", a.txs, a.seed, out.display());
    let mut cfg = Config::new(a.seed, a.txs);
    cfg.incidents = Some(1);
    let (s, secs) = run_sim(&cfg, &out)?;
    print_summary(&s, secs, &out);

    say!("\n2. ingesting its blocks into {}", data_dir.display());
    let files = BlockFiles::open_dir(&out.join("blocks"))?;
    let start = Instant::now();
    let ingested = ingest_btc(&crate::btc_store(&data_dir), &files, &IngestOptions::default(), &mut |_| {})?;
    say!(
        "ingested {} blocks / {} transactions in {:.2}s; height {}",
        ingested.blocks_added,
        ingested.txs_added,
        start.elapsed().as_secs_f64(),
        ingested.height.unwrap_or(0)
    );

    // 3. Entities: multi-input clustering with CoinJoin exclusion, scored against the truth.
    say!("\n3. clustering addresses into entities (multi-input heuristic, CoinJoins excluded)");
    let ledger = fundtrace_store::Ledger::open(&crate::btc_store(&data_dir))?;
    let config = fundtrace_analysis::cluster::ClusterConfig::default();
    let built = fundtrace_analysis::cluster::update(&ledger, &crate::btc_clusters(&data_dir), &config, false, &mut |_| {})?;
    let clusters = fundtrace_analysis::cluster::Clusters::open(&crate::btc_clusters(&data_dir))?.ok_or("no clusters after clustering")?;
    let network = Network::from_name(&s.network).ok_or_else(|| Failure::from(format!("unknown network {}", s.network)))?;
    let owners = crate::cluster::truth_owners(&ledger, network, &out.join("truth"))?;
    let score = fundtrace_analysis::cluster::evaluate::pairwise(clusters.assignment(), &owners);
    say!(
        "{} addresses in {} clusters ({} CoinJoins excluded); against the ground truth: pairwise precision {:.4}, recall {:.4}",
        built.addresses,
        built.clusters,
        clusters.manifest.stats.coinjoins_excluded,
        score.precision,
        score.recall
    );
    drop(clusters);
    drop(ledger);

    // 4. Attribution: the public tags of the world (service wallets, the theft's addresses).
    say!("\n4. attributing clusters from the world's public tags ({}/truth/tags.yaml)", out.display());
    let mut intel = fundtrace_intel::Intel::open(&data_dir)?;
    let taxonomy = fundtrace_intel::tagpack::Taxonomy::builtin();
    let imported = fundtrace_intel::tagpack::import(&mut intel, &[out.join("truth/tags.yaml")], taxonomy, &mut |_| {})?;
    drop(intel);
    let ctx = crate::context::Context::open(&data_dir)?;
    let attribution = ctx.attribution();
    say!("{} tags attribute {} entities (a tagged address names its whole cluster)", imported.tags_total, attribution.len());

    // 5. The trace, next to the ground truth.
    let entities: Vec<serde_json::Value> = std::fs::read_to_string(out.join("truth/entities.jsonl"))?
        .lines()
        .map(|l| serde_json::from_str(l).expect("entities.jsonl written by us"))
        .collect();
    let name = |id: u64| entities.get(id as usize).and_then(|e| e["name"].as_str()).unwrap_or("?").to_string();
    let text = std::fs::read_to_string(out.join("truth/incidents.jsonl"))?;
    for line in text.lines() {
        let inc: serde_json::Value = serde_json::from_str(line).expect("incidents.jsonl written by us");
        let theft = inc["theft_txid"].as_str().unwrap_or("");
        say!(
            "\n5. incident {}: {} stole {} sat from {} at height {} (tx {theft})",
            inc["id"],
            name(inc["thief"].as_u64().unwrap_or(0)),
            inc["stolen_value"],
            name(inc["victim"].as_u64().unwrap_or(0)),
            inc["height"]
        );
        let seeds = crate::trace::resolve_seed(&ctx, &attribution, theft, 0)?;
        let thief_address = seeds.first().and_then(|s| fundtrace_analysis::trace::FlowGraph::address(&ctx.graph(), s.output));
        if let Some(e) = thief_address.and_then(|a| attribution.entity_of(a)) {
            say!("   the stolen coins went to cluster {} tagged {:?} ({})", e.key, e.label, e.abuse.as_deref().unwrap_or("-"));
        }
        let stops: Vec<String> = crate::trace::DEFAULT_STOPS.split(',').map(String::from).collect();
        let mut traced: std::collections::BTreeMap<String, [u64; 2]> = Default::default();
        for (i, model) in [fundtrace_analysis::trace::Model::Haircut, fundtrace_analysis::trace::Model::Fifo].into_iter().enumerate() {
            let opts = fundtrace_analysis::trace::ForwardOptions { model, max_hops: 100, ..Default::default() };
            let t = fundtrace_analysis::trace::forward(&ctx.graph(), &seeds, &opts, &crate::trace::stop_fn(&attribution, &stops));
            for ep in &t.endpoints {
                let label = attribution.entity(ep.entity).map_or_else(|| ep.entity.to_string(), |e| e.label.clone());
                traced.entry(label).or_default()[i] += ep.amount;
            }
        }
        // Ground truth: value reaching each entity by routes a value trace can follow (what a
        // mixer later paid the thief from its own pool is new value, shown apart).
        let mut truth: std::collections::BTreeMap<String, u64> = Default::default();
        let mut via_mixer = 0u64;
        for e in inc["endpoints"].as_array().into_iter().flatten() {
            let amount = e["amount"].as_u64().unwrap_or(0);
            if e["route"] == "via_mixer" {
                via_mixer += amount;
            } else {
                *truth.entry(name(e["entity"].as_u64().unwrap_or(0))).or_default() += amount;
            }
        }
        let mut rows: Vec<String> = traced.keys().chain(truth.keys()).cloned().collect();
        rows.sort();
        rows.dedup();
        rows.sort_by_key(|r| std::cmp::Reverse(truth.get(r).copied().unwrap_or(0).max(traced.get(r).map_or(0, |t| t[0]))));
        say!("   {:<22} {:>14} {:>14} {:>14}", "endpoint", "haircut (sat)", "FIFO (sat)", "ground truth");
        for r in &rows {
            let t = traced.get(r).copied().unwrap_or([0, 0]);
            say!("   {:<22} {:>14} {:>14} {:>14}", r, t[0], t[1], truth.get(r).copied().unwrap_or(0));
        }
        say!("   (the mixer later paid the thief {via_mixer} sat of its own coins, cashed out beyond the trace's reach)");
        say!("   still held by the thief at the end: {} sat", inc["unspent_at_end"]);
        say!(
            "   full trace: fundtrace --data-dir {} trace forward --seed {theft} --model fifo",
            data_dir.display()
        );
    }
    say!("\nexplore it further (data directory {}):", data_dir.display());
    for cmd in [
        "cluster show <address>          a cluster: size, balance, activity, largest members",
        "cluster explain <addr> <addr>   the transactions that linked two addresses",
        "tx <txid>                       CoinJoin detectors, peel chain, change heuristics per output",
        "trace backward --target <addr>  where an address's coins came from",
        "risk <address>                  exposure score with its evidence",
    ] {
        say!("  fundtrace --data-dir {} {cmd}", data_dir.display());
    }
    Ok(())
}
