//! The read commands on the first 600 mainnet blocks: fields, values and error kinds.

mod common;
use common::*;

#[test]
fn info_block_tx_address_on_real_blocks() {
    let Some(data) = fundtrace_core::testdata::dir("read commands") else { return };
    let dir = tmp("read");
    let o = run(&dir, &["ingest", "btc", "--blocks-dir", &nbitcoin(&data)]);
    assert!(o.status.success(), "{}", stderr(&o));

    let info = json(&run(&dir, &["info", "--json"]));
    for key in ["chain", "network", "height", "blocks", "transactions", "inputs", "outputs", "addresses", "stale_blocks_skipped"] {
        assert!(info.get(key).is_some(), "info lacks {key}");
    }
    assert_eq!(info["chain"], "bitcoin");
    assert_eq!(info["network"], "main");
    assert_eq!(info["height"], 599);
    assert_eq!(info["tip"], "0000000042844571bc6bce8e1c0fbec99466971eaff89fef8c0d123582181d4d");

    let b = json(&run(&dir, &["block", "170", "--json"]));
    assert_eq!(b["hash"], "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee");
    assert_eq!(b["tx_count"], 2);
    // Block 170's merkle root is published with the first payment (two txids).
    assert_eq!(b["merkle_root"], "7dac2c5666815c17a3b36427de37bb9d2e2c5ccec3f8633eb91a4205cb4c10ff");
    let by_hash = json(&run(&dir, &["block", "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee", "--json"]));
    assert_eq!(by_hash["height"], 170);

    let t = json(&run(&dir, &["tx", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16", "--json"]));
    assert_eq!(t["block_height"], 170);
    assert_eq!(t["block_time"], 1231731025);
    assert_eq!(t["fee"], 0);
    assert_eq!(t["inputs"][0]["prev_txid"], "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9");
    assert_eq!(t["inputs"][0]["prev_vout"], 0);
    assert_eq!(t["inputs"][0]["address"], "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S");
    assert_eq!(t["inputs"][0]["value"], 5_000_000_000u64);
    assert_eq!(t["outputs"][0]["address"], "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3");
    assert_eq!(t["outputs"][0]["value"], 1_000_000_000u64);
    assert_eq!(t["outputs"][0]["script_type"], "p2pk");
    assert_eq!(t["outputs"][1]["value"], 4_000_000_000u64);
    // Hal's 10 BTC stay unspent through block 599; Satoshi's change is spent, and the
    // spending transaction points back at it.
    assert_eq!(t["outputs"][0]["spent_by"], serde_json::Value::Null);
    assert_eq!(t["outputs"][1]["spent_by"]["txid"], "a16f3ce4dd5deb92d98ef5cf8afeaf0775ebca408f708b2146c4fb42b41e14be");
    assert_eq!(t["outputs"][1]["spent_by"]["input"], 0);
    let next = json(&run(&dir, &["tx", "a16f3ce4dd5deb92d98ef5cf8afeaf0775ebca408f708b2146c4fb42b41e14be", "--json"]));
    assert_eq!(next["inputs"][0]["prev_txid"], "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16");
    assert_eq!(next["inputs"][0]["prev_vout"], 1);

    let a = json(&run(&dir, &["address", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "--json", "--txs"]));
    assert_eq!(a["received"], 5_000_000_000u64);
    assert_eq!((a["sent"].as_u64(), a["balance"].as_u64()), (Some(0), Some(5_000_000_000)));
    assert_eq!((a["tx_count"].as_u64(), a["first_seen_height"].as_u64()), (Some(1), Some(0)));
    assert_eq!(a["txs"][0]["txid"], "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");

    // Human output carries the same facts.
    let human = stdout(&run(&dir, &["tx", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"]));
    assert!(human.contains("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3") && human.contains("1000000000"));

    // Unknown vs malformed, for txids, addresses and blocks.
    let unknown = run(&dir, &["tx", &"ab".repeat(32)]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("unknown transaction"));
    let malformed = run(&dir, &["tx", "xyz"]);
    assert_eq!(malformed.status.code(), Some(2));
    assert!(stderr(&malformed).contains("malformed txid"));
    let never = run(&dir, &["address", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"]);
    assert_eq!(never.status.code(), Some(1));
    assert!(stderr(&never).contains("never appears"), "{}", stderr(&never));
    let bad = run(&dir, &["address", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("malformed address"));
    let other = run(&dir, &["address", "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"]);
    assert_eq!(other.status.code(), Some(2));
    assert!(stderr(&other).contains("another network"));
    assert_eq!(run(&dir, &["block", "600"]).status.code(), Some(1));
    assert_eq!(run(&dir, &["block", "tip"]).status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reading_an_empty_data_dir_says_what_to_do() {
    let dir = tmp("empty");
    let o = run(&dir, &["info"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("fundtrace ingest btc"), "{}", stderr(&o));
}
