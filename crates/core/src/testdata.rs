//! Locating the shared real-data folder for conformance tests.

use std::path::PathBuf;

/// `FUNDTRACE_TEST_DATA`, else `../shared/data` beside the repository. `None` (after printing
/// a SKIP line naming `what`) when it is absent, so tests on machines without the data skip
/// loudly instead of failing or passing silently.
pub fn dir(what: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("FUNDTRACE_TEST_DATA") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIP {what}: test data not found at {} (set FUNDTRACE_TEST_DATA)", dir.display());
        None
    }
}
