//! Backward trace: where did the value received by an address (or paid by a transaction)
//! come from? Value is followed back through the transactions that created it, split over
//! each transaction's inputs in proportion to their values (haircut backwards: the only
//! split that does not depend on input order, which suits screening), until it reaches an
//! attributed entity, a coinbase (newly mined coins), the hop limit or the dust amount.
//!
//! Transactions are processed newest first (a max-heap of ids), so an output's total demand
//! from all its descendants is known before its creator is split. Integer satoshi; each
//! split gives floors and hands the remainder out by largest fraction, so amounts add up
//! exactly at every step.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use fundtrace_core::fasthash::{FastMap, FastSet};

use serde::Serialize;

use super::graph::FlowGraph;

#[derive(Clone, Debug)]
pub struct BackwardOptions {
    /// Sources further back than this many transactions are not followed (h = 1 is direct).
    pub max_hops: u32,
    /// Shares smaller than this many satoshi are dropped.
    pub min_amount: u64,
    /// Safety limit on transactions split.
    pub max_txs: usize,
}

impl Default for BackwardOptions {
    fn default() -> Self {
        BackwardOptions { max_hops: 5, min_amount: 1_000, max_txs: 100_000 }
    }
}

/// Where a share of value was found to come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// An attributed entity (its key).
    Entity(u32),
    /// Newly mined coins.
    Coinbase,
    /// Not attributed within the hop limit.
    Unattributed,
    Dust,
}

