//! Forward trace: where did tainted value go? Transactions are processed in time order from
//! the seeds on (a min-heap of transaction ids: every input of a transaction was created
//! earlier, so its taint is final when the transaction is reached). Each transaction shares
//! its inputs' taint among its outputs with the chosen model; an output's taint then either
//! stops (at an attributed service, the hop limit, the time limit, below the dust amount, or
//! unspent) or moves on to the transaction spending it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use fundtrace_core::fasthash::{FastMap, FastSet};

use serde::Serialize;

use super::graph::FlowGraph;
use super::taint::{self, tainted, Label, Model, Segment, Taint};

/// A seed: value of an output tainted with a label (a victim, an incident).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Seed {
    pub output: u64,
    pub label: Label,
    /// Tainted satoshi of the output (its full value unless part of it was stolen).
    pub amount: u64,
}

#[derive(Clone, Debug)]
pub struct ForwardOptions {
    pub model: Model,
    /// Outputs this many transactions from a seed are not followed further.
    pub max_hops: u32,
    /// Taint below this many satoshi in an output is dropped as dust.
    pub min_amount: u64,
    /// Transactions after this height are not followed.
    pub until_height: Option<u64>,
    /// Safety limit on transactions processed (poison taint grows without bound).
    pub max_txs: usize,
}

impl Default for ForwardOptions {
    fn default() -> Self {
        ForwardOptions { model: Model::Haircut, max_hops: 20, min_amount: 1_000, until_height: None, max_txs: 1_000_000 }
    }
}

/// Why taint stopped in an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Reached an attributed entity where the trail ends (the entity key).
    Entity(u32),
    /// Not spent (yet): still held at the address.
    Unspent,
    HopLimit,
    TimeLimit,
    /// Below `min_amount`.
    Dust,
}

/// An output carrying taint, and where its taint went.
#[derive(Clone, Debug, Serialize)]
pub struct FlowOutput {
    pub output: u64,
    pub tx: u64,
    pub address: Option<u32>,
    pub value: u64,
    pub taint: Taint,
    pub hop: u32,
    /// `None` while the taint moved on to the spending transaction.
    pub stop: Option<Stop>,
    pub spender: Option<u64>,
}

/// A transaction the taint passed through.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct FlowTx {
    pub tx: u64,
    pub hop: u32,
    pub tainted_in: u64,
    pub tainted_out: u64,
    pub fee_taint: u64,
}

