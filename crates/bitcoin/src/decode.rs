//! Zero-copy decoding of blocks and transactions in Bitcoin's wire format.
//!
//! Scripts are borrowed from the input buffer; a block's inputs and outputs live in two flat
//! vectors shared by all its transactions (a transaction holds index ranges), so decoding a
//! block allocates a handful of times, not per transaction. A witness is kept as the byte span
//! of its input's witness stack (validated while decoding) and its items are read on demand:
//! some blocks carry hundreds of thousands of witness items that nothing downstream needs.
//! txids and wtxids are computed while decoding: hashing is the cost floor of this path and
//! the bytes are hot in cache right then.
//!
//! The decoder is as strict as Bitcoin Core's deserializer (segwit flag must be 1, a witness
//! record may not be all empty, sizes must be canonical), so anything it accepts re-serializes
//! to the same bytes (see `encode`).

use std::fmt;
use std::ops::Range;

use fundtrace_core::{BlockHash, Hash32, Txid};
use sha2::{Digest, Sha256};

use crate::hash::{sha256d, sha256d_parts};

/// Where and why decoding failed. `offset` is relative to the start of the decoded buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub what: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// Largest number of items any count may claim: Core's MAX_SIZE (32 MB).
const MAX_SIZE: u64 = 0x0200_0000;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: impl Into<String>) -> DecodeError {
        DecodeError { offset: self.pos, what: what.into() }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() - self.pos < n {
            return Err(self.err(format!(
                "truncated {what}: need {n} bytes, {} left",
                self.buf.len() - self.pos
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }
    fn hash(&mut self, what: &str) -> Result<Hash32, DecodeError> {
        Ok(Hash32(self.take(32, what)?.try_into().unwrap()))
    }

    /// CompactSize, rejecting non-canonical encodings (as Core does) and values above MAX_SIZE.
    fn compact_size(&mut self, what: &str) -> Result<u64, DecodeError> {
        let start = self.pos;
        let first = self.u8(what)?;
        let (v, min) = match first {
            0..=0xfc => return Ok(first as u64),
            0xfd => (u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()) as u64, 0xfd),
            0xfe => (u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()) as u64, 0x1_0000),
            0xff => (self.u64(what)?, 0x1_0000_0000),
        };
        if v < min {
            return Err(DecodeError { offset: start, what: format!("non-canonical size for {what}") });
        }
        if v > MAX_SIZE {
            return Err(DecodeError { offset: start, what: format!("{what} {v} exceeds {MAX_SIZE}") });
        }
        Ok(v)
    }

    fn var_bytes(&mut self, what: &str) -> Result<&'a [u8], DecodeError> {
        let n = self.compact_size(what)?;
        self.take(n as usize, what)
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

/// The 80-byte block header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: i32,
    pub prev_blockhash: BlockHash,
    pub merkle_root: Hash32,
    pub time: u32,
    pub bits: u32,
    pub nonce: u32,
}

impl Header {
    pub const SIZE: usize = 80;

    pub fn decode(b: &[u8; 80]) -> Header {
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        Header {
            version: u32_at(0) as i32,
            prev_blockhash: Hash32(b[4..36].try_into().unwrap()),
            merkle_root: Hash32(b[36..68].try_into().unwrap()),
            time: u32_at(68),
            bits: u32_at(72),
            nonce: u32_at(76),
        }
    }

    pub fn encode(&self) -> [u8; 80] {
        let mut b = [0u8; 80];
        b[0..4].copy_from_slice(&self.version.to_le_bytes());
        b[4..36].copy_from_slice(&self.prev_blockhash.0);
        b[36..68].copy_from_slice(&self.merkle_root.0);
        b[68..72].copy_from_slice(&self.time.to_le_bytes());
        b[72..76].copy_from_slice(&self.bits.to_le_bytes());
        b[76..80].copy_from_slice(&self.nonce.to_le_bytes());
        b
    }

    pub fn block_hash(&self) -> BlockHash {
        sha256d(&self.encode())
    }
}

/// A transaction input. `witness` is the byte span of its serialized witness stack (item
/// count and items) in the decoded buffer; empty when the transaction has no witness.
#[derive(Clone, Debug)]
pub struct Input<'a> {
    pub prev_txid: Txid,
    pub prev_vout: u32,
    pub script_sig: &'a [u8],
    pub sequence: u32,
    pub witness: Range<u32>,
}

/// The items of one input's witness stack, read from bytes the decoder already validated.
pub struct WitnessItems<'a> {
    c: Cursor<'a>,
    left: u64,
}

