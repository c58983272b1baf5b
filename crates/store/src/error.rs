//! Store errors: each says what went wrong and where (file, block, transaction).

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum StoreError {
    Io { path: PathBuf, source: std::io::Error },
    /// No store in this directory yet.
    Missing { dir: PathBuf },
    /// Written by another format version: refused rather than misread.
    FormatVersion { dir: PathBuf, found: u32, expected: u32 },
    /// Files disagree with the manifest (or the manifest with its checksum).
    Damaged(String),
    /// Another process is writing this store.
    Locked { dir: PathBuf },
    /// A block file that cannot be read at all (names file and byte offset).
    BlockFile(fundtrace_bitcoin::blkfile::BlkError),
    /// A block or transaction that cannot be added to the ledger.
    InvalidBlock { file: PathBuf, offset: u64, height: u32, message: String },
    /// Blocks of another chain or network than the store's.
    WrongNetwork { store: String, blocks: String },
    /// More distinct addresses than the 32-bit address ids hold.
    AddressIdsExhausted,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            StoreError::Missing { dir } => write!(
                f,
                "no ledger store in {} (run `fundtrace ingest btc --blocks-dir DIR` first)",
                dir.display()
            ),
            StoreError::FormatVersion { dir, found, expected } => write!(
                f,
                "{}: store format version {found}, this fundtrace reads version {expected}; \
                 re-ingest into a new data directory",
                dir.display()
            ),
            StoreError::Damaged(why) => write!(f, "store damaged: {why}"),
            StoreError::Locked { dir } => {
                write!(f, "{}: another fundtrace process is writing this store", dir.display())
            }
            StoreError::BlockFile(e) => e.fmt(f),
            StoreError::InvalidBlock { file, offset, height, message } => write!(
                f,
                "{} at byte {offset} (block at height {height}): {message}",
                file.display()
            ),
            StoreError::WrongNetwork { store, blocks } => write!(
                f,
                "the store holds {store} blocks, these are {blocks}: use another --data-dir"
            ),
            StoreError::AddressIdsExhausted => write!(f, "more than 2^32-1 distinct addresses"),
        }
    }
}

impl std::error::Error for StoreError {}
