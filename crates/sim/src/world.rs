//! The simulated economy: entities with wallets, and the machinery every behaviour shares
//! (addresses, coin selection, fees, fingerprints, building and recording transactions).
//!
//! Behaviours live in `economy` (payments, exchanges, pools, services), `coinjoin` and
//! `incident`. Everything is driven by one seeded `Rng` and ordered containers, so a seed
//! fixes the output byte for byte.

use std::collections::VecDeque;

use fundtrace_core::fasthash::FastMap;

use fundtrace_bitcoin::Network;
use fundtrace_core::Txid;

use crate::chain::ChainWriter;
use crate::rng::Rng;
use crate::truth::{Entity, Kind, Software, Truth};
use crate::tx::{build, vsize, Addr, AddrType, BuiltTx, Utxo};

/// Pockets of a wallet: spendable funds, customer deposits not yet swept, cold storage.
pub const MAIN: usize = 0;
pub const DEPOSITS: usize = 1;
pub const COLD: usize = 2;

/// Outputs below this are not created (Core's dust limit for P2PKH is 546 sat).
pub const DUST: u64 = 1_000;

/// A set of coins with its total kept up to date (services hold tens of thousands of coins
/// and check their balance often).
#[derive(Default)]
pub struct Pocket {
    coins: Vec<Utxo>,
    value: u64,
}

impl std::ops::Deref for Pocket {
    type Target = [Utxo];
    fn deref(&self) -> &[Utxo] {
        &self.coins
    }
}

impl Pocket {
    pub fn value(&self) -> u64 {
        self.value
    }
    pub fn push(&mut self, u: Utxo) {
        self.value += u.value;
        self.coins.push(u);
    }
    pub fn extend(&mut self, coins: impl IntoIterator<Item = Utxo>) {
        for u in coins {
            self.push(u);
        }
    }
    pub fn swap_remove(&mut self, i: usize) -> Utxo {
        let u = self.coins.swap_remove(i);
        self.value -= u.value;
        u
    }
    /// Removes the `n` oldest coins.
    pub fn drain_front(&mut self, n: usize) -> Vec<Utxo> {
        let out: Vec<Utxo> = self.coins.drain(..n).collect();
        self.value -= out.iter().map(|u| u.value).sum::<u64>();
        out
    }
    /// Removes the `n` newest coins.
    pub fn split_off_last(&mut self, n: usize) -> Vec<Utxo> {
        let out = self.coins.split_off(self.coins.len() - n);
        self.value -= out.iter().map(|u| u.value).sum::<u64>();
        out
    }
    pub fn take_all(&mut self) -> Vec<Utxo> {
        self.value = 0;
        std::mem::take(&mut self.coins)
    }
}

#[derive(Default)]
pub struct Wallet {
    /// MAIN, DEPOSITS, COLD and `coinjoin::PREMIX`.
    pub pockets: [Pocket; 4],
    /// The address a reusing wallet (or a service's hot/cold wallet) keeps paying to.
    pub fixed: [Option<Addr>; 4],
}

impl Wallet {
    pub fn balance(&self, pocket: usize) -> u64 {
        self.pockets[pocket].value()
    }
    pub fn total(&self) -> u64 {
        (0..self.pockets.len()).map(|p| self.balance(p)).sum()
    }
}

/// Who receives an output: entity, pocket, and the address.
#[derive(Clone, Copy, Debug)]
pub struct Payee {
    pub entity: u32,
    pub pocket: usize,
    pub addr: Addr,
    pub value: u64,
}

/// An input with its owner.
#[derive(Clone, Copy, Debug)]
pub struct Spend {
    pub entity: u32,
    pub utxo: Utxo,
}

/// What the planted incidents need to hear about every transaction touching a thief.
pub struct TxRecord<'a> {
    pub txid: Txid,
    pub spends: &'a [Spend],
    pub payees: &'a [Payee],
    pub fee: u64,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    /// Stop after at least this many transactions (coinbases included).
    pub txs: u64,
    pub network: Network,
    pub xor: bool,
    pub txs_per_block: u32,
    /// Simulated time span (block timestamps), as Unix seconds.
    pub start_time: u32,
    pub end_time: u32,
    /// Planted thefts; default: 4 per million transactions, at least 1.
    pub incidents: Option<u32>,
    /// Individuals in the population; default: one per 20 transactions, 300 to 5 million.
    pub individuals: Option<u32>,
    /// Share of the victim's hot wallet a theft takes, as (min, max).
    pub theft_share: (f64, f64),
    /// Relative weights of the routes a dispersed stolen coin takes: peel chain, custodial
    /// mixer, Whirlpool, consolidation then peel chain, direct cash-out.
    pub routes: [u32; 5],
}

