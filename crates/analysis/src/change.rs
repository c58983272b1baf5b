//! Change-output heuristics (methods.md §2.2, after BlockSci's change_address.cpp): each
//! returns the outputs it *cannot rule out* as the change, OP_RETURN outputs never included.
//! They compose with `&`, `|`, `-`, `unique(..)` and `agree(k, ..)` (see `expr`); clustering
//! uses a change output only when the composed set holds exactly one output.
//!
//! Static heuristics read only the transaction; dynamic ones (locktime, peeling chain, fixed
//! fee) also read the transactions spending its outputs, so their verdict can change as the
//! chain grows: clustering records the heuristics that held when it merged.

use fundtrace_store::Columns;
use serde::Serialize;

use crate::txview::TxView;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum Heuristic {
    /// Outputs to an address that is also an input address (self-change).
    AddressReuse = 0,
    /// If all inputs share a script type, the outputs of that type.
    AddressType = 1,
    /// Outputs worth less than the smallest input (else that input was not needed).
    OptimalChange = 2,
    /// Outputs whose value is not a multiple of 10^6 sat (round amounts are payments).
    PowerOfTen = 3,
    /// Outputs to an address seen for the first time (BlockSci's client_change_address_behavior).
    FreshAddress = 4,
    /// BlockSci's legacy: the unique output that is fresh, below the smallest input, in a
    /// non-CoinJoin with ≥ 2 spendable outputs.
    Legacy = 5,
    /// Outputs unspent, or spent by a transaction with the same locktime behaviour (> 0 or 0).
    Locktime = 6,
    /// In a peeling chain, the outputs unspent or spent by another peeling-chain transaction.
    PeelingChain = 7,
    /// Outputs unspent, or spent by a transaction paying the same fee per kB.
    FixedFee = 8,
    /// Meiklejohn et al.'s one-time change: the unique fresh output when there is no
    /// self-change and every other output was seen before.
    Meiklejohn = 9,
}

impl Heuristic {
    pub const ALL: [Heuristic; 10] = [
        Heuristic::AddressReuse,
        Heuristic::AddressType,
        Heuristic::OptimalChange,
        Heuristic::PowerOfTen,
        Heuristic::FreshAddress,
        Heuristic::Legacy,
        Heuristic::Locktime,
        Heuristic::PeelingChain,
        Heuristic::FixedFee,
        Heuristic::Meiklejohn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Heuristic::AddressReuse => "address_reuse",
            Heuristic::AddressType => "address_type",
            Heuristic::OptimalChange => "optimal_change",
            Heuristic::PowerOfTen => "power_of_ten",
            Heuristic::FreshAddress => "fresh_address",
            Heuristic::Legacy => "legacy",
            Heuristic::Locktime => "locktime",
            Heuristic::PeelingChain => "peeling_chain",
            Heuristic::FixedFee => "fixed_fee",
            Heuristic::Meiklejohn => "meiklejohn",
        }
    }

    pub fn from_name(s: &str) -> Option<Heuristic> {
        // BlockSci's own name for the fresh-address rule is accepted too.
        let s = if s == "client_change_address_behavior" {
            "fresh_address"
        } else {
            s
        };
        Self::ALL.into_iter().find(|h| h.name() == s)
    }

    /// How often the heuristic's unique candidate is truly the change: its precision measured
    /// on a simulated world (seed 11, 1M transactions; `fundtrace cluster evaluate --truth DIR
    /// --heuristics` reproduces it, BENCHMARKS.md records it). It describes the simulated
    /// wallets' behaviour, not the real chain's; a user weighing evidence should read it as
    /// a relative ranking of the heuristics.
    pub fn confidence(self) -> f64 {
        match self {
            Heuristic::AddressReuse => 1.0,
            Heuristic::AddressType => 0.81,
            Heuristic::OptimalChange => 0.81,
            Heuristic::PowerOfTen => 1.0,
            Heuristic::FreshAddress => 0.30,
            Heuristic::Legacy => 0.37,
            Heuristic::Locktime => 0.98,
            Heuristic::PeelingChain => 0.90,
            Heuristic::FixedFee => 0.46,
            Heuristic::Meiklejohn => 0.94,
        }
    }

    pub fn bit(self) -> u16 {
        1 << self as u8
    }

    /// Names of the heuristics in a bit mask.
    pub fn names(mask: u16) -> Vec<&'static str> {
        Self::ALL
            .into_iter()
            .filter(|h| mask & h.bit() != 0)
            .map(|h| h.name())
            .collect()
    }
}