/// Value from one origin at one hop distance, with one path as evidence.
#[derive(Clone, Debug, Serialize)]
pub struct Source {
    pub origin: Origin,
    pub hop: u32,
    pub amount: u64,
    /// A sample path: transaction ids from the source's transaction to the target's.
    pub path: Vec<u64>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct BackwardTrace {
    /// Value explained (what the targets received).
    pub target_value: u64,
    pub sources: Vec<Source>,
    pub txs_split: u64,
    pub truncated: bool,
}

/// Splits `amount` over `weights` in proportion, exactly (largest remainder, ties to the
/// lower position).
pub fn pro_rata(amount: u64, weights: &[u64]) -> Vec<u64> {
    let total: u128 = weights.iter().map(|&w| w as u128).sum();
    if total == 0 {
        return vec![0; weights.len()];
    }
    let mut out: Vec<u64> = weights.iter().map(|&w| (amount as u128 * w as u128 / total) as u64).collect();
    let mut left = amount - out.iter().sum::<u64>();
    let mut order: Vec<(u128, usize)> = weights.iter().enumerate().map(|(k, &w)| ((amount as u128 * w as u128) % total, k)).collect();
    order.sort_by_key(|&(r, k)| (Reverse(r), k));
    for (_, k) in order {
        if left == 0 {
            break;
        }
        out[k] += 1;
        left -= 1;
    }
    out
}

/// Follows `targets` (output id, amount to explain) back. `source_at(address)` names the
/// entity an address belongs to, if attributed; the targets' own addresses are never sources.
pub fn backward(
    g: &impl FlowGraph,
    targets: &[(u64, u64)],
    opts: &BackwardOptions,
    source_at: &dyn Fn(u32) -> Option<u32>,
) -> BackwardTrace {
    let mut t = BackwardTrace::default();
    // Demand per output not yet split, by hop: value reached along paths of different
    // lengths keeps its own length (the hop decay of risk scores depends on it).
    // Each demand remembers the transaction that asked for it (for the evidence path).
    let mut need: FastMap<u64, Vec<(u32, u64, u64)>> = FastMap::default();
    let mut heap: BinaryHeap<u64> = BinaryHeap::new();
    let mut queued: FastSet<u64> = FastSet::default();
    // Evidence paths: (transaction, hop) -> the transaction (one hop nearer the target)
    // that asked it for value, so a path has as many steps as its hop count says.
    let mut child: FastMap<(u64, u32), u64> = FastMap::default();
    let mut found: FastMap<(Origin, u32), (u64, Vec<u64>)> = FastMap::default();
    for &(o, amount) in targets {
        t.target_value += amount;
        need.entry(o).or_default().push((0, amount, u64::MAX));
        let tx = g.creator(o);
        if queued.insert(tx) {
            heap.push(tx);
        }
    }
    let path_from = |child: &FastMap<(u64, u32), u64>, mut tx: u64, mut hop: u32| {
        let mut p = vec![tx];
        while let Some(&c) = child.get(&(tx, hop)) {
            p.push(c);
            tx = c;
            hop = hop.saturating_sub(1);
        }
        p
    };
    let mut ins = Vec::new();
    while let Some(tx) = heap.pop() {
        if t.txs_split as usize >= opts.max_txs {
            t.truncated = true;
            break;
        }
        t.txs_split += 1;
        // Demand on this transaction's outputs, by hop.
        let mut demand: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
        for o in g.outputs(tx) {
            for (h, a, asked_by) in need.remove(&o).into_iter().flatten() {
                *demand.entry(h).or_default() += a;
                if asked_by != u64::MAX {
                    child.entry((tx, h)).or_insert(asked_by);
                }
            }
        }
        if demand.is_empty() {
            continue;
        }
        g.inputs(tx, &mut ins);
        // `hop` of a source is one more than the demand it answers (the tx's outputs' hop).
        let mut record = |origin: Origin, hop: u32, amount: u64, from_tx: u64| {
            let e = found.entry((origin, hop)).or_insert_with(|| (0, path_from(&child, from_tx, hop - 1)));
            e.0 += amount;
        };
        let weights: Vec<u64> = ins.iter().map(|&(_, v)| v).collect();
        let mut asked: Vec<u64> = Vec::new();
        for (hop, demand) in demand {
            let h = hop + 1;
            if ins.is_empty() {
                record(Origin::Coinbase, h, demand, tx);
                continue;
            }
            for (&(o, _), share) in ins.iter().zip(pro_rata(demand, &weights)) {
                if share == 0 {
                    continue;
                }
                // An attributed source counts whatever the amount; dust only ends unattributed paths.
                if let Some(e) = g.address(o).and_then(source_at) {
                    record(Origin::Entity(e), h, share, tx);
                } else if share < opts.min_amount {
                    record(Origin::Dust, h, share, tx);
                } else if h >= opts.max_hops {
                    record(Origin::Unattributed, h, share, tx);
                } else {
                    let d = need.entry(o).or_default();
                    match d.iter_mut().find(|x| x.0 == h) {
                        Some(x) => x.1 += share,
                        None => d.push((h, share, tx)),
                    }
                    asked.push(g.creator(o));
                }
            }
        }
        for creator in asked {
            if queued.insert(creator) {
                heap.push(creator);
            }
        }
    }
    // Demand left when cut short counts as unattributed.
    for (h, a, _) in need.drain().flat_map(|(_, d)| d) {
        let e = found.entry((Origin::Unattributed, h)).or_insert((0, Vec::new()));
        e.0 += a;
    }
    let mut sources: Vec<Source> = found.into_iter().map(|((origin, hop), (amount, path))| Source { origin, hop, amount, path }).collect();
    sources.sort_by_key(|s| (s.hop, Reverse(s.amount), s.origin));
    t.sources = sources;
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::graph::MemGraph;

    #[test]
    fn pro_rata_is_exact() {
        assert_eq!(pro_rata(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(pro_rata(5, &[0, 2]), vec![0, 5]);
        assert_eq!(pro_rata(u64::MAX / 3, &[u64::MAX, u64::MAX]).iter().sum::<u64>(), u64::MAX / 3);
    }

    #[test]
    fn sources_by_hop_with_exact_amounts() {
        let mut g = MemGraph::default();
        // Coins: exchange 10 gets 6, unattributed 20 gets 4 (both mined).
        let mint = g.tx(&[], &[(10, 6_000), (20, 4_000)]);
        let m = g.outputs(mint).start;
        // 20 pays 21 all of it; then 10 and 21 together pay the target 1 (9,000) + fee 1,000.
        let hop = g.tx(&[m + 1], &[(21, 4_000)]);
        let pay = g.tx(&[m, g.outputs(hop).start], &[(1, 9_000)]);
        let target = g.outputs(pay).start;
        let t = backward(&g, &[(target, 9_000)], &BackwardOptions { min_amount: 1, ..Default::default() }, &|a| (a == 10).then_some(10));
        let got: Vec<(Origin, u32, u64)> = t.sources.iter().map(|s| (s.origin, s.hop, s.amount)).collect();
        // 9,000 split 6:4 over the inputs: 5,400 direct from the exchange, 3,600 from 21,
        // which came from 20, which was mined.
        assert_eq!(got, vec![(Origin::Entity(10), 1, 5_400), (Origin::Coinbase, 3, 3_600)]);
        assert_eq!(t.sources[1].path, vec![mint, hop, pay]);
        assert_eq!(t.target_value, 9_000);
    }
}
