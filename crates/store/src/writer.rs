//! The ledger writer: appends blocks in batches and commits each batch atomically.
//!
//! A batch lives in memory (new records, plus the few changes to committed records: spends of
//! old outputs, new heads of old addresses' output lists, hash slots). `commit` then
//! 1. grows a hash table into a new generation file if the batch would overload it,
//! 2. appends the new records to the column files and syncs them,
//! 3. writes the undo journal of the in-place changes and syncs it,
//! 4. applies the in-place changes and syncs them,
//! 5. replaces the manifest atomically, then removes the journal.
//!
//! A crash before 5 leaves the old manifest, the journal restores the in-place changes on
//! the next open, and appended bytes past the committed counts are cut off: the store is
//! exactly the last commit. See `journal` and `hashindex` for why this is exact.

use std::fs::File;
use std::path::{Path, PathBuf};

use fundtrace_bitcoin::AddressKey;
use fundtrace_core::{ScriptType, Txid};

use crate::column::{Appender, MutColumn};
use crate::error::StoreError;
use fundtrace_core::fasthash::{FastMap, FastSet};
use crate::hashindex;
use crate::journal::Journal;
use crate::layout::*;
use crate::ledger::Ledger;
use crate::manifest::{sync_dir, IndexState, Manifest};

/// An output to add.
#[derive(Clone, Copy, Debug)]
pub struct NewOutput<'a> {
    pub value: u64,
    pub script_type: ScriptType,
    pub address: Option<AddressKey>,
    /// For P2PK outputs: the public key behind `address`.
    pub pubkey: Option<&'a [u8]>,
}

/// A transaction's own fields.
#[derive(Clone, Copy, Debug)]
pub struct NewTx {
    pub txid: Txid,
    pub wtxid: Txid,
    pub version: i32,
    pub locktime: u32,
    pub size: u32,
    pub weight: u32,
}

/// An input to add: the outpoint it spends (`None` for a coinbase) and its sequence.
#[derive(Clone, Copy, Debug)]
pub struct NewInput {
    pub spends: Option<(Txid, u32)>,
    pub sequence: u32,
}

/// Why a transaction cannot be added. The writer's batch is unusable afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxError {
    UnknownOutput { input: usize, txid: Txid, vout: u32 },
    NoSuchOutput { input: usize, txid: Txid, vout: u32, outputs: u64 },
    DoubleSpend { input: usize, txid: Txid, vout: u32 },
    ValueOverflow,
    CreatesValue { inputs: u64, outputs: u64 },
    AddressIdsExhausted,
}

impl std::fmt::Display for TxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxError::UnknownOutput { input, txid, vout } => {
                write!(f, "input {input} spends unknown output {txid}:{vout}")
            }
            TxError::NoSuchOutput { input, txid, vout, outputs } => {
                write!(f, "input {input} spends {txid}:{vout} but that transaction has {outputs} outputs")
            }
            TxError::DoubleSpend { input, txid, vout } => {
                write!(f, "input {input} spends {txid}:{vout}, which is already spent")
            }
            TxError::ValueOverflow => write!(f, "amounts exceed 21,000,000 BTC"),
            TxError::CreatesValue { inputs, outputs } => {
                write!(f, "outputs ({outputs} sat) exceed inputs ({inputs} sat)")
            }
            TxError::AddressIdsExhausted => write!(f, "more than 2^32-1 distinct addresses"),
        }
    }
}

/// 21 million BTC in satoshi: no amount or sum may exceed it (Core's MoneyRange).
pub const MAX_MONEY: u64 = 21_000_000 * 100_000_000;

/// Records added since the last commit, in column order.
#[derive(Default)]
struct Batch {
    blocks: Vec<BlockRecord>,
    txid: Vec<[u8; 32]>,
    wtxid: Vec<[u8; 32]>,
    first_input: Vec<u64>,
    first_output: Vec<u64>,
    version: Vec<u32>,
    locktime: Vec<u32>,
    size: Vec<u32>,
    weight: Vec<u32>,
    in_spent: Vec<u64>,
    in_sequence: Vec<u32>,
    out_value: Vec<u64>,
    out_address: Vec<u32>,
    out_type: Vec<u8>,
    out_spent_by: Vec<u64>,
    out_prev: Vec<u64>,
    addr_end: Vec<u64>,
    addr_bytes: Vec<u8>,
    addr_last: Vec<u64>,
    pubkeys: Vec<PubkeyRecord>,
    /// txid -> newest tx id among the batch's transactions.
    new_txids: FastMap<Txid, u64>,
    new_addresses: FastMap<AddressKey, u32>,
    /// Committed outputs spent in this batch -> spending input.
    spent_committed: FastMap<u64, u64>,
    /// Committed addresses paid in this batch -> their newest output.
    last_committed: FastMap<u32, u64>,
}

