//! Why two addresses are in one cluster: the chain of recorded merges linking them.

use std::collections::{HashMap, VecDeque};

use super::store::{Clusters, Merge, MergeKind};

/// One link of the chain: `from` and `to` were joined by transaction `tx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub from: u32,
    pub to: u32,
    pub tx: u64,
    pub kind: MergeKind,
    /// Change heuristics naming the output, for change merges.
    pub heuristics: u16,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Explanation {
    /// The same address.
    Same,
    /// The merges linking them, in order from the first address to the second.
    Linked(Vec<Step>),
    /// In different clusters.
    Apart { cluster_a: u32, cluster_b: u32 },
    /// At least one address is newer than the last clustering run.
    NotClustered,
}

/// The shortest chain of merges (by number of transactions) from `a` to `b`. The merges of a
/// cluster form a spanning tree of it, so the chain is unique; finding it reads the merge
/// records of that cluster only (one scan of `merges.col`).
pub fn explain(c: &Clusters, a: u32, b: u32) -> Explanation {
    if a == b {
        return Explanation::Same;
    }
    let (Some(ca), Some(cb)) = (c.cluster_of(a), c.cluster_of(b)) else { return Explanation::NotClustered };
    if ca != cb {
        return Explanation::Apart { cluster_a: ca, cluster_b: cb };
    }
    let mut edges: HashMap<u32, Vec<&Merge>> = HashMap::new();
    for m in c.merges().iter().filter(|m| c.cluster_of(m.a) == Some(ca)) {
        edges.entry(m.a).or_default().push(m);
        edges.entry(m.b).or_default().push(m);
    }
    let mut came_from: HashMap<u32, &Merge> = HashMap::new();
    let mut queue = VecDeque::from([a]);
    while let Some(x) = queue.pop_front() {
        if x == b {
            break;
        }
        for m in edges.get(&x).into_iter().flatten() {
            let y = if m.a == x { m.b } else { m.a };
            if y != a && !came_from.contains_key(&y) {
                came_from.insert(y, m);
                queue.push_back(y);
            }
        }
    }
    let mut steps = Vec::new();
    let mut x = b;
    while x != a {
        let Some(m) = came_from.get(&x) else {
            // Cannot happen for a consistent store: the cluster's merges connect its members.
            return Explanation::Apart { cluster_a: ca, cluster_b: cb };
        };
        let from = if m.a == x { m.b } else { m.a };
        steps.push(Step { from, to: x, tx: m.tx, kind: MergeKind::from_u8(m.kind).unwrap_or(MergeKind::MultiInput), heuristics: m.heuristics });
        x = from;
    }
    steps.reverse();
    Explanation::Linked(steps)
}