impl Config {
    pub fn new(seed: u64, txs: u64) -> Config {
        Config {
            seed,
            txs,
            network: Network::Regtest,
            xor: false,
            txs_per_block: 500,
            start_time: 1_451_606_400, // 2016-01-01
            end_time: 1_748_736_000,   // 2025-06-01
            incidents: None,
            individuals: None,
            theft_share: (0.5, 0.8),
            routes: [40, 20, 15, 15, 10],
        }
    }
    pub fn incident_count(&self) -> u32 {
        self.incidents.unwrap_or(((self.txs * 4 / 1_000_000) as u32).max(1))
    }
    pub fn individual_count(&self) -> u32 {
        self.individuals.unwrap_or(((self.txs / 20) as u32).clamp(300, 5_000_000))
    }
    pub fn expected_blocks(&self) -> u64 {
        (self.txs / self.txs_per_block as u64).max(1) + 101
    }
}

pub struct World {
    pub cfg: Config,
    pub rng: Rng,
    pub entities: Vec<Entity>,
    pub wallets: Vec<Wallet>,
    /// Entity ids per kind (indexed by `Kind as usize`).
    pub by_kind: Vec<Vec<u32>>,
    /// One deposit address per (service, customer), as exchanges assign them.
    pub deposit_addresses: FastMap<(u32, u32), Addr>,
    pub chain: ChainWriter,
    pub truth: Truth,
    pub block: Vec<BuiltTx>,
    /// The block's transactions, serialized back to back.
    pub block_bytes: Vec<u8>,
    pub block_fees: u64,
    /// Fee rate of the block being built (sat/vB).
    pub feerate: u64,
    /// Coinbase outputs waiting 100 blocks to mature: (spendable at height, pool, output).
    pub immature: VecDeque<(u32, u32, Utxo)>,
    pub txs_written: u64,
    /// Entity id of each incident's thief -> incident index.
    pub thief_of: FastMap<u32, usize>,
    /// Per entity: is it a thief (checked on every transaction).
    pub is_thief: Vec<bool>,
    /// Per entity: its wallet software, looked up for every address and transaction. Kept
    /// apart from `entities` so that millions of random lookups hit a dense byte array (one
    /// cache line holds 64 entities) instead of a 48-byte record each.
    software: Vec<Software>,
    pub incidents: Vec<crate::incident::IncidentState>,
    pub mixer_payouts: Vec<crate::mixer::Payout>,
    /// Role and route the next transactions play in an incident (set by incident code).
    pub role: &'static str,
    pub route: &'static str,
    /// Entities holding Whirlpool premix or remix coins (ordered: deterministic iteration).
    pub premix_owners: std::collections::BTreeSet<u32>,
    /// Addresses made for the activity under way, written to the ground truth only when a
    /// transaction pays them (an activity that fails leaves no address behind).
    pub fresh: Vec<(Addr, u32)>,
    /// Kept addresses (hot wallets, deposit addresses) not yet paid on chain.
    pub unrecorded: FastMap<Addr, u32>,
    scratch_ins: Vec<(Utxo, u32)>,
    scratch_outs: Vec<(u64, Addr)>,
    /// Individuals drawn before they are needed (see `random_of`).
    ahead: VecDeque<u32>,
}

/// How many individuals are drawn ahead of use.
const LOOKAHEAD: usize = 8;

/// Asks the CPU to start loading `p`'s cache line (a hint: no access, no fault).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    // SAFETY: a prefetch never dereferences its address (any value is allowed, no fault can
    // result), and SSE, which it needs, is part of the x86_64 baseline.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

const COUNTRIES: [&str; 12] = ["US", "KR", "JP", "SG", "HK", "GB", "DE", "CH", "SC", "RU", "TR", "BR"];

impl World {
    pub fn new(cfg: Config, chain: ChainWriter, truth: Truth) -> World {
        let rng = Rng::new(cfg.seed);
        World {
            cfg,
            rng,
            entities: Vec::new(),
            wallets: Vec::new(),
            by_kind: vec![Vec::new(); 10],
            deposit_addresses: FastMap::default(),
            chain,
            truth,
            block: Vec::new(),
            block_bytes: Vec::new(),
            block_fees: 0,
            feerate: 5,
            immature: VecDeque::new(),
            txs_written: 0,
            thief_of: FastMap::default(),
            is_thief: Vec::new(),
            software: Vec::new(),
            incidents: Vec::new(),
            mixer_payouts: Vec::new(),
            role: "",
            route: "",
            premix_owners: Default::default(),
            fresh: Vec::new(),
            unrecorded: FastMap::default(),
            scratch_ins: Vec::new(),
            scratch_outs: Vec::new(),
            ahead: VecDeque::with_capacity(LOOKAHEAD),
        }
    }

