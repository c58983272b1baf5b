//! Everyday behaviour: people paying each other and merchants, exchanges taking deposits,
//! sweeping them, batching withdrawals and moving cold storage, pools paying miners,
//! gambling sites, custodial mixers and OTC desks. Each activity builds one transaction
//! (or none when the chosen participant lacks funds).

use crate::truth::{Kind, Software};
use crate::world::{Payee, World, COLD, DEPOSITS, DUST, MAIN};

/// Sets up the population.
pub fn populate(w: &mut World) {
    let n = w.cfg.individual_count();
    let scale = (n as f64 / 1000.0).sqrt().max(1.0);
    for i in 0..n {
        let software = match w.rng.weighted(&[30, 15, 35, 20]) {
            0 => Software::Core,
            1 => Software::Electrum,
            2 => Software::Mobile,
            _ => Software::Legacy,
        };
        w.add_entity(Kind::Individual, format!("person-{i}"), software);
    }
    let counts = [
        (Kind::Exchange, (4.0 * scale) as usize, "Exchange"),
        (Kind::MiningPool, 4, "Pool"),
        (Kind::Merchant, (10.0 * scale) as usize, "Merchant"),
        (Kind::PaymentProcessor, 2, "PayProcessor"),
        (Kind::Gambling, (2.0 * scale) as usize, "Casino"),
        (Kind::Mixer, 2, "Mixer"),
        (Kind::OtcBroker, 3, "OTC"),
    ];
    for (kind, count, prefix) in counts {
        for i in 0..count.max(1) {
            w.add_entity(kind, format!("{prefix}-{}", (b'A' + (i % 26) as u8) as char), Software::Service);
        }
    }
}

/// Relative frequency of each activity (per transaction slot).
const WEIGHTS: [u32; 14] = [24, 16, 14, 6, 8, 1, 3, 3, 3, 10, 3, 1, 1, 2];

/// Runs one randomly chosen everyday activity; false if it could not happen now.
pub fn activity(w: &mut World) -> bool {
    match w.rng.weighted(&WEIGHTS) {
        0 => pay_someone(w, Kind::Merchant),
        1 => pay_someone(w, Kind::Individual),
        2 => deposit_to_service(w, Kind::Exchange),
        3 => exchange_withdrawals(w),
        4 => sweep_deposits(w, Kind::Exchange),
        5 => cold_storage(w),
        6 => merchant_settlement(w),
        7 => deposit_to_service(w, Kind::Gambling),
        8 => gambling_payouts(w),
        9 => consolidate(w),
        10 => crate::coinjoin::activity(w),
        11 => deposit_to_service(w, Kind::Mixer),
        12 => otc_trade(w),
        _ => pool_payout(w),
    }
}

fn random_individual(w: &mut World) -> u32 {
    w.random_of(Kind::Individual).expect("population has individuals")
}

/// An amount a person pays out of `available`: mostly odd, sometimes round numbers.
fn amount_from(w: &mut World, available: u64) -> u64 {
    let frac = 0.05 + 0.85 * w.rng.f64();
    let mut a = (available as f64 * frac) as u64;
    if w.rng.chance(0.3) {
        // Round to a power of ten below (prices in whole units).
        let p = 10u64.pow((a.max(10) as f64).log10().floor() as u32 - 1);
        a = a / p * p;
    }
    a.max(DUST * 2)
}

/// Available value of a random subset of up to three of an entity's coins.
fn spendable_guess(w: &mut World, entity: u32) -> u64 {
    let coins = &w.wallets[entity as usize].pockets[MAIN];
    let n = coins.len();
    if n == 0 {
        return 0;
    }
    let take = 1 + w.rng.below(3.min(n as u64)) as usize;
    (0..take).map(|k| coins[(k * 7919) % n].value).sum()
}

fn pay_someone(w: &mut World, to_kind: Kind) -> bool {
    let from = random_individual(w);
    let avail = spendable_guess(w, from);
    if avail < 50_000 {
        return false;
    }
    let Some(to) = w.random_of(to_kind) else { return false };
    if to == from {
        return false;
    }
    let amount = amount_from(w, avail);
    // Old and mobile wallets show the same receive address again; others a fresh one.
    let reuse = matches!(w.software(to), Software::Legacy | Software::Mobile) && w.rng.chance(0.5);
    let addr = if reuse { w.fixed_address(to, MAIN) } else { w.new_address(to) };
    w.pay(from, MAIN, &[(to, MAIN, addr, amount)], 8).is_some()
}

