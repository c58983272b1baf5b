//! Open-addressing hash tables in files: txid -> tx id, address -> address id.
//!
//! A table is an array of u64 slots (power-of-two count), linear probing. A slot holds
//! `fingerprint(24 bits) << 40 | (id + 1)`, 0 meaning empty. The fingerprint (top bits of the
//! key's hash) rejects almost all non-matching slots without touching the key column; a
//! fingerprint match is confirmed against the key itself, so the table is exact.
//!
//! Slots are only ever filled in id order and never deleted, so every entry with an id at or
//! above a committed count was written by an uncommitted batch: readers skip such entries,
//! and recovery clears them, which restores the table exactly (linear probing without
//! deletions depends only on the set and order of insertions).

use std::fs::OpenOptions;
use std::path::Path;

use fundtrace_core::Txid;
use memmap2::MmapMut;

use crate::column::io;
use crate::error::StoreError;

const ID_BITS: u32 = 40;
const ID_MASK: u64 = (1 << ID_BITS) - 1;
/// Grow when more than this share of slots would be used.
pub const MAX_LOAD: f64 = 0.7;

pub fn entry(hash: u64, id: u64) -> u64 {
    debug_assert!(id < ID_MASK);
    (hash >> ID_BITS) << ID_BITS | (id + 1)
}

/// Id stored in a non-empty slot.
pub fn entry_id(slot: u64) -> u64 {
    (slot & ID_MASK) - 1
}

fn same_fingerprint(slot: u64, hash: u64) -> bool {
    slot >> ID_BITS == hash >> ID_BITS
}

fn mix(mut z: u64) -> u64 {
    // splitmix64 finalizer: spreads every input bit over the slot and fingerprint bits.
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub fn txid_hash(txid: &Txid) -> u64 {
    let a = u64::from_le_bytes(txid.0[0..8].try_into().unwrap());
    let b = u64::from_le_bytes(txid.0[8..16].try_into().unwrap());
    mix(a ^ b.rotate_left(17))
}

pub fn address_hash(key: &[u8]) -> u64 {
    let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    mix(h)
}

/// Slot count for `entries` entries under MAX_LOAD (at least 1024).
pub fn slots_for(entries: u64) -> u64 {
    ((entries as f64 / MAX_LOAD).ceil() as u64 + 1).next_power_of_two().max(1024)
}

/// Finds the entry for a key: `limit` is the committed id count (larger ids are skipped) and
/// `is_key(id)` confirms a fingerprint match. Returns (slot position, id).
pub fn lookup(slots: &[u64], hash: u64, limit: u64, mut is_key: impl FnMut(u64) -> bool) -> Option<(usize, u64)> {
    if slots.is_empty() {
        return None;
    }
    let mask = slots.len() - 1;
    let mut i = hash as usize & mask;
    loop {
        let s = slots[i];
        if s == 0 {
            return None;
        }
        if same_fingerprint(s, hash) {
            let id = entry_id(s);
            if id < limit && is_key(id) {
                return Some((i, id));
            }
        }
        i = (i + 1) & mask;
    }
}

/// Position of the first empty slot on the probe path of `hash`.
pub fn empty_slot(slots: &[u64], hash: u64) -> usize {
    let mask = slots.len() - 1;
    let mut i = hash as usize & mask;
    while slots[i] != 0 {
        i = (i + 1) & mask;
    }
    i
}

/// Writes a new table file with `slots` slots holding `entries` (hash, id), in that order.
pub fn build(path: &Path, slots: u64, entries: impl Iterator<Item = (u64, u64)>) -> Result<(), StoreError> {
    assert!(slots.is_power_of_two());
    let f = OpenOptions::new().create(true).read(true).write(true).truncate(true).open(path).map_err(io(path))?;
    f.set_len(slots * 8).map_err(io(path))?;
    // SAFETY: a fresh file that only this writer knows about.
    let mut map = unsafe { MmapMut::map_mut(&f) }.map_err(io(path))?;
    {
        let table: &mut [u64] = crate::column::cast_slots(&mut map[..]);
        for (hash, id) in entries {
            let i = empty_slot(table, hash);
            table[i] = entry(hash, id);
        }
    }
    map.flush().map_err(io(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_skips_uncommitted_and_fingerprint_collisions() {
        let mut t = vec![0u64; 16];
        let h = 0xabcd_ef00_0000_0003u64;
        // Two keys with the same slot and fingerprint (ids 0 and 1), then one beyond `limit`.
        for id in [0, 1, 5] {
            let i = empty_slot(&t, h);
            t[i] = entry(h, id);
        }
        assert_eq!(lookup(&t, h, 2, |id| id == 1), Some((4, 1)));
        assert_eq!(lookup(&t, h, 2, |id| id == 5), None, "id 5 is not committed");
        assert_eq!(lookup(&t, h, 6, |id| id == 5), Some((5, 5)));
        assert_eq!(lookup(&t, h ^ (1 << 63), 6, |_| true), None, "other fingerprint");
        assert_eq!(slots_for(700), 1024);
        assert_eq!(slots_for(1000), 2048);
    }
}