/// What the heuristics know besides the transaction.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// Address ids at or above this were first seen in this transaction (the store numbers
    /// addresses in order of first appearance).
    pub first_new_address: u32,
    /// Whether a multi-party CoinJoin detector fired on the transaction.
    pub coinjoin: bool,
    /// The ledger, for dynamic heuristics; without it they see every output as unspent.
    pub ledger: Option<Columns<'a>>,
}

impl<'a> Context<'a> {
    /// The context of one transaction of the ledger, for queries outside a chain-order pass:
    /// an output address is fresh if that output is the address's first (no earlier output
    /// pays the same address), an O(1) look per output.
    pub fn for_tx(ledger: &'a fundtrace_store::Ledger, tx: &TxView, coinjoin: bool) -> Context<'a> {
        let outputs = ledger.outputs_of(fundtrace_core::TxId(tx.tx));
        let first_new_address = outputs
            .zip(&tx.outputs)
            .filter(|(o, _)| ledger.prev_same_address(fundtrace_core::OutputId(*o)).is_none())
            .filter_map(|(_, out)| out.address)
            .min()
            .unwrap_or(u32::MAX);
        Context {
            first_new_address,
            coinjoin,
            ledger: Some(ledger.columns()),
        }
    }
}

/// A set of output positions of one transaction.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OutSet(Vec<u64>);

impl OutSet {
    pub fn empty(n: usize) -> OutSet {
        OutSet(vec![0; n.div_ceil(64).max(1)])
    }
    pub fn from_fn(n: usize, mut f: impl FnMut(usize) -> bool) -> OutSet {
        let mut s = OutSet::empty(n);
        for i in 0..n {
            if f(i) {
                s.insert(i);
            }
        }
        s
    }
    pub fn insert(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    pub fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The only member, if there is exactly one.
    pub fn single(&self) -> Option<usize> {
        (self.len() == 1).then(|| self.iter().next().expect("one member"))
    }
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| w * 64 + b)
        })
    }
    fn zip(&self, other: &OutSet, f: impl Fn(u64, u64) -> u64) -> OutSet {
        OutSet(
            self.0
                .iter()
                .zip(&other.0)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        )
    }
    pub fn and(&self, o: &OutSet) -> OutSet {
        self.zip(o, |a, b| a & b)
    }
    pub fn or(&self, o: &OutSet) -> OutSet {
        self.zip(o, |a, b| a | b)
    }
    pub fn minus(&self, o: &OutSet) -> OutSet {
        self.zip(o, |a, b| a & !b)
    }
}

