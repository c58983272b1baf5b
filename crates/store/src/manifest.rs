//! The manifest: the one small file that says what part of every column is committed.
//!
//! A commit writes `MANIFEST.tmp`, syncs it, and renames it over `MANIFEST` (atomic on
//! POSIX), then syncs the directory. Whatever lies in the column files beyond the counts
//! below is an interrupted write and is ignored by readers and dropped by the next writer.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::column::io;
use crate::error::StoreError;

/// Bumped on any change to the layout of any store file.
pub const FORMAT_VERSION: u32 = 1;
pub const FORMAT_NAME: &str = "fundtrace-ledger";

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexState {
    /// Generation number in the file name (`txid.idx.3`); a resize writes a new generation.
    pub generation: u32,
    /// Number of slots (a power of two).
    pub slots: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub chain: String,
    pub network: String,
    /// Commit sequence number; a journal names the commit it prepares.
    pub seq: u64,
    pub blocks: u64,
    pub txs: u64,
    pub inputs: u64,
    pub outputs: u64,
    pub addresses: u64,
    pub address_bytes: u64,
    pub pubkeys: u64,
    pub txid_index: IndexState,
    pub address_index: IndexState,
    /// Blocks seen in block files but left out: stale branches, and orphans whose ancestry
    /// does not reach the chain. Counted by the latest ingest run.
    pub stale_blocks_skipped: u64,
    pub orphan_blocks_skipped: u64,
    /// FNV-1a 64 of this manifest serialized with `checksum` empty.
    pub checksum: String,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

impl Manifest {
    pub fn new(chain: &str, network: &str) -> Manifest {
        Manifest {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            chain: chain.into(),
            network: network.into(),
            ..Default::default()
        }
    }

    fn compute_checksum(&self) -> String {
        let mut m = self.clone();
        m.checksum = String::new();
        format!("{:016x}", fnv1a(&serde_json::to_vec(&m).expect("serializable")))
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join("MANIFEST")
    }

    /// Reads and validates the manifest of the store in `dir`.
    pub fn load(dir: &Path) -> Result<Manifest, StoreError> {
        let path = Self::path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing { dir: dir.to_path_buf() })
            }
            Err(e) => return Err(StoreError::Io { path, source: e }),
        };
        // Check the format before the full schema, so an older or newer layout gets the
        // version message rather than a parse error.
        #[derive(Deserialize)]
        struct Head {
            format: String,
            format_version: u32,
        }
        let head: Head = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Damaged(format!("{}: {e}", path.display())))?;
        if head.format != FORMAT_NAME {
            return Err(StoreError::Damaged(format!("{}: not a fundtrace ledger manifest", path.display())));
        }
        if head.format_version != FORMAT_VERSION {
            return Err(StoreError::FormatVersion {
                dir: dir.to_path_buf(),
                found: head.format_version,
                expected: FORMAT_VERSION,
            });
        }
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Damaged(format!("{}: {e}", path.display())))?;
        if m.checksum != m.compute_checksum() {
            return Err(StoreError::Damaged(format!("{}: checksum mismatch", path.display())));
        }
        Ok(m)
    }

    /// Atomically replaces the manifest in `dir`.
    pub fn store(&mut self, dir: &Path) -> Result<(), StoreError> {
        self.checksum = self.compute_checksum();
        let tmp = dir.join("MANIFEST.tmp");
        let mut bytes = serde_json::to_vec_pretty(self).expect("serializable");
        bytes.push(b'\n');
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(&bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        let path = Self::path(dir);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(dir)
    }

    /// Height of the tip, `None` for an empty store.
    pub fn height(&self) -> Option<u64> {
        self.blocks.checked_sub(1)
    }
}

/// Makes renames and unlinks in `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}