impl Batch {
    /// Empties the batch but keeps its allocations: the next batch reuses the same pages
    /// instead of faulting in (and having the kernel zero) fresh ones.
    fn clear(&mut self) {
        self.blocks.clear();
        self.txid.clear();
        self.wtxid.clear();
        self.first_input.clear();
        self.first_output.clear();
        self.version.clear();
        self.locktime.clear();
        self.size.clear();
        self.weight.clear();
        self.in_spent.clear();
        self.in_sequence.clear();
        self.out_value.clear();
        self.out_address.clear();
        self.out_type.clear();
        self.out_spent_by.clear();
        self.out_prev.clear();
        self.addr_end.clear();
        self.addr_bytes.clear();
        self.addr_last.clear();
        self.pubkeys.clear();
        self.new_txids.clear();
        self.new_addresses.clear();
        self.spent_committed.clear();
        self.last_committed.clear();
    }
}

struct Appenders {
    blocks: Appender,
    txid: Appender,
    wtxid: Appender,
    first_input: Appender,
    first_output: Appender,
    version: Appender,
    locktime: Appender,
    size: Appender,
    weight: Appender,
    in_spent: Appender,
    in_sequence: Appender,
    out_value: Appender,
    out_address: Appender,
    out_type: Appender,
    out_spent_by: Appender,
    out_prev: Appender,
    addr_end: Appender,
    addr_bytes: Appender,
    addr_last: Appender,
    pubkeys: Appender,
}

impl Appenders {
    fn open(dir: &Path, m: &Manifest) -> Result<Appenders, StoreError> {
        let a = |name: &str, records: u64, size: usize| Appender::open(&dir.join(name), records * size as u64);
        Ok(Appenders {
            blocks: a(BLOCKS, m.blocks, std::mem::size_of::<BlockRecord>())?,
            txid: a(TX_TXID, m.txs, 32)?,
            wtxid: a(TX_WTXID, m.txs, 32)?,
            first_input: a(TX_FIRST_INPUT, m.txs, 8)?,
            first_output: a(TX_FIRST_OUTPUT, m.txs, 8)?,
            version: a(TX_VERSION, m.txs, 4)?,
            locktime: a(TX_LOCKTIME, m.txs, 4)?,
            size: a(TX_SIZE, m.txs, 4)?,
            weight: a(TX_WEIGHT, m.txs, 4)?,
            in_spent: a(IN_SPENT, m.inputs, 8)?,
            in_sequence: a(IN_SEQUENCE, m.inputs, 4)?,
            out_value: a(OUT_VALUE, m.outputs, 8)?,
            out_address: a(OUT_ADDRESS, m.outputs, 4)?,
            out_type: a(OUT_TYPE, m.outputs, 1)?,
            out_spent_by: a(OUT_SPENT_BY, m.outputs, 8)?,
            out_prev: a(OUT_PREV_SAME_ADDRESS, m.outputs, 8)?,
            addr_end: a(ADDR_END, m.addresses, 8)?,
            addr_bytes: a(ADDR_BYTES, m.address_bytes, 1)?,
            addr_last: a(ADDR_LAST_OUTPUT, m.addresses, 8)?,
            pubkeys: a(PUBKEYS, m.pubkeys, std::mem::size_of::<PubkeyRecord>())?,
        })
    }