    pub fn add_entity(&mut self, kind: Kind, name: String, software: Software) -> u32 {
        let id = self.entities.len() as u32;
        let country = *self.rng.pick(&COUNTRIES);
        self.entities.push(Entity { id, kind, name, country, software });
        self.wallets.push(Wallet::default());
        self.is_thief.push(kind == Kind::Thief);
        self.software.push(software);
        self.by_kind[kind as usize].push(id);
        id
    }

    pub fn software(&self, entity: u32) -> Software {
        self.software[entity as usize]
    }

    pub fn of_kind(&self, kind: Kind) -> &[u32] {
        &self.by_kind[kind as usize]
    }

    /// A random entity of `kind`.
    ///
    /// Individuals, millions of them, are drawn `LOOKAHEAD` calls ahead: with that many
    /// wallets the simulator is bound by memory latency (a wallet and its coins are two cache
    /// misses, a third of the run at 20 M transactions), and knowing the next participants
    /// early lets their wallets, then their coins, load while earlier transactions are built.
    pub fn random_of(&mut self, kind: Kind) -> Option<u32> {
        if kind == Kind::Individual && !self.of_kind(kind).is_empty() {
            while self.ahead.len() < LOOKAHEAD {
                let i = self.rng.below(self.of_kind(kind).len() as u64) as usize;
                let e = self.of_kind(kind)[i];
                prefetch(&self.wallets[e as usize]);
                self.ahead.push_back(e);
            }
            // Half-way through the queue the wallet has arrived: fetch its coins, the first
            // (spent from) and the end (paid to).
            let mid = self.ahead[LOOKAHEAD / 2] as usize;
            let coins = &self.wallets[mid].pockets[MAIN].coins;
            prefetch(coins.as_ptr());
            prefetch(coins.as_ptr().wrapping_add(coins.len()));
            return self.ahead.pop_front();
        }
        let n = self.of_kind(kind).len() as u64;
        if n == 0 {
            return None;
        }
        let i = self.rng.below(n) as usize;
        Some(self.of_kind(kind)[i])
    }

    /// Position of the current block in the simulated span, 0..1.
    pub fn era(&self) -> f64 {
        (self.chain.height as f64 / self.cfg.expected_blocks() as f64).min(1.0)
    }

    pub fn time(&self) -> u32 {
        let span = (self.cfg.end_time - self.cfg.start_time) as f64;
        self.cfg.start_time + (span * self.era()) as u32
    }

    /// The address family a wallet picks for a new address now: adoption shifts from P2PKH
    /// to nested and native segwit (2017-) and Taproot (late 2021-), at each software's pace.
    fn address_type(&mut self, software: Software) -> AddrType {
        let t = self.era();
        let r = self.rng.f64();
        use AddrType::*;
        match software {
            Software::Legacy => P2pkh,
            Software::Mobile => {
                if t < 0.2 || r < 0.1 {
                    P2pkh
                } else if t < 0.6 || r < 0.5 {
                    P2shP2wpkh
                } else {
                    P2wpkh
                }
            }
            Software::Core => {
                if t < 0.15 {
                    P2pkh
                } else if t < 0.3 {
                    if r < 0.6 { P2shP2wpkh } else { P2wpkh }
                } else if t < 0.7 || r < 0.6 {
                    P2wpkh
                } else {
                    P2tr
                }
            }
            Software::Electrum => {
                if t < 0.15 { P2pkh } else { P2wpkh }
            }
            Software::Service => {
                if t < 0.2 {
                    P2pkh
                } else if t < 0.45 {
                    P2shP2wpkh
                } else {
                    P2wpkh
                }
            }
        }
    }

    /// A fresh address of `entity`, recorded in the ground truth.
    pub fn new_address(&mut self, entity: u32) -> Addr {
        let ty = self.address_type(self.software(entity));
        self.new_address_of_type(entity, ty)
    }

    pub fn new_address_of_type(&mut self, entity: u32, ty: AddrType) -> Addr {
        let a = Addr::random(ty, &mut self.rng);
        self.fresh.push((a, entity));
        a
    }

    /// An address to keep (not single-use): recorded when first paid.
    fn kept_address(&mut self, entity: u32) -> Addr {
        let ty = self.address_type(self.software(entity));
        let a = Addr::random(ty, &mut self.rng);
        self.unrecorded.insert(a, entity);
        a
    }

