//! CoinJoin rounds shaped to match the detection rules of methods.md §3.2 (Dumplings and
//! BlockSci): Whirlpool-like (Tx0, then 5-in/5-out mixes of one denomination), Wasabi 2-like
//! (50+ inputs, standard denominations, both sides sorted descending) and JoinMarket-like
//! (n equal outputs plus n change outputs). The block-height thresholds in those rules are
//! mainnet heights; simulated chains are short, so detectors must take them per network.

use crate::truth::Kind;
use crate::tx::{AddrType, Utxo};
use crate::world::{Payee, Spend, World, DUST, MAIN};

/// Whirlpool pool denomination (0.01 BTC) and its coordinator's Tx0 fee.
pub const WHIRLPOOL_P: u64 = 1_000_000;
pub const WHIRLPOOL_FEE: u64 = 50_000;
/// Pocket holding a participant's premix and remix coins (not spent by everyday activity).
pub const PREMIX: usize = 3;

pub fn activity(w: &mut World) -> bool {
    match w.rng.weighted(&[6, 6, 2, 1]) {
        0 => tx0(w, None),
        1 => whirlpool_mix(w),
        2 => joinmarket(w),
        _ => wasabi2(w),
    }
}

pub fn coordinator(w: &mut World, name: &str) -> u32 {
    let existing = w.of_kind(Kind::CoinjoinCoordinator).iter().copied().find(|&e| w.entities[e as usize].name == name);
    existing.unwrap_or_else(|| w.add_entity(Kind::CoinjoinCoordinator, name.to_string(), crate::truth::Software::Service))
}

/// Tx0: a participant splits a coin into premix outputs of P plus the mix fee share, pays the
/// coordinator fee, and keeps the change. `who` = None picks a random individual.
pub fn tx0(w: &mut World, who: Option<(u32, usize)>) -> bool {
    let (owner, pocket) = match who {
        Some(x) => x,
        None => (w.random_of(Kind::Individual).unwrap(), MAIN),
    };
    let bal = w.wallets[owner as usize].balance(pocket);
    let per = WHIRLPOOL_P + 20_000;
    if bal < 2 * per + WHIRLPOOL_FEE {
        return false;
    }
    let k = ((bal - WHIRLPOOL_FEE - 50_000) / per).clamp(1, 5) as usize;
    let coord = coordinator(w, "Whirlpool");
    let coord_addr = w.fixed_address(coord, MAIN);
    let mut payments = Vec::with_capacity(k + 1);
    for n in 0..k {
        let addr = w.new_address_of_type(owner, AddrType::P2wpkh);
        // One premix in three is exactly P: it enters the pool like a free remix, so every
        // mix can have the input equal to P that the Whirlpool rule expects.
        let value = if n == 0 && w.rng.chance(0.35) { WHIRLPOOL_P } else { WHIRLPOOL_P + w.rng.range(2_000, 20_000) };
        payments.push((owner, PREMIX, addr, value));
    }
    payments.push((coord, MAIN, coord_addr, WHIRLPOOL_FEE));
    let Some(txid) = w.pay(owner, pocket, &payments, 6) else { return false };
    record(w, txid, "whirlpool_tx0");
    true
}

fn record(w: &mut World, txid: fundtrace_core::Txid, kind: &str) {
    let height = w.chain.height + 1;
    w.truth.coinjoin(&txid, kind, height).expect("writing ground truth");
}

