//! The undo journal of a commit in progress.
//!
//! A commit changes a few committed records in place (an old output becomes spent, an old
//! address gets a newer output, hash slots fill). Before the first such change the writer
//! makes this journal durable: the commit it prepares and the old value of every changed
//! record. If the process dies before the new manifest is in place, the next writer restores
//! the old values (and clears hash slots holding uncommitted ids), giving back exactly the
//! last committed store. Readers use the journal's old values as an overlay meanwhile.

use std::io::Write;
use std::path::Path;

use crate::column::io;
use crate::error::StoreError;
use crate::layout::{Mutable, JOURNAL};

const MAGIC: &[u8; 8] = b"FTJRNL01";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Journal {
    /// Sequence number of the manifest this commit will write.
    pub target_seq: u64,
    /// (array, index, old value), in the order they will be applied.
    pub entries: Vec<(Mutable, u64, u64)>,
}

fn fnv1a(h: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(h, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

impl Journal {
    /// Writes and syncs the journal (and the directory entry).
    pub fn write(&self, dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(JOURNAL);
        let mut buf = Vec::with_capacity(32 + self.entries.len() * 17);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&self.target_seq.to_le_bytes());
        buf.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for &(m, i, old) in &self.entries {
            buf.push(m as u8);
            buf.extend_from_slice(&i.to_le_bytes());
            buf.extend_from_slice(&old.to_le_bytes());
        }
        let sum = fnv1a(0xcbf2_9ce4_8422_2325, &buf);
        buf.extend_from_slice(&sum.to_le_bytes());
        let mut f = std::fs::File::create(&path).map_err(io(&path))?;
        f.write_all(&buf).map_err(io(&path))?;
        f.sync_all().map_err(io(&path))?;
        crate::manifest::sync_dir(dir)
    }

    /// Reads the journal in `dir`. `Ok(None)` when there is none, or when it is incomplete:
    /// a journal that never became whole was never acted on (changes start after its sync).
    pub fn read(dir: &Path) -> Result<Option<Journal>, StoreError> {
        let path = dir.join(JOURNAL);
        let buf = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Io { path, source: e }),
        };
        let whole = || -> Option<Journal> {
            if buf.len() < 32 || &buf[..8] != MAGIC {
                return None;
            }
            let (body, sum) = buf.split_at(buf.len() - 8);
            if fnv1a(0xcbf2_9ce4_8422_2325, body) != u64::from_le_bytes(sum.try_into().ok()?) {
                return None;
            }
            let target_seq = u64::from_le_bytes(body[8..16].try_into().ok()?);
            let n = u64::from_le_bytes(body[16..24].try_into().ok()?) as usize;
            if body.len() != 24 + n * 17 {
                return None;
            }
            let entries = body[24..]
                .chunks_exact(17)
                .map(|c| {
                    Some((
                        Mutable::from_u8(c[0])?,
                        u64::from_le_bytes(c[1..9].try_into().ok()?),
                        u64::from_le_bytes(c[9..17].try_into().ok()?),
                    ))
                })
                .collect::<Option<Vec<_>>>()?;
            Some(Journal { target_seq, entries })
        };
        Ok(whole())
    }

    pub fn remove(dir: &Path) -> Result<(), StoreError> {
        let path = dir.join(JOURNAL);
        match std::fs::remove_file(&path) {
            Ok(()) => crate::manifest::sync_dir(dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io { path, source: e }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_journal_is_ignored() {
        let dir = std::env::temp_dir().join(format!("ft-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let j = Journal { target_seq: 7, entries: vec![(Mutable::OutSpentBy, 3, u64::MAX), (Mutable::AddrLastOutput, 1, 9)] };
        j.write(&dir).unwrap();
        assert_eq!(Journal::read(&dir).unwrap(), Some(j));
        let p = dir.join(JOURNAL);
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..b.len() - 3]).unwrap();
        assert_eq!(Journal::read(&dir).unwrap(), None);
        Journal::remove(&dir).unwrap();
        assert_eq!(Journal::read(&dir).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
