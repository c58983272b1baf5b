//! Serialization back to the wire format, from decoded fields (not from the raw slices), so a
//! byte-for-byte round trip proves the decoder captured every field.

use crate::decode::{Block, Transactions, Tx};

pub fn write_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

fn write_var_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_compact_size(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends the serialization of `tx` (with witness if it was segwit-serialized).
pub fn write_tx(out: &mut Vec<u8>, set: &Transactions<'_>, tx: &Tx<'_>) {
    out.extend_from_slice(&tx.version.to_le_bytes());
    if tx.segwit {
        out.extend_from_slice(&[0, 1]);
    }
    let inputs = set.inputs_of(tx);
    write_compact_size(out, inputs.len() as u64);
    for i in inputs {
        out.extend_from_slice(&i.prev_txid.0);
        out.extend_from_slice(&i.prev_vout.to_le_bytes());
        write_var_bytes(out, i.script_sig);
        out.extend_from_slice(&i.sequence.to_le_bytes());
    }
    let outputs = set.outputs_of(tx);
    write_compact_size(out, outputs.len() as u64);
    for o in outputs {
        out.extend_from_slice(&o.value.to_le_bytes());
        write_var_bytes(out, o.script_pubkey);
    }
    if tx.segwit {
        for i in inputs {
            let items: Vec<&[u8]> = set.witness_of(i).collect();
            write_compact_size(out, items.len() as u64);
            for item in items {
                write_var_bytes(out, item);
            }
        }
    }
    out.extend_from_slice(&tx.locktime.to_le_bytes());
}

/// The full serialization of a block.
pub fn block_bytes(block: &Block<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.raw.len());
    out.extend_from_slice(&block.header.encode());
    write_compact_size(&mut out, block.txs.txs.len() as u64);
    for tx in &block.txs.txs {
        write_tx(&mut out, &block.txs, tx);
    }
    out
}