/// Taint that reached one entity.
#[derive(Clone, Debug, Serialize)]
pub struct Endpoint {
    pub entity: u32,
    pub amount: u64,
    pub by_label: Vec<(Label, u64)>,
    pub transfers: u32,
    pub first_tx: u64,
    pub first_hop: u32,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ForwardTrace {
    pub model: Option<Model>,
    pub seeded: u64,
    /// Seed amounts not applied because earlier traced taint already held that value.
    pub seed_overlap: u64,
    pub txs: Vec<FlowTx>,
    /// Every output that carried taint (seeds included), in the order reached.
    pub outputs: Vec<FlowOutput>,
    pub endpoints: Vec<Endpoint>,
    pub fees: u64,
    pub unspent: u64,
    pub hop_limited: u64,
    pub time_limited: u64,
    pub dust: u64,
    /// Distinct addresses that ever held taint (Anderson et al.'s measure of spread).
    pub tainted_addresses: u64,
    /// The `max_txs` limit cut the trace short.
    pub truncated: bool,
}

impl ForwardTrace {
    /// Σ endpoints + fees + unspent + limits + dust: equals `seeded` for conserving models.
    pub fn accounted(&self) -> u64 {
        self.endpoints.iter().map(|e| e.amount).sum::<u64>() + self.fees + self.unspent + self.hop_limited + self.time_limited + self.dust
    }
}

/// Follows `seeds` forward. `stop_at(address)` names the entity where taint arriving at that
/// address stops (an exchange, a mixer...), if any.
pub fn forward(g: &impl FlowGraph, seeds: &[Seed], opts: &ForwardOptions, stop_at: &dyn Fn(u32) -> Option<u32>) -> ForwardTrace {
    let mut t = ForwardTrace { model: Some(opts.model), ..Default::default() };
    // Live taint: output -> (taint, hop). Outputs leave the map when their spender runs.
    let mut live: FastMap<u64, (Taint, u32)> = FastMap::default();
    let mut heap: BinaryHeap<Reverse<u64>> = BinaryHeap::new();
    let mut queued: FastSet<u64> = FastSet::default();
    let mut addresses: FastSet<u32> = FastSet::default();
    let mut endpoints: FastMap<u32, Endpoint> = FastMap::default();

    // Seeds take effect when their creating transaction is processed, on top of any taint
    // that transaction already passes on: the earlier taint keeps its place (TaintChain's
    // collision rule) and the seed taints only the rest of the output.
    let mut overlay: FastMap<u64, Vec<(Label, u64)>> = FastMap::default();
    for s in seeds {
        // Several seeds may name one output (two victims' coins in one UTXO): in order.
        overlay.entry(s.output).or_default().push((s.label, s.amount));
        let tx = g.creator(s.output);
        if queued.insert(tx) {
            heap.push(Reverse(tx));
        }
    }

    let mut ins: Vec<(u64, u64)> = Vec::new();
    while let Some(Reverse(tx)) = heap.pop() {
        if t.txs.len() >= opts.max_txs {
            t.truncated = true;
            // What is still live counts as held where it is.
            for (_, (taint, _)) in live.drain() {
                t.unspent += tainted(&taint);
            }
            break;
        }
        g.inputs(tx, &mut ins);
        let mut hop = u32::MAX;
        let mut states: Vec<Taint> = Vec::with_capacity(ins.len());
        for &(o, _) in &ins {
            match live.remove(&o) {
                Some((taint, h)) => {
                    hop = hop.min(h + 1);
                    states.push(taint);
                }
                None => states.push(Taint::new()),
            }
        }
        let inputs: Vec<(u64, &[Segment])> = ins.iter().zip(&states).map(|(&(_, v), s)| (v, s.as_slice())).collect();
        let outs: Vec<u64> = g.outputs(tx).collect();
        let values: Vec<u64> = outs.iter().map(|&o| g.value(o)).collect();
        let (out_taint, fee_taint) = taint::transfer(opts.model, &inputs, &values);
        let tainted_in: u64 = states.iter().map(|s| tainted(s)).sum();
        let fee = tainted(&fee_taint);
        t.fees += fee;
        let mut tainted_out = 0;
        for ((o, mut taint), w) in outs.into_iter().zip(out_taint).zip(values) {
            let mut hop = hop;
            for (label, amount) in overlay.remove(&o).into_iter().flatten() {
                let added = seed(&mut taint, w, label, amount, opts.model);
                t.seeded += added;
                t.seed_overlap += amount - added;
                hop = 0;
            }
            let amount = tainted(&taint);
            if amount == 0 {
                continue;
            }
            tainted_out += amount;
            settle(g, &mut t, &mut live, &mut heap, &mut queued, &mut addresses, &mut endpoints, o, tx, taint, hop, opts, stop_at);
        }
        if tainted_in > 0 {
            t.txs.push(FlowTx { tx, hop, tainted_in, tainted_out, fee_taint: fee });
        }
    }
    t.tainted_addresses = addresses.len() as u64;
    let mut eps: Vec<Endpoint> = endpoints.into_values().collect();
    eps.sort_by_key(|e| (Reverse(e.amount), e.entity));
    t.endpoints = eps;
    if opts.model.conserves() && !t.truncated {
        debug_assert_eq!(t.accounted(), t.seeded, "forward trace lost or created taint");
    }
    t
}

/// Adds a seed of `amount` (label `label`) to an output of value `w` whose incoming taint is
/// `taint`; returns the amount actually seeded (what earlier taint left free).
fn seed(taint: &mut Taint, w: u64, label: Label, amount: u64, model: Model) -> u64 {
    let free = w - tainted(taint).min(w);
    let add = amount.min(free);
    if add == 0 {
        return 0;
    }
    if model.ordered() {
        if taint.is_empty() {
            taint.push(Segment { label: None, amount: w });
        }
        // The seed takes clean value from the front, as the first satoshi of the output.
        let mut left = add;
        let mut out = Taint::new();
        for s in taint.drain(..) {
            if s.label.is_none() && left > 0 {
                let n = s.amount.min(left);
                left -= n;
                out.push(Segment { label: Some(label), amount: n });
                if s.amount > n {
                    out.push(Segment { label: None, amount: s.amount - n });
                }
            } else {
                out.push(s);
            }
        }
        *taint = out;
    } else {
        taint.push(Segment { label: Some(label), amount: add });
    }
    add
}

/// Decides what happens to the taint of output `o` (created by `tx` at `hop`).
#[allow(clippy::too_many_arguments)]
fn settle(
    g: &impl FlowGraph,
    t: &mut ForwardTrace,
    live: &mut FastMap<u64, (Taint, u32)>,
    heap: &mut BinaryHeap<Reverse<u64>>,
    queued: &mut FastSet<u64>,
    addresses: &mut FastSet<u32>,
    endpoints: &mut FastMap<u32, Endpoint>,
    o: u64,
    tx: u64,
    taint: Taint,
    hop: u32,
    opts: &ForwardOptions,
    stop_at: &dyn Fn(u32) -> Option<u32>,
) {
    let amount = tainted(&taint);
    let address = g.address(o);
    if let Some(a) = address {
        addresses.insert(a);
    }
    let spender = g.spender(o);
    // Taint reaching an entity counts there whatever the amount; dust only ends open trails.
    let entity = address.and_then(stop_at);
    let stop = if let Some(e) = entity {
        let ep = endpoints.entry(e).or_insert(Endpoint { entity: e, amount: 0, by_label: Vec::new(), transfers: 0, first_tx: tx, first_hop: hop });
        ep.amount += amount;
        ep.transfers += 1;
        if tx < ep.first_tx {
            ep.first_tx = tx;
            ep.first_hop = hop;
        }
        for (l, a) in taint::by_label(&taint) {
            match ep.by_label.iter_mut().find(|x| x.0 == l) {
                Some(x) => x.1 += a,
                None => ep.by_label.push((l, a)),
            }
        }
        Some(Stop::Entity(e))
    } else if amount < opts.min_amount {
        t.dust += amount;
        Some(Stop::Dust)
    } else if hop >= opts.max_hops && spender.is_some() {
        t.hop_limited += amount;
        Some(Stop::HopLimit)
    } else {
        match spender {
            None => {
                t.unspent += amount;
                Some(Stop::Unspent)
            }
            Some(s) if opts.until_height.is_some_and(|h| g.when(s).0 > h) => {
                t.time_limited += amount;
                Some(Stop::TimeLimit)
            }
            Some(s) => {
                if queued.insert(s) {
                    heap.push(Reverse(s));
                }
                None
            }
        }
    };
    t.outputs.push(FlowOutput { output: o, tx, address, value: g.value(o), taint: taint.clone(), hop, stop, spender });
    if stop.is_none() {
        live.insert(o, (taint, hop));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::graph::MemGraph;

    /// A theft, a dispersion, a peel chain and an exchange: every satoshi accounted for.
    #[test]
    fn peel_chain_into_an_exchange_is_traced_and_conserved() {
        let mut g = MemGraph::default();
        let funding = g.tx(&[], &[(1, 10_000_000)]); // victim's coin (address 1)
        let theft = g.tx(&[g.outputs(funding).start], &[(2, 9_990_000)]); // thief address 2
        let split = g.tx(&[g.outputs(theft).start], &[(3, 5_000_000), (4, 4_980_000)]);
        // Address 3 peels 1 BTC-ish steps to exchange deposit addresses 100, 101.
        let s = g.outputs(split).start;
        let p1 = g.tx(&[s], &[(100, 1_000_000), (5, 3_990_000)]);
        let p2 = g.tx(&[g.outputs(p1).start + 1], &[(101, 1_000_000), (6, 2_980_000)]);
        let _ = p2;
        let stop = |a: u32| (a >= 100).then_some(7); // entity 7: the exchange
        let seeds = [Seed { output: g.outputs(theft).start, label: 0, amount: 9_990_000 }];
        for model in [Model::Haircut, Model::Fifo, Model::Lifo, Model::Tiho, Model::Seniority] {
            let t = forward(&g, &seeds, &ForwardOptions { model, min_amount: 1, ..Default::default() }, &stop);
            assert_eq!(t.seeded, 9_990_000);
            assert_eq!(t.accounted(), t.seeded, "{}", model.name());
            assert_eq!(t.endpoints.len(), 1);
            assert_eq!((t.endpoints[0].entity, t.endpoints[0].amount, t.endpoints[0].transfers), (7, 2_000_000, 2));
            assert_eq!(t.fees, 10_000 + 10_000 + 10_000, "split and both peels paid 0.0001 each");
            assert_eq!(t.unspent, 9_990_000 - 2_000_000 - 30_000);
            assert_eq!(t.endpoints[0].first_hop, 2);
            assert_eq!(t.tainted_addresses, 7, "thief, two split outputs, two peel changes, two deposits");
        }
        // Two seeds on one output: both count, up to the output's value, in order.
        let twice = [
            Seed { output: g.outputs(theft).start, label: 0, amount: 4_000_000 },
            Seed { output: g.outputs(theft).start, label: 1, amount: 7_000_000 },
        ];
        let t = forward(&g, &twice, &ForwardOptions { model: Model::Fifo, min_amount: 1, ..Default::default() }, &stop);
        assert_eq!((t.seeded, t.seed_overlap), (9_990_000, 1_010_000));
        assert_eq!(t.accounted(), t.seeded);
        // Hop limit 1: taint stops in the split's outputs.
        let t = forward(&g, &seeds, &ForwardOptions { max_hops: 1, min_amount: 1, ..Default::default() }, &stop);
        assert_eq!((t.hop_limited, t.endpoints.len()), (5_000_000, 0));
    }
}
