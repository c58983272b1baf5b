//! Interrupting `ingest` at any moment leaves a store that opens at its last commit, and the
//! next run finishes with a store identical (by content digest) to an uninterrupted run.

mod common;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use common::*;

fn height(dir: &std::path::Path) -> Option<i64> {
    let o = run(dir, &["info", "--json"]);
    if !o.status.success() {
        assert!(stderr(&o).contains("no ledger store"), "store unreadable after a kill: {}", stderr(&o));
        return None;
    }
    json(&o)["height"].as_i64()
}

fn reference_digest(data: &std::path::Path, name: &str) -> String {
    let dir = tmp(name);
    assert!(run(&dir, &["ingest", "btc", "--blocks-dir", &nbitcoin(data)]).status.success());
    let d = digest(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    d
}

#[test]
fn crash_at_each_step_of_a_commit() {
    let Some(data) = fundtrace_core::testdata::dir("crash points") else { return };
    let want = reference_digest(&data, "reference-crash");
    let crash = |point: &str, commit: &str, dir: &std::path::Path| {
        let o = bin()
            .arg("--data-dir")
            .arg(dir)
            .args(["ingest", "btc", "--commit-every", "100", "--blocks-dir", &nbitcoin(&data)])
            .env("FUNDTRACE_CRASH_AT", point)
            .env("FUNDTRACE_CRASH_COMMIT", commit)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{point}: the crash hook did not fire");
    };
    // Heights committed by the 2nd and 3rd commits, from crashes right after publishing.
    let probe = tmp("probe");
    crash("after-manifest", "2", &probe);
    let h2 = height(&probe).unwrap();
    std::fs::remove_dir_all(&probe).unwrap();
    crash("after-manifest", "3", &probe);
    let h3 = height(&probe).unwrap();
    assert!(h3 > h2);
    std::fs::remove_dir_all(&probe).unwrap();

    for (point, expect) in
        [("after-append", h2), ("after-journal", h2), ("mid-apply", h2), ("after-apply", h2), ("after-manifest", h3)]
    {
        let dir = tmp(point);
        crash(point, "3", &dir);
        let journal = dir.join("btc/JOURNAL").exists();
        assert_eq!(journal, point != "after-append", "{point}: journal present");
        // Readers open the interrupted store (no recovery needed to read).
        assert_eq!(height(&dir), Some(expect), "{point}");
        let o = run(&dir, &["tx", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16", "--json"]);
        assert_eq!(o.status.success(), expect >= 170, "{point}: {}", stderr(&o));
        let o = run(&dir, &["ingest", "btc", "--commit-every", "100", "--blocks-dir", &nbitcoin(&data)]);
        assert!(o.status.success(), "{point}: resume failed: {}", stderr(&o));
        assert!(!dir.join("btc/JOURNAL").exists());
        assert_eq!(digest(&dir), want, "{point}: resumed store differs from an uninterrupted one");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A small xorshift generator, seeded from the clock; the seed is printed for reproduction.
#[test]
fn sigkill_at_random_moments() {
    let Some(data) = fundtrace_core::testdata::dir("sigkill loop") else { return };
    let want = reference_digest(&data, "reference-kill");
    let seed = std::env::var("FUNDTRACE_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    eprintln!("sigkill_at_random_moments: FUNDTRACE_KILL_SEED={seed}");
    let mut rng = fundtrace_core::testdata::XorShift(seed);
    let dir = tmp("sigkill");
    let mut last = None;
    let mut kills = 0;
    // Each run resumes where the last stopped, so runs get shorter: keep going until enough
    // of them were killed in flight.
    for _ in 0..60 {
        if kills >= 10 {
            break;
        }
        // One commit per 3 transactions: most of the run is spent inside commits.
        let mut child = bin()
            .arg("--data-dir")
            .arg(&dir)
            .args(["ingest", "btc", "--commit-every", "3", "--blocks-dir", &nbitcoin(&data)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next_u64() % 120_000));
        kills += child.try_wait().unwrap().is_none() as usize;
        child.kill().ok();
        child.wait().unwrap();
        let h = height(&dir);
        assert!(h >= last, "height went back from {last:?} to {h:?} (seed {seed})");
        last = h;
    }
    assert!(kills >= 10, "only {kills} runs were killed mid-way (seed {seed})");
    let o = run(&dir, &["ingest", "btc", "--blocks-dir", &nbitcoin(&data)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(digest(&dir), want, "seed {seed}");
    std::fs::remove_dir_all(&dir).unwrap();
}
