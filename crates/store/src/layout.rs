//! File names and record layouts of the ledger store. One place, so that readers, the writer
//! and recovery agree. Costs per record are listed in ARCHITECTURE.md and BENCHMARKS.md.

use crate::column::Plain;

/// Per block: hash, full header, first tx id, serialized size and weight. 128 bytes.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct BlockRecord {
    pub hash: [u8; 32],
    pub header: [u8; 80],
    pub first_tx: u64,
    pub size: u32,
    pub weight: u32,
}
// SAFETY: repr(C), 32 + 80 + 8 + 4 + 4 = 128 bytes with no padding, align 8.
unsafe impl Plain for BlockRecord {}

/// The public key of the first P2PK output paying an address (the address is the key's
/// P2PKH form). 72 bytes.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct PubkeyRecord {
    pub address: u32,
    pub len: u8,
    pub key: [u8; 65],
    pub _pad: [u8; 2],
}
// SAFETY: repr(C), 4 + 1 + 65 + 2 = 72 bytes, align 4, no implicit padding.
unsafe impl Plain for PubkeyRecord {}

impl PubkeyRecord {
    pub fn key(&self) -> &[u8] {
        &self.key[..self.len as usize]
    }
}

/// "No id" in u64 id columns (coinbase inputs, unspent outputs, end of an address's list).
pub const NONE: u64 = u64::MAX;
/// "No address" in the output address column (OP_RETURN, bare multisig, nonstandard).
pub const NO_ADDRESS: u32 = u32::MAX;

pub const BLOCKS: &str = "blocks.col";
pub const TX_TXID: &str = "tx_txid.col";
pub const TX_WTXID: &str = "tx_wtxid.col";
pub const TX_FIRST_INPUT: &str = "tx_first_input.col";
pub const TX_FIRST_OUTPUT: &str = "tx_first_output.col";
pub const TX_VERSION: &str = "tx_version.col";
pub const TX_LOCKTIME: &str = "tx_locktime.col";
pub const TX_SIZE: &str = "tx_size.col";
pub const TX_WEIGHT: &str = "tx_weight.col";
pub const IN_SPENT: &str = "in_spent.col";
pub const IN_SEQUENCE: &str = "in_sequence.col";
pub const OUT_VALUE: &str = "out_value.col";
pub const OUT_ADDRESS: &str = "out_address.col";
pub const OUT_TYPE: &str = "out_type.col";
/// Mutable: set when a later block spends the output.
pub const OUT_SPENT_BY: &str = "out_spent_by.col";
/// The previous output paying the same address (a per-address linked list, newest first).
pub const OUT_PREV_SAME_ADDRESS: &str = "out_prev_same_address.col";
/// End offset of each address key in ADDR_BYTES (keys are `[kind][payload]`).
pub const ADDR_END: &str = "addr_end.col";
pub const ADDR_BYTES: &str = "addr_bytes.col";
/// Mutable: the newest output paying the address (head of its list).
pub const ADDR_LAST_OUTPUT: &str = "addr_last_output.col";
pub const PUBKEYS: &str = "pubkeys.col";
pub const JOURNAL: &str = "JOURNAL";
pub const LOCK: &str = "LOCK";

pub fn txid_index(generation: u32) -> String {
    format!("txid.idx.{generation}")
}
pub fn address_index(generation: u32) -> String {
    format!("addr.idx.{generation}")
}

/// The mutable u64 arrays a journal can restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mutable {
    OutSpentBy = 0,
    AddrLastOutput = 1,
    TxidIndex = 2,
    AddressIndex = 3,
}

impl Mutable {
    pub fn from_u8(b: u8) -> Option<Mutable> {
        [Mutable::OutSpentBy, Mutable::AddrLastOutput, Mutable::TxidIndex, Mutable::AddressIndex]
            .get(b as usize)
            .copied()
    }
}
