//! `fundtrace tags`: import two published packs, then read an address's tags back as JSON.

mod common;
use std::path::Path;

use common::*;

fn header(text: &str, key: &str) -> String {
    let prefix = format!("{key}: ");
    text.lines().take_while(|l| !l.starts_with("tags:")).find_map(|l| l.strip_prefix(&prefix)).unwrap().trim().to_string()
}

fn packs(data: &Path) -> std::path::PathBuf {
    data.join("graphsense-tagpacks/packs")
}

#[test]
fn import_two_packs_then_show_an_address() {
    let Some(data) = fundtrace_core::testdata::dir("tags cli") else { return };
    let lazarus = packs(&data).join("lazarus.yaml");
    let ronin = packs(&data).join("ronin_bridge.yaml");
    let text = std::fs::read_to_string(&lazarus).unwrap();
    let dir = tmp("tags");
    let o = run(&dir, &["tags", "import", lazarus.to_str().unwrap(), ronin.to_str().unwrap(), "--json"]);
    let s = json(&o);
    assert_eq!((s["files"].as_u64(), s["packs_added"].as_u64()), (Some(2), Some(2)));

    // The Ronin exploiter's ETH address is in both packs (EIP-55 case in the files).
    let addr = text.lines().find_map(|l| l.strip_prefix("- address: '0x")).map(|a| format!("0x{}", a.trim_end_matches('\''))).unwrap();
    let v = json(&run(&dir, &["tags", "show", &addr, "--json"]));
    assert_eq!(v["address"], addr.to_lowercase());
    let tags = v["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 2);
    let t = tags.iter().find(|t| t["pack"]["uri"] == "packs/lazarus.yaml").unwrap();
    assert_eq!(t["label"], header(&text, "label"));
    assert_eq!(t["actor"], header(&text, "actor"));
    assert_eq!(t["confidence"], header(&text, "confidence"));
    assert_eq!(t["confidence_score"], 60);
    assert_eq!(t["abuse"], header(&text, "abuse"));
    assert_eq!(t["currency"], "eth");
    assert_eq!(t["pack"]["line"].as_u64().unwrap() as usize, text.lines().position(|l| l.contains(&addr)).unwrap() + 1);
    // authority_data (60) outranks the Ronin pack's service_data (50).
    assert_eq!(v["best_label"]["label"], header(&text, "label"));
    assert_eq!(v["best_label"]["actor"], header(&text, "actor"));
    assert_eq!(v["conflicts"].as_array().unwrap().len(), 0);

    // Human form names the pack and line; an untagged address is an empty answer.
    let h = stdout(&run(&dir, &["tags", "show", &addr]));
    assert!(h.contains("packs/lazarus.yaml:") && h.contains("authority_data (60)"), "{h}");
    let none = json(&run(&dir, &["tags", "show", "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "--json"]));
    assert_eq!(none["tags"].as_array().unwrap().len(), 0);
    assert!(none["best_label"].is_null());

    // Re-import: nothing written.
    let s = json(&run(&dir, &["tags", "import", lazarus.to_str().unwrap(), ronin.to_str().unwrap(), "--json"]));
    assert_eq!((s["packs_unchanged"].as_u64(), s["tags_written"].as_u64()), (Some(2), Some(0)));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_pack_and_unknown_actor_fail_with_exit_1() {
    let Some(data) = fundtrace_core::testdata::dir("tags cli errors") else { return };
    let dir = tmp("tags-bad");
    let bad = dir.join("bad.yaml");
    let text = std::fs::read_to_string(packs(&data).join("lazarus.yaml")).unwrap();
    std::fs::write(&bad, text.replace("confidence: authority_data", "confidence: rumour")).unwrap();
    let o = run(&dir, &["tags", "import", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let line = text.lines().position(|l| l.starts_with("confidence:")).unwrap() + 1;
    assert!(stderr(&o).contains(&format!("bad.yaml:{line}: field `confidence`: `rumour`")), "{}", stderr(&o));
    let o = run(&dir, &["tags", "actor", "lazarusgroup"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no actor `lazarusgroup`"), "{}", stderr(&o));
    let o = run(&dir, &["tags", "import"]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn killed_import_leaves_the_database_as_it_was() {
    let Some(data) = fundtrace_core::testdata::dir("tags cli crash") else { return };
    let dir = tmp("tags-crash");
    let lazarus = packs(&data).join("lazarus.yaml");
    let blender = packs(&data).join("blender_io.yaml");
    json(&run(&dir, &["tags", "import", lazarus.to_str().unwrap(), "--json"]));
    let text = std::fs::read_to_string(&blender).unwrap();
    let addr = text.lines().find_map(|l| l.strip_prefix("- address: ")).unwrap().trim_matches('\'').to_string();
    // Dies after blender_io.yaml's rows are written, before the commit.
    let o = bin()
        .arg("--data-dir")
        .arg(&dir)
        .args(["tags", "import", blender.to_str().unwrap()])
        .env("FUNDTRACE_CRASH_AT", "tags-import")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert_eq!(json(&run(&dir, &["tags", "show", &addr, "--json"]))["tags"].as_array().unwrap().len(), 0);
    let s = json(&run(&dir, &["tags", "import", lazarus.to_str().unwrap(), "--json"]));
    let entries = std::fs::read_to_string(&lazarus).unwrap().lines().filter(|l| l.starts_with("- address: ")).count() as u64;
    assert_eq!((s["packs_unchanged"].as_u64(), s["tags_total"].as_u64()), (Some(1), Some(entries)));
    // The next import completes.
    let s = json(&run(&dir, &["tags", "import", blender.to_str().unwrap(), "--json"]));
    assert_eq!(s["packs_added"].as_u64(), Some(1));
    assert_eq!(json(&run(&dir, &["tags", "show", &addr, "--json"]))["tags"].as_array().unwrap().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