/// The candidate change outputs of `tx` under heuristic `h`.
pub fn candidates(h: Heuristic, tx: &TxView, ctx: &Context) -> OutSet {
    let n = tx.outputs.len();
    if tx.coinbase {
        return OutSet::empty(n);
    }
    let spendable = |i: usize| tx.outputs[i].spendable();
    let fresh = |i: usize| {
        tx.outputs[i]
            .address
            .is_some_and(|a| a >= ctx.first_new_address)
    };
    let min_input = tx.inputs.iter().map(|i| i.value).min().unwrap_or(0);
    let set = |f: &dyn Fn(usize) -> bool| OutSet::from_fn(n, |i| spendable(i) && f(i));
    match h {
        Heuristic::AddressReuse => set(&|i| {
            tx.outputs[i]
                .address
                .is_some_and(|a| tx.inputs.iter().any(|x| x.address == Some(a)))
        }),
        Heuristic::AddressType => {
            let t = tx.inputs[0].script_type;
            if tx.inputs.iter().all(|i| i.script_type == t) {
                set(&|i| tx.outputs[i].script_type == t)
            } else {
                OutSet::empty(n)
            }
        }
        Heuristic::OptimalChange => set(&|i| tx.outputs[i].value < min_input),
        Heuristic::PowerOfTen => set(&|i| !tx.outputs[i].value.is_multiple_of(1_000_000)),
        Heuristic::FreshAddress => set(&fresh),
        Heuristic::Legacy => {
            let spendable_count = (0..n).filter(|&i| spendable(i)).count();
            if ctx.coinjoin || spendable_count < 2 {
                return OutSet::empty(n);
            }
            let s = set(&|i| fresh(i) && tx.outputs[i].value < min_input);
            if s.len() == 1 {
                s
            } else {
                OutSet::empty(n)
            }
        }
        Heuristic::Meiklejohn => {
            let self_change = !candidates(Heuristic::AddressReuse, tx, ctx).is_empty();
            let fresh_set = set(&fresh);
            // (d) every other output was seen before: exactly one spendable output is fresh.
            if self_change || fresh_set.len() != 1 {
                OutSet::empty(n)
            } else {
                fresh_set
            }
        }
        Heuristic::Locktime => {
            let Some(c) = ctx.ledger else {
                return set(&|_| true);
            };
            let mine = tx.locktime > 0;
            set(&|i| match tx.outputs[i].spent_by {
                None => true,
                Some(input) => (c.tx_locktime[c.tx_of_input(input) as usize] > 0) == mine,
            })
        }
        Heuristic::PeelingChain => {
            let Some(c) = ctx.ledger else {
                return OutSet::empty(n);
            };
            if !is_peeling_chain(&c, tx.tx) {
                return OutSet::empty(n);
            }
            set(&|i| match tx.outputs[i].spent_by {
                None => true,
                Some(input) => is_peeling_chain(&c, c.tx_of_input(input)),
            })
        }
        Heuristic::FixedFee => {
            let Some(c) = ctx.ledger else {
                return set(&|_| true);
            };
            let rate = fee_per_kb(tx.fee(), tx.vsize);
            set(&|i| match tx.outputs[i].spent_by {
                None => true,
                Some(input) => {
                    let t = c.tx_of_input(input);
                    fee_per_kb(fee_of(&c, t), c.tx_weight[t as usize].div_ceil(4)) == rate
                }
            })
        }
    }
}

fn fee_per_kb(fee: u64, vsize: u32) -> u64 {
    fee * 1000 / (vsize.max(1) as u64)
}

/// Fee of transaction `t` read from the columns (0 for a coinbase).
fn fee_of(c: &Columns, t: u64) -> u64 {
    let mut in_sum = 0u64;
    for i in c.inputs_of(t) {
        let o = c.in_spent[i as usize];
        if o == u64::MAX {
            return 0;
        }
        in_sum += c.out_value[o as usize];
    }
    let out_sum: u64 = c.outputs_of(t).map(|o| c.out_value[o as usize]).sum();
    in_sum.saturating_sub(out_sum)
}

/// BlockSci's `looksLikePeelingChain`: one input, two outputs (raw counts, OP_RETURN
/// included). A coinbase never qualifies: BlockSci stores it with no inputs.
pub fn looks_like_peel(c: &Columns, t: u64) -> bool {
    let ins = c.inputs_of(t);
    ins.end - ins.start == 1
        && c.in_spent[ins.start as usize] != u64::MAX
        && c.outputs_of(t).count() == 2
}

