//! Taint models (methods.md §1): how the taint carried by a transaction's inputs is shared
//! among its outputs and its fee. One function, `transfer`, serves both ledger models: a
//! UTXO transaction is inputs → outputs; an account transfer is the account's balance → the
//! payment and the remaining balance (see `Account`), which gives worked example B exactly.
//!
//! Taint is a list of segments `(label, amount)`; `label` names the seed (victim, incident)
//! and `None` is clean value. Value-conserving models keep every input satoshi in exactly
//! one output or the fee, and `transfer` asserts it. Integer satoshi throughout.
//!
//! Haircut rounding (documented, deterministic): each recipient (outputs, then the fee) gets
//! ⌊w·τ/V⌋ of each label; the satoshi left over go one each to the recipients with the
//! largest remainders (ties: lower position), never beyond a recipient's value. So taint is
//! conserved exactly, where BlockSci truncates and drops the residue beyond the fee.

use serde::Serialize;

/// Index of a seed (victim, incident, case) in the trace's list of seeds.
pub type Label = u32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// `None`: clean value.
    pub label: Option<Label>,
    pub amount: u64,
}

/// The taint of one output (or balance): segments in order, summing to its value for the
/// ordering models; only the tainted amounts for haircut and poison (clean is the rest).
pub type Taint = Vec<Segment>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// Any taint in, every output fully tainted (Möser et al.; BlockSci getPoisonTainted).
    Poison,
    /// Pro rata (BlockSci getHaircutTainted), with exact conservation (see module docs).
    Haircut,
    /// First in, first out, in input then output order (Clayton's Case; TaintChain).
    Fifo,
    /// Last in, first out: the FIFO queue consumed from the back [P].
    Lifo,
    /// Taint in highest out: the largest outputs take the taint first [P].
    Tiho,
    /// Taint first: tainted segments move to the front of the queue, then FIFO [P].
    Seniority,
}

impl Model {
    pub const ALL: [Model; 6] = [Model::Poison, Model::Haircut, Model::Fifo, Model::Lifo, Model::Tiho, Model::Seniority];

    pub fn name(self) -> &'static str {
        match self {
            Model::Poison => "poison",
            Model::Haircut => "haircut",
            Model::Fifo => "fifo",
            Model::Lifo => "lifo",
            Model::Tiho => "tiho",
            Model::Seniority => "seniority",
        }
    }

    pub fn from_name(s: &str) -> Option<Model> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }

    /// Whether every input satoshi's taint lands in exactly one place (all but poison).
    pub fn conserves(self) -> bool {
        self != Model::Poison
    }

    /// Whether the model keeps ordered segments (clean ones included).
    pub fn ordered(self) -> bool {
        matches!(self, Model::Fifo | Model::Lifo | Model::Tiho | Model::Seniority)
    }
}

/// Tainted amount of a taint (all labels).
pub fn tainted(t: &[Segment]) -> u64 {
    t.iter().filter(|s| s.label.is_some()).map(|s| s.amount).sum()
}

/// Tainted amount per label.
pub fn by_label(t: &[Segment]) -> impl Iterator<Item = (Label, u64)> + '_ {
    t.iter().filter_map(|s| s.label.map(|l| (l, s.amount)))
}

fn push(t: &mut Taint, label: Option<Label>, amount: u64) {
    if amount == 0 {
        return;
    }
    match t.last_mut() {
        Some(last) if last.label == label => last.amount += amount,
        _ => t.push(Segment { label, amount }),
    }
}

/// The full segment list of an input of value `value` whose tainted segments are `t` (for
/// haircut/poison states, the clean remainder goes last).
fn full(value: u64, t: &[Segment], ordered: bool) -> Taint {
    let mut out = Taint::new();
    if ordered {
        for s in t {
            push(&mut out, s.label, s.amount);
        }
        let have: u64 = t.iter().map(|s| s.amount).sum();
        push(&mut out, None, value.saturating_sub(have));
    } else {
        for s in t.iter().filter(|s| s.label.is_some()) {
            push(&mut out, s.label, s.amount);
        }
        push(&mut out, None, value.saturating_sub(tainted(t)));
    }
    out
}

/// Takes `amount` from the front of `q` (segments in order).
fn take_front(q: &mut std::collections::VecDeque<Segment>, mut amount: u64) -> Taint {
    let mut out = Taint::new();
    while amount > 0 {
        let Some(front) = q.front_mut() else { break };
        let n = front.amount.min(amount);
        push(&mut out, front.label, n);
        front.amount -= n;
        amount -= n;
        if front.amount == 0 {
            q.pop_front();
        }
    }
    out
}

