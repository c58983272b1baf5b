//! Reading the ledger store: every column mapped, nothing loaded. Opening a store of any
//! size costs a few `mmap` calls; each query touches only the records it needs.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use fundtrace_core::{AddressId, BlockHash, Hash32, InputId, OutputId, ScriptType, TxId, Txid};

use crate::column::Column;
use crate::error::StoreError;
use crate::hashindex;
use crate::journal::Journal;
use crate::layout::*;
use crate::manifest::Manifest;

/// A consistent read-only view of the store as of its last commit.
pub struct Ledger {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub(crate) blocks: Column<BlockRecord>,
    pub(crate) tx_txid: Column<[u8; 32]>,
    pub(crate) tx_wtxid: Column<[u8; 32]>,
    pub(crate) tx_first_input: Column<u64>,
    pub(crate) tx_first_output: Column<u64>,
    pub(crate) tx_version: Column<u32>,
    pub(crate) tx_locktime: Column<u32>,
    pub(crate) tx_size: Column<u32>,
    pub(crate) tx_weight: Column<u32>,
    pub(crate) in_spent: Column<u64>,
    pub(crate) in_sequence: Column<u32>,
    pub(crate) out_value: Column<u64>,
    pub(crate) out_address: Column<u32>,
    pub(crate) out_type: Column<u8>,
    pub(crate) out_spent_by: Column<u64>,
    pub(crate) out_prev_same_address: Column<u64>,
    pub(crate) addr_end: Column<u64>,
    pub(crate) addr_bytes: Column<u8>,
    pub(crate) addr_last_output: Column<u64>,
    pub(crate) pubkeys: Column<PubkeyRecord>,
    pub(crate) txid_index: Column<u64>,
    pub(crate) address_index: Column<u64>,
    /// Old values of addresses' list heads while a commit is in progress or was interrupted.
    last_output_overlay: HashMap<u64, u64>,
    /// Every `SAMPLE`-th transaction's first input and first output, built on first use: the
    /// cache-resident top of the searches from an input or output to its transaction.
    samples: std::sync::OnceLock<(Vec<u64>, Vec<u64>)>,
}

/// Sampling stride of `Ledger::samples`: a search within one stride touches 8 KiB.
const SAMPLE: usize = 1024;

/// A transaction's own fields.
#[derive(Clone, Debug)]
pub struct TxRecord {
    pub id: TxId,
    pub txid: Txid,
    pub wtxid: Txid,
    pub version: i32,
    pub locktime: u32,
    pub size: u32,
    pub weight: u32,
    pub inputs: Range<u64>,
    pub outputs: Range<u64>,
}

impl TxRecord {
    /// Only a coinbase has an input that spends no output.
    pub fn is_coinbase(&self, ledger: &Ledger) -> bool {
        ledger.input_spent(InputId(self.inputs.start)).is_none()
    }
}

/// An output as stored.
#[derive(Clone, Copy, Debug)]
pub struct OutputRecord {
    pub id: OutputId,
    pub value: u64,
    pub script_type: ScriptType,
    pub address: Option<AddressId>,
    pub spent_by: Option<InputId>,
}

