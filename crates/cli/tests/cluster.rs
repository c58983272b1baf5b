//! `fundtrace cluster` through the binary: building, extending after an ingest, showing,
//! explaining, and surviving a crash at each step of an update.

mod common;
use common::*;

fn regtest(data: &std::path::Path) -> String {
    data.join("btc-regtest-blocksci/regtest/blocks").display().to_string()
}

/// merge-final-tx of BlockSci's scenario spends these three addresses together.
const MERGED: [&str; 3] = ["muPiDgt2BB8omxzFTVEpATbKU5cpUPo6tr", "mokMSp4xbaU7rvpZAZyxmonZWQoFnEiPny", "mhULRhVhUKD23jbao92nUE97DDDFkCVpec"];
const MERGE_FINAL_TX: &str = "688b405fbec7a0e514d8cbde3eae9d52d0f35bf573394db04fdf102b4870dee1";
/// simple-coinjoin-tx of output.json: 3 inputs, 6 outputs, 3 x 0.5 BTC.
const SIMPLE_COINJOIN_TX: &str = "bf8cda4c5253c035c930f2ae3288fd8d1601d25c912b2ee484531fea82a5f509";

#[test]
fn cluster_show_explain_and_the_tx_verdicts() {
    let Some(data) = fundtrace_core::testdata::dir("cluster CLI") else { return };
    let dir = tmp("cluster-cli");
    assert!(run(&dir, &["ingest", "btc", "--blocks-dir", &regtest(&data)]).status.success());
    let built = json(&run(&dir, &["cluster", "--json"]));
    assert_eq!(built["transactions_clustered"], 356);
    assert_eq!(built["coinjoins_excluded"], 1);

    let show = json(&run(&dir, &["cluster", "show", MERGED[1], "--json"]));
    assert_eq!(show["size"], 3);
    assert_eq!(show["balance"], 0);
    assert_eq!(show["received"], 299_990_000u64 + 99_990_000 + 199_990_000);
    let members: Vec<&str> = show["largest_members"].as_array().unwrap().iter().map(|m| m["address"].as_str().unwrap()).collect();
    for a in MERGED {
        assert!(members.contains(&a), "{a} missing from {members:?}");
    }
    // The same cluster by id.
    let id = show["cluster"].as_u64().unwrap().to_string();
    assert_eq!(json(&run(&dir, &["cluster", "show", &id, "--json"]))["size"], 3);

    let why = json(&run(&dir, &["cluster", "explain", MERGED[0], MERGED[2], "--json"]));
    assert_eq!(why["linked"], true);
    let steps = why["steps"].as_array().unwrap();
    assert!(!steps.is_empty() && steps.iter().all(|s| s["txid"] == MERGE_FINAL_TX && s["heuristic"] == "multi_input"));

    let addr = json(&run(&dir, &["address", MERGED[2], "--json"]));
    assert_eq!(addr["cluster"], show["cluster"]);
    assert_eq!(addr["cluster_size"], 3);

    // The scenario's CoinJoin: BlockSci's rule fires and clustering acts on it.
    let cj = json(&run(&dir, &["tx", SIMPLE_COINJOIN_TX, "--json"]));
    assert_eq!(cj["coinjoin"]["kind"], "blocksci_generic");
    let inputs = cj["inputs"].as_array().unwrap();
    let clusters: std::collections::BTreeSet<u64> = inputs.iter().map(|i| i["cluster"].as_u64().unwrap()).collect();
    assert_eq!(clusters.len(), 3, "its inputs stay in separate clusters");
    // Per-output change heuristics come from the same functions the BlockSci test checks.
    let merge = json(&run(&dir, &["tx", MERGE_FINAL_TX, "--json"]));
    assert_eq!(merge["coinjoin"]["kind"], serde_json::Value::Null);
    assert!(merge["outputs"][0]["change_heuristics"].as_array().unwrap().iter().any(|h| h == "fresh_address"));
    // Bad usage: an unknown heuristic is exit code 2 naming it.
    let bad = run(&dir, &["cluster", "--rebuild", "--change", "legcy"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("unknown change heuristic \"legcy\""));
    // Change merges need two heuristics to agree (methods.md §2.3) unless explicitly lifted.
    let single = run(&dir, &["cluster", "--rebuild", "--change", "unique(legacy)"]);
    assert_eq!(single.status.code(), Some(2));
    assert!(stderr(&single).contains("at least two heuristics"), "{}", stderr(&single));
    assert!(run(&dir, &["cluster", "--rebuild", "--change", "unique(legacy)", "--single-heuristic"]).status.success());
    let agreed = json(&run(&dir, &["cluster", "--rebuild", "--change", "agree(2, legacy, optimal_change)", "--json"]));
    assert!(agreed["configuration"].as_str().unwrap().contains("agree(2, legacy, optimal_change)"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Clusters of the regtest chain, built in one go (the reference).
fn reference(data: &std::path::Path) -> String {
    let dir = tmp("cluster-ref");
    assert!(run(&dir, &["ingest", "btc", "--blocks-dir", &regtest(data)]).status.success());
    let d = json(&run(&dir, &["cluster", "--digest", "--json"]))["content_sha256"].as_str().unwrap().to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    d
}

#[test]
fn ingest_extends_clusters_and_a_crash_at_any_step_of_an_update_recovers() {
    let Some(data) = fundtrace_core::testdata::dir("cluster crash points") else { return };
    let want = reference(&data);
    for point in ["cluster-after-merges", "cluster-after-columns", "cluster-after-manifest"] {
        let dir = tmp(point);
        // Cluster the first 120 blocks, then let ingest extend the clusters to the tip.
        assert!(run(&dir, &["ingest", "btc", "--max-height", "120", "--blocks-dir", &regtest(&data)]).status.success());
        let first = json(&run(&dir, &["cluster", "--json"]));
        // (address-p2pkh-spend-1 of the scenario, paid at height 112)
        let probe = ["cluster", "show", "mrPRMELJcGsbKmuFiGwUgNCX9Wo4iSy44T", "--json"];
        let old_size = json(&run(&dir, &probe))["size"].clone();
        assert!(run(&dir, &["ingest", "btc", "--blocks-dir", &regtest(&data)]).status.success());
        let new_size = json(&run(&dir, &probe))["size"].clone();
        // Ingest extended them already; rebuild the interrupted way: crash during the update.
        let reset = tmp(&format!("{point}-b"));
        assert!(run(&reset, &["ingest", "btc", "--max-height", "120", "--blocks-dir", &regtest(&data)]).status.success());
        assert!(run(&reset, &["cluster"]).status.success());
        let crashed = bin()
            .arg("--data-dir")
            .arg(&reset)
            .args(["ingest", "btc", "--blocks-dir", &regtest(&data)])
            .env("FUNDTRACE_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(!crashed.status.success(), "{point}: the crash hook did not fire");
        // Readable after the crash: the old clustering before the manifest, the new after.
        let after_crash = json(&run(&reset, &probe))["size"].clone();
        let want_size = if point == "cluster-after-manifest" { &new_size } else { &old_size };
        assert_eq!(&after_crash, want_size, "{point}: cluster size right after the crash");
        // What a reader sees after the crash, before anything repairs it: the old clustering
        // until the manifest is replaced, the new one after.
        let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(reset.join("btc-clusters/MANIFEST")).unwrap()).unwrap();
        let want_txs = if point == "cluster-after-manifest" { serde_json::json!(356) } else { first["transactions_clustered"].clone() };
        assert_eq!(manifest["txs"], want_txs, "{point}");
        let d = json(&run(&reset, &["cluster", "--digest", "--json"]))["content_sha256"].clone();
        assert_eq!(d.as_str().unwrap(), want, "{point}: the next run must finish like an uninterrupted one");
        assert_eq!(json(&run(&dir, &["cluster", "--digest", "--json"]))["content_sha256"], want.as_str());
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&reset).unwrap();
    }
}