/// A 5-in/5-out mix: inputs from five different owners' premix pockets, at least one equal to
/// P, outputs all P to fresh P2WPKH addresses (postmix), fee paid by the premix surplus.
pub fn whirlpool_mix(w: &mut World) -> bool {
    // Candidates: individuals (and thieves) with premix coins, found by sampling.
    let mut owners: Vec<u32> = Vec::new();
    let mut remix = 0;
    // Sample owners from a random starting point of the ordered set of premix holders.
    let start = w.rng.below(w.entities.len() as u64) as u32;
    let candidates: Vec<u32> = w.premix_owners.range(start..).chain(w.premix_owners.range(..start)).copied().take(64).collect();
    for e in candidates {
        if owners.len() == 5 {
            break;
        }
        let exact = w.wallets[e as usize].pockets[PREMIX].iter().any(|u| u.value == WHIRLPOOL_P);
        if exact && remix >= 3 {
            continue;
        }
        remix += exact as usize;
        owners.push(e);
    }
    let premix_owner = owners.iter().any(|&e| w.wallets[e as usize].pockets[PREMIX].iter().any(|u| u.value > WHIRLPOOL_P));
    if owners.len() < 5 || remix == 0 || !premix_owner {
        return false;
    }
    let mut spends: Vec<Spend> = owners
        .iter()
        .map(|&e| {
            let pocket = &mut w.wallets[e as usize].pockets[PREMIX];
            let i = pocket.iter().position(|u| u.value == WHIRLPOOL_P).filter(|_| remix > 0).unwrap_or(0);
            let utxo = pocket.swap_remove(i);
            if pocket.is_empty() {
                w.premix_owners.remove(&e);
            }
            Spend { entity: e, utxo }
        })
        .collect();
    // Exactly one exact-P input was asked for per remixing owner above; make sure the mix
    // still has one (swap_remove order may have picked a premix) and some surplus for fees.
    if !spends.iter().any(|s| s.utxo.value == WHIRLPOOL_P) || spends.iter().all(|s| s.utxo.value == WHIRLPOOL_P) {
        for s in spends {
            w.wallets[s.entity as usize].pockets[PREMIX].push(s.utxo);
            w.premix_owners.insert(s.entity);
        }
        return false;
    }
    shuffle(w, &mut spends);
    let mut payees: Vec<Payee> = owners
        .iter()
        .map(|&e| {
            let addr = w.new_address_of_type(e, AddrType::P2wpkh);
            let pocket = if w.rng.chance(0.5) { PREMIX } else { MAIN };
            Payee { entity: e, pocket, addr, value: WHIRLPOOL_P }
        })
        .collect();
    shuffle(w, &mut payees);
    let ins: Vec<(Utxo, u32)> = spends.iter().map(|s| (s.utxo, 0xffff_ffff)).collect();
    let outs: Vec<_> = payees.iter().map(|p| (p.value, p.addr)).collect();
    let txid = w.transact_raw(1, 0, &ins, &spends, &payees, &outs);
    record(w, txid, "whirlpool_mix");
    true
}

