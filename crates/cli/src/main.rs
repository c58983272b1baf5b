//! The `fundtrace` command: argument parsing, and printing of what the library crates return.

/// `println!` that ends the process quietly when stdout is closed (`fundtrace ... | head`)
/// instead of panicking on the broken pipe.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod cluster;
mod context;
mod ingest;
mod path;
mod risk;
mod sanctions;
mod show;
mod simulate;
mod tags;
mod trace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "fundtrace", version, about = "Trace stolen and laundered money on public ledgers")]
struct Cli {
    /// Data directory holding the ledger stores [default: ~/.fundtrace]
    #[arg(long, global = true, env = "FUNDTRACE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a small world, ingest it, and show its planted theft (start here)
    Demo(simulate::DemoArgs),
    /// Write a synthetic economy as Bitcoin Core block files, with ground truth
    Simulate(simulate::SimulateArgs),
    /// Ingest a ledger into the data directory
    #[command(subcommand)]
    Ingest(ingest::IngestCommand),
    /// Summary of the stored ledger
    Info(show::InfoArgs),
    /// One block, by height or hash
    Block(show::BlockArgs),
    /// One transaction, by txid
    Tx(show::TxArgs),
    /// What an address received and sent
    Address(show::AddressArgs),
    /// Cluster addresses into entities (multi-input, CoinJoin-aware, optional change), and
    /// show, explain and evaluate clusters
    Cluster(cluster::ClusterArgs),
    /// Follow funds forward (where did stolen coins go) or backward (where did they come from)
    #[command(subcommand)]
    Trace(trace::TraceCommand),
    /// Direct and indirect exposure of addresses or transactions, with a score and its evidence
    Risk(risk::RiskArgs),
    /// Build the exposure index: every address's source-of-funds exposure in one pass, for
    /// screening many addresses with `risk --brief`
    Exposure(risk::ExposureArgs),
    /// Value paths between two addresses or clusters (widest first, time-respecting, not
    /// through large service clusters)
    Path(path::PathArgs),
    /// OFAC sanctions lists and their history
    #[command(subcommand)]
    Sanctions(sanctions::SanctionsCommand),
    /// Screen addresses (or a transaction's) against the imported sanctions lists. Exit code 0
    /// when screening ran, hits or not; with --fail-on-hit 3 on a hit, else 4 on an invalid address
    Screen(sanctions::ScreenArgs),
    /// Attribution tags: import GraphSense TagPacks/ActorPacks, show an address's tags
    #[command(subcommand)]
    Tags(tags::TagsCommand),
}

/// A failure with the exit code it maps to: 1 = the command failed, 2 = bad usage/input.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure { code: 1, message: e.to_string() }
    }
}

pub fn usage(message: impl Into<String>) -> Failure {
    Failure { code: 2, message: message.into() }
}

/// Command-line values where `-` (and, with `stdin_if_none`, no value at all) stands for
/// standard input, one value per line; blank lines and `#` comments are skipped.
pub fn args_or_stdin(args: &[String], stdin_if_none: bool) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    let mut push = |s: &str| {
        let s = s.trim();
        if !s.is_empty() && !s.starts_with('#') {
            out.push(s.to_string());
        }
    };
    let stdin = std::iter::once("-").filter(|_| args.is_empty() && stdin_if_none);
    for a in args.iter().map(String::as_str).chain(stdin) {
        if a == "-" {
            for line in std::io::BufRead::lines(std::io::stdin().lock()) {
                push(&line.map_err(|e| Failure::from(format!("standard input: {e}")))?);
            }
        } else {
            push(a);
        }
    }
    Ok(out)
}

fn default_data_dir() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(".")).join(".fundtrace")
}

/// Where the Bitcoin clusters live inside a data directory.
pub fn btc_clusters(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("btc-clusters")
}

/// Where the Bitcoin ledger store lives inside a data directory.
pub fn btc_store(data_dir: &std::path::Path) -> PathBuf {
    data_dir.join("btc")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let explicit_data_dir = cli.data_dir.clone();
    let data_dir = cli.data_dir.unwrap_or_else(default_data_dir);
    let result = match cli.command {
        Command::Demo(a) => simulate::demo(explicit_data_dir.as_deref(), a),
        Command::Simulate(a) => simulate::simulate_cmd(a),
        Command::Ingest(c) => ingest::run(&data_dir, c),
        Command::Info(a) => show::info(&data_dir, a),
        Command::Block(a) => show::block(&data_dir, a),
        Command::Tx(a) => show::tx(&data_dir, a),
        Command::Address(a) => show::address(&data_dir, a),
        Command::Cluster(a) => cluster::run(&data_dir, a),
        Command::Trace(c) => trace::run(&data_dir, c),
        Command::Risk(a) => risk::run(&data_dir, a),
        Command::Exposure(a) => risk::build_index(&data_dir, a),
        Command::Path(a) => path::path(&data_dir, a),
        Command::Sanctions(c) => sanctions::run(&data_dir, c),
        Command::Screen(a) => sanctions::screen(&data_dir, a),
        Command::Tags(c) => tags::run(&data_dir, c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