    fn write(&mut self, b: &Batch) -> Result<(), StoreError> {
        self.blocks.push(&b.blocks)?;
        self.txid.push(&b.txid)?;
        self.wtxid.push(&b.wtxid)?;
        self.first_input.push(&b.first_input)?;
        self.first_output.push(&b.first_output)?;
        self.version.push(&b.version)?;
        self.locktime.push(&b.locktime)?;
        self.size.push(&b.size)?;
        self.weight.push(&b.weight)?;
        self.in_spent.push(&b.in_spent)?;
        self.in_sequence.push(&b.in_sequence)?;
        self.out_value.push(&b.out_value)?;
        self.out_address.push(&b.out_address)?;
        self.out_type.push(&b.out_type)?;
        self.out_spent_by.push(&b.out_spent_by)?;
        self.out_prev.push(&b.out_prev)?;
        self.addr_end.push(&b.addr_end)?;
        self.addr_bytes.push(&b.addr_bytes)?;
        self.addr_last.push(&b.addr_last)?;
        self.pubkeys.push(&b.pubkeys)?;
        for a in [
            &mut self.blocks,
            &mut self.txid,
            &mut self.wtxid,
            &mut self.first_input,
            &mut self.first_output,
            &mut self.version,
            &mut self.locktime,
            &mut self.size,
            &mut self.weight,
            &mut self.in_spent,
            &mut self.in_sequence,
            &mut self.out_value,
            &mut self.out_address,
            &mut self.out_type,
            &mut self.out_spent_by,
            &mut self.out_prev,
            &mut self.addr_end,
            &mut self.addr_bytes,
            &mut self.addr_last,
            &mut self.pubkeys,
        ] {
            a.sync()?;
        }
        Ok(())
    }
}

/// Writable views of the committed parts of the mutable arrays.
struct InPlace {
    spent_by: MutColumn<u64>,
    last_output: MutColumn<u64>,
    txid_slots: MutColumn<u64>,
    address_slots: MutColumn<u64>,
}

impl InPlace {
    fn open(dir: &Path, m: &Manifest) -> Result<InPlace, StoreError> {
        Ok(InPlace {
            spent_by: MutColumn::open(&dir.join(OUT_SPENT_BY), m.outputs)?,
            last_output: MutColumn::open(&dir.join(ADDR_LAST_OUTPUT), m.addresses)?,
            txid_slots: MutColumn::open(&dir.join(txid_index(m.txid_index.generation)), m.txid_index.slots)?,
            address_slots: MutColumn::open(&dir.join(address_index(m.address_index.generation)), m.address_index.slots)?,
        })
    }

    fn array(&mut self, m: Mutable) -> &mut [u64] {
        match m {
            Mutable::OutSpentBy => self.spent_by.as_mut_slice(),
            Mutable::AddrLastOutput => self.last_output.as_mut_slice(),
            Mutable::TxidIndex => self.txid_slots.as_mut_slice(),
            Mutable::AddressIndex => self.address_slots.as_mut_slice(),
        }
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.spent_by.flush()?;
        self.last_output.flush()?;
        self.txid_slots.flush()?;
        self.address_slots.flush()
    }
}

/// Exclusive writer of one store directory.
pub struct Writer {
    dir: PathBuf,
    _lock: File,
    view: Ledger,
    in_place: InPlace,
    appenders: Appenders,
    batch: Batch,
    /// Addresses whose public key is already recorded.
    pubkey_addresses: FastSet<u32>,
}

