//! Bad packs are refused with an error naming the file, the line and the field, and leave
//! the database exactly as it was, even when good packs came before them in the same import.

mod common;

use std::path::PathBuf;

use common::*;
use fundtrace_intel::{Intel, IntelError};

/// Imports ronin_bridge.yaml edited by `edit` (after lazarus.yaml, in one import) into a
/// database already holding lazarus2.yaml; checks the error's place and that nothing changed.
fn check_refused(name: &str, edit: impl Fn(&str) -> String, line: impl Fn(&str) -> u64, field: &str, says: &str) {
    let Some(data) = data("bad packs") else { return };
    let dir = tmp(name);
    let mut intel = Intel::open(&dir).unwrap();
    import(&mut intel, &[data.join("packs/lazarus2.yaml")]).unwrap();
    let before = snapshot(&intel);

    let original = read(&data.join("packs/ronin_bridge.yaml"));
    let bad = edit(&original);
    assert_ne!(bad, original, "{name}: the edit changed nothing");
    // Imports go in uri order: `packs/zz-…` comes after `packs/lazarus.yaml`, so lazarus is
    // imported first and must be rolled back.
    std::fs::create_dir_all(dir.join("packs")).unwrap();
    let file = dir.join(format!("packs/zz-{name}.yaml"));
    std::fs::write(&file, &bad).unwrap();
    let mut files_done = 0;
    let err = fundtrace_intel::tagpack::import(
        &mut intel,
        &[data.join("packs/lazarus.yaml"), file.clone()],
        fundtrace_intel::tagpack::Taxonomy::builtin(),
        &mut |p| files_done = files_done.max(p.files_done),
    )
    .unwrap_err();
    assert_eq!(files_done, 1, "{name}: lazarus.yaml was imported before the bad file");
    let IntelError::Input { file: f, line: l, field: k, message } = &err else { panic!("{name}: {err}") };
    assert_eq!(f, &file, "{name}: {err}");
    assert_eq!(*l, Some(line(&bad)), "{name}: {err}");
    assert_eq!(k.as_deref(), Some(field), "{name}: {err}");
    assert!(message.contains(says), "{name}: {err}");
    let shown = err.to_string();
    assert!(shown.starts_with(&format!("{}:{}: field `{field}`", file.display(), line(&bad))), "{shown}");
    assert_eq!(snapshot(&intel), before, "{name}: database changed");
    drop(intel);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn yaml_syntax_error() {
    // `label: a: b` is a mapping inside a plain scalar: not YAML.
    check_refused(
        "syntax",
        |t| t.replacen("  label: Ronin bridge exploiter 4", "  label: Ronin bridge: exploiter 4", 1),
        |t| line_of(t, "Ronin bridge: exploiter 4"),
        "label",
        "YAML: mapping values are not allowed",
    );
}

#[test]
fn tag_without_label() {
    // ronin_bridge.yaml labels each tag itself (no header label): drop one tag's label.
    check_refused(
        "nolabel",
        |t| t.replacen("  label: Ronin bridge exploiter 5\n", "", 1),
        |t| line_of(t, "0x7E3167771BF23AC10930803589d1424903b36584"),
        "label",
        "missing",
    );
}

#[test]
fn unknown_confidence() {
    check_refused(
        "confidence",
        |t| t.replacen("confidence: service_data", "confidence: very_sure", 1),
        |t| line_of(t, "confidence: very_sure"),
        "confidence",
        "`very_sure` is not a confidence level",
    );
}

#[test]
fn unknown_field_is_named() {
    check_refused(
        "typo",
        |t| t.replacen("  label: Ronin bridge exploiter 6", "  lable: Ronin bridge exploiter 6", 1),
        |t| line_of(t, "lable:"),
        "lable",
        "unknown field",
    );
}

#[test]
fn jurisdiction_outside_iso_3166() {
    let Some(_) = data("bad actorpack") else { return };
    let dir = tmp("jurisdiction");
    let mut intel = Intel::open(&dir).unwrap();
    let file = dir.join("bad.actorpack.yaml");
    let text = "title: t\ncreator: c\nlastmod: 2024-01-01\nactors:\n- id: a\n  uri: https://a.example\n  label: A\n  categories: [exchange]\n  jurisdictions: [US, XX]\n";
    std::fs::write(&file, text).unwrap();
    let err = import(&mut intel, std::slice::from_ref(&file)).unwrap_err();
    assert_eq!(err.to_string(), format!("{}:9: field `jurisdictions`: `XX` is not an ISO 3166 country code", file.display()));
    assert_eq!(count(&intel, "SELECT count(*) FROM pack"), 0);
    drop(intel);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_path_and_conflicting_copies() {
    let Some(data) = data("bad paths") else { return };
    let dir = tmp("paths");
    let mut intel = Intel::open(&dir).unwrap();
    let err = import(&mut intel, &[PathBuf::from("/no/such/pack.yaml")]).unwrap_err();
    assert!(err.to_string().starts_with("/no/such/pack.yaml: "), "{err}");
    // Two different files that are both `packs/lazarus.yaml`: refused, not order-dependent.
    let other = dir.join("copy/packs");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("lazarus.yaml"), read(&data.join("packs/lazarus.yaml")).replace("Lazarus group", "Someone else")).unwrap();
    let err = import(&mut intel, &[data.join("packs/lazarus.yaml"), other.join("lazarus.yaml")]).unwrap_err();
    assert!(err.to_string().contains("both are pack packs/lazarus.yaml"), "{err}");
    // The same content twice is one pack.
    std::fs::write(other.join("lazarus.yaml"), read(&data.join("packs/lazarus.yaml"))).unwrap();
    let s = import(&mut intel, &[data.join("packs/lazarus.yaml"), other.join("lazarus.yaml")]).unwrap();
    assert_eq!((s.files, s.packs_added), (1, 1));
    drop(intel);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A cheap stand-in for the fuzz target (fuzz/fuzz_targets/tagpack.rs) that runs with the
/// tests: thousands of byte-level mutations of real packs parse to a pack or an error, never
/// a panic, and every error names the file.
#[test]
fn mutated_packs_never_panic() {
    let Some(data) = data("mutated packs") else { return };
    let actors = read(&data.join("actors/graphsense.actorpack.yaml"));
    let cut = actors.match_indices("\n- id: ").nth(5).unwrap().0 + 1;
    let seeds = [read(&data.join("packs/ronin_bridge.yaml")), read(&data.join("packs/lazarus.yaml")), actors[..cut].to_string()];
    let alphabet = b":-'\"[]{}#&*!|>?%@`,\n \t0xTFa~\\";
    let mut rng = fundtrace_core::testdata::XorShift(0x9e37_79b9_7f4a_7c15);
    let mut next = move || rng.next_u64();
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..6000 {
        let mut b = seeds[round % seeds.len()].clone().into_bytes();
        for _ in 0..1 + next() % 4 {
            let at = (next() % b.len() as u64) as usize;
            match next() % 3 {
                0 => b[at] = alphabet[(next() % alphabet.len() as u64) as usize],
                1 => {
                    b.remove(at);
                }
                _ => b.insert(at, alphabet[(next() % alphabet.len() as u64) as usize]),
            }
        }
        let Ok(text) = String::from_utf8(b) else { continue };
        let mut warnings = Vec::new();
        match fundtrace_intel::tagpack::parse_pack(std::path::Path::new("m.yaml"), &text, fundtrace_intel::tagpack::Taxonomy::builtin(), &mut warnings) {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert!(e.to_string().starts_with("m.yaml"), "{e}");
                refused += 1;
            }
        }
    }
    // Both outcomes occur, so the mutations exercise the checks and not only the YAML reader.
    assert!(accepted > 100 && refused > 100, "{accepted} accepted, {refused} refused");
}
