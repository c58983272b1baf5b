//! Conformance on the published GraphSense TagPacks and ActorPack (shared/data): every value
//! checked here is read from the pack files by plain text scanning, not by the importer.

mod common;

use std::collections::BTreeMap;

use common::*;
use fundtrace_intel::tagpack::{best_label, conflicts, Conflict, Taxonomy, Tags};
use fundtrace_intel::Intel;
use sha2::{Digest, Sha256};

#[test]
fn lazarus_header_fields_reach_every_tag() {
    let Some(data) = data("lazarus tagpack") else { return };
    let file = data.join("packs/lazarus.yaml");
    let text = read(&file);
    let dir = tmp("lazarus");
    let mut intel = Intel::open(&dir).unwrap();
    let s = import(&mut intel, std::slice::from_ref(&file)).unwrap();

    let per_currency = |c: &str| text.lines().filter(|l| l.trim() == format!("currency: {c}")).count() as i64;
    assert_eq!((per_currency("BTC"), per_currency("ETH")), (20, 1));
    assert_eq!(s.tags_written, 21);
    assert_eq!(count(&intel, "SELECT count(*) FROM tag WHERE currency = 'btc'"), 20);
    assert_eq!(count(&intel, "SELECT count(*) FROM tag WHERE currency = 'eth'"), 1);

    // Set once in the header, inherited by all 21 tags.
    let h = |k: &str| header_value(&text, k).unwrap();
    assert_eq!((h("actor").as_str(), h("confidence").as_str()), ("lazarusgroup", "authority_data"));
    let matching: i64 = intel
        .conn
        .query_row(
            "SELECT count(*) FROM tag WHERE label = ?1 AND actor = ?2 AND confidence = ?3 AND confidence_score = 60
             AND abuse = ?4 AND category = ?5 AND source = ?6 AND lastmod = ?7 AND is_cluster_definer = 0",
            [h("label"), h("actor"), h("confidence"), h("abuse"), h("category"), h("source"), h("lastmod")],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(matching, 21);

    // One address from the file, back out with its provenance.
    let first = text.lines().find_map(|l| l.strip_prefix("- address: ")).map(unquote).unwrap();
    let tags = intel.tags_of(&first, None).unwrap();
    assert_eq!(tags.len(), 1);
    let t = &tags[0];
    assert_eq!(t.tag.address.as_deref(), Some(first.as_str()));
    assert_eq!(t.tag.line, line_of(&text, &first));
    assert_eq!((t.tag.label.as_str(), t.tag.confidence.score), (h("label").as_str(), 60));
    assert_eq!(t.pack.uri, "packs/lazarus.yaml");
    assert_eq!((t.pack.title.as_str(), t.pack.creator.as_str()), (h("title").as_str(), h("creator").as_str()));
    let sha: String = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(t.pack.sha256, sha);

    // The ETH address is written in EIP-55 mixed case; it is stored lowercase and found by
    // either spelling.
    let eth = text.lines().filter_map(|l| l.strip_prefix("- address: ")).map(unquote).find(|a| a.starts_with("0x")).unwrap();
    assert_ne!(eth, eth.to_lowercase());
    for spelling in [eth.clone(), eth.to_lowercase()] {
        let found = intel.tags_of(&spelling, Some("eth")).unwrap();
        assert_eq!(found.len(), 1, "{spelling}");
        assert_eq!(found[0].tag.address.as_deref(), Some(eth.to_lowercase().as_str()));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn actorpack_lazarusgroup_as_in_the_file() {
    let Some(data) = data("actorpack") else { return };
    let file = data.join("actors/graphsense.actorpack.yaml");
    let text = read(&file);
    let dir = tmp("actors");
    let mut intel = Intel::open(&dir).unwrap();
    let s = import(&mut intel, std::slice::from_ref(&file)).unwrap();
    assert_eq!(s.actors_written as usize, text.lines().filter(|l| l.starts_with("- id: ")).count());

    // The lazarusgroup entry, read as text: its lines up to the next actor.
    let start = text.lines().position(|l| l.trim() == "- id: lazarusgroup").unwrap();
    let block: Vec<&str> = text.lines().skip(start).take_while({
        let mut first = true;
        move |l| std::mem::replace(&mut first, false) || !l.starts_with("- id: ")
    }).collect();
    let list = |key: &str| -> Vec<String> {
        let Some(i) = block.iter().position(|l| l.trim() == format!("{key}:")) else { return Vec::new() };
        block[i + 1..].iter().map_while(|l| l.trim().strip_prefix("- ")).map(unquote).collect()
    };
    let scalar = |key: &str| block.iter().find_map(|l| l.trim().strip_prefix(&format!("{key}: "))).map(unquote);

    let a = intel.actor("lazarusgroup").unwrap().unwrap();
    assert_eq!(a.actor.categories, list("categories"));
    assert_eq!(a.actor.categories, ["phishing", "ransomware", "sanction", "service_hack"]);
    assert_eq!(a.actor.jurisdictions, list("jurisdictions"));
    assert_eq!(a.actor.aliases, list("aliases"));
    assert_eq!(Some(a.actor.label.clone()), scalar("label"));
    assert_eq!(Some(a.actor.uri.clone()), scalar("uri"));
    assert_eq!(a.actor.line, start as u64 + 1);
    // No `lastmod` of its own: the header's is inherited.
    assert_eq!(Some(a.actor.lastmod.clone()), header_value(&text, "lastmod"));
    // The file names Hidden Cobra and Zinc in context.notes ("Monikers"), not in `aliases`.
    let notes = a.actor.context.as_ref().unwrap()["notes"].to_string();
    assert!(notes.contains("Hidden Cobra") && notes.contains("Zinc"), "{notes}");
    assert!(intel.actor("no-such-actor").unwrap().is_none());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The 24 uncompressed forensic packs: each imports with one row per entry in the file.
fn import_staged_packs(name: &str) -> Option<(std::path::PathBuf, Intel, BTreeMap<String, usize>)> {
    let data = data("staged tagpacks")?;
    let packs = data.join("packs");
    let mut expected = BTreeMap::new();
    for e in std::fs::read_dir(&packs).unwrap() {
        let p = e.unwrap().path();
        expected.insert(format!("packs/{}", p.file_name().unwrap().to_str().unwrap()), count_entries(&read(&p)));
    }
    assert_eq!(expected.len(), 24);
    let dir = tmp(name);
    let mut intel = Intel::open(&dir).unwrap();
    let s = import(&mut intel, &[packs]).unwrap();
    assert_eq!((s.files, s.packs_added), (24, 24));
    Some((dir, intel, expected))
}

#[test]
fn all_staged_packs_import_with_one_row_per_entry() {
    let Some((dir, intel, expected)) = import_staged_packs("staged") else { return };
    let mut st = intel.conn.prepare("SELECT p.uri, p.entries, count(t.id) FROM pack p LEFT JOIN tag t ON t.pack_id = p.id GROUP BY p.id").unwrap();
    let got: BTreeMap<String, usize> = st
        .query_map([], |r| {
            let (uri, entries, rows): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            assert_eq!(entries, rows, "{uri}");
            Ok((uri, rows as usize))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, expected);
    assert!(expected.values().all(|&n| n > 0));
    drop(st);
    drop(intel);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reimport_is_idempotent_and_a_changed_pack_replaces_its_tags() {
    let Some((dir, mut intel, expected)) = import_staged_packs("reimport") else { return };
    let data = data("reimport").unwrap();
    let before = snapshot(&intel);
    let before_content = content(&intel);
    let total: usize = expected.values().sum();
    assert_eq!(count(&intel, "SELECT count(*) FROM tag") as usize, total);

    let s = import(&mut intel, &[data.join("packs")]).unwrap();
    assert_eq!((s.packs_added, s.packs_replaced, s.packs_unchanged, s.tags_written), (0, 0, 24, 0));
    assert_eq!(snapshot(&intel), before);
    assert_eq!(count(&intel, "SELECT count(*) FROM (SELECT 1 FROM tag GROUP BY pack_id, line HAVING count(*) > 1)"), 0);

    // A newer lazarus.yaml without its last tag: same pack (packs/lazarus.yaml), fewer rows.
    let text = read(&data.join("packs/lazarus.yaml"));
    let lines: Vec<&str> = text.lines().collect();
    let last_entry = lines.iter().rposition(|l| l.starts_with("- address: ")).unwrap();
    let dropped = unquote(lines[last_entry].trim_start_matches("- address: "));
    let newer = tmp("reimport-newer").join("packs");
    std::fs::create_dir_all(&newer).unwrap();
    std::fs::write(newer.join("lazarus.yaml"), lines[..last_entry].join("\n") + "\n").unwrap();
    let s = import(&mut intel, std::slice::from_ref(&newer)).unwrap();
    assert_eq!((s.packs_added, s.packs_replaced, s.tags_written), (0, 1, expected["packs/lazarus.yaml"] as u64 - 1));
    assert_eq!(count(&intel, "SELECT count(*) FROM tag") as usize, total - 1);
    assert!(intel.tags_of(&dropped, None).unwrap().iter().all(|t| t.pack.uri != "packs/lazarus.yaml"));

    // And the published one puts it back exactly.
    import(&mut intel, &[data.join("packs")]).unwrap();
    assert_eq!(content(&intel), before_content);
    drop(intel);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(newer.parent().unwrap()).unwrap();
}

#[test]
fn tags_map_best_label_and_conflicts_on_real_tags() {
    let Some((dir, intel, _)) = import_staged_packs("labels") else { return };
    let data = data("labels").unwrap();
    let first_address = |pack: &str| first_address_of(&read(&data.join("packs").join(pack)), "BTC");
    let btc = Tags::load_for_currency(&intel, "BTC").unwrap();
    assert_eq!(btc.currency(), "btc");
    assert_eq!(btc.len() as i64, count(&intel, "SELECT count(DISTINCT address) FROM tag WHERE currency = 'btc'"));

    // A Lazarus address is also in ofac.yaml, which states no confidence (so `unknown`, 5):
    // the authority_data tag (60) names the cluster.
    let lazarus = first_address("lazarus.yaml");
    let tags = btc.get(&lazarus);
    assert!(tags.len() >= 2, "{tags:?}");
    let b = best_label(tags, Taxonomy::builtin()).unwrap();
    assert_eq!((b.label.as_str(), b.actor.as_deref(), b.confidence), ("Lazarus group", Some("lazarusgroup"), 60));

    // An exchange wallet and a mixer address in one cluster: a conflict.
    let binance = first_address("exchange-wallets-binance.yaml");
    let mixer = first_address("mixing_fc2021.yaml");
    let both: Vec<_> = btc.get(&binance).iter().chain(btc.get(&mixer)).collect();
    assert!(!btc.get(&binance).is_empty() && !btc.get(&mixer).is_empty());
    assert!(matches!(&conflicts(both.iter().copied())[..], [Conflict::Services { services, .. }] if services == &["exchange", "mixer"]));
    // Two exchanges' wallets: an actor conflict.
    let huobi = first_address("exchange-wallets-huobi.yaml");
    let two: Vec<_> = btc.get(&binance).iter().chain(btc.get(&huobi)).collect();
    assert!(matches!(&conflicts(two.iter().copied())[..], [Conflict::Actors { service, actors }] if service == "exchange" && actors.len() == 2));
    assert!(conflicts(btc.get(&binance)).is_empty());

    let eth = Tags::load_for_currency(&intel, "eth").unwrap();
    let tornado = first_address_of(&read(&data.join("packs/tornado_cash.yaml")), "ETH");
    assert!(btc.get(&tornado).is_empty());
    assert!(!eth.get(&tornado).is_empty());
    drop(intel);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn builtin_taxonomy_matches_the_staged_files() {
    let Some(data) = data("taxonomy") else { return };
    let staged = Taxonomy::from_dir(&data.join("taxonomy")).unwrap();
    let builtin = Taxonomy::builtin();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(staged.confidence_levels().map(|c| format!("{}={}", c.level, c.score)).collect()),
        sorted(builtin.confidence_levels().map(|c| format!("{}={}", c.level, c.score)).collect())
    );
    assert_eq!(staged.confidence("authority_data").unwrap().score, 60);
    assert_eq!(
        sorted(staged.concepts().map(|(c, b)| format!("{c}<{b:?}")).collect()),
        sorted(builtin.concepts().map(|(c, b)| format!("{c}<{b:?}")).collect())
    );
    assert_eq!(sorted(staged.countries().map(String::from).collect()), sorted(builtin.countries().map(String::from).collect()));
    assert_eq!(sorted(staged.tag_types().map(String::from).collect()), sorted(builtin.tag_types().map(String::from).collect()));
    let countries = read(&data.join("taxonomy/countries.csv"));
    assert_eq!(staged.countries().count(), countries.lines().skip(1).filter(|l| !l.trim().is_empty()).count());
}

/// The whole published tree (the archive: ~524k tags, 3.8k actors) read in place; about
/// 8 s in the dev profile (dependencies are optimised there), so it runs by default.
#[test]
fn full_archive_imports() {
    let Some(data) = data("tagpack archive") else { return };
    let archive = data.join("graphsense-tagpacks-packs-actors.tar.xz");
    // Independent count: the system tar extracts, lines are counted.
    let x = tmp("archive-x");
    let ok = std::process::Command::new("tar").arg("-xJf").arg(&archive).arg("-C").arg(&x).status().map(|s| s.success());
    if ok.ok() != Some(true) {
        eprintln!("SKIP full archive: no tar -xJ here");
        return;
    }
    let mut packs = 0;
    let mut entries = 0;
    let mut stack = vec![x.join("packs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml") {
                packs += 1;
                entries += count_entries(&read(&p));
            }
        }
    }
    let actors = read(&x.join("actors/graphsense.actorpack.yaml")).lines().filter(|l| l.starts_with("- id: ")).count();

    let dir = tmp("archive");
    let mut intel = Intel::open(&dir).unwrap();
    let start = std::time::Instant::now();
    let s = import(&mut intel, std::slice::from_ref(&archive)).unwrap();
    eprintln!("full archive: {} tags, {} actors in {:?}", s.tags_total, s.actors_total, start.elapsed());
    assert_eq!(s.files, packs + 1);
    assert_eq!((s.tags_total as usize, s.actors_total as usize), (entries, actors));
    // Every actor named by a tag is defined by the ActorPack.
    assert!(s.warnings.iter().all(|w| w.field.as_deref() != Some("actor")), "{:?}", s.warnings);
    let start = std::time::Instant::now();
    let btc = Tags::load_for_currency(&intel, "btc").unwrap();
    eprintln!("Tags::load_for_currency(btc): {} addresses in {:?}", btc.len(), start.elapsed());
    assert_eq!(btc.len() as i64, count(&intel, "SELECT count(DISTINCT address) FROM tag WHERE currency = 'btc'"));
    // Read again from the extracted copy: the same packs, unchanged.
    let s = import(&mut intel, &[x.join("packs"), x.join("actors")]).unwrap();
    assert_eq!((s.packs_unchanged, s.tags_written), (packs + 1, 0));
    drop(intel);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&x).unwrap();
}
