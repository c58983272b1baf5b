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

/// Marsaglia's xorshift64: reproducible pseudo-random test inputs (arbitrary bytes for
/// robustness tests, payloads for encoder cross-checks) without a dependency.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// `n` bytes, each the low byte of one step.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}
