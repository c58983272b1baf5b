//! Sanctions lists on real OFAC publications (../shared/data): parsing, the 1000-character
//! remarks cut, the sdn_comments join, the cross-check with 0xB10C's lists, history and screening.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use fundtrace_intel::sanctions::sdn_csv::{self, SdnFiles};
use fundtrace_intel::sanctions::{b10c, import, Date, Format, ListKind, RejectKind, Sanctions, Status, VersionStatus};
use fundtrace_intel::{Intel, IntelError};

fn data(what: &str) -> Option<PathBuf> {
    fundtrace_core::testdata::dir(what)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ft-sanctions-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn sdn_2024(data: &Path) -> SdnFiles {
    SdnFiles { sdn: data.join("ofac-sdn-raw/2024-05-03/sdn.csv"), ..Default::default() }
}

fn set_2021(data: &Path, with_comments: bool) -> SdnFiles {
    let d = data.join("ofac-sdn-raw/2021-07-watchman-bench");
    SdnFiles {
        sdn: d.join("sdn.csv"),
        comments: with_comments.then(|| d.join("sdn_comments.csv")),
        alt: Some(d.join("alt.csv")),
        add: Some(d.join("add.csv")),
    }
}

fn b10c_dir(data: &Path) -> PathBuf {
    data.join("ofac-sanctioned-addresses-0xb10c")
}

fn date(s: &str) -> Date {
    Date::parse(s).unwrap()
}

#[test]
fn the_six_truncated_xbt_fragments_of_2024_05_03_are_reported_never_accepted() {
    let Some(data) = data("sanctions fragments") else { return };
    let s = sdn_csv::parse(&sdn_2024(&data)).unwrap();
    assert_eq!(s.list_kind, ListKind::SdnWithoutComments);
    assert_eq!(s.record_count, 14965);
    let mut fragments: Vec<(i64, &str)> = s
        .rejected
        .iter()
        .filter(|r| r.kind == RejectKind::Fragment && r.asset == "XBT")
        .map(|r| (r.ent_num.unwrap(), r.token.as_str()))
        .collect();
    fragments.sort();
    assert_eq!(
        fragments,
        [
            (30518, "1Gq"),
            (33151, "1B64QRxf"),
            (33854, "3"),
            (36216, "1B11Ezqg3AXj"),
            (37070, "3F6bbvS1krsc1qR8FsbTDfYQyvkMm"),
            (39585, "1N6XqS"),
        ]
    );
    for (_, f) in &fragments {
        assert!(!s.addresses.iter().any(|a| a.published == *f), "fragment {f} accepted");
    }
    // No XBT token fails its checksum anywhere but at the cut. One is a Tron address labelled
    // XBT (ent_num 45404): valid, so accepted (it screens as listed) in its own format.
    assert!(!s.rejected.iter().any(|r| r.kind == RejectKind::Invalid && r.asset == "XBT"), "{:?}", s.rejected);
    let tron = s.addresses.iter().find(|a| a.published == "TUCsTq7TofTCJRRoHk6RvhMoS2mJLm5Yzq").unwrap();
    assert_eq!((tron.ent_num, tron.asset.as_str(), tron.address.format), (Some(45404), "XBT", Format::Base58Check));
    // 18 entries reach the 1000-character cut; 39593's ends on a label whose address is lost.
    assert_eq!(s.cut_remarks.len(), 18);
    let e39593 = s.entries.iter().find(|e| e.ent_num == 39593).unwrap();
    assert!(e39593.remarks.as_deref().unwrap().ends_with("alt. Digital Currency Address - XBT "));
    assert!(s.cut_remarks.contains(&39593));
}

#[test]
fn every_valid_xbt_and_eth_address_of_2024_05_03_is_in_the_later_0xb10c_lists() {
    let Some(data) = data("sanctions cross-check") else { return };
    let s = sdn_csv::parse(&sdn_2024(&data)).unwrap();
    let dir = b10c_dir(&data);
    let lists = b10c::parse(&[dir.join("sanctioned_addresses_XBT.txt"), dir.join("sanctioned_addresses_ETH.txt")]).unwrap();
    assert!(lists.rejected.is_empty(), "{:?}", lists.rejected);
    for asset in ["XBT", "ETH"] {
        let sdn: BTreeSet<&str> = s.addresses.iter().filter(|a| a.asset == asset).map(|a| a.address.address.as_str()).collect();
        let later: BTreeSet<&str> = lists.addresses.iter().filter(|a| a.asset == asset).map(|a| a.address.address.as_str()).collect();
        let missing: Vec<_> = sdn.difference(&later).collect();
        assert!(missing.is_empty(), "{asset} of 2024-05-03 not in 0xB10C 2024-09-27: {missing:?}");
        let expected = if asset == "XBT" { (196, 435) } else { (49, 152) };
        assert_eq!((sdn.len(), later.len()), expected, "{asset}");
    }
}

#[test]
fn the_2021_set_joins_sdn_comments_continuations() {
    let Some(data) = data("sanctions 2021 set") else { return };
    let joined = sdn_csv::parse(&set_2021(&data, true)).unwrap();
    let bare = sdn_csv::parse(&set_2021(&data, false)).unwrap();
    assert_eq!(joined.list_kind, ListKind::Sdn);
    let has = |s: &fundtrace_intel::sanctions::Snapshot, ent: i64, asset: &str, addr: &str| {
        s.addresses.iter().any(|a| a.ent_num == Some(ent) && a.asset == asset && a.address.address == addr)
    };
    // sdn.csv ends 30518's remarks on "XBT 1Gq"; sdn_comments.csv goes on "ChmWqGtsaLrGbHfgdrV5Nkvahtjjuxr; ...".
    assert!(has(&joined, 30518, "XBT", "1GqChmWqGtsaLrGbHfgdrV5Nkvahtjjuxr"));
    assert!(!has(&bare, 30518, "XBT", "1GqChmWqGtsaLrGbHfgdrV5Nkvahtjjuxr"));
    assert!(bare.rejected.iter().any(|r| r.ent_num == Some(30518) && r.token == "1Gq" && r.kind == RejectKind::Fragment));
    // 29703's label itself is split: "Digital Currency Addres" + "s - ETH 0x8576...".
    assert!(has(&joined, 29703, "ETH", "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c"));
    assert!(!has(&bare, 29703, "ETH", "0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c"));
    assert!(joined.rejected.iter().all(|r| r.kind != RejectKind::Fragment), "{:?}", joined.rejected);
    assert!(joined.cut_remarks.is_empty());
    let e = joined.entries.iter().find(|e| e.ent_num == 30518).unwrap();
    assert_eq!((e.name.as_str(), e.sdn_type.as_str()), ("SECONDEYE SOLUTION", "entity"));
    assert_eq!(e.programs, ["CYBER2", "ELECTION-EO13848"]);
    let e = joined.entries.iter().find(|e| e.ent_num == 28264).unwrap();
    assert_eq!((e.name.as_str(), e.sdn_type.as_str()), ("LI, Jiadong", "individual"));
    assert_eq!(e.programs, ["DPRK3", "CYBER2"]);
    // 97 distinct (entry, asset, address) tokens in the joined remarks; the one rejected is an
    // XMR "address" that is 64 hex digits, not a Monero address.
    assert_eq!(joined.addresses.len() + joined.rejected.len(), 97, "{:?}", joined.rejected);
}

/// A copy of the 2021 set in `dir` without entry `ent_num` (its sdn.csv and comment lines).
fn without_entry(data: &Path, dir: &Path, ent_num: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let src = data.join("ofac-sdn-raw/2021-07-watchman-bench");
    for name in ["sdn.csv", "sdn_comments.csv", "alt.csv", "add.csv"] {
        let text = std::fs::read(src.join(name)).unwrap();
        let prefix = format!("{ent_num},");
        let kept: Vec<&[u8]> = text.split_inclusive(|&b| b == b'\n').filter(|l| !l.starts_with(prefix.as_bytes())).collect();
        assert!(kept.len() < text.split_inclusive(|&b| b == b'\n').count() || name == "add.csv" || name == "alt.csv");
        std::fs::write(dir.join(name), kept.concat()).unwrap();
    }
}

fn row_counts(intel: &Intel) -> Vec<(String, i64)> {
    let tables = ["sanctions_list_version", "sanctions_list_file", "sanctions_sdn_entry", "sanctions_program", "sanctions_address", "sanctions_rejected", "sanctions_cut_remarks", "sanctions_listing"];
    tables.iter().map(|t| (t.to_string(), intel.conn.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0)).unwrap())).collect()
}