    /// Writes newly paid addresses to the ground truth.
    pub fn record_paid(&mut self, payees: &[Payee]) {
        for p in payees {
            let entity = if let Some(i) = self.fresh.iter().position(|(a, _)| *a == p.addr) {
                self.fresh.swap_remove(i).1
            } else if let Some(e) = self.unrecorded.remove(&p.addr) {
                e
            } else {
                continue;
            };
            self.truth.address(&p.addr, entity).expect("writing ground truth");
        }
    }

    /// The address a wallet keeps for `pocket` (created on first use).
    pub fn fixed_address(&mut self, entity: u32, pocket: usize) -> Addr {
        if let Some(a) = self.wallets[entity as usize].fixed[pocket] {
            return a;
        }
        let a = self.kept_address(entity);
        self.wallets[entity as usize].fixed[pocket] = Some(a);
        a
    }

    /// `customer`'s deposit address at `service` (one per customer, reused).
    pub fn deposit_address(&mut self, service: u32, customer: u32) -> Addr {
        if let Some(a) = self.deposit_addresses.get(&(service, customer)) {
            return *a;
        }
        let a = self.kept_address(service);
        self.deposit_addresses.insert((service, customer), a);
        a
    }

    /// Change address per the wallet's habits: legacy wallets send change back to the first
    /// input's address; services to their hot wallet address; others to a fresh address.
    pub fn change_address(&mut self, entity: u32, pocket: usize, first_input: &Addr) -> Addr {
        match self.software(entity) {
            Software::Legacy => *first_input,
            Software::Service => {
                if self.rng.chance(0.7) {
                    self.fixed_address(entity, pocket)
                } else {
                    self.new_address(entity)
                }
            }
            _ => self.new_address(entity),
        }
    }

    /// Removes and returns random UTXOs of a pocket until they cover `need` (at most
    /// `max_inputs`); `None` (and nothing removed) if the pocket cannot.
    pub fn select(&mut self, entity: u32, pocket: usize, need: u64, max_inputs: usize) -> Option<Vec<Spend>> {
        let coins = &self.wallets[entity as usize].pockets[pocket];
        if coins.is_empty() {
            return None;
        }
        let mut picked: Vec<usize> = Vec::new();
        let mut sum = 0u64;
        // Random picks first (as wallets' randomized selection does); when the slots are full,
        // a larger random coin replaces the smallest pick. Only if sampling fails is the whole
        // pocket ordered (services hold many coins; that is O(n)).
        for _ in 0..4 * max_inputs.min(coins.len()) {
            let i = self.rng.below(coins.len() as u64) as usize;
            if picked.contains(&i) {
                continue;
            }
            if picked.len() < max_inputs {
                picked.push(i);
                sum += coins[i].value;
            } else {
                let (k, &smallest) = picked.iter().enumerate().min_by_key(|(_, &j)| coins[j].value).unwrap();
                if coins[i].value > coins[smallest].value {
                    sum = sum - coins[smallest].value + coins[i].value;
                    picked[k] = i;
                }
            }
            if sum >= need {
                break;
            }
        }
        if sum < need {
            let mut order: Vec<usize> = (0..coins.len()).collect();
            if order.len() > max_inputs {
                order.select_nth_unstable_by_key(max_inputs, |&i| std::cmp::Reverse(coins[i].value));
                order.truncate(max_inputs);
            }
            order.sort_by_key(|&i| std::cmp::Reverse(coins[i].value));
            picked.clear();
            sum = 0;
            for i in order {
                picked.push(i);
                sum += coins[i].value;
                if sum >= need {
                    break;
                }
            }
            if sum < need {
                return None;
            }
        }
        picked.sort_unstable_by(|a, b| b.cmp(a));
        let coins = &mut self.wallets[entity as usize].pockets[pocket];
        Some(picked.into_iter().map(|i| Spend { entity, utxo: coins.swap_remove(i) }).collect())
    }

    pub fn fee_for(&self, inputs: usize, in_ty: AddrType, outputs: usize, out_ty: AddrType) -> u64 {
        vsize(std::iter::repeat_n(in_ty, inputs), std::iter::repeat_n(out_ty, outputs)) * self.feerate
    }

