//! CoinJoin detectors: the published rules of methods.md §3.2, one named function each, so
//! a verdict can always say which rule fired.
//!
//! Dumplings (Wasabi's scanner) gates its rules on mainnet heights (Wasabi 2 from 741,213,
//! Whirlpool from 570,000, Wasabi 1's structural rule from 610,000). Those heights mean
//! nothing on test networks or simulated chains, so the gates apply only when `Rules::mainnet`.

use fundtrace_core::fasthash::FastMap;

use fundtrace_core::ScriptType;
use serde::Serialize;

use crate::txview::TxView;

const BTC: u64 = 100_000_000;

/// Which rule recognised a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CoinJoinKind {
    /// WabiSabi rounds (Dumplings).
    Wasabi2,
    /// ZeroLink rounds of Wasabi 1.x (Dumplings).
    Wasabi1,
    /// Samourai Whirlpool 5–10 party mix (Dumplings).
    WhirlpoolMix,
    /// Whirlpool Tx0: one user's entry into a pool ([P] rule, see `whirlpool_tx0`).
    WhirlpoolTx0,
    /// Other equal-output CoinJoin, JoinMarket-like (Dumplings' fallback).
    JoinMarket,
    /// BlockSci's generic `isCoinjoin`.
    Generic,
}

impl CoinJoinKind {
    pub const ALL: [CoinJoinKind; 6] = [
        CoinJoinKind::Wasabi2,
        CoinJoinKind::Wasabi1,
        CoinJoinKind::WhirlpoolMix,
        CoinJoinKind::WhirlpoolTx0,
        CoinJoinKind::JoinMarket,
        CoinJoinKind::Generic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CoinJoinKind::Wasabi2 => "wasabi2",
            CoinJoinKind::Wasabi1 => "wasabi1",
            CoinJoinKind::WhirlpoolMix => "whirlpool_mix",
            CoinJoinKind::WhirlpoolTx0 => "whirlpool_tx0",
            CoinJoinKind::JoinMarket => "joinmarket",
            CoinJoinKind::Generic => "blocksci_generic",
        }
    }

    /// Whether the inputs belong to several parties. A Tx0 is one user splitting a coin into
    /// premix outputs: its inputs are one owner's, so the multi-input heuristic holds for it
    /// (it is detected so tracing can flag entry into Whirlpool, not to block clustering).
    pub fn multi_party(self) -> bool {
        self != CoinJoinKind::WhirlpoolTx0
    }
}

/// What the detectors need beyond the transaction.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rules {
    /// Apply the mainnet height gates.
    pub mainnet: bool,
    /// Address ids of Wasabi 1's two coordinator fee addresses, when the store has them.
    pub wasabi1_coordinators: [Option<u32>; 2],
}

/// Wasabi 1 coordinator scripts (Dumplings' Constants.cs), mainnet.
pub const WASABI1_COORDINATORS: [&str; 2] = [
    "bc1qs604c7jv6amk4cxqlnvuxv26hv3e48cds4m0ew",
    "bc1qa24tsgchvuxsaccp8vrnkfd85hrcpafg20kmjw",
];

/// Whirlpool pool denominations: 0.001, 0.01, 0.05, 0.5 BTC.
pub const WHIRLPOOL_POOLS: [u64; 4] = [100_000, 1_000_000, 5_000_000, 50_000_000];
/// Premix inputs may exceed the pool denomination by up to 0.0011 BTC (miner fee share).
const WHIRLPOOL_SURPLUS: u64 = 110_000;
/// Coordinator entry fee per pool (5% for the two small pools, 3.5% for the two large ones).
const WHIRLPOOL_POOL_FEES: [u64; 4] = [5_000, 50_000, 175_000, 1_750_000];

/// Every rule that holds, in the order of `CoinJoinKind::ALL`. Dumplings' JoinMarket rule
/// applies only when none of Wasabi 2, Wasabi 1 and Whirlpool matched.
pub fn detect_all(tx: &TxView, rules: &Rules) -> Vec<CoinJoinKind> {
    let mut found = Vec::new();
    for k in CoinJoinKind::ALL {
        let hit = match k {
            CoinJoinKind::Wasabi2 => wasabi2(tx, rules),
            CoinJoinKind::Wasabi1 => wasabi1(tx, rules),
            CoinJoinKind::WhirlpoolMix => whirlpool_mix(tx, rules),
            CoinJoinKind::WhirlpoolTx0 => whirlpool_tx0(tx),
            CoinJoinKind::JoinMarket => {
                found.iter().all(|k: &CoinJoinKind| !k.multi_party()) && joinmarket(tx)
            }
            CoinJoinKind::Generic => blocksci_generic(tx),
        };
        if hit {
            found.push(k);
        }
    }
    found
}

