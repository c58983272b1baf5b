//! Assembling the best chain from blocks found in any order.
//!
//! Block files hold blocks in arrival order, with stale branches and blocks whose parent
//! arrived later. The best chain is the path of most cumulative work from an anchor (the
//! genesis block, or the tip a store already holds); every other block is skipped and counted.

use std::collections::HashMap;

use fundtrace_core::BlockHash;

use crate::blkfile::ScannedBlock;

/// Approximate work of a block with compact target `bits`: 2^256 / target, in u128.
/// Exact enough to choose between branches (Core's arithmetic is 256-bit; the low bits we drop
/// are far below one block's work for any real target).
pub fn block_work(bits: u32) -> u128 {
    let exp = (bits >> 24) as i32;
    let mantissa = (bits & 0x007f_ffff) as u128;
    if mantissa == 0 || bits & 0x0080_0000 != 0 {
        return 0; // zero or negative target: invalid, worth nothing
    }
    // target = mantissa * 256^(exp-3), so work = 2^(256 - 8(exp-3)) / mantissa.
    let shift = 256 - 8 * (exp - 3);
    match shift {
        s if s <= 0 => 1,
        s if s >= 127 => u128::MAX >> 8, // absurdly low target: saturate
        s => ((1u128 << s) / mantissa).max(1),
    }
}

/// Whether `hash` (internal byte order, a little-endian number) is at most the target that
/// the compact `bits` encode: the proof-of-work check. Ingest does not require it (the
/// simulator writes blocks without work); tests use it as an independent check of hashes.
pub fn meets_target(hash: &BlockHash, bits: u32) -> bool {
    let exp = (bits >> 24) as usize;
    let mantissa = bits & 0x007f_ffff;
    // Big-endian target: the 3 mantissa bytes end at byte position (32 - exp + 3).
    let mut target = [0u8; 32];
    for (k, b) in mantissa.to_be_bytes()[1..].iter().enumerate() {
        let pos = 32 + k;
        if pos >= exp && pos - exp < 32 {
            target[pos - exp] = *b;
        }
    }
    let mut h = hash.0;
    h.reverse();
    h <= target
}

/// The chain chosen from a scan.
#[derive(Debug, Default)]
pub struct BestChain {
    /// Indices into the scanned blocks, in height order, starting right after the anchor
    /// (or at the anchor itself when it is the genesis block being ingested).
    pub path: Vec<usize>,
    /// Blocks that descend from the anchor but are not on the best path (stale branches).
    pub stale: usize,
    /// Blocks that do not connect to the anchor at all (and are not already stored).
    pub orphans: usize,
    /// Scanned blocks that were already at or below the anchor.
    pub duplicates: usize,
}

/// Chooses the most-work chain. `anchor` is either `Anchor::Genesis(hash)` (the path then
/// starts with that block) or `Anchor::Tip(hash)` (the path starts with its child);
/// `known(hash)` says whether a block is already stored (so it is neither stale nor orphan).
pub enum Anchor {
    Genesis(BlockHash),
    Tip(BlockHash),
}

pub fn best_chain(blocks: &[ScannedBlock], anchor: Anchor, known: impl Fn(&BlockHash) -> bool) -> BestChain {
    // First occurrence wins when a block was written twice.
    let mut by_hash: HashMap<BlockHash, usize> = HashMap::with_capacity(blocks.len());
    let mut duplicates = 0;
    for (i, b) in blocks.iter().enumerate() {
        if by_hash.contains_key(&b.hash) || known(&b.hash) {
            duplicates += 1;
        } else {
            by_hash.insert(b.hash, i);
        }
    }
    let mut children: HashMap<BlockHash, Vec<usize>> = HashMap::new();
    for &i in by_hash.values() {
        children.entry(blocks[i].header.prev_blockhash).or_default().push(i);
    }
    for c in children.values_mut() {
        c.sort_unstable(); // file order: the first-seen branch wins ties, as in Core
    }
    let roots: Vec<usize> = match anchor {
        Anchor::Genesis(h) => by_hash.get(&h).copied().into_iter().collect(),
        Anchor::Tip(h) => children.get(&h).cloned().unwrap_or_default(),
    };
    // Iterative DFS computing cumulative work; remember each node's parent in the tree.
    let mut work: HashMap<usize, (u128, Option<usize>)> = HashMap::new();
    let mut stack: Vec<(usize, Option<usize>, u128)> = roots.iter().rev().map(|&r| (r, None, 0)).collect();
    let mut best: Option<(u128, usize)> = None;
    while let Some((i, parent, acc)) = stack.pop() {
        let w = acc.saturating_add(block_work(blocks[i].header.bits));
        work.insert(i, (w, parent));
        if best.is_none_or(|(bw, _)| w > bw) {
            best = Some((w, i));
        }
        if let Some(kids) = children.get(&blocks[i].hash) {
            for &k in kids.iter().rev() {
                stack.push((k, Some(i), w));
            }
        }
    }
    let mut path = Vec::new();
    let mut cur = best.map(|(_, i)| i);
    while let Some(i) = cur {
        path.push(i);
        cur = work[&i].1;
    }
    path.reverse();
    BestChain {
        stale: work.len() - path.len(),
        orphans: by_hash.len() - work.len(),
        duplicates,
        path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_of_known_targets() {
        // Genesis difficulty 1: 2^256 / (0xffff * 2^208) = 2^48 / 0xffff.
        assert_eq!(block_work(0x1d00ffff), (1u128 << 48) / 0xffff);
        // Regtest's minimum difficulty is worth 2 (Core's GetBlockProof gives 2 as well).
        assert_eq!(block_work(0x207fffff), 2);
        assert!(block_work(0x17034219) > block_work(0x1d00ffff));
        assert_eq!(block_work(0x1d800000), 0);
    }

    #[test]
    fn genesis_meets_its_target_and_a_tweaked_hash_does_not() {
        let g = crate::Network::Main.genesis_hash();
        assert!(meets_target(&g, 0x1d00ffff));
        let mut bad = g;
        bad.0[28] = 1; // a nonzero byte inside the required leading zeros
        assert!(!meets_target(&bad, 0x1d00ffff));
        // Genesis is lucky (5 zero bytes where difficulty 1 needs 4) but not 65536x lucky.
        assert!(meets_target(&g, 0x1c00ffff));
        assert!(!meets_target(&g, 0x1b00ffff));
    }
}
