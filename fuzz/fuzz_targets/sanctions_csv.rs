//! Any bytes as OFAC's sdn.csv (and, after a 0xFF byte, its sdn_comments.csv): parsing
//! returns a snapshot or an error naming the file, never panics; every address accepted
//! passes its format's own check again and comes back unchanged (it is canonical).
#![no_main]
use fundtrace_intel::sanctions::sdn_csv::{parse, SdnFiles};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("fuzz-sdn-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let (sdn, comments) = match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let files = SdnFiles {
        sdn: dir.join("sdn.csv"),
        comments: comments.map(|_| dir.join("sdn_comments.csv")),
        ..Default::default()
    };
    std::fs::write(&files.sdn, sdn).unwrap();
    if let (Some(c), Some(path)) = (comments, &files.comments) {
        std::fs::write(path, c).unwrap();
    }
    match parse(&files) {
        Ok(snapshot) => {
            use fundtrace_intel::sanctions::{normalize, Format};
            for a in &snapshot.addresses {
                // Canonical: checking it again gives it back unchanged, with the same format.
                assert!(a.address.format == Format::Unchecked || normalize(&a.address.address).as_ref() == Ok(&a.address), "{a:?}");
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("sdn.csv") || msg.contains("sdn_comments.csv"), "{msg}");
        }
    }
});