/// The first multi-party rule that holds: the verdict clustering acts on. Cheap rejections
/// first, since this runs on every transaction.
pub fn multi_party(tx: &TxView, rules: &Rules) -> Option<CoinJoinKind> {
    // Every multi-party rule needs two outputs of one value (BlockSci's needs `participants`
    // >= 2 of them): most transactions fail this without allocating anything.
    if tx.coinbase || tx.inputs.len() < 2 || tx.outputs.len() < 2 || !any_equal_outputs(tx) {
        return None;
    }
    CoinJoinKind::ALL
        .into_iter()
        .filter(|k| k.multi_party())
        .find(|k| match k {
            CoinJoinKind::Wasabi2 => wasabi2(tx, rules),
            CoinJoinKind::Wasabi1 => wasabi1(tx, rules),
            CoinJoinKind::WhirlpoolMix => whirlpool_mix(tx, rules),
            // Reached only when the three above failed, as Dumplings requires.
            CoinJoinKind::JoinMarket => joinmarket(tx),
            CoinJoinKind::Generic => blocksci_generic(tx),
            CoinJoinKind::WhirlpoolTx0 => false,
        })
}

/// Whether two outputs pay the same value.
fn any_equal_outputs(tx: &TxView) -> bool {
    let o = &tx.outputs;
    if o.len() <= 16 {
        (1..o.len()).any(|i| o[..i].iter().any(|x| x.value == o[i].value))
    } else {
        let mut v: Vec<u64> = o.iter().map(|x| x.value).collect();
        v.sort_unstable();
        v.windows(2).any(|w| w[0] == w[1])
    }
}

/// Counts of each output value.
fn value_counts(tx: &TxView) -> FastMap<u64, usize> {
    let mut counts = FastMap::with_capacity_and_hasher(tx.outputs.len(), Default::default());
    for o in &tx.outputs {
        *counts.entry(o.value).or_insert(0) += 1;
    }
    counts
}

/// Dumplings' shared precondition: no coinbase input and some value paid to two outputs or more.
fn has_equal_outputs(tx: &TxView) -> bool {
    !tx.coinbase && value_counts(tx).values().any(|&c| c >= 2)
}

fn sorted_descending(values: impl Iterator<Item = u64>) -> bool {
    let mut prev = u64::MAX;
    for v in values {
        if v > prev {
            return false;
        }
        prev = v;
    }
    true
}

/// Wasabi 2's standard denominations: values from 5,000 sat to 1,343.75 BTC that are powers
/// of 2, powers of 3, 2·3^k, or 1·, 2·, 5·10^k.
pub fn is_standard_denomination(v: u64) -> bool {
    const MIN: u64 = 5_000;
    const MAX: u64 = 134_375_000_000;
    if !(MIN..=MAX).contains(&v) {
        return false;
    }
    if v.is_power_of_two() {
        return true;
    }
    let mut t = v;
    if t.is_multiple_of(2) && (t / 2).is_multiple_of(3) {
        t /= 2; // 2·3^k
    }
    while t.is_multiple_of(3) {
        t /= 3;
    }
    if t == 1 {
        return true;
    }
    let mut d = v;
    while d.is_multiple_of(10) {
        d /= 10;
    }
    matches!(d, 1 | 2 | 5)
}

/// Wasabi 2 (WabiSabi): ≥ 50 inputs, all P2WPKH or P2TR, inputs and outputs sorted by value
/// descending, more than 80% of outputs standard denominations; mainnet height ≥ 741,213.
pub fn wasabi2(tx: &TxView, rules: &Rules) -> bool {
    if rules.mainnet && tx.height < 741_213 {
        return false;
    }
    tx.inputs.len() >= 50
        && has_equal_outputs(tx)
        && tx
            .inputs
            .iter()
            .all(|i| matches!(i.script_type, ScriptType::P2wpkh | ScriptType::P2tr))
        && sorted_descending(tx.inputs.iter().map(|i| i.value))
        && sorted_descending(tx.outputs.iter().map(|o| o.value))
        && tx
            .outputs
            .iter()
            .filter(|o| is_standard_denomination(o.value))
            .count()
            * 10
            > tx.outputs.len() * 8
}