impl Ledger {
    /// Opens the store in `dir` (the chain's directory inside the data directory).
    pub fn open(dir: &Path) -> Result<Ledger, StoreError> {
        let manifest = Manifest::load(dir)?;
        let m = &manifest;
        let p = |name: &str| dir.join(name);
        let overlay = match Journal::read(dir)? {
            Some(j) if j.target_seq > m.seq => j
                .entries
                .iter()
                .filter(|(a, _, _)| *a == Mutable::AddrLastOutput)
                .map(|&(_, i, old)| (i, old))
                .collect(),
            _ => HashMap::new(),
        };
        Ok(Ledger {
            blocks: Column::open(&p(BLOCKS), m.blocks)?,
            tx_txid: Column::open(&p(TX_TXID), m.txs)?,
            tx_wtxid: Column::open(&p(TX_WTXID), m.txs)?,
            tx_first_input: Column::open(&p(TX_FIRST_INPUT), m.txs)?,
            tx_first_output: Column::open(&p(TX_FIRST_OUTPUT), m.txs)?,
            tx_version: Column::open(&p(TX_VERSION), m.txs)?,
            tx_locktime: Column::open(&p(TX_LOCKTIME), m.txs)?,
            tx_size: Column::open(&p(TX_SIZE), m.txs)?,
            tx_weight: Column::open(&p(TX_WEIGHT), m.txs)?,
            in_spent: Column::open(&p(IN_SPENT), m.inputs)?,
            in_sequence: Column::open(&p(IN_SEQUENCE), m.inputs)?,
            out_value: Column::open(&p(OUT_VALUE), m.outputs)?,
            out_address: Column::open(&p(OUT_ADDRESS), m.outputs)?,
            out_type: Column::open(&p(OUT_TYPE), m.outputs)?,
            out_spent_by: Column::open(&p(OUT_SPENT_BY), m.outputs)?,
            out_prev_same_address: Column::open(&p(OUT_PREV_SAME_ADDRESS), m.outputs)?,
            addr_end: Column::open(&p(ADDR_END), m.addresses)?,
            addr_bytes: Column::open(&p(ADDR_BYTES), m.address_bytes)?,
            addr_last_output: Column::open(&p(ADDR_LAST_OUTPUT), m.addresses)?,
            pubkeys: Column::open(&p(PUBKEYS), m.pubkeys)?,
            txid_index: Column::open(&p(&txid_index(m.txid_index.generation)), m.txid_index.slots)?,
            address_index: Column::open(&p(&address_index(m.address_index.generation)), m.address_index.slots)?,
            last_output_overlay: overlay,
            samples: std::sync::OnceLock::new(),
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// SHA-256 over every committed record of every file (hash tables included) and the
    /// manifest's counts: equal digests mean equal stores, whatever batches or interruptions
    /// produced them. Reads the whole store.
    pub fn content_digest(&self) -> Hash32 {
        use crate::column::as_bytes;
        use sha2::{Digest, Sha256};
        let m = &self.manifest;
        let mut h = Sha256::new();
        for n in [m.blocks, m.txs, m.inputs, m.outputs, m.addresses, m.address_bytes, m.pubkeys, m.txid_index.slots, m.address_index.slots] {
            h.update(n.to_le_bytes());
        }
        h.update(m.network.as_bytes());
        h.update(as_bytes(self.blocks.as_slice()));
        for c in [&self.tx_txid, &self.tx_wtxid] {
            h.update(as_bytes(c.as_slice()));
        }
        for c in [&self.tx_first_input, &self.tx_first_output, &self.in_spent, &self.out_value, &self.out_spent_by,
                  &self.out_prev_same_address, &self.addr_end, &self.addr_last_output, &self.txid_index, &self.address_index] {
            h.update(as_bytes(c.as_slice()));
        }
        for c in [&self.tx_version, &self.tx_locktime, &self.tx_size, &self.tx_weight, &self.in_sequence, &self.out_address] {
            h.update(as_bytes(c.as_slice()));
        }
        h.update(self.out_type.as_slice());
        h.update(self.addr_bytes.as_slice());
        h.update(as_bytes(self.pubkeys.as_slice()));
        Hash32(h.finalize().into())
    }

    /// The committed columns as slices, for passes over the whole ledger (clustering, taint)
    /// that would pay for a bounds-checked accessor call per record.
    pub fn columns(&self) -> Columns<'_> {
        let (in_samples, out_samples) = self.samples();
        Columns {
            in_samples,
            out_samples,
            tx_first_input: self.tx_first_input.as_slice(),
            tx_first_output: self.tx_first_output.as_slice(),
            tx_locktime: self.tx_locktime.as_slice(),
            tx_version: self.tx_version.as_slice(),
            tx_size: self.tx_size.as_slice(),
            tx_weight: self.tx_weight.as_slice(),
            in_spent: self.in_spent.as_slice(),
            in_sequence: self.in_sequence.as_slice(),
            out_value: self.out_value.as_slice(),
            out_address: self.out_address.as_slice(),
            out_type: self.out_type.as_slice(),
            out_spent_by: self.out_spent_by.as_slice(),
            committed_inputs: self.manifest.inputs,
        }
    }

    /// Every `SAMPLE`-th first input and first output (made on first use), for `owner_of`.
    fn samples(&self) -> &(Vec<u64>, Vec<u64>) {
        self.samples.get_or_init(|| {
            let sample = |c: &[u64]| c.iter().step_by(SAMPLE).copied().collect::<Vec<u64>>();
            (sample(self.tx_first_input.as_slice()), sample(self.tx_first_output.as_slice()))
        })
    }

    // ---- blocks ----

    pub fn block_count(&self) -> u64 {
        self.manifest.blocks
    }

    pub fn block(&self, height: u64) -> Option<&BlockRecord> {
        self.blocks.as_slice().get(height as usize)
    }

    /// Height of the block with this hash (a scan over 128-byte records: about a millisecond
    /// per 100k blocks, fine for a command; analysis works with heights).
    pub fn block_height(&self, hash: &BlockHash) -> Option<u64> {
        self.blocks.as_slice().iter().position(|b| b.hash == hash.0).map(|h| h as u64)
    }

    /// Transactions of a block.
    pub fn block_txs(&self, height: u64) -> Range<u64> {
        let b = self.blocks.as_slice();
        let start = b[height as usize].first_tx;
        let end = b.get(height as usize + 1).map_or(self.manifest.txs, |n| n.first_tx);
        start..end
    }

    /// Height of the block containing `tx`.
    pub fn tx_height(&self, tx: TxId) -> u64 {
        self.blocks.as_slice().partition_point(|b| b.first_tx <= tx.0) as u64 - 1
    }

    // ---- transactions ----

    pub fn tx_count(&self) -> u64 {
        self.manifest.txs
    }

    pub fn txid(&self, tx: TxId) -> Txid {
        Hash32(self.tx_txid.as_slice()[tx.index()])
    }

    /// The newest transaction with this txid (two pre-BIP30 coinbases share theirs).
    pub fn find_tx(&self, txid: &Txid) -> Option<TxId> {
        let ids = self.tx_txid.as_slice();
        hashindex::lookup(self.txid_index.as_slice(), hashindex::txid_hash(txid), self.manifest.txs, |id| {
            ids[id as usize] == txid.0
        })
        .map(|(_, id)| TxId(id))
    }

    pub fn inputs_of(&self, tx: TxId) -> Range<u64> {
        let f = self.tx_first_input.as_slice();
        f[tx.index()]..f.get(tx.index() + 1).copied().unwrap_or(self.manifest.inputs)
    }

    pub fn outputs_of(&self, tx: TxId) -> Range<u64> {
        let f = self.tx_first_output.as_slice();
        f[tx.index()]..f.get(tx.index() + 1).copied().unwrap_or(self.manifest.outputs)
    }

    pub fn tx(&self, tx: TxId) -> TxRecord {
        let i = tx.index();
        TxRecord {
            id: tx,
            txid: self.txid(tx),
            wtxid: Hash32(self.tx_wtxid.as_slice()[i]),
            version: self.tx_version.as_slice()[i] as i32,
            locktime: self.tx_locktime.as_slice()[i],
            size: self.tx_size.as_slice()[i],
            weight: self.tx_weight.as_slice()[i],
            inputs: self.inputs_of(tx),
            outputs: self.outputs_of(tx),
        }
    }

    /// The transaction an input belongs to.
    pub fn tx_of_input(&self, input: InputId) -> TxId {
        TxId(owner_of(self.tx_first_input.as_slice(), &self.samples().0, input.0))
    }

    /// The transaction an output belongs to.
    pub fn tx_of_output(&self, output: OutputId) -> TxId {
        TxId(owner_of(self.tx_first_output.as_slice(), &self.samples().1, output.0))
    }

    // ---- inputs and outputs ----

    pub fn input_count(&self) -> u64 {
        self.manifest.inputs
    }
    pub fn output_count(&self) -> u64 {
        self.manifest.outputs
    }

    /// The output an input spends (`None` for a coinbase input).
    pub fn input_spent(&self, input: InputId) -> Option<OutputId> {
        let o = self.in_spent.as_slice()[input.index()];
        (o != NONE).then_some(OutputId(o))
    }

    pub fn input_sequence(&self, input: InputId) -> u32 {
        self.in_sequence.as_slice()[input.index()]
    }

    pub fn output_value(&self, o: OutputId) -> u64 {
        self.out_value.as_slice()[o.index()]
    }

    pub fn output_address(&self, o: OutputId) -> Option<AddressId> {
        let a = self.out_address.as_slice()[o.index()];
        (a != NO_ADDRESS).then_some(AddressId(a))
    }

    /// The input spending `o`, if the spend is committed. A spend written by a commit still
    /// in progress points past the committed inputs and reads as unspent.
    pub fn output_spent_by(&self, o: OutputId) -> Option<InputId> {
        let s = self.out_spent_by.as_slice()[o.index()];
        (s < self.manifest.inputs).then_some(InputId(s))
    }

    /// The previous output paying the same address (`None` for an address's first output).
    pub fn prev_same_address(&self, o: OutputId) -> Option<OutputId> {
        let p = self.out_prev_same_address.as_slice()[o.index()];
        (p != NONE).then_some(OutputId(p))
    }

    pub fn output(&self, o: OutputId) -> OutputRecord {
        OutputRecord {
            id: o,
            value: self.output_value(o),
            script_type: ScriptType::from_u8(self.out_type.as_slice()[o.index()]).unwrap_or(ScriptType::Nonstandard),
            address: self.output_address(o),
            spent_by: self.output_spent_by(o),
        }
    }

    // ---- addresses ----

    pub fn address_count(&self) -> u64 {
        self.manifest.addresses
    }

    /// The stored key bytes (`[kind][payload]`) of an address.
    pub fn address_key(&self, a: AddressId) -> &[u8] {
        let ends = self.addr_end.as_slice();
        let start = if a.0 == 0 { 0 } else { ends[a.index() - 1] };
        &self.addr_bytes.as_slice()[start as usize..ends[a.index()] as usize]
    }

    pub fn find_address(&self, key: &[u8]) -> Option<AddressId> {
        hashindex::lookup(
            self.address_index.as_slice(),
            hashindex::address_hash(key),
            self.manifest.addresses,
            |id| self.address_key(AddressId(id as u32)) == key,
        )
        .map(|(_, id)| AddressId(id as u32))
    }

    /// Outputs paying `a`, newest first.
    pub fn address_outputs(&self, a: AddressId) -> AddressOutputs<'_> {
        let committed = self.manifest.outputs;
        let head = self
            .last_output_overlay
            .get(&(a.0 as u64))
            .copied()
            .unwrap_or(self.addr_last_output.as_slice()[a.index()]);
        // A head past the committed outputs belongs to a commit that finished after this
        // view was opened: its list continues into committed outputs, which we reach by
        // walking the full (unclipped) prev column.
        let prev = self.out_prev_same_address.as_full_slice();
        let mut next = head;
        while next != NONE && next >= committed {
            next = prev.get(next as usize).copied().unwrap_or(NONE);
        }
        AddressOutputs { prev: self.out_prev_same_address.as_slice(), next }
    }

    /// The public key behind a P2PK-paid address, if one was seen.
    pub fn pubkey(&self, a: AddressId) -> Option<&[u8]> {
        self.pubkeys.as_slice().iter().find(|p| p.address == a.0).map(|p| p.key())
    }
}

/// Raw committed columns (see `Ledger::columns`). Ids index them directly; `NONE` and
/// `NO_ADDRESS` mark absent values as in the files.
#[derive(Clone, Copy)]
pub struct Columns<'a> {
    pub tx_first_input: &'a [u64],
    pub tx_first_output: &'a [u64],
    pub tx_locktime: &'a [u32],
    pub tx_version: &'a [u32],
    pub tx_size: &'a [u32],
    pub tx_weight: &'a [u32],
    pub in_spent: &'a [u64],
    pub in_sequence: &'a [u32],
    pub out_value: &'a [u64],
    pub out_address: &'a [u32],
    pub out_type: &'a [u8],
    /// May hold spends written by a commit in progress: use `spent_by`.
    out_spent_by: &'a [u64],
    committed_inputs: u64,
    in_samples: &'a [u64],
    out_samples: &'a [u64],
}