/// A customer sends to their own deposit address at a service (exchange, casino, mixer).
fn deposit_to_service(w: &mut World, kind: Kind) -> bool {
    let from = random_individual(w);
    let avail = spendable_guess(w, from);
    if avail < 100_000 {
        return false;
    }
    let Some(service) = w.random_of(kind) else { return false };
    let amount = amount_from(w, avail);
    let addr = if kind == Kind::Mixer { w.new_address(service) } else { w.deposit_address(service, from) };
    let ok = w.pay(from, MAIN, &[(service, DEPOSITS, addr, amount)], 4).is_some();
    if ok && kind == Kind::Mixer {
        // The mixer owes the customer their coins back, minus its fee, later.
        let due = w.chain.height + 2 + w.rng.below(30) as u32;
        crate::mixer::schedule(w, service, from, MAIN, amount - amount / 33, due);
    }
    ok
}

/// Deposits move to the service's hot wallet in one many-input transaction.
fn sweep_deposits(w: &mut World, kind: Kind) -> bool {
    let Some(service) = w.random_of(kind) else { return false };
    sweep(w, service)
}

pub fn sweep(w: &mut World, service: u32) -> bool {
    let n = w.wallets[service as usize].pockets[DEPOSITS].len();
    if n < 3 {
        return false;
    }
    let take = n.min(2 + w.rng.below(60) as usize);
    let coins: Vec<_> = w.wallets[service as usize].pockets[DEPOSITS].drain_front(take);
    let total: u64 = coins.iter().map(|u| u.value).sum();
    let hot = w.fixed_address(service, MAIN);
    let fee = w.fee_for(take, coins[0].addr.ty, 1, hot.ty);
    if total < fee + DUST {
        w.wallets[service as usize].pockets[DEPOSITS].extend(coins);
        return false;
    }
    let spends = coins.into_iter().map(|utxo| crate::world::Spend { entity: service, utxo }).collect();
    w.transact(spends, vec![Payee { entity: service, pocket: MAIN, addr: hot, value: total - fee }]);
    true
}

/// An exchange pays several customers in one batched transaction.
fn exchange_withdrawals(w: &mut World) -> bool {
    let Some(ex) = w.random_of(Kind::Exchange) else { return false };
    let hot = w.wallets[ex as usize].balance(MAIN);
    if hot < 1_000_000 {
        return sweep(w, ex);
    }
    let n = 1 + w.rng.below(10) as usize;
    let mut payments = Vec::with_capacity(n);
    for _ in 0..n {
        let to = random_individual(w);
        let addr = w.new_address(to);
        let value = w.rng.log_range(20_000, (hot / (n as u64 * 3)).max(40_000));
        payments.push((to, MAIN, addr, value));
    }
    w.pay(ex, MAIN, &payments, 5).is_some()
}

/// Exchanges keep most funds in cold storage and refill the hot wallet from it.
fn cold_storage(w: &mut World) -> bool {
    let Some(ex) = w.random_of(Kind::Exchange) else { return false };
    let (hot, cold) = (w.wallets[ex as usize].balance(MAIN), w.wallets[ex as usize].balance(COLD));
    if hot > 4 * cold.max(1_000_000) {
        let addr = w.fixed_address(ex, COLD);
        return w.pay(ex, MAIN, &[(ex, COLD, addr, hot / 2)], 10).is_some();
    }
    if cold > 0 && hot < cold / 10 {
        let addr = w.fixed_address(ex, MAIN);
        return w.pay(ex, COLD, &[(ex, MAIN, addr, cold / 4)], 10).is_some();
    }
    false
}

/// Merchants settle takings to a payment processor or their exchange account.
fn merchant_settlement(w: &mut World) -> bool {
    let Some(m) = w.random_of(Kind::Merchant) else { return false };
    let bal = w.wallets[m as usize].balance(MAIN);
    if bal < 500_000 {
        return false;
    }
    let (to, addr) = if w.rng.chance(0.5) {
        let p = w.random_of(Kind::PaymentProcessor).unwrap();
        (p, w.deposit_address(p, m))
    } else {
        let e = w.random_of(Kind::Exchange).unwrap();
        (e, w.deposit_address(e, m))
    };
    w.pay(m, MAIN, &[(to, DEPOSITS, addr, bal / 2)], 20).is_some()
}