/// Wasabi 1 (ZeroLink). Before mainnet height 610,000: pays a coordinator and has an equal
/// group of more than 2. From 610,000 (and on other networks): all P2WPKH; the largest equal
/// group ≥ 10 outputs of 0.1 ± 0.02 BTC; at least that many inputs; ≥ 2 outputs of unique value.
pub fn wasabi1(tx: &TxView, rules: &Rules) -> bool {
    if !has_equal_outputs(tx) {
        return false;
    }
    let counts = value_counts(tx);
    let largest = counts.values().copied().max().unwrap_or(0);
    let pays_coordinator = tx
        .outputs
        .iter()
        .any(|o| o.address.is_some() && rules.wasabi1_coordinators.contains(&o.address));
    if rules.mainnet && tx.height < 610_000 {
        return pays_coordinator && largest > 2;
    }
    // The equal value is the most frequent one (the highest if two tie).
    let Some((&value, &n)) = counts.iter().max_by_key(|(&v, &c)| (c, v)) else {
        return false;
    };
    let p2wpkh = |t: ScriptType| t == ScriptType::P2wpkh;
    (pays_coordinator && largest > 2 && !rules.mainnet)
        || (tx.inputs.iter().all(|i| p2wpkh(i.script_type))
            && tx.outputs.iter().all(|o| p2wpkh(o.script_type))
            && n >= 10
            && tx.inputs.len() >= n
            && value.abs_diff(BTC / 10) <= BTC / 50
            && counts.values().filter(|&&c| c == 1).count() >= 2)
}

/// Whirlpool mix: all P2WPKH, 5 ≤ inputs = outputs ≤ 10, every output the pool denomination p,
/// at least one input equal to p and every input within [p, p + 0.0011 BTC]; mainnet ≥ 570,000.
pub fn whirlpool_mix(tx: &TxView, rules: &Rules) -> bool {
    if rules.mainnet && tx.height < 570_000 {
        return false;
    }
    let n = tx.inputs.len();
    let Some(p) = tx.outputs.first().map(|o| o.value) else {
        return false;
    };
    !tx.coinbase
        && (5..=10).contains(&n)
        && tx.outputs.len() == n
        && WHIRLPOOL_POOLS.contains(&p)
        && tx
            .outputs
            .iter()
            .all(|o| o.value == p && o.script_type == ScriptType::P2wpkh)
        && tx.inputs.iter().all(|i| {
            i.script_type == ScriptType::P2wpkh && i.value >= p && i.value <= p + WHIRLPOOL_SURPLUS
        })
        && tx.inputs.iter().any(|i| i.value == p)
}

/// Whirlpool Tx0 [P]: no published rule, so ours: one pool p such that the transaction has
/// P2WPKH premix outputs within [p, p + 0.0011 BTC] and exactly one output of p's coordinator
/// entry fee. It is a single user's transaction (see `CoinJoinKind::multi_party`).
pub fn whirlpool_tx0(tx: &TxView) -> bool {
    if tx.coinbase {
        return false;
    }
    WHIRLPOOL_POOLS
        .iter()
        .zip(WHIRLPOOL_POOL_FEES)
        .any(|(&p, fee)| {
            let premix = tx
                .outputs
                .iter()
                .filter(|o| {
                    o.script_type == ScriptType::P2wpkh
                        && o.value >= p
                        && o.value <= p + WHIRLPOOL_SURPLUS
                })
                .count();
            premix >= 1 && tx.outputs.iter().filter(|o| o.value == fee).count() == 1
        })
}

/// JoinMarket-like (Dumplings' "other CoinJoin"): exactly one equal-value group of n outputs,
/// n other (change) outputs, ≥ n distinct output and input scripts, and the largest input no
/// more than the equal value + the largest change − 0.0001 BTC (no single input pays it all).
pub fn joinmarket(tx: &TxView) -> bool {
    if tx.coinbase {
        return false;
    }
    let counts = value_counts(tx);
    let mut groups = counts.iter().filter(|(_, &c)| c >= 2);
    let (Some((&equal, &n)), None) = (groups.next(), groups.next()) else {
        return false;
    };
    let others = tx.outputs.len() - n;
    if others != n {
        return false;
    }
    let distinct = |addrs: &mut dyn Iterator<Item = Option<u32>>| {
        // Outputs without an address count as distinct scripts each.
        let mut seen = std::collections::HashSet::new();
        addrs.filter(|a| a.is_none() || seen.insert(*a)).count()
    };
    let max_change = tx
        .outputs
        .iter()
        .map(|o| o.value)
        .filter(|&v| v != equal)
        .max()
        .unwrap_or(0);
    let max_input = tx.inputs.iter().map(|i| i.value).max().unwrap_or(0);
    distinct(&mut tx.outputs.iter().map(|o| o.address)) >= n
        && distinct(&mut tx.inputs.iter().map(|i| i.address)) >= n
        && max_input + BTC / 10_000 <= equal + max_change
}

