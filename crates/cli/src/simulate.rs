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

/// Simulates a small world, ingests it, and shows what it holds and where the theft is.
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

    say!("\n3. the planted theft (ground truth: {}/truth/incidents.jsonl)", out.display());
    let text = std::fs::read_to_string(out.join("truth/incidents.jsonl"))?;
    let entities: Vec<serde_json::Value> = std::fs::read_to_string(out.join("truth/entities.jsonl"))?
        .lines()
        .map(|l| serde_json::from_str(l).expect("entities.jsonl written by us"))
        .collect();
    let name = |id: u64| entities.get(id as usize).and_then(|e| e["name"].as_str()).unwrap_or("?").to_string();
    for line in text.lines() {
        let inc: serde_json::Value = serde_json::from_str(line).expect("incidents.jsonl written by us");
        say!(
            "incident {}: {} stole {} sat from {} at height {} in tx {}",
            inc["id"],
            name(inc["thief"].as_u64().unwrap_or(0)),
            inc["stolen_value"],
            name(inc["victim"].as_u64().unwrap_or(0)),
            inc["height"],
            inc["theft_txid"].as_str().unwrap_or("")
        );
        let mut per: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
        for e in inc["endpoints"].as_array().into_iter().flatten() {
            let key = format!("{} ({})", name(e["entity"].as_u64().unwrap_or(0)), e["entity_kind"].as_str().unwrap_or(""));
            let v = per.entry(key).or_default();
            v.0 += e["amount"].as_u64().unwrap_or(0);
            v.1 += 1;
        }
        say!(
            "  {} laundering transactions; coins reached {} destinations:",
            inc["laundering_txs"].as_array().map_or(0, |a| a.len()),
            per.len()
        );
        let mut rows: Vec<_> = per.into_iter().collect();
        rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0));
        for (who, (amount, n)) in rows.iter().take(10) {
            say!("    {amount:>14} sat in {n:>3} transfers to {who}");
        }
        say!("  still held by the thief at the end: {} sat", inc["unspent_at_end"]);
    }
    say!("\nexplore: fundtrace --data-dir {} tx <theft txid>", data_dir.display());
    Ok(())
}
