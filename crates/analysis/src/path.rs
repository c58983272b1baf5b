//! Value paths between two entities: chains of transactions, each later than the one
//! before, that moved value from one to the other, ranked by the smallest amount along the
//! chain (the most that can have flowed end to end). Nodes are clusters (or addresses);
//! large service clusters are not crossed, since every path through an exchange is a path
//! through its whole customer base and says nothing.

use std::collections::{BinaryHeap, HashMap};

use serde::Serialize;

use crate::trace::FlowGraph;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PathStep {
    pub from: u32,
    pub to: u32,
    pub tx: u64,
    /// Value the transaction paid from `from` to `to`.
    pub value: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ValuePath {
    pub steps: Vec<PathStep>,
    /// The smallest step value.
    pub bottleneck: u64,
}

pub struct PathOptions {
    pub max_hops: u32,
    /// Paths to return.
    pub paths: usize,
    /// Labels kept per node (search breadth).
    pub per_node: usize,
}

impl Default for PathOptions {
    fn default() -> Self {
        PathOptions { max_hops: 6, paths: 5, per_node: 4 }
    }
}

/// Where the search may go: the node of an address, the addresses of a node, and whether a
/// node may be crossed (not the endpoints, which are always allowed).
pub trait Nodes {
    fn node_of(&self, address: u32) -> u32;
    fn addresses_of(&self, node: u32, out: &mut Vec<u32>);
    fn crossable(&self, node: u32) -> bool;
}

#[derive(Clone)]
struct Label {
    node: u32,
    /// Transaction that reached the node (later steps must be later transactions).
    after: u64,
    bottleneck: u64,
    steps: Vec<PathStep>,
}

impl PartialEq for Label {
    fn eq(&self, o: &Self) -> bool {
        self.bottleneck == o.bottleneck && self.steps.len() == o.steps.len()
    }
}
impl Eq for Label {}
impl PartialOrd for Label {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Label {
    /// Wider first, then shorter.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.bottleneck.cmp(&o.bottleneck).then(o.steps.len().cmp(&self.steps.len()))
    }
}

/// The widest time-respecting paths from node `from` to node `to`.
pub fn find(g: &impl FlowGraph, nodes: &impl Nodes, from: u32, to: u32, opts: &PathOptions) -> Vec<ValuePath> {
    let mut found = Vec::new();
    let mut heap = BinaryHeap::from([Label { node: from, after: 0, bottleneck: u64::MAX, steps: Vec::new() }]);
    let mut settled: HashMap<u32, usize> = HashMap::new();
    let (mut addrs, mut outs) = (Vec::new(), Vec::new());
    while let Some(l) = heap.pop() {
        if l.node == to && !l.steps.is_empty() {
            found.push(ValuePath { bottleneck: l.bottleneck, steps: l.steps });
            if found.len() >= opts.paths {
                break;
            }
            continue;
        }
        let n = settled.entry(l.node).or_insert(0);
        if *n >= opts.per_node || l.steps.len() as u32 >= opts.max_hops {
            continue;
        }
        *n += 1;
        if l.node != from && !nodes.crossable(l.node) {
            continue;
        }
        // Every transaction spending the node's coins after it got them, and whom it paid.
        nodes.addresses_of(l.node, &mut addrs);
        let mut paid: HashMap<(u64, u32), u64> = HashMap::new();
        let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
        for &a in &addrs {
            g.outputs_to(a, &mut outs);
            for &o in &outs {
                let Some(tx) = g.spender(o) else { continue };
                if tx <= l.after || !seen.insert(tx) {
                    continue;
                }
                for x in g.outputs(tx) {
                    let Some(b) = g.address(x) else { continue };
                    let node = nodes.node_of(b);
                    if node != l.node {
                        *paid.entry((tx, node)).or_default() += g.value(x);
                    }
                }
            }
        }
        for ((tx, node), value) in paid {
            if node == l.node || value == 0 || l.steps.iter().any(|s| s.from == node) {
                continue;
            }
            let mut steps = l.steps.clone();
            steps.push(PathStep { from: l.node, to: node, tx, value });
            heap.push(Label { node, after: tx, bottleneck: l.bottleneck.min(value), steps });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::MemGraph;

    struct Plain;
    impl Nodes for Plain {
        fn node_of(&self, a: u32) -> u32 {
            a
        }
        fn addresses_of(&self, n: u32, out: &mut Vec<u32>) {
            out.clear();
            out.push(n);
        }
        fn crossable(&self, n: u32) -> bool {
            n != 9 // 9 is a big exchange
        }
    }

    #[test]
    fn widest_time_respecting_paths_avoid_hubs() {
        let mut g = MemGraph::default();
        let mint = g.tx(&[], &[(1, 100), (1, 100)]);
        let m = g.outputs(mint).start;
        // 1 -> 2 (60) -> 4 (50): bottleneck 50.
        let a = g.tx(&[m], &[(2, 60), (1, 40)]);
        let b = g.tx(&[g.outputs(a).start], &[(4, 50), (2, 10)]);
        // 1 -> 3 (90) -> 4 (5): bottleneck 5.
        let c = g.tx(&[m + 1], &[(3, 90), (1, 10)]);
        let _d = g.tx(&[g.outputs(c).start], &[(4, 5), (3, 85)]);
        // 1 -> 9 (exchange) -> 4: not crossed.
        let e = g.tx(&[g.outputs(a).start + 1], &[(9, 40)]);
        let _f = g.tx(&[g.outputs(e).start], &[(4, 40)]);
        // A payment from 3 to 4 made *before* 3 was paid would not count; none here.
        let paths = find(&g, &Plain, 1, 4, &PathOptions::default());
        let shape: Vec<(Vec<u32>, u64)> = paths.iter().map(|p| (p.steps.iter().map(|s| s.to).collect(), p.bottleneck)).collect();
        assert_eq!(shape, vec![(vec![2, 4], 50), (vec![3, 4], 5)]);
        assert_eq!(paths[0].steps.iter().map(|s| s.tx).collect::<Vec<_>>(), vec![a, b]);
    }
}
