//! What traces read from a ledger: value moving from outputs through transactions into new
//! outputs, in time order. The UTXO ledger store implements it (`LedgerGraph`); an account
//! ledger would treat each transfer as a transaction spending the account's balance (see
//! `taint::Account`), so traces, exposure and risk run unchanged on both.

use fundtrace_core::TxId;
use fundtrace_bitcoin::Header;
use fundtrace_store::layout::{NONE, NO_ADDRESS};
use fundtrace_store::{Columns, Ledger};

/// A value-flow graph: transactions (ids in time order) consume outputs and create outputs.
pub trait FlowGraph {
    /// The outputs a transaction spends, with their values, in input order (empty for a
    /// coinbase or an issuance).
    fn inputs(&self, tx: u64, out: &mut Vec<(u64, u64)>);
    /// The outputs a transaction creates (ids are contiguous per transaction).
    fn outputs(&self, tx: u64) -> std::ops::Range<u64>;
    fn value(&self, output: u64) -> u64;
    /// The address (account) an output pays, if it has one.
    fn address(&self, output: u64) -> Option<u32>;
    /// The transaction spending an output, if any.
    fn spender(&self, output: u64) -> Option<u64>;
    /// The transaction creating an output.
    fn creator(&self, output: u64) -> u64;
    /// Block height (or sequence number) and time of a transaction.
    fn when(&self, tx: u64) -> (u64, u32);
    /// Outputs paying an address, any order.
    fn outputs_to(&self, address: u32, out: &mut Vec<u64>);
}

/// The ledger store as a flow graph. Its column views are taken once, when it is made:
/// traces and the exposure pass ask several questions per output, and rebuilding the views
/// for each was measurable.
pub struct LedgerGraph<'a> {
    ledger: &'a Ledger,
    c: Columns<'a>,
}

impl<'a> LedgerGraph<'a> {
    pub fn new(ledger: &'a Ledger) -> LedgerGraph<'a> {
        LedgerGraph { ledger, c: ledger.columns() }
    }
}

impl FlowGraph for LedgerGraph<'_> {
    fn inputs(&self, tx: u64, out: &mut Vec<(u64, u64)>) {
        out.clear();
        let c = &self.c;
        for i in c.inputs_of(tx) {
            let o = c.in_spent[i as usize];
            if o != NONE {
                out.push((o, c.out_value[o as usize]));
            }
        }
    }
    fn outputs(&self, tx: u64) -> std::ops::Range<u64> {
        self.c.outputs_of(tx)
    }
    fn value(&self, output: u64) -> u64 {
        self.c.out_value[output as usize]
    }
    fn address(&self, output: u64) -> Option<u32> {
        let a = self.c.out_address[output as usize];
        (a != NO_ADDRESS).then_some(a)
    }
    fn spender(&self, output: u64) -> Option<u64> {
        self.c.spent_by(output).map(|i| self.c.tx_of_input(i))
    }
    fn creator(&self, output: u64) -> u64 {
        self.c.tx_of_output(output)
    }
    fn when(&self, tx: u64) -> (u64, u32) {
        let h = self.ledger.tx_height(TxId(tx));
        let header = &self.ledger.block(h).expect("height of a stored tx").header;
        (h, Header::decode(header).time)
    }
    fn outputs_to(&self, address: u32, out: &mut Vec<u64>) {
        out.clear();
        out.extend(self.ledger.address_outputs(fundtrace_core::AddressId(address)).map(|o| o.0));
    }
}

/// A small in-memory flow graph, for worked examples and tests: transactions are added in
/// time order with the outputs they spend and the (address, value) outputs they create.
#[derive(Default)]
pub struct MemGraph {
    txs: Vec<(Vec<u64>, std::ops::Range<u64>)>,
    outputs: Vec<(u32, u64, u64)>,
    spent_by: Vec<Option<u64>>,
}

impl MemGraph {
    /// Adds a transaction; returns its id. `spends` are output ids; `pays` (address, value).
    pub fn tx(&mut self, spends: &[u64], pays: &[(u32, u64)]) -> u64 {
        let id = self.txs.len() as u64;
        for &o in spends {
            assert!(self.spent_by[o as usize].replace(id).is_none(), "output {o} spent twice");
        }
        let start = self.outputs.len() as u64;
        for &(a, v) in pays {
            self.outputs.push((a, v, id));
            self.spent_by.push(None);
        }
        self.txs.push((spends.to_vec(), start..self.outputs.len() as u64));
        id
    }
}

impl FlowGraph for MemGraph {
    fn inputs(&self, tx: u64, out: &mut Vec<(u64, u64)>) {
        out.clear();
        out.extend(self.txs[tx as usize].0.iter().map(|&o| (o, self.outputs[o as usize].1)));
    }
    fn outputs(&self, tx: u64) -> std::ops::Range<u64> {
        self.txs[tx as usize].1.clone()
    }
    fn value(&self, output: u64) -> u64 {
        self.outputs[output as usize].1
    }
    fn address(&self, output: u64) -> Option<u32> {
        Some(self.outputs[output as usize].0)
    }
    fn spender(&self, output: u64) -> Option<u64> {
        self.spent_by[output as usize]
    }
    fn creator(&self, output: u64) -> u64 {
        self.outputs[output as usize].2
    }
    fn when(&self, tx: u64) -> (u64, u32) {
        (tx, tx as u32)
    }
    fn outputs_to(&self, address: u32, out: &mut Vec<u64>) {
        out.clear();
        out.extend((0..self.outputs.len() as u64).filter(|&o| self.outputs[o as usize].0 == address));
    }
}
