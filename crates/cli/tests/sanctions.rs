//! `fundtrace sanctions import` and `fundtrace screen` through the binary, on real OFAC lists.

mod common;
use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};

use common::*;

const SINBAD: &str = "bc1qq7p0es3dv5hcynjjf40f2xjjr6qp5py47d2f6n847vduuq9gvnyq7y9ecd";

/// Runs `fundtrace --data-dir <dir> args...` with `input` on stdin.
fn run_stdin(dir: &Path, args: &[&str], input: &str) -> Output {
    let mut child = bin().arg("--data-dir").arg(dir).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn sdn_2024(data: &Path) -> String {
    data.join("ofac-sdn-raw/2024-05-03").display().to_string()
}

#[test]
fn import_then_screen_arguments_and_stdin() {
    let Some(data) = fundtrace_core::testdata::dir("sanctions cli") else { return };
    let dir = tmp("sanctions");
    let r = json(&run(&dir, &["sanctions", "import", &sdn_2024(&data), "--json"]));
    let v = &r["versions"][0];
    assert_eq!((v["list_kind"].as_str(), v["list_date"].as_str(), v["status"].as_str()), (Some("sdn-without-comments"), Some("2024-05-03"), Some("imported")));
    let fragments: Vec<(i64, &str)> = v["fragments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["asset"] == "XBT")
        .map(|f| (f["ent_num"].as_i64().unwrap(), f["fragment"].as_str().unwrap()))
        .collect();
    assert_eq!(fragments, [(30518, "1Gq"), (33151, "1B64QRxf"), (33854, "3"), (36216, "1B11Ezqg3AXj"), (37070, "3F6bbvS1krsc1qR8FsbTDfYQyvkMm"), (39585, "1N6XqS")]);
    assert_eq!(v["addresses"]["XBT"], 196);
    let again = json(&run(&dir, &["sanctions", "import", &sdn_2024(&data), "--json"]));
    assert_eq!(again["versions"][0]["status"], "already imported");

    let upper = SINBAD.to_uppercase();
    let changed = SINBAD.replace("9ecd", "9ecc");
    let s = json(&run(&dir, &["screen", "--json", &upper, &changed, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"]));
    assert_eq!(s["lists"][0]["list_date"], "2024-05-03");
    assert_eq!(s["summary"]["sanctioned"], 1);
    let hit = &s["results"][0];
    assert_eq!((hit["address"].as_str(), hit["status"].as_str(), hit["sanctioned"].as_bool()), (Some(SINBAD), Some("sanctioned"), Some(true)));
    assert_eq!(hit["listings"][0]["name"], "SINBAD");
    assert_eq!(hit["listings"][0]["programs"], serde_json::json!(["DPRK3", "CYBER2"]));
    assert_eq!(hit["listings"][0]["listed_on"], "2024-05-03");
    let bad = &s["results"][1];
    assert_eq!((bad["status"].as_str(), bad["reason"].as_str()), (Some("invalid"), Some("bech32 checksum mismatch")));
    assert!(bad["sanctioned"].is_null());
    assert_eq!(s["results"][2]["status"], "not_sanctioned");

    // Stdin, one per line, comments and blank lines skipped; --fail-on-hit exits 3 on a hit.
    let o = run_stdin(&dir, &["screen", "--json", "--fail-on-hit"], &format!("# screened today\n{SINBAD}\n\n1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa\n"));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((s["summary"]["screened"].as_u64(), s["summary"]["sanctioned"].as_u64()), (Some(2), Some(1)));
    let o = run_stdin(&dir, &["screen", "-", "--fail-on-hit"], "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb\n");
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stdout(&o).contains("INVALID         1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb  base58check checksum mismatch"), "{}", stdout(&o));
    // Before the only list version: nothing to screen against, said so.
    let o = run(&dir, &["screen", "--at", "2024-05-02", SINBAD]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("no list version on or before that date"), "{}", stdout(&o));
    assert_eq!(run(&dir, &["screen", "--at", "2024-02-30", SINBAD]).status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_csv_fails_naming_file_and_line_and_changes_nothing() {
    let Some(data) = fundtrace_core::testdata::dir("sanctions cli bad input") else { return };
    let dir = tmp("sanctions-bad");
    assert!(run(&dir, &["sanctions", "import", &sdn_2024(&data)]).status.success());
    let before = stdout(&run(&dir, &["sanctions", "versions", "--json"]));
    let screened = stdout(&run(&dir, &["screen", "--json", SINBAD]));

    let bad = dir.join("2024-06-01");
    std::fs::create_dir_all(&bad).unwrap();
    let text = std::fs::read_to_string(data.join("ofac-sdn-raw/2024-05-03/sdn.csv")).unwrap();
    // An unclosed quote in the 100th record swallows the rest of the file into one field.
    let broken = text.replacen("\r\n100", "\r\n\"100", 1);
    assert_ne!(broken, text);
    std::fs::write(bad.join("sdn.csv"), &broken).unwrap();
    let o = run(&dir, &["sanctions", "import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let line = text.split("\r\n").position(|l| l.starts_with("100")).unwrap() + 1;
    assert!(stderr(&o).contains(&format!("2024-06-01/sdn.csv:{line}: ")), "{}", stderr(&o));
    assert_eq!(stdout(&run(&dir, &["sanctions", "versions", "--json"])), before);
    assert_eq!(stdout(&run(&dir, &["screen", "--json", SINBAD])), screened);

    // No date: exit 1 and what to do.
    let o = run(&dir, &["sanctions", "import", data.join("ofac-sdn-raw/2021-07-watchman-bench").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--list-date"), "{}", stderr(&o));
    assert_eq!(run(&dir, &["sanctions", "import", &sdn_2024(&data), "--list-date", "2024-5-3"]).status.code(), Some(2));
    assert_eq!(stdout(&run(&dir, &["sanctions", "versions", "--json"])), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An address list dated `date` (its directory's name) holding `addresses`.
fn list(dir: &Path, date: &str, addresses: &[&str]) -> String {
    let d = dir.join("lists").join(date);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("sanctioned_addresses_XBT.txt"), addresses.join("\n") + "\n").unwrap();
    d.display().to_string()
}

#[test]
fn screen_a_transaction_as_of_its_block_date() {
    let Some(data) = fundtrace_core::testdata::dir("sanctions cli --tx") else { return };
    let dir = tmp("sanctions-tx");
    let o = run(&dir, &["ingest", "btc", "--max-height", "170", "--blocks-dir", &nbitcoin(&data)]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Block 170 (2009-01-12): Satoshi pays Hal Finney. Lists made for the test from its addresses:
    // Satoshi's listed on 2009-01-10 and delisted on 2009-01-13, Hal's listed from 2009-01-13.
    let satoshi = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S";
    let hal = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3";
    for (date, listed) in [("2009-01-10", vec![satoshi]), ("2009-01-13", vec![hal])] {
        assert!(run(&dir, &["sanctions", "import", &list(&dir, date, &listed)]).status.success());
    }
    let txid = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";
    let s = json(&run(&dir, &["screen", "--tx", txid, "--json"]));
    assert_eq!((s["at"].as_str(), s["tx"]["block_height"].as_u64()), (Some("2009-01-12"), Some(170)));
    let r = s["results"].as_array().unwrap();
    let by_address = |a: &str| r.iter().find(|x| x["address"] == a).unwrap();
    assert_eq!(by_address(satoshi)["status"], "sanctioned");
    assert_eq!(by_address(satoshi)["tx_inputs"], serde_json::json!([0]));
    assert_eq!(by_address(satoshi)["tx_outputs"], serde_json::json!([1]));
    assert_eq!(by_address(satoshi)["listings"][0]["delisted_on"], "2009-01-13");
    assert_eq!(by_address(hal)["status"], "not_sanctioned");
    assert_eq!(by_address(hal)["tx_outputs"], serde_json::json!([0]));
    assert_eq!(r.len(), 2);
    // Today Hal's address is listed and Satoshi's is not.
    let now = json(&run(&dir, &["screen", "--json", satoshi, hal]));
    assert_eq!((now["results"][0]["status"].as_str(), now["results"][1]["status"].as_str()), (Some("not_sanctioned"), Some("sanctioned")));
    assert_eq!(run(&dir, &["screen", "--tx", "00ff", "--json"]).status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
