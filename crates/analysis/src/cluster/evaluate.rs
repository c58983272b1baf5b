//! Clustering accuracy against a ground truth (every address's true owner): pairwise
//! precision and recall, the measure of the clustering literature. A pair of addresses is
//! predicted linked when they share a cluster and truly linked when they share an owner.
//!
//! precision = true links found / links predicted; recall = true links found / true links.
//! A false merge costs precision, a missed one recall; forensics wants precision first.

use std::collections::HashMap;

use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PairwiseScore {
    /// Addresses scored (those with a known owner).
    pub addresses: u64,
    pub clusters: u64,
    pub owners: u64,
    pub predicted_pairs: u64,
    pub true_pairs: u64,
    pub correct_pairs: u64,
    pub precision: f64,
    pub recall: f64,
    /// Clusters holding addresses of more than one owner.
    pub impure_clusters: u64,
    pub largest_cluster: u64,
}

/// n choose 2; address ids are 32-bit, so this fits in 64 bits.
fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Scores `cluster_of` (cluster id per address id) against `owner_of` (owner per address id;
/// `None` = unknown, left out).
pub fn pairwise(cluster_of: &[u32], owner_of: &[Option<u64>]) -> PairwiseScore {
    let mut cell: HashMap<(u32, u64), u64> = HashMap::new();
    let mut cluster_size: HashMap<u32, u64> = HashMap::new();
    let mut owner_size: HashMap<u64, u64> = HashMap::new();
    let mut s = PairwiseScore::default();
    for (a, &c) in cluster_of.iter().enumerate() {
        let Some(Some(e)) = owner_of.get(a) else { continue };
        s.addresses += 1;
        *cell.entry((c, *e)).or_default() += 1;
        *cluster_size.entry(c).or_default() += 1;
        *owner_size.entry(*e).or_default() += 1;
    }
    s.clusters = cluster_size.len() as u64;
    s.owners = owner_size.len() as u64;
    s.correct_pairs = cell.values().map(|&n| pairs(n)).sum();
    s.predicted_pairs = cluster_size.values().map(|&n| pairs(n)).sum();
    s.true_pairs = owner_size.values().map(|&n| pairs(n)).sum();
    s.precision = if s.predicted_pairs == 0 { 1.0 } else { s.correct_pairs as f64 / s.predicted_pairs as f64 };
    s.recall = if s.true_pairs == 0 { 1.0 } else { s.correct_pairs as f64 / s.true_pairs as f64 };
    let mut owners_per_cluster: HashMap<u32, u32> = HashMap::new();
    for &(c, _) in cell.keys() {
        *owners_per_cluster.entry(c).or_default() += 1;
    }
    s.impure_clusters = owners_per_cluster.values().filter(|&&n| n > 1).count() as u64;
    s.largest_cluster = cluster_size.values().copied().max().unwrap_or(0);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_counts_by_hand() {
        // Owners: A = {0,1,2}, B = {3,4}. Clusters: {0,1}, {2,3}, {4}; address 5 unknown.
        let clusters = [0, 0, 2, 2, 4, 0];
        let owners = [Some(1), Some(1), Some(1), Some(2), Some(2), None];
        let s = pairwise(&clusters, &owners);
        // Predicted pairs: (0,1), (2,3) = 2; true pairs: 3 + 1 = 4; correct: (0,1) = 1.
        assert_eq!((s.predicted_pairs, s.true_pairs, s.correct_pairs), (2, 4, 1));
        assert_eq!((s.precision, s.recall), (0.5, 0.25));
        assert_eq!((s.addresses, s.clusters, s.owners, s.impure_clusters, s.largest_cluster), (5, 3, 2, 1, 2));
    }
}

/// How often each change heuristic's unique candidate is truly change (paid back to the
/// spender), over the non-CoinJoin transactions where it names exactly one output.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeAccuracy {
    pub heuristic: &'static str,
    /// Transactions where the heuristic named a unique candidate.
    pub named: u64,
    /// ... and the candidate belongs to the owner of the first input.
    pub correct: u64,
    pub precision: f64,
    /// Share of all scored transactions with a unique candidate.
    pub coverage: f64,
}

/// Scores every change heuristic of `change::Heuristic::ALL` on the ledger against `owner_of`.
pub fn change_accuracy(ledger: &fundtrace_store::Ledger, owner_of: &[Option<u64>]) -> Vec<ChangeAccuracy> {
    use crate::change::{candidates, Context, Heuristic};
    use crate::coinjoin;
    let c = ledger.columns();
    let rules = super::build::rules_for(ledger);
    let mut named = [0u64; Heuristic::ALL.len()];
    let mut correct = [0u64; Heuristic::ALL.len()];
    let mut scored = 0u64;
    let mut walk = crate::txview::ChainWalk::new(ledger, 0, 0);
    while let Some(first_new_address) = walk.advance() {
        let view = &walk.view;
        if view.coinbase || view.outputs.len() < 2 || coinjoin::multi_party(view, &rules).is_some() {
            continue;
        }
        let Some(spender) = view.inputs.iter().find_map(|i| i.address).and_then(|a| owner_of.get(a as usize).copied().flatten()) else { continue };
        scored += 1;
        let ctx = Context { first_new_address, coinjoin: false, ledger: Some(c) };
        for (k, h) in Heuristic::ALL.iter().enumerate() {
            let Some(o) = candidates(*h, view, &ctx).single() else { continue };
            named[k] += 1;
            let owner = view.outputs[o].address.and_then(|a| owner_of.get(a as usize).copied().flatten());
            correct[k] += (owner == Some(spender)) as u64;
        }
    }
    Heuristic::ALL
        .iter()
        .enumerate()
        .map(|(k, h)| ChangeAccuracy {
            heuristic: h.name(),
            named: named[k],
            correct: correct[k],
            precision: correct[k] as f64 / named[k].max(1) as f64,
            coverage: named[k] as f64 / scored.max(1) as f64,
        })
        .collect()
}