/// A casino sweeps bets and pays winners in a batch.
fn gambling_payouts(w: &mut World) -> bool {
    let Some(g) = w.random_of(Kind::Gambling) else { return false };
    let bal = w.wallets[g as usize].balance(MAIN);
    if bal < 2_000_000 {
        return sweep(w, g);
    }
    let n = 1 + w.rng.below(8) as usize;
    let payments: Vec<_> = (0..n)
        .map(|_| {
            let to = random_individual(w);
            let addr = w.new_address(to);
            let v = w.rng.log_range(10_000, bal / (n as u64 * 4));
            (to, MAIN, addr, v)
        })
        .collect();
    w.pay(g, MAIN, &payments, 5).is_some()
}

/// A person merges many small coins into one.
fn consolidate(w: &mut World) -> bool {
    // Look for someone with many coins (a few tries), as wallets consolidate when fees are low.
    let mut who = random_individual(w);
    for _ in 0..8 {
        if w.wallets[who as usize].pockets[MAIN].len() >= 5 {
            break;
        }
        who = random_individual(w);
    }
    let n = w.wallets[who as usize].pockets[MAIN].len();
    if n < 5 {
        return false;
    }
    let take = n.min(5 + w.rng.below(25) as usize);
    let coins: Vec<_> = w.wallets[who as usize].pockets[MAIN].drain_front(take);
    let total: u64 = coins.iter().map(|u| u.value).sum();
    let addr = w.new_address(who);
    let fee = w.fee_for(take, coins[0].addr.ty, 1, addr.ty);
    if total < fee + DUST {
        w.wallets[who as usize].pockets[MAIN].extend(coins);
        return false;
    }
    let spends = coins.into_iter().map(|utxo| crate::world::Spend { entity: who, utxo }).collect();
    w.transact(spends, vec![Payee { entity: who, pocket: MAIN, addr, value: total - fee }]);
    true
}

/// A client sells to an OTC desk, which moves the coins on to its exchange account.
fn otc_trade(w: &mut World) -> bool {
    let Some(desk) = w.random_of(Kind::OtcBroker) else { return false };
    if w.wallets[desk as usize].balance(MAIN) > 5_000_000 {
        let ex = w.random_of(Kind::Exchange).unwrap();
        let addr = w.deposit_address(ex, desk);
        let v = w.wallets[desk as usize].balance(MAIN) / 2;
        return w.pay(desk, MAIN, &[(ex, DEPOSITS, addr, v)], 10).is_some();
    }
    let from = random_individual(w);
    let avail = spendable_guess(w, from);
    if avail < 200_000 {
        return false;
    }
    let amount = amount_from(w, avail);
    let addr = w.deposit_address(desk, from);
    w.pay(from, MAIN, &[(desk, MAIN, addr, amount)], 4).is_some()
}

/// A mining pool pays its miners from matured coinbases; in the first blocks this is how
/// money enters the economy, so pools also sell to exchanges.
fn pool_payout(w: &mut World) -> bool {
    let Some(pool) = w.random_of(Kind::MiningPool) else { return false };
    let bal = w.wallets[pool as usize].balance(MAIN);
    if bal < 10_000_000 {
        return false;
    }
    let n = 5 + w.rng.below(25) as usize;
    let mut payments = Vec::with_capacity(n + 1);
    for _ in 0..n {
        // Miners are paid to the payout address they configured.
        let to = random_individual(w);
        let addr = w.fixed_address(to, MAIN);
        payments.push((to, MAIN, addr, w.rng.log_range(50_000, bal / (n as u64 * 2))));
    }
    if w.rng.chance(0.5) {
        let ex = w.random_of(Kind::Exchange).unwrap();
        let addr = w.fixed_address(ex, MAIN);
        payments.push((ex, MAIN, addr, bal / 4));
    }
    w.pay(pool, MAIN, &payments, 20).is_some()
}
