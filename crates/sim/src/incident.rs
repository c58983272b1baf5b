//! Planted thefts following the public DPRK typology (methods.md §5.1): a hot-wallet theft
//! from an exchange, immediate dispersion to many fresh addresses, then per coin a route
//! after a dwell time: peel chains that shed small amounts to exchange deposit addresses and
//! OTC desks, custodial-mixer deposits (paid back later in other coins), Whirlpool Tx0 and
//! mixes, consolidation before peeling, or a direct cash-out.
//!
//! Ground truth is accounted from the transactions themselves (`observe`): every value the
//! thief sends to another entity is an endpoint, every fee is counted, so
//! stolen + mixer payouts = endpoints + fees + unspent at the end, to the satoshi.

use crate::truth::{Endpoint, Incident, Kind, LaunderingTx, OutRef, Software};
use crate::tx::{AddrType, Utxo};
use crate::world::{Payee, Spend, TxRecord, World, COLD, DEPOSITS, DUST, MAIN};

#[derive(Clone, Copy, Debug)]
enum Task {
    Theft,
    Disperse(Utxo),
    Peel(Utxo, u32),
    Mixer(Utxo),
    Tx0(Utxo),
    /// Merge the coins in `IncidentState::held`.
    Consolidate,
    CashOut(Utxo, &'static str),
}

pub struct IncidentState {
    pub truth: Incident,
    tasks: Vec<(u32, Task)>,
    /// Coins too small to move.
    dust: Vec<Utxo>,
    /// Coins waiting for a consolidation.
    held: Vec<Utxo>,
}

/// Creates the incidents' thieves and schedules the thefts evenly over the run.
pub fn plan(w: &mut World) {
    let n = w.cfg.incident_count();
    let blocks = w.cfg.expected_blocks() as u32;
    for i in 0..n {
        let thief = w.add_entity(Kind::Thief, format!("Lazarus-{}", i + 1), Software::Mobile);
        // Thefts happen in the first 70% of the run so the laundering can play out.
        let at = 150 + (blocks.saturating_sub(150) as f64 * 0.7 * (i as f64 + 0.5) / n as f64) as u32;
        w.thief_of.insert(thief, w.incidents.len());
        w.incidents.push(IncidentState {
            truth: Incident {
                id: i + 1,
                thief,
                victim: u32::MAX,
                height: 0,
                time: 0,
                theft_txid: String::new(),
                stolen_outputs: Vec::new(),
                stolen_value: 0,
                laundering_txs: Vec::new(),
                endpoints: Vec::new(),
                mixer_payouts: 0,
                fees_paid: 0,
                unspent_at_end: 0,
            },
            tasks: vec![(at, Task::Theft)],
            dust: Vec::new(),
            held: Vec::new(),
        });
    }
}

/// Accounts a transaction that involves a thief (called by `World::transact_raw`).
pub fn observe(w: &mut World, rec: &TxRecord<'_>) {
    let height = w.chain.height + 1;
    let (role, route) = (w.role, w.route);
    let mut touched: Vec<usize> = rec
        .spends
        .iter()
        .map(|s| s.entity)
        .chain(rec.payees.iter().map(|p| p.entity))
        .filter_map(|e| w.thief_of.get(&e).copied())
        .collect();
    touched.sort_unstable();
    touched.dedup();
    for i in touched {
        let thief = w.incidents[i].truth.thief;
        let thief_in: u64 = rec.spends.iter().filter(|s| s.entity == thief).map(|s| s.utxo.value).sum();
        let thief_out: u64 = rec.payees.iter().filter(|p| p.entity == thief).map(|p| p.value).sum();
        let sole_spender = thief_in > 0 && rec.spends.iter().all(|s| s.entity == thief);
        let txid = rec.txid.to_string();
        let inc = &mut w.incidents[i].truth;
        let role = if role == "theft" {
            for (vout, p) in rec.payees.iter().enumerate().filter(|(_, p)| p.entity == thief) {
                inc.stolen_outputs.push(OutRef {
                    txid: txid.clone(),
                    vout: vout as u32,
                    value: p.value,
                    address: p.addr.key().encode(w.cfg.network),
                });
                inc.stolen_value += p.value;
            }
            inc.theft_txid = txid.clone();
            "theft"
        } else if sole_spender {
            inc.fees_paid += rec.fee;
            for (vout, p) in rec.payees.iter().enumerate().filter(|(_, p)| p.entity != thief) {
                let kind = w.entities[p.entity as usize].kind;
                inc.endpoints.push(Endpoint {
                    txid: txid.clone(),
                    vout: vout as u32,
                    entity: p.entity,
                    entity_kind: kind,
                    amount: p.value,
                    height,
                    route,
                });
            }
            if role.is_empty() { "transfer" } else { role }
        } else if thief_in > 0 {
            inc.fees_paid += thief_in - thief_out;
            "coinjoin"
        } else {
            inc.mixer_payouts += thief_out;
            if role.is_empty() { "received" } else { role }
        };
        inc.laundering_txs.push(LaunderingTx { txid: txid.clone(), role, height });
    }
}

fn take_new_outputs(w: &mut World, thief: u32, pocket: usize, n: usize) -> Vec<Utxo> {
    w.wallets[thief as usize].pockets[pocket].split_off_last(n)
}

fn with_context<T>(w: &mut World, role: &'static str, route: &'static str, f: impl FnOnce(&mut World) -> T) -> T {
    let saved = (w.role, w.route);
    (w.role, w.route) = (role, route);
    let r = f(w);
    (w.role, w.route) = saved;
    r
}

/// What happens to a thief transaction's remaining value.
#[derive(Clone, Copy)]
enum Rest {
    /// A continuation output to a fresh thief address of this type.
    Keep(AddrType),
    /// The last payee receives whatever the others and the fee leave.
    ToLastPayee,
}

/// A transaction from the thief spending exactly `coins` to `payees` plus the rest. The fee
/// is computed from the real input and output types. Returns the thief's new outputs, or
/// `None` (nothing spent) when the coins cannot cover it.
fn thief_tx(w: &mut World, thief: u32, coins: &[Utxo], mut payees: Vec<Payee>, rest: Rest) -> Option<Vec<Utxo>> {
    let total: u64 = coins.iter().map(|u| u.value).sum();
    let out_types = payees.iter().map(|p| p.addr.ty).chain(match rest {
        Rest::Keep(ty) => Some(ty),
        Rest::ToLastPayee => None,
    });
    let fee = crate::tx::vsize(coins.iter().map(|u| u.addr.ty), out_types) * w.feerate;
    match rest {
        Rest::Keep(ty) => {
            let paid: u64 = payees.iter().map(|p| p.value).sum();
            let left = total.checked_sub(paid + fee).filter(|&r| r >= DUST)?;
            let addr = w.new_address_of_type(thief, ty);
            payees.push(Payee { entity: thief, pocket: MAIN, addr, value: left });
        }
        Rest::ToLastPayee => {
            let (last, others) = payees.split_last_mut()?;
            let paid: u64 = others.iter().map(|p| p.value).sum();
            last.value = total.checked_sub(paid + fee).filter(|&r| r >= DUST)?;
        }
    }
    let kept = payees.iter().filter(|p| p.entity == thief).count();
    let spends: Vec<Spend> = coins.iter().map(|&utxo| Spend { entity: thief, utxo }).collect();
    w.transact(spends, payees);
    Some(take_new_outputs(w, thief, MAIN, kept))
}

/// Where a cash-out goes: the thief's account at an exchange (70%) or an OTC desk.
fn cash_out_target(w: &mut World, thief: u32) -> (u32, usize, crate::tx::Addr) {
    if w.rng.chance(0.7) {
        let ex = w.random_of(Kind::Exchange).unwrap();
        (ex, DEPOSITS, w.deposit_address(ex, thief))
    } else {
        let otc = w.random_of(Kind::OtcBroker).unwrap();
        (otc, MAIN, w.deposit_address(otc, thief))
    }
}

/// Runs every incident task due at the block being built.
pub fn step(w: &mut World) {
    let height = w.chain.height + 1;
    for i in 0..w.incidents.len() {
        let thief = w.incidents[i].truth.thief;
        // Coins that came back from mixers or CoinJoins are cashed out after a dwell.
        for (pocket, route) in [(COLD, "via_mixer"), (MAIN, "via_coinjoin"), (DEPOSITS, "direct")] {
            let coins: Vec<Utxo> = w.wallets[thief as usize].pockets[pocket].take_all();
            for u in coins {
                let due = height + w.rng.range(1, 20) as u32;
                w.incidents[i].tasks.push((due, Task::CashOut(u, route)));
            }
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut w.incidents[i].tasks).into_iter().partition(|(h, _)| *h <= height);
        w.incidents[i].tasks = later;
        for (_, task) in due {
            run_task(w, i, thief, task);
        }
    }
}

fn push(w: &mut World, i: usize, due: u32, task: Task) {
    w.incidents[i].tasks.push((due, task));
}

fn run_task(w: &mut World, i: usize, thief: u32, task: Task) {
    let height = w.chain.height + 1;
    match task {
        Task::Theft => {
            // The exchange with the richest hot wallet is hit.
            let victim = w.of_kind(Kind::Exchange).iter().copied().max_by_key(|&e| (w.wallets[e as usize].balance(MAIN), e));
            let Some(victim) = victim.filter(|&v| w.wallets[v as usize].balance(MAIN) > 20_000_000) else {
                return push(w, i, height + 10, Task::Theft);
            };
            let hot = w.wallets[victim as usize].balance(MAIN);
            let (lo, hi) = w.cfg.theft_share;
            let amount = (hot as f64 * (lo + (hi - lo) * w.rng.f64())) as u64;
            let k = 1 + w.rng.below(3) as usize;
            let payments: Vec<_> = (0..k)
                .map(|_| {
                    let a = w.new_address_of_type(thief, AddrType::P2wpkh);
                    (thief, MAIN, a, amount / k as u64)
                })
                .collect();
            let time = w.time();
            let txid = with_context(w, "theft", "", |w| w.pay(victim, MAIN, &payments, 50));
            if txid.is_none() {
                return push(w, i, height + 10, Task::Theft);
            }
            let inc = &mut w.incidents[i].truth;
            (inc.victim, inc.height, inc.time) = (victim, height, time);
            for u in take_new_outputs(w, thief, MAIN, k) {
                let due = height + w.rng.range(1, 3) as u32;
                push(w, i, due, Task::Disperse(u));
            }
        }
        Task::Disperse(u) => {
            let n = 10 + w.rng.below(21) as usize;
            let per = u.value / (n as u64 + 1);
            let payees: Vec<Payee> = (0..n)
                .map(|_| {
                    let ty = if w.rng.chance(0.5) { AddrType::P2wpkh } else { AddrType::P2pkh };
                    let addr = w.new_address_of_type(thief, ty);
                    let value = per - w.rng.below(per / 10);
                    Payee { entity: thief, pocket: MAIN, addr, value }
                })
                .collect();
            let Some(outs) = with_context(w, "dispersion", "", |w| thief_tx(w, thief, &[u], payees, Rest::Keep(AddrType::P2wpkh))) else {
                return push(w, i, height + 1, Task::CashOut(u, "direct"));
            };
            let mut held = 0;
            for o in outs {
                let dwell = w.rng.range(1, 40) as u32;
                let routes = w.cfg.routes;
                let task = match w.rng.weighted(&routes) {
                    0 => Task::Peel(o, 5 + w.rng.below(16) as u32),
                    1 => Task::Mixer(o),
                    2 => Task::Tx0(o),
                    3 => {
                        held += 1;
                        w.incidents[i].held.push(o);
                        continue;
                    }
                    _ => Task::CashOut(o, "direct"),
                };
                push(w, i, height + dwell, task);
            }
            if held > 0 {
                push(w, i, height + 45, Task::Consolidate);
            }
        }
        Task::Consolidate => {
            let coins = std::mem::take(&mut w.incidents[i].held);
            if coins.is_empty() {
                return;
            }
            match with_context(w, "consolidation", "", |w| thief_tx(w, thief, &coins, Vec::new(), Rest::Keep(AddrType::P2wpkh))) {
                Some(outs) => {
                    let steps = 10 + w.rng.below(20) as u32;
                    push(w, i, height + 2, Task::Peel(outs[0], steps))
                }
                None => coins.into_iter().for_each(|u| push(w, i, height + 1, Task::CashOut(u, "direct"))),
            }
        }
        Task::Peel(u, steps) => {
            if steps == 0 || u.value < 300_000 {
                return push(w, i, height + 1, Task::CashOut(u, "peel"));
            }
            let (to, pocket, addr) = cash_out_target(w, thief);
            let peel = (u.value as f64 * (0.01 + 0.07 * w.rng.f64())) as u64;
            let payees = vec![Payee { entity: to, pocket, addr, value: peel.max(DUST) }];
            match with_context(w, "peel_step", "peel", |w| thief_tx(w, thief, &[u], payees, Rest::Keep(u.addr.ty))) {
                Some(outs) => {
                    let due = height + w.rng.range(1, 3) as u32;
                    push(w, i, due, Task::Peel(outs[0], steps - 1));
                }
                None => push(w, i, height + 1, Task::CashOut(u, "peel")),
            }
        }
        Task::Mixer(u) => {
            let mixer = w.random_of(Kind::Mixer).unwrap();
            let addr = w.new_address(mixer);
            let payees = vec![Payee { entity: mixer, pocket: DEPOSITS, addr, value: 0 }];
            match with_context(w, "mixer_deposit", "mixer", |w| thief_tx(w, thief, &[u], payees, Rest::ToLastPayee)) {
                Some(_) if u.value > 100_000 => {
                    let deposited = w.wallets[mixer as usize].pockets[DEPOSITS].last().map_or(0, |d| d.value);
                    let due = height + w.rng.range(5, 60) as u32;
                    crate::mixer::schedule(w, mixer, thief, COLD, deposited - deposited / 33, due);
                }
                Some(_) => {}
                None => push(w, i, height + 1, Task::CashOut(u, "direct")),
            }
        }
        Task::Tx0(u) => {
            // Tx0 spends from a pocket: park the coin where only this Tx0 will take it.
            w.wallets[thief as usize].pockets[DEPOSITS].push(u);
            let ok = with_context(w, "coinjoin_tx0", "coinjoin", |w| crate::coinjoin::tx0(w, Some((thief, DEPOSITS))));
            if !ok {
                let coins = w.wallets[thief as usize].pockets[DEPOSITS].take_all();
                coins.into_iter().for_each(|c| push(w, i, height + 1, Task::CashOut(c, "direct")));
            }
        }
        Task::CashOut(u, route) => {
            let (to, pocket, addr) = cash_out_target(w, thief);
            let payees = vec![Payee { entity: to, pocket, addr, value: 0 }];
            if with_context(w, "cash_out", route, |w| thief_tx(w, thief, &[u], payees, Rest::ToLastPayee)).is_none() {
                // Not worth moving: stays unspent (counted at the end).
                w.incidents[i].dust.push(u);
            }
        }
    }
}

/// Final accounting: what each thief still holds, in wallets or pending tasks.
pub fn finish(w: &mut World) -> Vec<Incident> {
    let mut out = Vec::new();
    for inc in &w.incidents {
        let mut t = inc.truth.clone();
        let pending: u64 = inc
            .tasks
            .iter()
            .map(|(_, task)| match *task {
                Task::Disperse(u) | Task::Peel(u, _) | Task::Mixer(u) | Task::Tx0(u) | Task::CashOut(u, _) => u.value,
                Task::Theft | Task::Consolidate => 0,
            })
            .sum();
        let dust: u64 = inc.dust.iter().chain(&inc.held).map(|u| u.value).sum();
        t.unspent_at_end = w.wallets[t.thief as usize].total() + pending + dust;
        out.push(t);
    }
    out
}