fn shuffle<T>(w: &mut World, v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let j = w.rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// Wasabi's standard denominations: powers of 2 and 3, 2*3^k, and 1/2/5*10^k, from 5,000 to
/// 134,375,000,000 sat, descending.
pub fn standard_denominations() -> Vec<u64> {
    let (lo, hi) = (5_000u64, 134_375_000_000u64);
    let mut d = Vec::new();
    let mut p = 1u64;
    while p <= hi {
        d.push(p);
        p *= 2;
    }
    let mut p = 1u64;
    while p <= hi {
        d.push(p);
        d.push(2 * p);
        p *= 3;
    }
    let mut p = 1u64;
    while p <= hi {
        d.extend([p, 2 * p, 5 * p]);
        p *= 10;
    }
    d.retain(|&x| (lo..=hi).contains(&x));
    d.sort_unstable_by(|a, b| b.cmp(a));
    d.dedup();
    d
}

/// A Wasabi 2-like round: 50+ segwit inputs from many people, outputs decomposed into
/// standard denominations, inputs and outputs each sorted by value descending.
pub fn wasabi2(w: &mut World) -> bool {
    if w.era() < 0.7 {
        return false;
    }
    let denoms = standard_denominations();
    let target_inputs = 50 + w.rng.below(60) as usize;
    let mut spends: Vec<Spend> = Vec::new();
    let mut tries = 0;
    while spends.len() < target_inputs && tries < 2_000 {
        tries += 1;
        let e = w.random_of(Kind::Individual).unwrap();
        let coins = &mut w.wallets[e as usize].pockets[MAIN];
        if let Some(i) = coins.iter().position(|u| matches!(u.addr.ty, AddrType::P2wpkh | AddrType::P2tr) && u.value > 20_000) {
            spends.push(Spend { entity: e, utxo: coins.swap_remove(i) });
        }
    }
    let give_back = |w: &mut World, spends: Vec<Spend>| {
        for s in spends {
            w.wallets[s.entity as usize].pockets[MAIN].push(s.utxo);
        }
    };
    if spends.len() < 50 {
        give_back(w, spends);
        return false;
    }
    // Each input is decomposed on its own (a participant's coins are not summed, which keeps
    // the amounts unlinkable the way Wasabi's amount decomposition intends).
    let mut payees = Vec::new();
    for s in &spends {
        let mut left = s.utxo.value.saturating_sub(68 * w.feerate + 3 * 31 * w.feerate);
        for _ in 0..2 {
            let Some(&d) = denoms.iter().find(|&&d| d <= left) else { break };
            left -= d;
            let ty = if w.rng.chance(0.5) { AddrType::P2wpkh } else { AddrType::P2tr };
            let addr = w.new_address_of_type(s.entity, ty);
            payees.push(Payee { entity: s.entity, pocket: MAIN, addr, value: d });
        }
    }
    if payees.len() < spends.len() {
        give_back(w, spends);
        return false;
    }
    spends.sort_by(|a, b| b.utxo.value.cmp(&a.utxo.value));
    payees.sort_by(|a, b| b.value.cmp(&a.value));
    let ins: Vec<(Utxo, u32)> = spends.iter().map(|s| (s.utxo, 0xffff_ffff)).collect();
    let outs: Vec<_> = payees.iter().map(|p| (p.value, p.addr)).collect();
    let txid = w.transact_raw(1, 0, &ins, &spends, &payees, &outs);
    record(w, txid, "wasabi2");
    true
}

/// A JoinMarket-like round: a taker and makers each put in coins, get one output of the
/// common value and one change output; makers earn a small fee.
pub fn joinmarket(w: &mut World) -> bool {
    let n = 3 + w.rng.below(4) as usize;
    let v = w.rng.log_range(1_000_000, 50_000_000);
    let cjfee = 1_000 + v / 10_000;
    let mut parts: Vec<(u32, Vec<Spend>)> = Vec::new();
    for _ in 0..n * 4 {
        if parts.len() == n {
            break;
        }
        let e = w.random_of(Kind::Individual).unwrap();
        if parts.iter().any(|(p, _)| *p == e) {
            continue;
        }
        let need = v + 60_000 + cjfee * n as u64;
        let coins = &w.wallets[e as usize].pockets[MAIN];
        if coins.len() < 2 || coins.iter().map(|u| u.value).sum::<u64>() < need {
            continue;
        }
        if let Some(sp) = w.select(e, MAIN, need, 6) {
            parts.push((e, sp));
        }
    }
    let give_back = |w: &mut World, parts: Vec<(u32, Vec<Spend>)>| {
        for (e, sp) in parts {
            w.wallets[e as usize].pockets[MAIN].extend(sp.into_iter().map(|s| s.utxo));
        }
    };
    if parts.len() < n {
        give_back(w, parts);
        return false;
    }
    let spends: Vec<Spend> = parts.iter().flat_map(|(_, sp)| sp.iter().copied()).collect();
    let miner_fee = (11 + spends.len() as u64 * 68 + 2 * n as u64 * 31) * w.feerate;
    let mut payees = Vec::new();
    let mut changes = Vec::new();
    for (k, (e, sp)) in parts.iter().enumerate() {
        let input: u64 = sp.iter().map(|s| s.utxo.value).sum();
        let change = if k == 0 {
            input.checked_sub(v + cjfee * (n as u64 - 1) + miner_fee)
        } else {
            Some(input - v + cjfee)
        };
        let Some(change) = change.filter(|&c| c >= DUST) else {
            give_back(w, parts);
            return false;
        };
        let a = w.new_address_of_type(*e, AddrType::P2wpkh);
        let c = w.new_address_of_type(*e, AddrType::P2wpkh);
        payees.push(Payee { entity: *e, pocket: MAIN, addr: a, value: v });
        payees.push(Payee { entity: *e, pocket: MAIN, addr: c, value: change });
        changes.push(change);
    }
    // Dumplings' cheap subset-sum substitute: no input may exceed the equal value plus the
    // largest change by more than 0.0001 BTC less; rounds that would fail it are not joined.
    let max_in = spends.iter().map(|s| s.utxo.value).max().unwrap();
    let max_change = *changes.iter().max().unwrap();
    changes.sort_unstable();
    changes.dedup();
    if max_in + 10_000 > v + max_change || changes.len() < n || changes.contains(&v) {
        give_back(w, parts);
        return false;
    }
    let mut spends = spends;
    shuffle(w, &mut spends);
    shuffle(w, &mut payees);
    let ins: Vec<(Utxo, u32)> = spends.iter().map(|s| (s.utxo, 0xffff_fffd)).collect();
    let outs: Vec<_> = payees.iter().map(|p| (p.value, p.addr)).collect();
    let height = w.chain.height;
    let txid = w.transact_raw(2, height, &ins, &spends, &payees, &outs);
    record(w, txid, "joinmarket");
    true
}