    /// Builds a transaction with the fingerprints of the first spender's software, appends
    /// it to the block, credits the payees and tells the incidents. Returns its txid.
    pub fn transact(&mut self, mut spends: Vec<Spend>, mut payees: Vec<Payee>) -> Txid {
        let software = self.software(spends[0].entity);
        let height = self.chain.height + 1;
        let (version, locktime, sequence) = match software {
            // Anti-fee-sniping: locktime at the tip, sometimes up to 100 blocks back.
            Software::Core | Software::Electrum => {
                let back = if self.rng.chance(0.1) { self.rng.below(100) as u32 } else { 0 };
                (2, height.saturating_sub(1 + back), 0xffff_fffd)
            }
            Software::Mobile => (2, 0, 0xffff_ffff),
            Software::Legacy => (1, 0, 0xffff_ffff),
            Software::Service => (2, 0, 0xffff_fffe),
        };
        match software {
            Software::Electrum => {
                // BIP69: inputs by outpoint, outputs by value then script.
                spends.sort_by_key(|a| (a.utxo.txid.0, a.utxo.vout));
                payees.sort_by_key(|a| (a.value, a.addr.hash));
            }
            Software::Core => {
                for i in (1..payees.len()).rev() {
                    let j = self.rng.below(i as u64 + 1) as usize;
                    payees.swap(i, j);
                }
            }
            _ => {}
        }
        // Scratch vectors kept in the world: one allocation per run, not two per transaction.
        let (mut ins, mut outs) = (std::mem::take(&mut self.scratch_ins), std::mem::take(&mut self.scratch_outs));
        ins.clear();
        ins.extend(spends.iter().map(|s| (s.utxo, sequence)));
        outs.clear();
        outs.extend(payees.iter().map(|p| (p.value, p.addr)));
        let txid = self.transact_raw(version, locktime, &ins, &spends, &payees, &outs);
        (self.scratch_ins, self.scratch_outs) = (ins, outs);
        txid
    }

    /// Appends an already-ordered transaction (CoinJoins fix their own order and fields).
    pub fn transact_raw(
        &mut self,
        version: i32,
        locktime: u32,
        ins: &[(Utxo, u32)],
        spends: &[Spend],
        payees: &[Payee],
        outs: &[(u64, Addr)],
    ) -> Txid {
        let in_sum: u64 = spends.iter().map(|s| s.utxo.value).sum();
        let out_sum: u64 = payees.iter().map(|p| p.value).sum();
        assert!(in_sum >= out_sum, "simulator bug: a transaction creates value");
        let fee = in_sum - out_sum;
        let tx = build(&mut self.block_bytes, version, locktime, ins, outs, &mut self.rng);
        let txid = tx.txid;
        self.record_paid(payees);
        for (vout, p) in payees.iter().enumerate() {
            let u = Utxo { txid, vout: vout as u32, value: p.value, addr: p.addr };
            self.wallets[p.entity as usize].pockets[p.pocket].push(u);
            if p.pocket == crate::coinjoin::PREMIX {
                self.premix_owners.insert(p.entity);
            }
        }
        self.block_fees += fee;
        self.block.push(tx);
        self.txs_written += 1;
        if spends.iter().any(|s| self.is_thief[s.entity as usize]) || payees.iter().any(|p| self.is_thief[p.entity as usize]) {
            let rec = TxRecord { txid, spends, payees, fee };
            crate::incident::observe(self, &rec);
        }
        txid
    }

    /// Pays `payments` from `entity`'s `pocket`, adding change; `None` if funds are short.
    pub fn pay(&mut self, entity: u32, pocket: usize, payments: &[(u32, usize, Addr, u64)], max_inputs: usize) -> Option<Txid> {
        let total: u64 = payments.iter().map(|p| p.3).sum();
        let in_ty = self.wallets[entity as usize].pockets[pocket].first()?.addr.ty;
        let est_fee = self.fee_for(3, in_ty, payments.len() + 1, in_ty);
        let spends = self.select(entity, pocket, total + est_fee + DUST, max_inputs)?;
        let in_sum: u64 = spends.iter().map(|s| s.utxo.value).sum();
        let fee = vsize(spends.iter().map(|s| s.utxo.addr.ty), payments.iter().map(|p| p.2.ty).chain([in_ty])) * self.feerate;
        // Room for the change output: growing the vector was a measurable share of the run.
        let mut payees: Vec<Payee> = Vec::with_capacity(payments.len() + 1);
        payees.extend(payments.iter().map(|&(e, pk, addr, value)| Payee { entity: e, pocket: pk, addr, value }));
        let change = in_sum.checked_sub(total + fee);
        let Some(change) = change else {
            // Fee grew with more inputs than estimated: put the coins back.
            self.wallets[entity as usize].pockets[pocket].extend(spends.iter().map(|s| s.utxo));
            return None;
        };
        if change >= DUST {
            let addr = self.change_address(entity, pocket, &spends[0].utxo.addr);
            payees.push(Payee { entity, pocket, addr, value: change });
        }
        Some(self.transact(spends, payees))
    }
}