impl Writer {
    /// Opens (creating if needed) the store in `dir` for writing, for the given chain and
    /// network. Repairs an interrupted commit first.
    pub fn open(dir: &Path, chain: &str, network: &str) -> Result<Writer, StoreError> {
        std::fs::create_dir_all(dir).map_err(crate::column::io(dir))?;
        let lock_path = dir.join(LOCK);
        let lock = File::options().create(true).truncate(false).write(true).open(&lock_path).map_err(crate::column::io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(StoreError::Locked { dir: dir.to_path_buf() }),
            Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::Io { path: lock_path, source: e }),
        }
        let manifest = match Manifest::load(dir) {
            Ok(m) => m,
            Err(StoreError::Missing { .. }) => {
                let mut m = Manifest::new(chain, network);
                m.txid_index = IndexState { generation: 0, slots: hashindex::slots_for(0) };
                m.address_index = IndexState { generation: 0, slots: hashindex::slots_for(0) };
                hashindex::build(&dir.join(txid_index(0)), m.txid_index.slots, std::iter::empty())?;
                hashindex::build(&dir.join(address_index(0)), m.address_index.slots, std::iter::empty())?;
                m.store(dir)?;
                m
            }
            Err(e) => return Err(e),
        };
        if manifest.chain != chain || manifest.network != network {
            return Err(StoreError::WrongNetwork {
                store: format!("{} {}", manifest.chain, manifest.network),
                blocks: format!("{chain} {network}"),
            });
        }
        recover(dir, &manifest)?;
        let view = Ledger::open(dir)?;
        let pubkey_addresses = view.pubkeys.as_slice().iter().map(|p| p.address).collect();
        Ok(Writer {
            in_place: InPlace::open(dir, &manifest)?,
            appenders: Appenders::open(dir, &manifest)?,
            view,
            batch: Batch::default(),
            pubkey_addresses,
            dir: dir.to_path_buf(),
            _lock: lock,
        })
    }

    /// The committed state.
    pub fn ledger(&self) -> &Ledger {
        &self.view
    }

    fn m(&self) -> &Manifest {
        &self.view.manifest
    }

    /// Blocks added since the last commit.
    pub fn pending_blocks(&self) -> u64 {
        self.batch.blocks.len() as u64
    }
    pub fn pending_txs(&self) -> u64 {
        self.batch.txid.len() as u64
    }
    /// Rough memory held by the batch, for deciding when to commit.
    pub fn pending_records(&self) -> u64 {
        (self.batch.txid.len() + self.batch.in_spent.len() + self.batch.out_value.len()) as u64
    }

    /// Starts a block; its transactions follow with `add_tx`.
    pub fn add_block(&mut self, hash: [u8; 32], header: [u8; 80], size: u32, weight: u32) {
        let first_tx = self.m().txs + self.batch.txid.len() as u64;
        self.batch.blocks.push(BlockRecord { hash, header, first_tx, size, weight });
    }

    /// Tx id a txid resolves to (newest first: batch, then committed).
    fn resolve_tx(&self, txid: &Txid) -> Option<u64> {
        self.batch.new_txids.get(txid).copied().or_else(|| self.view.find_tx(txid).map(|t| t.0))
    }

    fn outputs_range(&self, tx: u64) -> (u64, u64) {
        let m = self.m();
        let first = |t: u64| -> u64 {
            if t < m.txs {
                self.view.tx_first_output.as_slice()[t as usize]
            } else {
                self.batch.first_output[(t - m.txs) as usize]
            }
        };
        let end = if tx + 1 < m.txs + self.batch.txid.len() as u64 {
            first(tx + 1)
        } else {
            m.outputs + self.batch.out_value.len() as u64
        };
        (first(tx), end)
    }

    /// Adds a transaction of the current block. Returns its fee (0 for a coinbase).
    pub fn add_tx(&mut self, tx: &NewTx, inputs: &[NewInput], outputs: &[NewOutput<'_>]) -> Result<u64, TxError> {
        let committed_outputs = self.m().outputs;
        let committed_inputs = self.m().inputs;
        let committed_txs = self.m().txs;
        let committed_addresses = self.m().addresses;
        let tx_id = committed_txs + self.batch.txid.len() as u64;
        let first_input = committed_inputs + self.batch.in_spent.len() as u64;
        let first_output = committed_outputs + self.batch.out_value.len() as u64;

        let mut in_sum = 0u64;
        let mut coinbase = false;
        for (n, input) in inputs.iter().enumerate() {
            let input_id = first_input + n as u64;
            let Some((txid, vout)) = input.spends else {
                coinbase = true;
                self.batch.in_spent.push(NONE);
                self.batch.in_sequence.push(input.sequence);
                continue;
            };
            let spent_tx = self.resolve_tx(&txid).ok_or(TxError::UnknownOutput { input: n, txid, vout })?;
            let (start, end) = self.outputs_range(spent_tx);
            if vout as u64 >= end - start {
                return Err(TxError::NoSuchOutput { input: n, txid, vout, outputs: end - start });
            }
            let o = start + vout as u64;
            let value = if o < committed_outputs {
                let old = self.in_place.spent_by.as_slice()[o as usize];
                if old < committed_inputs || self.batch.spent_committed.contains_key(&o) {
                    return Err(TxError::DoubleSpend { input: n, txid, vout });
                }
                self.batch.spent_committed.insert(o, input_id);
                self.view.out_value.as_slice()[o as usize]
            } else {
                let i = (o - committed_outputs) as usize;
                if self.batch.out_spent_by[i] != NONE {
                    return Err(TxError::DoubleSpend { input: n, txid, vout });
                }
                self.batch.out_spent_by[i] = input_id;
                self.batch.out_value[i]
            };
            in_sum = in_sum.checked_add(value).filter(|&s| s <= MAX_MONEY).ok_or(TxError::ValueOverflow)?;
            self.batch.in_spent.push(o);
            self.batch.in_sequence.push(input.sequence);
        }

        let mut out_sum = 0u64;
        for (n, out) in outputs.iter().enumerate() {
            let o = first_output + n as u64;
            out_sum = out_sum
                .checked_add(out.value)
                .filter(|&s| out.value <= MAX_MONEY && s <= MAX_MONEY)
                .ok_or(TxError::ValueOverflow)?;
            let (address, prev) = match &out.address {
                None => (NO_ADDRESS, NONE),
                Some(key) => {
                    let a = self.address_id(key)?;
                    let prev = if (a as u64) < committed_addresses {
                        let head = self.batch.last_committed.insert(a, o);
                        head.unwrap_or(self.in_place.last_output.as_slice()[a as usize])
                    } else {
                        std::mem::replace(&mut self.batch.addr_last[(a as u64 - committed_addresses) as usize], o)
                    };
                    if let Some(pk) = out.pubkey {
                        if self.pubkey_addresses.insert(a) {
                            let mut key = [0u8; 65];
                            key[..pk.len()].copy_from_slice(pk);
                            self.batch.pubkeys.push(PubkeyRecord { address: a, len: pk.len() as u8, key, _pad: [0; 2] });
                        }
                    }
                    (a, prev)
                }
            };
            self.batch.out_value.push(out.value);
            self.batch.out_address.push(address);
            self.batch.out_type.push(out.script_type as u8);
            self.batch.out_spent_by.push(NONE);
            self.batch.out_prev.push(prev);
        }
        if !coinbase && out_sum > in_sum {
            return Err(TxError::CreatesValue { inputs: in_sum, outputs: out_sum });
        }

        let b = &mut self.batch;
        b.txid.push(tx.txid.0);
        b.wtxid.push(tx.wtxid.0);
        b.first_input.push(first_input);
        b.first_output.push(first_output);
        b.version.push(tx.version as u32);
        b.locktime.push(tx.locktime);
        b.size.push(tx.size);
        b.weight.push(tx.weight);
        b.new_txids.insert(tx.txid, tx_id);
        Ok(if coinbase { 0 } else { in_sum - out_sum })
    }

    /// The id of an address, adding it to the dictionary if new.
    fn address_id(&mut self, key: &AddressKey) -> Result<u32, TxError> {
        if let Some(&a) = self.batch.new_addresses.get(key) {
            return Ok(a);
        }
        if let Some(a) = self.view.find_address(key.as_bytes()) {
            return Ok(a.0);
        }
        let a = self.m().addresses + self.batch.addr_end.len() as u64;
        if a >= NO_ADDRESS as u64 {
            return Err(TxError::AddressIdsExhausted);
        }
        self.batch.addr_bytes.extend_from_slice(key.as_bytes());
        self.batch.addr_end.push(self.m().address_bytes + self.batch.addr_bytes.len() as u64);
        self.batch.addr_last.push(NONE);
        self.batch.new_addresses.insert(*key, a as u32);
        Ok(a as u32)
    }

    /// Drops everything added since the last commit.
    pub fn discard(&mut self) {
        self.batch.clear();
        // Pubkeys recorded by the batch are forgotten with it.
        self.pubkey_addresses = self.view.pubkeys.as_slice().iter().map(|p| p.address).collect();
    }

    /// Commits the batch (see the module comment for the protocol). `skipped` is
    /// (stale, orphan) blocks counted by this ingest run.
    pub fn commit(&mut self, skipped: Option<(u64, u64)>) -> Result<(), StoreError> {
        let old = self.m().clone();
        let b = &self.batch;
        let mut m = old.clone();
        m.seq += 1;
        m.blocks += b.blocks.len() as u64;
        m.txs += b.txid.len() as u64;
        m.inputs += b.in_spent.len() as u64;
        m.outputs += b.out_value.len() as u64;
        m.addresses += b.addr_end.len() as u64;
        m.address_bytes += b.addr_bytes.len() as u64;
        m.pubkeys += b.pubkeys.len() as u64;
        if let Some((stale, orphans)) = skipped {
            m.stale_blocks_skipped = stale;
            m.orphan_blocks_skipped = orphans;
        }

        // 1. Grow hash tables into new generations holding the committed entries.
        let grow_txids = m.txs as f64 > old.txid_index.slots as f64 * hashindex::MAX_LOAD;
        let grow_addresses = m.addresses as f64 > old.address_index.slots as f64 * hashindex::MAX_LOAD;
        if grow_txids {
            m.txid_index = IndexState { generation: old.txid_index.generation + 1, slots: hashindex::slots_for(m.txs) };
            let ids = self.view.tx_txid.as_slice();
            let path = self.dir.join(txid_index(m.txid_index.generation));
            rebuild_txid_index(&path, m.txid_index.slots, ids)?;
        }
        if grow_addresses {
            m.address_index =
                IndexState { generation: old.address_index.generation + 1, slots: hashindex::slots_for(m.addresses) };
            let path = self.dir.join(address_index(m.address_index.generation));
            let view = &self.view;
            hashindex::build(
                &path,
                m.address_index.slots,
                (0..old.addresses).map(|a| (hashindex::address_hash(view.address_key(fundtrace_core::AddressId(a as u32))), a)),
            )?;
        }

        // 2. Append the new records.
        self.appenders.write(&self.batch)?;
        crash_point("after-append");

        // 3. Fill hash slots, plan the other in-place changes, journal their old values.
        if grow_txids {
            self.in_place.txid_slots = MutColumn::open(&self.dir.join(txid_index(m.txid_index.generation)), m.txid_index.slots)?;
        }
        if grow_addresses {
            self.in_place.address_slots =
                MutColumn::open(&self.dir.join(address_index(m.address_index.generation)), m.address_index.slots)?;
        }
        let b = &self.batch;
        let mut changes: Vec<(Mutable, u64, u64)> = Vec::new();
        let mut spends: Vec<(u64, u64)> = b.spent_committed.iter().map(|(&o, &i)| (o, i)).collect();
        spends.sort_unstable();
        changes.extend(spends.into_iter().map(|(o, i)| (Mutable::OutSpentBy, o, i)));
        let mut heads: Vec<(u32, u64)> = b.last_committed.iter().map(|(&a, &o)| (a, o)).collect();
        heads.sort_unstable();
        changes.extend(heads.into_iter().map(|(a, o)| (Mutable::AddrLastOutput, a as u64, o)));
        // New keys go into empty slots right away: recovery clears every slot holding an
        // uncommitted id, journal or not, which restores the table exactly. Replacing a
        // committed slot (a txid repeated by a pre-BIP30 coinbase) is journaled like the rest,
        // unless the table is a new generation that no manifest references yet.
        let committed_ids = self.view.tx_txid.as_slice();
        let slots = self.in_place.txid_slots.as_mut_slice();
        for (n, txid) in b.txid.iter().enumerate() {
            let id = old.txs + n as u64;
            let t = fundtrace_core::Hash32(*txid);
            if b.new_txids.get(&t) != Some(&id) {
                continue; // a later tx of this batch has the same txid
            }
            let h = hashindex::txid_hash(&t);
            match hashindex::lookup(slots, h, old.txs, |i| committed_ids[i as usize] == *txid) {
                Some((slot, _)) if !grow_txids => changes.push((Mutable::TxidIndex, slot as u64, hashindex::entry(h, id))),
                Some((slot, _)) => slots[slot] = hashindex::entry(h, id),
                None => {
                    let slot = hashindex::empty_slot(slots, h);
                    slots[slot] = hashindex::entry(h, id);
                }
            }
        }
        let slots = self.in_place.address_slots.as_mut_slice();
        for (n, a) in (old.addresses..m.addresses).enumerate() {
            let start = if n == 0 { 0 } else { b.addr_end[n - 1] - old.address_bytes };
            let key = &b.addr_bytes[start as usize..(b.addr_end[n] - old.address_bytes) as usize];
            let h = hashindex::address_hash(key);
            let slot = hashindex::empty_slot(slots, h);
            slots[slot] = hashindex::entry(h, a);
        }
        let journal = Journal {
            target_seq: m.seq,
            entries: changes.iter().map(|&(arr, i, _)| (arr, i, self.in_place.array(arr)[i as usize])).collect(),
        };
        journal.write(&self.dir)?;
        crash_point("after-journal");

        // 4. Apply and sync.
        let (first, second) = changes.split_at(changes.len() / 2);
        for (k, part) in [first, second].into_iter().enumerate() {
            if k == 1 {
                crash_point("mid-apply");
            }
            for &(arr, i, new) in part {
                self.in_place.array(arr)[i as usize] = new;
            }
        }
        self.in_place.flush()?;
        crash_point("after-apply");

        // 5. Publish.
        m.store(&self.dir)?;
        crash_point("after-manifest");
        Journal::remove(&self.dir)?;
        if grow_txids {
            remove_if_exists(&self.dir.join(txid_index(old.txid_index.generation)))?;
        }
        if grow_addresses {
            remove_if_exists(&self.dir.join(address_index(old.address_index.generation)))?;
        }

        self.view = Ledger::open(&self.dir)?;
        self.in_place = InPlace::open(&self.dir, &m)?;
        self.batch.clear();
        Ok(())
    }
}