/// BlockSci's `isPeelingChain`: transaction `t` looks like a peel step and so does its parent
/// (the transaction whose output it spends) or one of its spending children.
pub fn is_peeling_chain(c: &Columns, t: u64) -> bool {
    looks_like_peel(c, t) && {
        let parent = c.tx_of_output(c.in_spent[c.inputs_of(t).start as usize]);
        looks_like_peel(c, parent)
            || c.outputs_of(t)
                .filter_map(|o| c.spent_by(o))
                .any(|i| looks_like_peel(c, c.tx_of_input(i)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fundtrace_core::ScriptType::*;

    fn ctx(first_new_address: u32) -> Context<'static> {
        Context {
            first_new_address,
            coinjoin: false,
            ledger: None,
        }
    }

    /// A payment of 0.3 BTC from two P2WPKH inputs (addresses 1, 2) with change 0.1234567 to
    /// fresh address 50 and the payment to address 7, seen before (ids < 10 are old).
    fn payment() -> TxView {
        TxView::new(
            100,
            &[(20_000_000, P2wpkh, Some(1)), (25_000_000, P2wpkh, Some(2))],
            &[
                (30_000_000, P2pkh, Some(7)),
                (12_345_670, P2wpkh, Some(50)),
                (0, OpReturn, None),
            ],
        )
    }

    fn names(h: Heuristic, tx: &TxView, c: &Context) -> Vec<usize> {
        candidates(h, tx, c).iter().collect()
    }

    #[test]
    fn static_heuristics_on_a_payment() {
        let tx = payment();
        let c = ctx(10);
        assert_eq!(names(Heuristic::AddressReuse, &tx, &c), Vec::<usize>::new());
        assert_eq!(names(Heuristic::AddressType, &tx, &c), vec![1]);
        assert_eq!(names(Heuristic::OptimalChange, &tx, &c), vec![1]);
        assert_eq!(names(Heuristic::PowerOfTen, &tx, &c), vec![1]);
        assert_eq!(names(Heuristic::FreshAddress, &tx, &c), vec![1]);
        assert_eq!(names(Heuristic::Legacy, &tx, &c), vec![1]);
        assert_eq!(names(Heuristic::Meiklejohn, &tx, &c), vec![1]);
        // Without a ledger every output counts as unspent for the dynamic ones.
        assert_eq!(names(Heuristic::Locktime, &tx, &c), vec![0, 1]);
        assert_eq!(names(Heuristic::PeelingChain, &tx, &c), Vec::<usize>::new());
        // In a CoinJoin, legacy names nothing.
        let cj = Context {
            coinjoin: true,
            ..c
        };
        assert!(candidates(Heuristic::Legacy, &tx, &cj).is_empty());
    }

    #[test]
    fn self_change_and_two_fresh_outputs() {
        // Change back to input address 1: address reuse finds it, Meiklejohn refuses (c).
        let tx = TxView::new(
            5,
            &[(10_000, P2pkh, Some(1))],
            &[(6_000, P2pkh, Some(8)), (3_000, P2pkh, Some(1))],
        );
        assert_eq!(names(Heuristic::AddressReuse, &tx, &ctx(10)), vec![1]);
        assert!(candidates(Heuristic::Meiklejohn, &tx, &ctx(10)).is_empty());
        // Two fresh outputs: fresh_address names both, legacy and Meiklejohn neither.
        let tx = TxView::new(
            5,
            &[(10_000, P2pkh, Some(1))],
            &[(6_000, P2pkh, Some(11)), (3_000, P2pkh, Some(12))],
        );
        assert_eq!(names(Heuristic::FreshAddress, &tx, &ctx(10)), vec![0, 1]);
        assert!(candidates(Heuristic::Legacy, &tx, &ctx(10)).is_empty());
        assert!(candidates(Heuristic::Meiklejohn, &tx, &ctx(10)).is_empty());
        // Mixed input types: address_type has no opinion.
        let tx = TxView::new(
            5,
            &[(10_000, P2pkh, Some(1)), (10_000, P2wpkh, Some(2))],
            &[(6_000, P2pkh, Some(11))],
        );
        assert!(candidates(Heuristic::AddressType, &tx, &ctx(10)).is_empty());
    }

    #[test]
    fn outsets_compose() {
        let a = OutSet::from_fn(70, |i| i % 2 == 0);
        let b = OutSet::from_fn(70, |i| i % 3 == 0);
        assert_eq!(
            a.and(&b).iter().collect::<Vec<_>>(),
            (0..70).filter(|i| i % 6 == 0).collect::<Vec<_>>()
        );
        assert_eq!(
            a.or(&b).len(),
            (0..70).filter(|i| i % 2 == 0 || i % 3 == 0).count()
        );
        assert_eq!(
            a.minus(&b).iter().collect::<Vec<_>>(),
            (0..70)
                .filter(|i| i % 2 == 0 && i % 3 != 0)
                .collect::<Vec<_>>()
        );
        assert_eq!(OutSet::from_fn(70, |i| i == 66).single(), Some(66));
        assert_eq!(
            Heuristic::from_name("client_change_address_behavior"),
            Some(Heuristic::FreshAddress)
        );
    }
}
