//! `fundtrace ingest btc`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use fundtrace_bitcoin::blkfile::BlockFiles;
use fundtrace_store::ingest::{ingest_btc, IngestOptions};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;

#[derive(Subcommand)]
pub enum IngestCommand {
    /// Bitcoin Core block files (blocks/blk?????.dat, de-obfuscated with blocks/xor.dat)
    Btc(BtcArgs),
}

#[derive(Args)]
pub struct BtcArgs {
    /// Bitcoin Core's blocks/ directory
    #[arg(long, required_unless_present_any = ["file", "raw_block"])]
    blocks_dir: Option<PathBuf>,
    /// Individual framed block files instead of a directory (repeatable)
    #[arg(long, conflicts_with = "blocks_dir")]
    file: Vec<PathBuf>,
    /// Single raw (unframed) block files, each one serialized block (repeatable)
    #[arg(long, conflicts_with_all = ["blocks_dir", "file"])]
    raw_block: Vec<PathBuf>,
    /// Network of --raw-block files (main, test, testnet4, signet, regtest)
    #[arg(long, default_value = "main")]
    network: String,
    /// Stop at this height
    #[arg(long)]
    max_height: Option<u64>,
    /// Commit after this many transactions
    #[arg(long, default_value_t = 1_000_000)]
    commit_every: u64,
    /// Print the summary as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(data_dir: &Path, cmd: IngestCommand) -> Result<(), Failure> {
    let IngestCommand::Btc(a) = cmd;
    let files = if let Some(dir) = &a.blocks_dir {
        BlockFiles::open_dir(dir)?
    } else if !a.raw_block.is_empty() {
        let network = fundtrace_bitcoin::Network::from_name(&a.network)
            .ok_or_else(|| crate::usage(format!("unknown network {:?}", a.network)))?;
        BlockFiles::open_raw_blocks(a.raw_block.clone(), network)?
    } else {
        BlockFiles::open_files(a.file.clone(), None)?
    };
    let opts = IngestOptions { commit_every_txs: a.commit_every.max(1), max_height: a.max_height, ..Default::default() };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
        )
        .expect("valid template"),
    );
    let start = Instant::now();
    let summary = ingest_btc(&crate::btc_store(data_dir), &files, &opts, &mut |p| {
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        if p.blocks_done % 64 == 0 || p.blocks_done == p.blocks_total {
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            bar.set_message(format!(
                "{}/{} blocks ({:.0} blocks/s), {} txs",
                p.blocks_done,
                p.blocks_total,
                p.blocks_done as f64 / secs,
                p.txs_done
            ));
        }
    });
    bar.finish_and_clear();
    let s = summary?;
    // The blocks are committed whatever happens next: a failure to extend the clusters is a
    // warning with the command that retries it, not a failed ingest.
    let clustered = crate::cluster::refresh_after_ingest(data_dir).unwrap_or_else(|f| {
        eprintln!("warning: clusters not extended over the new blocks: {}; run `fundtrace cluster`", f.message);
        None
    });
    let secs = start.elapsed().as_secs_f64();
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    if a.json {
        let v = serde_json::json!({
            "network": s.network.name(),
            "blocks_added": s.blocks_added,
            "transactions_added": s.txs_added,
            "bytes_read": s.bytes_read,
            "height": s.height,
            "stale_blocks_skipped": s.stale_blocks_skipped,
            "orphan_blocks_skipped": s.orphan_blocks_skipped,
            "already_stored": s.already_stored,
            "warnings": s.warnings.iter().map(|w| w.to_string()).collect::<Vec<_>>(),
            "clustered": clustered.map(|(txs, clusters)| serde_json::json!({"transactions": txs, "clusters": clusters})),
            "seconds": secs,
        });
        say!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        say!(
            "ingested {} blocks ({} transactions, {:.1} MB) of bitcoin {} in {:.2}s; height {}",
            s.blocks_added,
            s.txs_added,
            s.bytes_read as f64 / 1e6,
            s.network,
            secs,
            s.height.map_or("none".into(), |h| h.to_string())
        );
        say!(
            "skipped {} stale and {} orphan blocks; {} blocks were already stored",
            s.stale_blocks_skipped, s.orphan_blocks_skipped, s.already_stored
        );
        if let Some((txs, clusters)) = clustered {
            say!("clusters extended over {txs} new transactions: {clusters} clusters");
        }
    }
    Ok(())
}