/// Test hook: `FUNDTRACE_CRASH_AT=<point>` aborts the process at that step of a commit (on
/// the commit numbered `FUNDTRACE_CRASH_COMMIT`, default the first), as a power cut would.
pub fn crash_point(point: &str) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEEN: AtomicU64 = AtomicU64::new(0);
    let Some(at) = std::env::var_os("FUNDTRACE_CRASH_AT") else { return };
    if at != point {
        return;
    }
    let target: u64 = std::env::var("FUNDTRACE_CRASH_COMMIT").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    if SEEN.fetch_add(1, Ordering::SeqCst) + 1 == target {
        std::process::abort();
    }
}

fn remove_if_exists(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::Io { path: path.to_path_buf(), source: e }),
        _ => Ok(()),
    }
}

/// Builds a txid table over the committed txids, a repeated txid pointing at its newest tx.
fn rebuild_txid_index(path: &Path, slots: u64, ids: &[[u8; 32]]) -> Result<(), StoreError> {
    hashindex::build(path, slots, std::iter::empty())?;
    let mut table = MutColumn::<u64>::open(path, slots)?;
    let t = table.as_mut_slice();
    for (id, txid) in ids.iter().enumerate() {
        let h = hashindex::txid_hash(&fundtrace_core::Hash32(*txid));
        let slot = match hashindex::lookup(t, h, id as u64, |i| ids[i as usize] == *txid) {
            Some((slot, _)) => slot,
            None => hashindex::empty_slot(t, h),
        };
        t[slot] = hashindex::entry(h, id as u64);
    }
    table.flush()
}