fn listings_dump(intel: &Intel) -> Vec<String> {
    let mut s = intel.conn.prepare("SELECT list_kind, asset, address, ent_num, listed_on, delisted_on FROM sanctions_listing ORDER BY 1, 2, 3, 4, 5").unwrap();
    s.query_map([], |r| {
        Ok(format!("{} {} {} {:?} {} {:?}", r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<i64>>(3)?, r.get::<_, String>(4)?, r.get::<_, Option<String>>(5)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn history_of_two_versions_in_either_order_and_idempotent_reimport() {
    let Some(data) = data("sanctions history") else { return };
    let root = tmp("history");
    let v1 = data.join("ofac-sdn-raw/2021-07-watchman-bench");
    let v2 = root.join("2021-08-01"); // the directory name dates the version
    without_entry(&data, &v2, "30518");
    let addr = "1GqChmWqGtsaLrGbHfgdrV5Nkvahtjjuxr";

    let mut a = Intel::open(&root.join("a")).unwrap();
    import(&mut a, &[&v1], Some(date("2021-07-07"))).unwrap();
    import(&mut a, &[&v2], None).unwrap();
    let s = Sanctions::load(&a).unwrap();
    let l = s.listings_of(addr);
    assert_eq!(l.len(), 1);
    assert_eq!((l[0].listed_on, l[0].delisted_on), (date("2021-07-07"), Some(date("2021-08-01"))));
    assert_eq!(l[0].entry.as_ref().unwrap().name, "SECONDEYE SOLUTION");
    for (at, expected) in [(Some("2021-07-06"), false), (Some("2021-07-07"), true), (Some("2021-07-31"), true), (Some("2021-08-01"), false), (None, false)] {
        let got = s.screen(addr, at.map(date)).status;
        assert_eq!(got == Status::Sanctioned, expected, "at {at:?}: {got:?}");
    }
    // Entries still listed in the second version stay listed.
    assert!(s.is_sanctioned("18Ke1QWE9nQfXuhJijHggZuPJ5ZYxapoBK", None).is_none()); // 30518's too
    let lazarus = s.is_sanctioned("0x8576acc5c05d6ce88f4e49bf65bdf0c62f91353c", None).unwrap(); // 29703
    assert_eq!((lazarus.listed_on, lazarus.delisted_on), (date("2021-07-07"), None));

    // The same versions imported newest first give the same listings.
    let mut b = Intel::open(&root.join("b")).unwrap();
    import(&mut b, &[&v2], None).unwrap();
    import(&mut b, &[&v1], Some(date("2021-07-07"))).unwrap();
    assert_eq!(listings_dump(&a), listings_dump(&b));

    // Re-importing a version changes nothing.
    let before = row_counts(&a);
    let r = import(&mut a, &[&v2], None).unwrap();
    assert_eq!(r.versions[0].status, VersionStatus::AlreadyImported);
    assert_eq!(row_counts(&a), before);

    // An address list is another series: it shows the address listed without delisting the SDN run.
    import(&mut a, &[b10c_dir(&data)], Some(date("2024-09-27"))).unwrap();
    let s = Sanctions::load(&a).unwrap();
    let kinds: Vec<(ListKind, Option<Date>)> = s.listings_of(addr).iter().map(|l| (l.list_kind, l.delisted_on)).collect();
    assert_eq!(kinds, [(ListKind::Sdn, Some(date("2021-08-01"))), (ListKind::B10c, None)]);
    assert_eq!(s.screen(addr, Some(date("2021-08-02"))).status, Status::NotSanctioned);
    assert_eq!(s.screen(addr, None).status, Status::Sanctioned);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn screening_normalises_and_never_calls_an_invalid_address_clean() {
    let Some(data) = data("sanctions screening") else { return };
    let root = tmp("screen");
    let mut intel = Intel::open(&root).unwrap();
    let r = import(&mut intel, &[data.join("ofac-sdn-raw/2024-05-03")], None).unwrap();
    assert_eq!((r.versions[0].list_kind, r.versions[0].list_date), (ListKind::SdnWithoutComments, date("2024-05-03")));
    let s = Sanctions::load(&intel).unwrap();
    // SINBAD, ent_num 44437, DPRK3 and CYBER2.
    let sinbad = "bc1qq7p0es3dv5hcynjjf40f2xjjr6qp5py47d2f6n847vduuq9gvnyq7y9ecd";
    for query in [sinbad.to_string(), sinbad.to_uppercase(), format!("  {sinbad}\t")] {
        let sc = s.screen(&query, None);
        assert_eq!(sc.status, Status::Sanctioned, "{query}");
        assert_eq!(sc.address.as_ref().unwrap().address, sinbad);
        let e = sc.listings[0].entry.as_ref().unwrap();
        assert_eq!((e.ent_num, e.name.as_str(), e.programs.clone()), (44437, "SINBAD", vec!["DPRK3".to_string(), "CYBER2".to_string()]));
        assert_eq!(sc.listings[0].asset, "XBT");
    }
    let key = fundtrace_bitcoin::AddressKey::parse(sinbad, fundtrace_bitcoin::Network::Main).unwrap();
    assert_eq!(s.is_sanctioned_bitcoin(&key, None).unwrap().address, sinbad);
    // One character changed: a checksum failure, not "not sanctioned".
    let changed = sinbad.replace("9ecd", "9ecc");
    assert!(matches!(s.screen(&changed, None).status, Status::Invalid(ref why) if why.contains("checksum")), "{:?}", s.screen(&changed, None).status);
    let changed = "1B11Ezqg3AXjxxxxxxxxxxxxxxxxxxxxxx";
    assert!(matches!(s.screen(changed, None).status, Status::Invalid(_)));
    // A fragment of 2024-05-03 is no address either.
    assert!(matches!(s.screen("1Gq", None).status, Status::Invalid(_)));
    // Satoshi's genesis address: valid, not listed.
    assert_eq!(s.screen("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", None).status, Status::NotSanctioned);
    // ETH: compared case-insensitively, but mixed case must be EIP-55.
    let tornado = "0x910Cbd523D972eb0a6f4cAe4618aD62622b39DbF";
    assert_eq!(s.screen(tornado, None).status, Status::Sanctioned);
    assert_eq!(s.screen(&tornado.to_lowercase(), None).status, Status::Sanctioned);
    assert!(matches!(s.screen(&tornado.replace("Cbd", "cbd"), None).status, Status::Invalid(_)));
    // Before the only list version there is nothing to screen against.
    assert!(s.lists_in_effect(Some(date("2024-05-02"))).is_empty());
    assert_eq!(s.lists_in_effect(None), [(ListKind::SdnWithoutComments, date("2024-05-03"))]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn bad_input_names_file_and_line_and_a_failed_import_changes_nothing() {
    let Some(data) = data("sanctions bad input") else { return };
    let root = tmp("bad");
    let mut intel = Intel::open(&root.join("db")).unwrap();
    import(&mut intel, &[data.join("ofac-sdn-raw/2024-05-03")], None).unwrap();
    let before = row_counts(&intel);

    // Line 3 of a real file loses its last field.
    let bad = root.join("2024-06-01");
    std::fs::create_dir_all(&bad).unwrap();
    let text = std::fs::read_to_string(data.join("ofac-sdn-raw/2024-05-03/sdn.csv")).unwrap();
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let cut = lines[2].rsplit_once(',').unwrap().0.to_string() + "\r\n";
    lines[2] = &cut;
    std::fs::write(bad.join("sdn.csv"), lines.concat()).unwrap();
    let e = import(&mut intel, &[&bad], None).unwrap_err();
    assert!(matches!(e, IntelError::Input { line: Some(3), .. }), "{e}");
    assert!(e.to_string().ends_with("2024-06-01/sdn.csv:3: expected 12 fields, found 11"), "{e}");

    // A good new version and a conflicting one in one import: neither is stored.
    let good = root.join("2024-07-01");
    std::fs::create_dir_all(&good).unwrap();
    std::fs::write(good.join("sdn.csv"), &text).unwrap();
    let conflict = root.join("other/2024-05-03");
    std::fs::create_dir_all(&conflict).unwrap();
    std::fs::write(conflict.join("sdn.csv"), text.replacen("AEROCARIBBEAN", "AERO-CARIBBEAN", 1)).unwrap();
    let e = import(&mut intel, &[good, conflict], None).unwrap_err();
    assert!(e.to_string().contains("a list version never changes"), "{e}");
    assert_eq!(row_counts(&intel), before);

    // No date anywhere: refused with what to do.
    let e = import(&mut intel, &[data.join("ofac-sdn-raw/2021-07-watchman-bench")], None).unwrap_err();
    assert!(e.to_string().contains("--list-date"), "{e}");
    assert_eq!(row_counts(&intel), before);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn address_lists_grow_by_asset_and_their_two_formats_must_agree() {
    let Some(data) = data("sanctions address lists") else { return };
    let root = tmp("b10c");
    let mut intel = Intel::open(&root.join("db")).unwrap();
    let dir = b10c_dir(&data);
    let d = Some(date("2024-09-27"));
    let r = import(&mut intel, &[dir.join("sanctioned_addresses_XBT.txt")], d).unwrap();
    assert_eq!((r.versions[0].status, r.versions[0].addresses["XBT"]), (VersionStatus::Imported, 435));
    // Importing the whole directory adds the other assets (and XBT's .json, which must agree).
    let r = import(&mut intel, &[&dir], d).unwrap();
    assert_eq!(r.versions[0].status, VersionStatus::Extended);
    let r = import(&mut intel, &[&dir], d).unwrap();
    assert_eq!(r.versions[0].status, VersionStatus::AlreadyImported);
    let s = Sanctions::load(&intel).unwrap();
    assert_eq!(s.listings().iter().filter(|l| l.asset == "ETH").count(), 152);
    // The XMR "address" of 64 hex digits is rejected as no address.
    assert_eq!(r.versions[0].invalid.len(), 1);
    assert_eq!(r.versions[0].invalid[0].asset, "XMR");

    // A .txt and a .json of one asset that disagree are refused, naming the file.
    let bad = root.join("2024-10-01");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::copy(dir.join("sanctioned_addresses_LTC.txt"), bad.join("sanctioned_addresses_LTC.txt")).unwrap();
    std::fs::write(bad.join("sanctioned_addresses_LTC.json"), "[\n  \"LNf2JDiuunBz7GMDKFYHN4rq5meXWxiwfb\"\n]\n").unwrap();
    let e = import(&mut intel, &[&bad], None).unwrap_err();
    // Files are read in name order: the .txt is the one found to differ from the .json.
    assert!(e.to_string().contains("sanctioned_addresses_LTC.txt: holds other LTC addresses than"), "{e}");
    std::fs::write(bad.join("sanctioned_addresses_LTC.json"), "[\n  \"LNf2JDiuunBz7GMDKFYHN4rq5meXWxiwfb\",\n  42\n]\n").unwrap();
    let e = import(&mut intel, &[bad.join("sanctioned_addresses_LTC.json")], None).unwrap_err();
    assert!(matches!(e, IntelError::Input { line: Some(3), .. }), "{e}");
    std::fs::remove_dir_all(&root).unwrap();
}