/// BlockSci's `isCoinjoin`: ≥ 2 inputs and ≥ 3 outputs; participants = (outputs + 1) / 2 is
/// at most the inputs and the distinct input addresses; the most common output value occurs
/// exactly `participants` times and is not a dust value (546 or 2,730 sat).
pub fn blocksci_generic(tx: &TxView) -> bool {
    if tx.coinbase || tx.inputs.len() < 2 || tx.outputs.len() < 3 {
        return false;
    }
    let participants = tx.outputs.len().div_ceil(2);
    if participants > tx.inputs.len() {
        return false;
    }
    let distinct_inputs: std::collections::HashSet<_> =
        tx.inputs.iter().map(|i| i.address).collect();
    if participants > distinct_inputs.len() {
        return false;
    }
    let counts = value_counts(tx);
    let Some((&value, &n)) = counts
        .iter()
        .max_by_key(|(&v, &c)| (c, std::cmp::Reverse(v)))
    else {
        return false;
    };
    n == participants && value != 546 && value != 2_730
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScriptType::*;

    fn view(inputs: &[(u64, ScriptType)], outputs: &[(u64, ScriptType)]) -> TxView {
        // Distinct addresses everywhere unless a test says otherwise.
        let ins: Vec<_> = inputs
            .iter()
            .enumerate()
            .map(|(i, &(v, t))| (v, t, Some(i as u32)))
            .collect();
        let outs: Vec<_> = outputs
            .iter()
            .enumerate()
            .map(|(i, &(v, t))| (v, t, Some(1000 + i as u32)))
            .collect();
        TxView::new(800_000, &ins, &outs)
    }

    const MAINNET: Rules = Rules {
        mainnet: true,
        wasabi1_coordinators: [None, None],
    };

    /// methods.md §3.2 golden tests: the 5-in/5-out 0.01 BTC mix is Whirlpool; replacing one
    /// input by 0.02 BTC makes it not Whirlpool.
    #[test]
    fn whirlpool_golden_cases() {
        let outs = [(1_000_000, P2wpkh); 5];
        let ins = [
            (1_000_000, P2wpkh),
            (1_000_000, P2wpkh),
            (1_050_000, P2wpkh),
            (1_080_000, P2wpkh),
            (1_020_000, P2wpkh),
        ];
        let tx = view(&ins, &outs);
        assert!(whirlpool_mix(&tx, &MAINNET));
        assert_eq!(multi_party(&tx, &MAINNET), Some(CoinJoinKind::WhirlpoolMix));
        let mut bad = ins;
        bad[2].0 = 2_000_000;
        assert!(!whirlpool_mix(&view(&bad, &outs), &MAINNET));
        // Height gate: before 570,000 on mainnet it is not Whirlpool (Whirlpool did not exist),
        // on other networks the gate does not apply.
        let mut early = view(&ins, &outs);
        early.height = 569_999;
        assert!(!whirlpool_mix(&early, &MAINNET));
        assert!(whirlpool_mix(&early, &Rules::default()));
    }

    /// methods.md §3.2: 60 P2WPKH inputs sorted descending, 100 outputs of which 85 are standard
    /// denominations, is Wasabi 2.
    #[test]
    fn wasabi2_golden_case() {
        let ins: Vec<_> = (0..60).map(|i| (10_000_000 - i * 1000, P2wpkh)).collect();
        let standard = [1_048_576u64, 1_000_000, 531_441, 500_000, 262_144];
        let mut outs: Vec<u64> = (0..85).map(|i| standard[i % standard.len()]).collect();
        outs.extend((0..15).map(|i| 777_777 - i * 7));
        outs.sort_unstable_by(|a, b| b.cmp(a));
        let outs: Vec<_> = outs.into_iter().map(|v| (v, P2wpkh)).collect();
        let tx = view(&ins, &outs);
        assert!(wasabi2(&tx, &MAINNET));
        assert_eq!(multi_party(&tx, &MAINNET), Some(CoinJoinKind::Wasabi2));
        // 80% exactly is not "more than 80%".
        let mut at80: Vec<u64> = (0..80).map(|i| standard[i % standard.len()]).collect();
        at80.extend((0..20).map(|i| 777_777 - i * 7));
        at80.sort_unstable_by(|a, b| b.cmp(a));
        let at80: Vec<_> = at80.into_iter().map(|v| (v, P2wpkh)).collect();
        assert!(!wasabi2(&view(&ins, &at80), &MAINNET));
        // Unsorted inputs are not Wasabi 2.
        let mut unsorted = ins.clone();
        unsorted.swap(0, 1);
        assert!(!wasabi2(&view(&unsorted, &outs), &MAINNET));
    }

    #[test]
    fn standard_denominations() {
        for v in [
            5_000u64,
            6_561,
            8_192,
            10_000,
            13_122,
            20_000,
            50_000,
            100_000_000_000,
            1 << 30,
            2 * 3u64.pow(20),
        ] {
            assert!(is_standard_denomination(v), "{v}");
        }
        for v in [
            4_096u64,
            7_000,
            12_345,
            30_000,
            134_375_000_000,
            200_000_000_000,
            3 * 5 * 1000,
        ] {
            assert!(!is_standard_denomination(v), "{v}");
        }
    }

    #[test]
    fn wasabi1_after_610000() {
        let mut outs = vec![(10_000_000u64, P2wpkh); 12];
        outs.push((3_456_789, P2wpkh));
        outs.push((123_456, P2wpkh));
        let ins: Vec<_> = (0..14).map(|i| (11_000_000 + i, P2wpkh)).collect();
        assert!(wasabi1(&view(&ins, &outs), &MAINNET));
        // 0.13 BTC is outside 0.1 ± 0.02.
        let far: Vec<_> = outs
            .iter()
            .map(|&(v, t)| (if v == 10_000_000 { 13_000_000 } else { v }, t))
            .collect();
        assert!(!wasabi1(&view(&ins, &far), &MAINNET));
    }

    #[test]
    fn joinmarket_and_blocksci_generic() {
        // Three makers and a taker: 4 equal outputs of 0.5 BTC, 4 change outputs.
        let ins = [
            (64_990_000, P2wpkh),
            (58_000_000, P2wpkh),
            (55_000_000, P2wpkh),
            (52_000_000, P2wpkh),
        ];
        let outs = [
            (50_000_000, P2wpkh),
            (50_000_000, P2wpkh),
            (50_000_000, P2wpkh),
            (50_000_000, P2wpkh),
            (15_000_000, P2wpkh),
            (8_000_000, P2wpkh),
            (4_000_000, P2wpkh),
            (2_980_000, P2wpkh),
        ];
        let tx = view(&ins, &outs);
        assert!(joinmarket(&tx));
        assert!(blocksci_generic(&tx));
        assert_eq!(multi_party(&tx, &MAINNET), Some(CoinJoinKind::JoinMarket));
        // The largest input may be at most equal value + largest change - 0.0001 BTC.
        let mut whale = ins;
        whale[0].0 = 64_990_001;
        assert!(!joinmarket(&view(&whale, &outs)));
        // Two change outputs of the same value make a second equal group: not JoinMarket.
        let mut twin = outs;
        twin[7].0 = 4_000_000;
        assert!(!joinmarket(&view(&ins, &twin)));
        // An ordinary payment with change is none of them.
        let pay = view(
            &[(5_000_000, P2wpkh)],
            &[(1_000_000, P2wpkh), (3_990_000, P2wpkh)],
        );
        assert!(detect_all(&pay, &MAINNET).is_empty());
    }

    #[test]
    fn tx0_is_detected_but_single_party() {
        let tx = view(
            &[(5_000_000, P2wpkh)],
            &[
                (1_010_000, P2wpkh),
                (1_010_000, P2wpkh),
                (1_010_000, P2wpkh),
                (50_000, P2wpkh),
                (1_900_000, P2wpkh),
            ],
        );
        assert_eq!(detect_all(&tx, &MAINNET), vec![CoinJoinKind::WhirlpoolTx0]);
        assert_eq!(multi_party(&tx, &MAINNET), None);
    }
}
