//! One transaction with what its inputs spent, in the shape every heuristic reads: values,
//! script types and addresses on both sides. Built from the ledger store, or by hand in tests
//! (the worked examples of methods.md are transactions, not chains).

use fundtrace_core::ScriptType;
use fundtrace_store::{Columns, Ledger};

/// An input: the output it spends, seen from the spending side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TxIn {
    pub value: u64,
    pub script_type: ScriptType,
    pub address: Option<u32>,
    /// Output id spent (`u64::MAX` in hand-built views).
    pub spent_output: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TxOut {
    pub value: u64,
    pub script_type: ScriptType,
    pub address: Option<u32>,
    /// Input id spending it, if committed.
    pub spent_by: Option<u64>,
}

impl TxOut {
    /// Whether it can be spent (all but OP_RETURN): BlockSci's "spendable outputs".
    pub fn spendable(&self) -> bool {
        self.script_type != ScriptType::OpReturn
    }
}

#[derive(Clone, Debug, Default)]
pub struct TxView {
    /// Position in the store (`u64::MAX` in hand-built views).
    pub tx: u64,
    pub height: u64,
    pub version: u32,
    pub locktime: u32,
    /// Virtual size (weight / 4, rounded up), for fee rates.
    pub vsize: u32,
    pub coinbase: bool,
    pub inputs: Vec<TxIn>,
    pub outputs: Vec<TxOut>,
}

fn script_type(b: u8) -> ScriptType {
    ScriptType::from_u8(b).unwrap_or(ScriptType::Nonstandard)
}

fn address(a: u32) -> Option<u32> {
    (a != u32::MAX).then_some(a)
}

impl TxView {
    /// A hand-built view (tests, worked examples): inputs and outputs as (value, type, address).
    pub fn new(
        height: u64,
        inputs: &[(u64, ScriptType, Option<u32>)],
        outputs: &[(u64, ScriptType, Option<u32>)],
    ) -> TxView {
        TxView {
            tx: u64::MAX,
            height,
            version: 2,
            locktime: 0,
            vsize: 0,
            coinbase: inputs.is_empty(),
            inputs: inputs
                .iter()
                .map(|&(value, script_type, address)| TxIn {
                    value,
                    script_type,
                    address,
                    spent_output: u64::MAX,
                })
                .collect(),
            outputs: outputs
                .iter()
                .map(|&(value, script_type, address)| TxOut {
                    value,
                    script_type,
                    address,
                    spent_by: None,
                })
                .collect(),
        }
    }

    /// Transaction `tx` of the ledger.
    pub fn of(ledger: &Ledger, tx: u64) -> TxView {
        let mut v = TxView::default();
        v.load(
            &ledger.columns(),
            tx,
            ledger.tx_height(fundtrace_core::TxId(tx)),
        );
        v
    }

    /// Refills this view with transaction `tx` (at `height`), reusing its buffers: passes over
    /// the whole ledger call this once per transaction.
    pub fn load(&mut self, c: &Columns, tx: u64, height: u64) {
        self.tx = tx;
        self.height = height;
        self.version = c.tx_version[tx as usize];
        self.locktime = c.tx_locktime[tx as usize];
        self.vsize = c.tx_weight[tx as usize].div_ceil(4);
        self.inputs.clear();
        self.outputs.clear();
        self.coinbase = false;
        for i in c.inputs_of(tx) {
            let o = c.in_spent[i as usize];
            if o == u64::MAX {
                self.coinbase = true;
                continue;
            }
            self.inputs.push(TxIn {
                value: c.out_value[o as usize],
                script_type: script_type(c.out_type[o as usize]),
                address: address(c.out_address[o as usize]),
                spent_output: o,
            });
        }
        for o in c.outputs_of(tx) {
            self.outputs.push(TxOut {
                value: c.out_value[o as usize],
                script_type: script_type(c.out_type[o as usize]),
                address: address(c.out_address[o as usize]),
                spent_by: c.spent_by(o),
            });
        }
    }

    pub fn input_value(&self) -> u64 {
        self.inputs.iter().map(|i| i.value).sum()
    }

    pub fn output_value(&self) -> u64 {
        self.outputs.iter().map(|o| o.value).sum()
    }

    /// Fee paid (0 for a coinbase).
    pub fn fee(&self) -> u64 {
        if self.coinbase {
            0
        } else {
            self.input_value().saturating_sub(self.output_value())
        }
    }

}

/// Transactions in chain order, each loaded into `view` with its height and the first
/// address id that is new in it (addresses are numbered in order of first appearance): the
/// walk every whole-ledger pass (clustering, heuristic scoring) makes.
pub struct ChainWalk<'a> {
    ledger: &'a Ledger,
    columns: Columns<'a>,
    pub view: TxView,
    next_tx: u64,
    end: u64,
    height: u64,
    next_block_tx: u64,
    seen_addresses: u32,
}

impl<'a> ChainWalk<'a> {
    /// From transaction `start`, when `seen_addresses` addresses appeared before it.
    pub fn new(ledger: &'a Ledger, start: u64, seen_addresses: u32) -> ChainWalk<'a> {
        let end = ledger.tx_count();
        let height = if start < end { ledger.tx_height(fundtrace_core::TxId(start)) } else { 0 };
        let next_block_tx = if start < end { ledger.block_txs(height).end } else { 0 };
        ChainWalk { ledger, columns: ledger.columns(), view: TxView::default(), next_tx: start, end, height, next_block_tx, seen_addresses }
    }

    /// Loads the next transaction into `view`; returns the first address id new in it.
    pub fn advance(&mut self) -> Option<u32> {
        let tx = self.next_tx;
        if tx >= self.end {
            return None;
        }
        self.next_tx += 1;
        while tx >= self.next_block_tx {
            self.height += 1;
            self.next_block_tx = self.ledger.block_txs(self.height).end;
        }
        self.view.load(&self.columns, tx, self.height);
        let first_new_address = self.seen_addresses;
        if let Some(max) = self.view.outputs.iter().filter_map(|o| o.address).max() {
            self.seen_addresses = self.seen_addresses.max(max + 1);
        }
        Some(first_new_address)
    }
}