/// Takes `amount` from the back of `q`, keeping the taken segments in their original order.
fn take_back(q: &mut std::collections::VecDeque<Segment>, mut amount: u64) -> Taint {
    let mut rev = Taint::new();
    while amount > 0 {
        let Some(back) = q.back_mut() else { break };
        let n = back.amount.min(amount);
        rev.push(Segment { label: back.label, amount: n });
        back.amount -= n;
        amount -= n;
        if back.amount == 0 {
            q.pop_back();
        }
    }
    let mut out = Taint::new();
    for s in rev.into_iter().rev() {
        push(&mut out, s.label, s.amount);
    }
    out
}

/// Shares the inputs' taint among outputs and fee. `inputs` are (value, taint); `outputs`
/// are values; the fee is what the inputs hold beyond the outputs. A coinbase has no inputs
/// and taints nothing. Returns the outputs' taints and the fee's.
pub fn transfer(model: Model, inputs: &[(u64, &[Segment])], outputs: &[u64]) -> (Vec<Taint>, Taint) {
    let v_in: u64 = inputs.iter().map(|i| i.0).sum();
    let v_out: u64 = outputs.iter().sum();
    let fee = v_in.saturating_sub(v_out);
    let any_taint = inputs.iter().any(|(_, t)| tainted(t) > 0);
    if !any_taint {
        return (vec![Taint::new(); outputs.len()], Taint::new());
    }
    let result = match model {
        Model::Poison => {
            let mut labels: Vec<Label> = inputs.iter().flat_map(|(_, t)| by_label(t).map(|(l, _)| l)).collect();
            labels.sort_unstable();
            labels.dedup();
            let flag = |w: u64| labels.iter().map(|&l| Segment { label: Some(l), amount: w }).filter(|s| s.amount > 0).collect();
            (outputs.iter().map(|&w| flag(w)).collect(), flag(fee))
        }
        Model::Haircut => haircut(inputs, outputs, fee, v_in),
        Model::Fifo | Model::Lifo | Model::Seniority => {
            let mut q: std::collections::VecDeque<Segment> =
                inputs.iter().flat_map(|&(v, t)| full(v, t, true)).collect();
            if model == Model::Seniority {
                // Stable partition: tainted segments first, each group in its own order.
                let (dirty, clean): (Vec<Segment>, Vec<Segment>) = q.into_iter().partition(|s| s.label.is_some());
                q = dirty.into_iter().chain(clean).collect();
            }
            let take = |q: &mut std::collections::VecDeque<Segment>, w| if model == Model::Lifo { take_back(q, w) } else { take_front(q, w) };
            let outs: Vec<Taint> = outputs.iter().map(|&w| take(&mut q, w)).collect();
            let fee_t = take(&mut q, fee);
            (outs, fee_t)
        }
        Model::Tiho => {
            // Tainted segments in queue order, poured into outputs from the largest down.
            let mut q: std::collections::VecDeque<Segment> =
                inputs.iter().flat_map(|&(v, t)| full(v, t, true)).filter(|s| s.label.is_some()).collect();
            let mut order: Vec<usize> = (0..outputs.len()).collect();
            order.sort_by_key(|&k| (std::cmp::Reverse(outputs[k]), k));
            let mut outs = vec![Taint::new(); outputs.len()];
            for k in order {
                let mut t = take_front(&mut q, outputs[k]);
                let dirty = tainted(&t);
                push(&mut t, None, outputs[k] - dirty);
                outs[k] = t;
            }
            let mut fee_t = take_front(&mut q, fee);
            let dirty = tainted(&fee_t);
            push(&mut fee_t, None, fee - dirty);
            (outs, fee_t)
        }
    };
    if model.conserves() {
        let t_in: u64 = inputs.iter().map(|(_, t)| tainted(t)).sum();
        let t_out: u64 = result.0.iter().map(|t| tainted(t)).sum::<u64>() + tainted(&result.1);
        assert_eq!(t_in.min(v_in), t_out, "{} did not conserve taint", model.name());
    }
    result
}