impl<'a> Iterator for WitnessItems<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        self.c.var_bytes("witness item").ok()
    }
}

impl Input<'_> {
    /// A coinbase input spends the null outpoint.
    pub fn is_coinbase(&self) -> bool {
        self.prev_vout == u32::MAX && self.prev_txid.is_zero()
    }
}

#[derive(Clone, Debug)]
pub struct Output<'a> {
    pub value: u64,
    pub script_pubkey: &'a [u8],
}

/// One transaction: its own fields plus ranges into the shared input/output vectors.
#[derive(Clone, Debug)]
pub struct Tx<'a> {
    /// Full serialization (with witness when present).
    pub raw: &'a [u8],
    pub version: i32,
    pub locktime: u32,
    pub inputs: Range<u32>,
    pub outputs: Range<u32>,
    /// Whether it was serialized with the segwit marker and flag.
    pub segwit: bool,
    pub txid: Txid,
    pub wtxid: Txid,
    /// Serialized size without witness data (marker, flag, witnesses).
    pub stripped_size: u32,
}

impl Tx<'_> {
    pub fn size(&self) -> u32 {
        self.raw.len() as u32
    }
    /// BIP141 weight: stripped size * 3 + total size.
    pub fn weight(&self) -> u32 {
        self.stripped_size * 3 + self.raw.len() as u32
    }
    pub fn vsize(&self) -> u32 {
        self.weight().div_ceil(4)
    }
}

/// A run of transactions with their inputs and outputs in flat vectors.
#[derive(Clone, Debug, Default)]
pub struct Transactions<'a> {
    pub txs: Vec<Tx<'a>>,
    pub inputs: Vec<Input<'a>>,
    pub outputs: Vec<Output<'a>>,
    /// The buffer the transactions were decoded from (witness spans point into it).
    pub buf: &'a [u8],
}

impl<'a> Transactions<'a> {
    pub fn inputs_of(&self, tx: &Tx<'a>) -> &[Input<'a>] {
        &self.inputs[tx.inputs.start as usize..tx.inputs.end as usize]
    }
    pub fn outputs_of(&self, tx: &Tx<'a>) -> &[Output<'a>] {
        &self.outputs[tx.outputs.start as usize..tx.outputs.end as usize]
    }
    /// The serialized witness stack of an input (empty if none).
    pub fn witness_bytes(&self, input: &Input<'a>) -> &'a [u8] {
        &self.buf[input.witness.start as usize..input.witness.end as usize]
    }

    /// The witness items of an input.
    pub fn witness_of(&self, input: &Input<'a>) -> WitnessItems<'a> {
        let bytes = self.witness_bytes(input);
        let mut c = Cursor { buf: bytes, pos: 0 };
        let left = if bytes.is_empty() { 0 } else { c.compact_size("witness item count").unwrap_or(0) };
        WitnessItems { c, left }
    }

    fn decode_tx(&mut self, c: &mut Cursor<'a>) -> Result<(), DecodeError> {
        let start = c.pos;
        let version = c.u32("tx version")? as i32;
        let mut segwit = false;
        // A zero input count followed by flag 1 is the BIP144 marker.
        if c.remaining() >= 2 && c.buf[c.pos] == 0 {
            let flag = c.buf[c.pos + 1];
            if flag != 1 {
                return Err(c.err(format!("transaction without inputs or unknown segwit flag {flag}")));
            }
            segwit = true;
            c.pos += 2;
        }
        let body_start = c.pos;
        let n_in = c.compact_size("input count")?;
        if n_in == 0 {
            return Err(c.err("transaction without inputs"));
        }
        let in_start = self.inputs.len() as u32;
        self.inputs.reserve((n_in as usize).min(c.remaining() / 41));
        for _ in 0..n_in {
            let prev_txid = c.hash("prevout txid")?;
            let prev_vout = c.u32("prevout index")?;
            let script_sig = c.var_bytes("scriptSig")?;
            let sequence = c.u32("sequence")?;
            self.inputs.push(Input { prev_txid, prev_vout, script_sig, sequence, witness: 0..0 });
        }
        let n_out = c.compact_size("output count")?;
        let out_start = self.outputs.len() as u32;
        self.outputs.reserve((n_out as usize).min(c.remaining() / 9));
        for _ in 0..n_out {
            let value = c.u64("output value")?;
            let script_pubkey = c.var_bytes("scriptPubKey")?;
            self.outputs.push(Output { value, script_pubkey });
        }
        let body_end = c.pos;
        if segwit {
            let mut any = false;
            for i in in_start as usize..self.inputs.len() {
                let w_start = c.pos as u32;
                let n = c.compact_size("witness item count")?;
                for _ in 0..n {
                    c.var_bytes("witness item")?;
                }
                any |= n > 0;
                self.inputs[i].witness = w_start..c.pos as u32;
            }
            if !any {
                return Err(c.err("superfluous witness record (all witnesses empty)"));
            }
        }
        let locktime = c.u32("locktime")?;
        let raw = &c.buf[start..c.pos];
        let (txid, wtxid, stripped_size) = if segwit {
            let body = &c.buf[body_start..body_end];
            let txid = sha256d_parts(&[&raw[..4], body, &raw[raw.len() - 4..]]);
            (txid, sha256d(raw), (4 + body.len() + 4) as u32)
        } else {
            let txid = sha256d(raw);
            (txid, txid, raw.len() as u32)
        };
        self.txs.push(Tx {
            raw,
            version,
            locktime,
            inputs: in_start..self.inputs.len() as u32,
            outputs: out_start..self.outputs.len() as u32,
            segwit,
            txid,
            wtxid,
            stripped_size,
        });
        Ok(())
    }
}

/// Decodes exactly one transaction occupying all of `raw`.
pub fn decode_transaction(raw: &[u8]) -> Result<Transactions<'_>, DecodeError> {
    let mut c = Cursor { buf: raw, pos: 0 };
    let mut t = Transactions { buf: raw, ..Default::default() };
    t.decode_tx(&mut c)?;
    if c.remaining() != 0 {
        return Err(c.err(format!("{} trailing bytes after transaction", c.remaining())));
    }
    Ok(t)
}

/// A decoded block: header, its hash, and its transactions.
#[derive(Clone, Debug)]
pub struct Block<'a> {
    pub raw: &'a [u8],
    pub header: Header,
    pub hash: BlockHash,
    pub txs: Transactions<'a>,
}

