//! Any bytes as a TagPack or ActorPack file: parsing and checking return a pack or an error
//! naming the file, never panic; every tag of an accepted pack has an address or a tx_hash.
#![no_main]
use std::path::Path;

use fundtrace_intel::tagpack::{parse_pack, Pack, Taxonomy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut warnings = Vec::new();
    match parse_pack(Path::new("fuzz.yaml"), text, Taxonomy::builtin(), &mut warnings) {
        Ok(Pack::Tags(p)) => assert!(p.tags.iter().all(|t| t.address.is_some() != t.tx_hash.is_some())),
        Ok(Pack::Actors(p)) => assert!(p.actors.iter().all(|a| !a.id.is_empty())),
        Err(e) => assert!(e.to_string().starts_with("fuzz.yaml")),
    }
});