fn haircut(inputs: &[(u64, &[Segment])], outputs: &[u64], fee: u64, v_in: u64) -> (Vec<Taint>, Taint) {
    // Recipients: outputs, then the fee.
    let values: Vec<u64> = outputs.iter().copied().chain(std::iter::once(fee)).collect();
    let mut per_label: Vec<(Label, u64)> = Vec::new();
    for (_, t) in inputs {
        for (l, a) in by_label(t) {
            match per_label.iter_mut().find(|(x, _)| *x == l) {
                Some(e) => e.1 += a,
                None => per_label.push((l, a)),
            }
        }
    }
    per_label.sort_unstable_by_key(|e| e.0);
    // BlockSci caps the tainted total at the input value (taint cannot exceed value).
    let mut room = v_in;
    let mut capacity: Vec<u64> = values.clone();
    let mut shares: Vec<Taint> = vec![Taint::new(); values.len()];
    for (label, amount) in per_label {
        let tau = amount.min(room);
        room -= tau;
        let mut given = vec![0u64; values.len()];
        let mut rem: Vec<(u128, usize)> = Vec::with_capacity(values.len());
        let mut left = tau;
        for (k, &w) in values.iter().enumerate() {
            let exact = w as u128 * tau as u128;
            let g = ((exact / v_in.max(1) as u128) as u64).min(capacity[k]);
            given[k] = g;
            left -= g;
            rem.push((exact % v_in.max(1) as u128, k));
        }
        rem.sort_by_key(|&(r, k)| (std::cmp::Reverse(r), k));
        // Largest remainders first; a second round covers capacity clipped by other labels.
        while left > 0 {
            let before = left;
            for &(_, k) in &rem {
                if left == 0 {
                    break;
                }
                if given[k] < capacity[k] {
                    given[k] += 1;
                    left -= 1;
                }
            }
            assert!(left < before, "haircut: no room left for taint");
        }
        for k in 0..values.len() {
            capacity[k] -= given[k];
            push(&mut shares[k], Some(label), given[k]);
        }
    }
    let fee_t = shares.pop().unwrap_or_default();
    (shares, fee_t)
}

/// An account's balance under a taint model (ETH, Tron, bank accounts: methods.md §1.4).
/// Deposits join the balance in time order; a withdrawal is a transfer from the balance to
/// the payee and to the remaining balance, so every model applies unchanged.
#[derive(Clone, Debug)]
pub struct Account {
    pub model: Model,
    pub balance: u64,
    pub taint: Taint,
}

impl Account {
    pub fn new(model: Model) -> Account {
        Account { model, balance: 0, taint: Taint::new() }
    }

    pub fn deposit(&mut self, amount: u64, taint: &[Segment]) {
        let (outs, _) = transfer(self.model, &[(self.balance, &self.taint), (amount, taint)], &[self.balance + amount]);
        self.balance += amount;
        self.taint = outs.into_iter().next().unwrap_or_default();
        if self.model.ordered() && self.taint.is_empty() {
            self.taint = full(self.balance, &[], true);
        }
    }