impl Columns<'_> {
    pub fn inputs_of(&self, tx: u64) -> std::ops::Range<u64> {
        let f = self.tx_first_input;
        f[tx as usize]..f.get(tx as usize + 1).copied().unwrap_or(self.in_spent.len() as u64)
    }
    pub fn outputs_of(&self, tx: u64) -> std::ops::Range<u64> {
        let f = self.tx_first_output;
        f[tx as usize]..f.get(tx as usize + 1).copied().unwrap_or(self.out_value.len() as u64)
    }
    /// The committed input spending output `o`.
    pub fn spent_by(&self, o: u64) -> Option<u64> {
        let s = self.out_spent_by[o as usize];
        (s < self.committed_inputs).then_some(s)
    }
    /// The transaction an input belongs to.
    pub fn tx_of_input(&self, input: u64) -> u64 {
        owner_of(self.tx_first_input, self.in_samples, input)
    }
    /// The transaction an output belongs to.
    pub fn tx_of_output(&self, output: u64) -> u64 {
        owner_of(self.tx_first_output, self.out_samples, output)
    }
}

/// The transaction owning record `id`, given each transaction's first record (ascending) and
/// every `SAMPLE`-th of those: a search of the samples (small enough to stay in cache) picks
/// the stride, a search within the stride finishes. A plain binary search over a
/// billion-entry column pays a cache miss per level; traces and risk scores ask this for
/// every output they touch.
fn owner_of(first: &[u64], samples: &[u64], id: u64) -> u64 {
    let k = samples.partition_point(|&f| f <= id).saturating_sub(1);
    let lo = k * SAMPLE;
    let hi = (lo + SAMPLE + 1).min(first.len());
    (lo + first[lo..hi].partition_point(|&f| f <= id)) as u64 - 1
}

pub struct AddressOutputs<'a> {
    prev: &'a [u64],
    next: u64,
}

impl Iterator for AddressOutputs<'_> {
    type Item = OutputId;
    fn next(&mut self) -> Option<OutputId> {
        if self.next == NONE {
            return None;
        }
        let o = self.next;
        self.next = self.prev[o as usize];
        Some(OutputId(o))
    }
}

#[cfg(test)]
mod tests {
    use super::owner_of;

    #[test]
    fn owner_of_agrees_with_binary_search() {
        // Uneven record counts per transaction, runs of empty ones, across many strides.
        let mut first = Vec::new();
        let mut total = 0u64;
        for t in 0..5_000u64 {
            first.push(total);
            total += [1, 1, 5, 0, 2, 200, 1, 0, 0, 3][(t % 10) as usize];
        }
        let samples: Vec<u64> = first.iter().step_by(super::SAMPLE).copied().collect();
        for id in 0..total {
            let want = first.partition_point(|&f| f <= id) as u64 - 1;
            assert_eq!(owner_of(&first, &samples, id), want, "record {id}");
        }
    }
}
