//! Ingesting real chains into the store and reading them back. Expected values are public
//! facts of the chain (the first bitcoin payment, Satoshi's and Hal Finney's addresses) and
//! BlockSci's recorded counts for its regtest chain (checksums.txt).

use std::path::{Path, PathBuf};

use fundtrace_bitcoin::blkfile::BlockFiles;
use fundtrace_bitcoin::{AddressKey, Network};
use fundtrace_core::{Hash32, InputId, OutputId, ScriptType};
use fundtrace_store::ingest::{ingest_btc, IngestOptions};
use fundtrace_store::Ledger;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ft-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn ingest(dir: &Path, files: &BlockFiles, opts: &IngestOptions) -> fundtrace_store::ingest::IngestSummary {
    ingest_btc(dir, files, opts, &mut |_| {}).unwrap()
}

fn addr(l: &Ledger, s: &str) -> fundtrace_core::AddressId {
    l.find_address(AddressKey::parse(s, Network::Main).unwrap().as_bytes()).unwrap()
}

#[test]
fn first_600_blocks_and_the_first_payment() {
    let Some(d) = fundtrace_core::testdata::dir("ingest mainnet 0-599") else { return };
    let files = BlockFiles::open_dir(&d.join("btc-mainnet-blocks/nbitcoin")).unwrap();
    let dir = tmp("600");
    let s = ingest(&dir, &files, &IngestOptions::default());
    assert_eq!((s.blocks_added, s.height, s.stale_blocks_skipped, s.orphan_blocks_skipped), (600, Some(599), 0, 0));
    let l = Ledger::open(&dir).unwrap();
    assert_eq!(l.block_count(), 600);

    // Block 170: Satoshi pays Hal Finney 10 BTC from block 9's coinbase, 40 BTC back.
    let t = l.find_tx(&Hash32::from_display_hex("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16").unwrap()).unwrap();
    assert_eq!(l.tx_height(t), 170);
    let tx = l.tx(t);
    assert_eq!(tx.inputs.end - tx.inputs.start, 1);
    let spent = l.input_spent(InputId(tx.inputs.start)).unwrap();
    let funding = l.tx_of_output(spent);
    assert_eq!(l.tx_height(funding), 9);
    assert_eq!(l.output_value(spent), 50 * 100_000_000);
    assert_eq!(l.output_spent_by(spent), Some(InputId(tx.inputs.start)), "links both ways");
    let outs: Vec<_> = (tx.outputs.clone()).map(|o| l.output(OutputId(o))).collect();
    assert_eq!(outs.iter().map(|o| o.value).collect::<Vec<_>>(), [10 * 100_000_000, 40 * 100_000_000]);
    assert!(outs.iter().all(|o| o.script_type == ScriptType::P2pk));
    let satoshi = addr(&l, "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S");
    let hal = addr(&l, "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3");
    assert_eq!(outs[0].address, Some(hal));
    assert_eq!(outs[1].address, Some(satoshi));
    assert_eq!(l.output_address(spent), Some(satoshi));
    // Satoshi's key was paid by the block 9 coinbase and the change of block 170, at least.
    let sat_outs: Vec<_> = l.address_outputs(satoshi).collect();
    assert!(sat_outs.contains(&spent) && sat_outs.contains(&OutputId(tx.outputs.start + 1)));
    assert!(sat_outs.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(l.pubkey(satoshi).map(|k| k.len()), Some(65));

    // Genesis: its coinbase output is the address everyone knows.
    let g = l.find_tx(&Hash32::from_display_hex("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b").unwrap()).unwrap();
    assert_eq!(g.0, 0);
    assert_eq!(l.output_address(OutputId(0)), Some(addr(&l, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")));
    // Every input's tx and every output's tx round-trip through the range columns.
    for i in 0..l.input_count() {
        let t = l.tx_of_input(InputId(i));
        assert!(l.inputs_of(t).contains(&i));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn regtest_chain_matches_blocksci_counts() {
    let Some(d) = fundtrace_core::testdata::dir("ingest regtest") else { return };
    let files = BlockFiles::open_dir(&d.join("btc-regtest-blocksci/regtest/blocks")).unwrap();
    let dir = tmp("regtest");
    let s = ingest(&dir, &files, &IngestOptions::default());
    assert_eq!(s.height, Some(201));
    let l = Ledger::open(&dir).unwrap();
    // checksums.txt: "Chain contains 202 blocks, 356 txes, 178 inputs, 693 outputs."
    // BlockSci does not count coinbase inputs; we store one per coinbase.
    assert_eq!(l.block_count(), 202);
    assert_eq!(l.tx_count(), 356);
    assert_eq!(l.input_count() - 202, 178);
    assert_eq!(l.output_count(), 693);
    // output.json: the first scripted P2PKH spend.
    let a = l
        .find_address(AddressKey::parse("myowM8GghMuCX4tn58Nmh9eubwMjuwKiCJ", Network::Regtest).unwrap().as_bytes())
        .unwrap();
    let t = l.find_tx(&Hash32::from_display_hex("9a27d8c02ed0ae0f62072963bae34ce845e7ba6b971d9bc76f58e14bec91c3e3").unwrap()).unwrap();
    assert_eq!(l.tx_height(t), 111);
    assert!(l.address_outputs(a).any(|o| l.tx_of_output(o) == t || l.output_spent_by(o).is_some_and(|i| l.tx_of_input(i) == t)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn incremental_and_batched_ingests_equal_one_shot() {
    let Some(d) = fundtrace_core::testdata::dir("incremental ingest") else { return };
    let files = BlockFiles::open_dir(&d.join("btc-mainnet-blocks/nbitcoin")).unwrap();
    let one = tmp("oneshot");
    ingest(&one, &files, &IngestOptions::default());
    let inc = tmp("incremental");
    // Three runs, the store growing each time; tiny commits force many table resizes.
    let opts = |max, every| IngestOptions { max_height: max, commit_every_txs: every, ..Default::default() };
    assert_eq!(ingest(&inc, &files, &opts(Some(0), 1)).height, Some(0));
    assert_eq!(ingest(&inc, &files, &opts(Some(299), 7)).blocks_added, 299);
    let last = ingest(&inc, &files, &opts(None, 50));
    assert_eq!((last.blocks_added, last.already_stored), (300, 300));
    assert_eq!(ingest(&inc, &files, &opts(None, 50)).blocks_added, 0, "nothing new");
    let (a, b) = (Ledger::open(&one).unwrap(), Ledger::open(&inc).unwrap());
    assert_eq!(a.content_digest(), b.content_digest());
    for dir in [one, inc] {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn a_store_of_another_format_version_is_refused() {
    let Some(d) = fundtrace_core::testdata::dir("format version") else { return };
    let files = BlockFiles::open_dir(&d.join("btc-mainnet-blocks/nbitcoin")).unwrap();
    let dir = tmp("version");
    ingest(&dir, &files, &IngestOptions { max_height: Some(5), ..Default::default() });
    let path = dir.join("MANIFEST");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"format_version\": 1", "\"format_version\": 99")).unwrap();
    let err = Ledger::open(&dir).err().unwrap().to_string();
    assert!(err.contains("format version 99") && err.contains("reads version 1"), "{err}");
    std::fs::write(&path, text.replace("\"blocks\": 6", "\"blocks\": 7")).unwrap();
    let err = Ledger::open(&dir).err().unwrap().to_string();
    assert!(err.contains("checksum"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