    /// Pays `amount` out; returns the taint it carries.
    pub fn withdraw(&mut self, amount: u64) -> Taint {
        let amount = amount.min(self.balance);
        let (mut outs, _) = transfer(self.model, &[(self.balance, &self.taint)], &[amount, self.balance - amount]);
        self.balance -= amount;
        self.taint = outs.pop().unwrap_or_default();
        outs.pop().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BTC: u64 = 100_000_000;
    const D: Option<Label> = Some(0);
    const C: Option<Label> = None;

    fn seg(label: Option<Label>, btc_tenths: u64) -> Segment {
        Segment { label, amount: btc_tenths * BTC / 10 }
    }

    /// Worked example A (methods.md §1.3): inputs 3.0 D then 7.0 C; outputs 2.0, 5.0, 2.9; fee 0.1.
    fn example_a(model: Model, swapped: bool) -> (Vec<Taint>, Taint) {
        let dirty = [seg(D, 30)];
        let clean: [Segment; 0] = [];
        let outs = [2 * BTC, 5 * BTC, 29 * BTC / 10];
        if swapped {
            transfer(model, &[(7 * BTC, &clean), (3 * BTC, &dirty)], &outs)
        } else {
            transfer(model, &[(3 * BTC, &dirty), (7 * BTC, &clean)], &outs)
        }
    }

    /// Haircut and poison states keep only tainted segments.
    fn dirty(t: &Taint) -> u64 {
        tainted(t)
    }

    #[test]
    fn worked_example_a_every_model() {
        // Poison: everything flagged, fee included.
        let (o, f) = example_a(Model::Poison, false);
        assert_eq!(o.iter().map(dirty).collect::<Vec<_>>(), vec![2 * BTC, 5 * BTC, 29 * BTC / 10]);
        assert_eq!(dirty(&f), BTC / 10);
        // Haircut: 0.60, 1.50, 0.87, fee 0.03.
        let (o, f) = example_a(Model::Haircut, false);
        assert_eq!(o.iter().map(dirty).collect::<Vec<_>>(), vec![60_000_000, 150_000_000, 87_000_000]);
        assert_eq!(dirty(&f), 3_000_000);
        // FIFO: 2.0 D | 1.0 D + 4.0 C | 2.9 C | fee 0.1 C.
        let (o, f) = example_a(Model::Fifo, false);
        assert_eq!(o, vec![vec![seg(D, 20)], vec![seg(D, 10), seg(C, 40)], vec![seg(C, 29)]]);
        assert_eq!(f, vec![seg(C, 1)]);
        // LIFO: 2.0 C | 5.0 C | 2.9 D | fee 0.1 D.
        let (o, f) = example_a(Model::Lifo, false);
        assert_eq!(o, vec![vec![seg(C, 20)], vec![seg(C, 50)], vec![seg(D, 29)]]);
        assert_eq!(f, vec![seg(D, 1)]);
        // TIHO: 2.0 C | 3.0 D + 2.0 C | 2.9 C | fee 0.1 C.
        let (o, f) = example_a(Model::Tiho, false);
        assert_eq!(o, vec![vec![seg(C, 20)], vec![seg(D, 30), seg(C, 20)], vec![seg(C, 29)]]);
        assert_eq!(f, vec![seg(C, 1)]);
        // Seniority: same as FIFO here, D already first.
        assert_eq!(example_a(Model::Seniority, false), example_a(Model::Fifo, false));
    }

    #[test]
    fn swapped_inputs_separate_fifo_from_seniority() {
        // FIFO: o1 0 D, o2 5 C, o3 2.9 D, fee 0.1 D.
        let (o, f) = example_a(Model::Fifo, true);
        assert_eq!(o, vec![vec![seg(C, 20)], vec![seg(C, 50)], vec![seg(D, 29)]]);
        assert_eq!(f, vec![seg(D, 1)]);
        // Seniority is unchanged by the order of the inputs.
        assert_eq!(example_a(Model::Seniority, true), example_a(Model::Seniority, false));
    }

    /// Worked example B (methods.md §1.4): A receives 3 D then 7 C, pays 2 to X, 5 to Y, 2.9 to Z.
    #[test]
    fn worked_example_b_accounts() {
        let expect: [(Model, [u64; 4]); 4] = [
            (Model::Poison, [2 * BTC, 5 * BTC, 29 * BTC / 10, BTC / 10]),
            (Model::Haircut, [60_000_000, 150_000_000, 87_000_000, 3_000_000]),
            (Model::Fifo, [2 * BTC, BTC, 0, 0]),
            (Model::Lifo, [0, 0, 29 * BTC / 10, BTC / 10]),
        ];
        for (model, [x, y, z, rest]) in expect {
            let mut a = Account::new(model);
            a.deposit(3 * BTC, &[seg(D, 30)]);
            a.deposit(7 * BTC, &[]);
            let got = [dirty(&a.withdraw(2 * BTC)), dirty(&a.withdraw(5 * BTC)), dirty(&a.withdraw(29 * BTC / 10))];
            assert_eq!(got, [x, y, z], "{}", model.name());
            assert_eq!((a.balance, dirty(&a.taint)), (BTC / 10, rest), "{} remaining", model.name());
        }
    }

    #[test]
    fn haircut_conserves_exactly_with_awkward_numbers_and_labels() {
        // 3 outputs of 1 sat each and a fee of 1 from 4 sat, 1 tainted by each of two labels
        // and 1 by a third: floors are all 0, remainders decide, nothing is lost.
        let t = [Segment { label: Some(0), amount: 1 }, Segment { label: Some(1), amount: 1 }, Segment { label: Some(2), amount: 1 }];
        let (o, f) = transfer(Model::Haircut, &[(4, &t)], &[1, 1, 1]);
        let total: u64 = o.iter().map(dirty).sum::<u64>() + dirty(&f);
        assert_eq!(total, 3);
        assert!(o.iter().all(|t| dirty(t) <= 1) && dirty(&f) <= 1, "no recipient beyond its value");
        // Fully tainted by two labels: every recipient fully tainted, sums exact per label.
        let t = [Segment { label: Some(0), amount: 7 }, Segment { label: Some(1), amount: 3 }];
        let (o, f) = transfer(Model::Haircut, &[(10, &t)], &[3, 3, 3]);
        assert!(o.iter().all(|t| dirty(t) == 3) && dirty(&f) == 1);
        let l0: u64 = o.iter().chain(std::iter::once(&f)).flat_map(|t| by_label(t)).filter(|x| x.0 == 0).map(|x| x.1).sum();
        assert_eq!(l0, 7);
    }

    #[test]
    fn fifo_keeps_labels_of_several_victims_apart() {
        let a = [Segment { label: Some(0), amount: 5 }];
        let b = [Segment { label: Some(1), amount: 5 }];
        let (o, _) = transfer(Model::Fifo, &[(5, &a), (5, &b)], &[7, 3]);
        assert_eq!(o[0], vec![Segment { label: Some(0), amount: 5 }, Segment { label: Some(1), amount: 2 }]);
        assert_eq!(o[1], vec![Segment { label: Some(1), amount: 3 }]);
    }
}