/// Brings the files back to exactly the committed state of `m`: undoes an interrupted
/// commit's in-place changes, clears hash slots of uncommitted ids, and removes files of
/// unused index generations. (Column tails are cut when the appenders open.)
fn recover(dir: &Path, m: &Manifest) -> Result<(), StoreError> {
    let journal = Journal::read(dir)?;
    let interrupted = journal.as_ref().is_some_and(|j| j.target_seq > m.seq);
    let mut in_place = InPlace::open(dir, m)?;
    // Hash slots can be written before the journal is durable, so they are scrubbed even
    // without one. The scan is a sequential pass over the two tables.
    let mut dirty = false;
    for (arr, limit) in [(Mutable::TxidIndex, m.txs), (Mutable::AddressIndex, m.addresses)] {
        for s in in_place.array(arr).iter_mut() {
            if *s != 0 && hashindex::entry_id(*s) >= limit {
                *s = 0;
                dirty = true;
            }
        }
    }
    if interrupted {
        for &(arr, i, old) in journal.as_ref().unwrap().entries.iter().rev() {
            if let Some(v) = in_place.array(arr).get_mut(i as usize) {
                *v = old;
            }
        }
        dirty = true;
    }
    if dirty {
        in_place.flush()?;
    }
    if journal.is_some() {
        Journal::remove(dir)?;
    }
    let keep = [txid_index(m.txid_index.generation), address_index(m.address_index.generation)];
    for entry in std::fs::read_dir(dir).map_err(crate::column::io(dir))? {
        let entry = entry.map_err(crate::column::io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let stray_index = (name.starts_with("txid.idx.") || name.starts_with("addr.idx.")) && !keep.contains(&name);
        if stray_index || name == "MANIFEST.tmp" {
            remove_if_exists(&entry.path())?;
        }
    }
    sync_dir(dir)
}
