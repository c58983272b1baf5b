//! `cargo run --release -p fundtrace-bench -- decode` : block decode + txid/wtxid throughput on
//! the big real blocks, next to the SHA-256d floor and rust-bitcoin in the same run.
//! `cargo run --release -p fundtrace-bench -- store DIR` : bytes per record of a store.
//!
//! Each figure is the median of 7 rounds, each round repeating the work for >= 0.3 s on one
//! thread. The machine is shared, so read figures as +-10%.

use std::path::{Path, PathBuf};
use std::time::Instant;

use fundtrace_bitcoin::hash::sha256d;
use fundtrace_bitcoin::Block;

fn data_dir() -> PathBuf {
    std::env::var_os("FUNDTRACE_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

/// Median seconds per call of `f`.
fn time(mut f: impl FnMut()) -> f64 {
    let mut rounds = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed().as_secs_f64() < 0.3 {
            f();
            n += 1;
        }
        rounds.push(start.elapsed().as_secs_f64() / n as f64);
    }
    rounds.sort_by(|a, b| a.partial_cmp(b).unwrap());
    rounds[3]
}

fn decode_bench() {
    let d = data_dir().join("btc-mainnet-blocks");
    let blocks = [
        ("540107", "btcd/block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk"),
        ("574200", "btcd/block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk"),
        ("702861", "rust-bitcoin/mainnet_block_000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae.raw"),
    ];
    println!("| block | MB | txs | SHA-256d floor, each tx once (ms) | floor, txid + wtxid bytes (ms) | fundtrace decode + txid + wtxid (ms) | MB/s | ns/tx | rust-bitcoin deserialize + compute_txid + compute_wtxid (ms) | speed-up vs rust-bitcoin | fundtrace / floor (txid+wtxid) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (height, file) in blocks {
        let raw = std::fs::read(d.join(file)).unwrap();
        let block = Block::decode(&raw).unwrap();
        let txs: Vec<&[u8]> = block.txs.txs.iter().map(|t| t.raw).collect();
        // What txid + wtxid must hash: the stripped form of every tx, plus the full form of
        // segwit ones (non-segwit wtxid = txid).
        let stripped: Vec<Vec<u8>> = block
            .txs
            .txs
            .iter()
            .map(|t| {
                let mut v = Vec::new();
                fundtrace_bitcoin::encode::write_tx(&mut v, &block.txs, &fundtrace_bitcoin::Tx { segwit: false, ..t.clone() });
                v
            })
            .collect();
        let segwit_full: Vec<&[u8]> = block.txs.txs.iter().filter(|t| t.segwit).map(|t| t.raw).collect();
        let n = txs.len();
        drop(block);
        let floor_once = time(|| {
            for t in &txs {
                std::hint::black_box(sha256d(t));
            }
        });
        let floor_both = time(|| {
            for t in stripped.iter().map(|v| v.as_slice()).chain(segwit_full.iter().copied()) {
                std::hint::black_box(sha256d(t));
            }
        });
        let ours = time(|| {
            std::hint::black_box(Block::decode(std::hint::black_box(&raw)).unwrap());
        });
        let peer = time(|| {
            let b: bitcoin::Block = bitcoin::consensus::deserialize(std::hint::black_box(&raw)).unwrap();
            for tx in &b.txdata {
                std::hint::black_box(tx.compute_txid());
                std::hint::black_box(tx.compute_wtxid());
            }
        });
        let mb = raw.len() as f64 / 1e6;
        println!(
            "| {height} | {mb:.2} | {n} | {:.3} | {:.3} | {:.3} | {:.0} | {:.0} | {:.3} | {:.1}x | {:.2} |",
            floor_once * 1e3,
            floor_both * 1e3,
            ours * 1e3,
            mb / ours,
            ours * 1e9 / n as f64,
            peer * 1e3,
            peer / ours,
            ours / floor_both
        );
    }
}

fn store_bench(dir: &Path) {
    let m = fundtrace_store::Manifest::load(dir).unwrap();
    let size = |name: &str| std::fs::metadata(dir.join(name)).map(|m| m.len()).unwrap_or(0);
    use fundtrace_store::layout::*;
    let per = |files: &[&str], n: u64| files.iter().map(|f| size(f)).sum::<u64>() as f64 / n.max(1) as f64;
    let tx_files = [TX_TXID, TX_WTXID, TX_FIRST_INPUT, TX_FIRST_OUTPUT, TX_VERSION, TX_LOCKTIME, TX_SIZE, TX_WEIGHT];
    let out_files = [OUT_VALUE, OUT_ADDRESS, OUT_TYPE, OUT_SPENT_BY, OUT_PREV_SAME_ADDRESS];
    let addr_files = [ADDR_END, ADDR_BYTES, ADDR_LAST_OUTPUT];
    let txid_idx = txid_index(m.txid_index.generation);
    let addr_idx = address_index(m.address_index.generation);
    println!("store {}: {} blocks, {} txs, {} inputs, {} outputs, {} addresses", dir.display(), m.blocks, m.txs, m.inputs, m.outputs, m.addresses);
    println!("| record | columns | bytes per record | + hash index |");
    println!("|---|---|---|---|");
    println!("| transaction | {} | {:.1} | {:.1} |", tx_files.join(", "), per(&tx_files, m.txs), per(&[&txid_idx], m.txs));
    println!("| input | {IN_SPENT}, {IN_SEQUENCE} | {:.1} | |", per(&[IN_SPENT, IN_SEQUENCE], m.inputs));
    println!("| output | {} | {:.1} | |", out_files.join(", "), per(&out_files, m.outputs));
    println!("| address | {} | {:.1} | {:.1} |", addr_files.join(", "), per(&addr_files, m.addresses), per(&[&addr_idx], m.addresses));
    println!("| block | {BLOCKS} | {:.1} | |", per(&[BLOCKS], m.blocks));
    let total: u64 = std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
    println!("total {total} bytes = {:.1} bytes per transaction", total as f64 / m.txs.max(1) as f64);
}

/// SHA-256 over every txid in chain order, as stored by fundtrace.
fn store_txids(dir: &Path) {
    use sha2::{Digest, Sha256};
    let l = fundtrace_store::Ledger::open(dir).unwrap();
    let mut h = Sha256::new();
    for t in 0..l.tx_count() {
        h.update(l.txid(fundtrace_core::TxId(t)).0);
    }
    println!("fundtrace: {} txids, sha256 {}", l.tx_count(), fundtrace_core::hex_encode(&h.finalize()));
}

/// The same digest from bitcoin-block-parser's ordered parse of a blocks directory.
fn peer_txids(dir: &Path) {
    use bitcoin_block_parser::blocks::BlockParser;
    use bitcoin::hashes::Hash;
    use sha2::{Digest, Sha256};
    let parser = BlockParser::new(dir.to_str().unwrap()).unwrap();
    let per_block = parser.parse(|b| b.txdata.iter().map(|t| t.compute_txid().to_byte_array()).collect::<Vec<_>>()).ordered();
    let mut h = Sha256::new();
    let mut n = 0u64;
    for txids in per_block {
        for t in txids {
            h.update(t);
            n += 1;
        }
    }
    println!("bitcoin-block-parser: {n} txids, sha256 {}", fundtrace_core::hex_encode(&h.finalize()));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("decode") | None => decode_bench(),
        Some("store") => store_bench(Path::new(args.get(1).expect("store DIR (the btc/ directory of a data dir)"))),
        Some("txids") => store_txids(Path::new(args.get(1).expect("txids STORE_DIR"))),
        Some("peer-txids") => peer_txids(Path::new(args.get(1).expect("peer-txids BLOCKS_DIR"))),
        Some(other) => {
            eprintln!("unknown benchmark {other}: decode | store DIR | txids STORE_DIR | peer-txids BLOCKS_DIR");
            std::process::exit(2);
        }
    }
}