impl<'a> Block<'a> {
    /// Decodes a block occupying all of `raw`. Structure only: merkle checks are in `merkle`.
    pub fn decode(raw: &'a [u8]) -> Result<Block<'a>, DecodeError> {
        let mut c = Cursor { buf: raw, pos: 0 };
        let header_bytes: &[u8; 80] = c.take(80, "block header")?.try_into().unwrap();
        let header = Header::decode(header_bytes);
        let hash = Hash32(Sha256::digest(Sha256::digest(header_bytes)).into());
        let n = c.compact_size("transaction count")?;
        if n == 0 {
            return Err(c.err("block without transactions"));
        }
        let mut txs = Transactions { buf: raw, ..Default::default() };
        // The smallest transaction is 60 bytes; never trust n beyond what the bytes allow.
        let cap = (n as usize).min(c.remaining() / 60);
        txs.txs.reserve(cap);
        txs.inputs.reserve(cap * 2);
        txs.outputs.reserve(cap * 2);
        for _ in 0..n {
            txs.decode_tx(&mut c)?;
        }
        if c.remaining() != 0 {
            return Err(c.err(format!("{} trailing bytes after last transaction", c.remaining())));
        }
        Ok(Block { raw, header, hash, txs })
    }

    /// BIP141 block weight: stripped size * 3 + total size.
    pub fn weight(&self) -> u64 {
        let witness_bytes: u64 = self.txs.txs.iter().map(|t| (t.raw.len() as u32 - t.stripped_size) as u64).sum();
        let stripped = self.raw.len() as u64 - witness_bytes;
        stripped * 3 + self.raw.len() as u64
    }

    /// The BIP34 height in the coinbase scriptSig, for block versions that carry it (>= 2).
    /// Before BIP34 the first push is arbitrary data, so a caller that knows the chain
    /// height should trust that instead.
    pub fn bip34_height(&self) -> Option<u32> {
        if self.header.version < 2 {
            return None;
        }
        let script = self.txs.inputs.first()?.script_sig;
        let op = *script.first()?;
        match op {
            0x51..=0x60 => Some((op - 0x50) as u32), // OP_1..OP_16 (regtest heights)
            1..=4 => {
                let bytes = script.get(1..1 + op as usize)?;
                // CScriptNum: little-endian, sign bit in the top byte; heights are positive.
                if bytes[bytes.len() - 1] & 0x80 != 0 {
                    return None;
                }
                Some(bytes.iter().rev().fold(0u32, |acc, b| acc << 8 | *b as u32))
            }
            _ => None,
        }
    }
}
