//! Single raw (unframed) block files extend a store whose tip is their parent; others are
//! counted as orphans, not ingested.

mod common;
use common::*;

#[test]
fn raw_block_files_extend_the_tip() {
    let Some(data) = fundtrace_core::testdata::dir("raw blocks") else { return };
    let dir = tmp("raw");
    assert!(run(&dir, &["ingest", "btc", "--max-height", "0", "--blocks-dir", &nbitcoin(&data)]).status.success());
    let block1 = data.join("btc-mainnet-blocks/bcoin/block1.raw");
    let o = run(&dir, &["ingest", "btc", "--json", "--raw-block", block1.to_str().unwrap()]);
    let s = json(&o);
    assert_eq!((s["blocks_added"].as_u64(), s["height"].as_u64()), (Some(1), Some(1)));
    let b = json(&run(&dir, &["block", "1", "--json"]));
    assert_eq!(b["hash"], "00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048");

    // Block 169482 does not connect to height 1: skipped as an orphan, store unchanged.
    let before = digest(&dir);
    let far = data.join("btc-mainnet-blocks/bitcoinj/block169482.dat");
    let s = json(&run(&dir, &["ingest", "btc", "--json", "--raw-block", far.to_str().unwrap()]));
    assert_eq!((s["blocks_added"].as_u64(), s["orphan_blocks_skipped"].as_u64()), (Some(0), Some(1)));
    assert_eq!(digest(&dir), before);
    std::fs::remove_dir_all(&dir).unwrap();
}
