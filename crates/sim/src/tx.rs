//! Simulated addresses and transactions, serialized exactly as Bitcoin does.
//!
//! Signatures and public keys are random placeholders of their real lengths (a 72-byte DER
//! signature, a 33-byte compressed key, a 64-byte Schnorr signature), so sizes, weights and fee
//! rates are realistic while no key material exists. Nothing verifies scripts; everything
//! else (txids, wtxids, amounts, outpoints) is exact.

use fundtrace_bitcoin::encode::write_compact_size;
use fundtrace_bitcoin::hash::{sha256d, sha256d_parts};
use fundtrace_bitcoin::AddressKey;
use fundtrace_core::{Hash32, ScriptType, Txid};

use crate::rng::Rng;

/// The address families wallets use, in the order they appeared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddrType {
    P2pkh,
    /// Nested segwit: P2SH wrapping P2WPKH.
    P2shP2wpkh,
    P2wpkh,
    P2tr,
}

impl AddrType {
    /// Virtual bytes an input of this type adds (typical signatures).
    pub fn input_vbytes(self) -> u64 {
        match self {
            AddrType::P2pkh => 148,
            AddrType::P2shP2wpkh => 91,
            AddrType::P2wpkh => 68,
            AddrType::P2tr => 58,
        }
    }
    pub fn output_vbytes(self) -> u64 {
        match self {
            AddrType::P2pkh => 34,
            AddrType::P2shP2wpkh => 32,
            AddrType::P2wpkh => 31,
            AddrType::P2tr => 43,
        }
    }
    pub fn is_segwit(self) -> bool {
        self != AddrType::P2pkh
    }
    pub fn name(self) -> &'static str {
        match self {
            AddrType::P2pkh => "p2pkh",
            AddrType::P2shP2wpkh => "p2sh",
            AddrType::P2wpkh => "p2wpkh",
            AddrType::P2tr => "p2tr",
        }
    }
}

/// An address: its family and hash (20 bytes used except for P2TR's 32-byte key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Addr {
    pub ty: AddrType,
    pub hash: [u8; 32],
}

impl Addr {
    pub fn random(ty: AddrType, rng: &mut Rng) -> Addr {
        let mut hash = [0u8; 32];
        rng.fill(&mut hash);
        if ty != AddrType::P2tr {
            hash[20..].fill(0);
        }
        Addr { ty, hash }
    }

    /// Appends the length-prefixed scriptPubKey.
    pub fn write_script(&self, out: &mut Vec<u8>) {
        match self.ty {
            AddrType::P2pkh => {
                out.extend_from_slice(&[25, 0x76, 0xa9, 20]);
                out.extend_from_slice(&self.hash[..20]);
                out.extend_from_slice(&[0x88, 0xac]);
            }
            AddrType::P2shP2wpkh => {
                out.extend_from_slice(&[23, 0xa9, 20]);
                out.extend_from_slice(&self.hash[..20]);
                out.push(0x87);
            }
            AddrType::P2wpkh => {
                out.extend_from_slice(&[22, 0x00, 20]);
                out.extend_from_slice(&self.hash[..20]);
            }
            AddrType::P2tr => {
                out.extend_from_slice(&[34, 0x51, 32]);
                out.extend_from_slice(&self.hash);
            }
        }
    }

    /// The key the ledger store indexes (and the string ground truth prints).
    pub fn key(&self) -> AddressKey {
        match self.ty {
            AddrType::P2pkh => AddressKey::new(ScriptType::P2pkh, &self.hash[..20]),
            AddrType::P2shP2wpkh => AddressKey::new(ScriptType::P2sh, &self.hash[..20]),
            AddrType::P2wpkh => AddressKey::new(ScriptType::P2wpkh, &self.hash[..20]),
            AddrType::P2tr => AddressKey::new(ScriptType::P2tr, &self.hash),
        }
    }
}

/// A spendable output.
#[derive(Clone, Copy, Debug)]
pub struct Utxo {
    pub txid: Txid,
    pub vout: u32,
    pub value: u64,
    pub addr: Addr,
}

/// A serialized transaction's ids (its bytes are in the buffer it was built into).
#[derive(Clone, Copy, Debug)]
pub struct BuiltTx {
    pub txid: Txid,
    pub wtxid: Txid,
    pub segwit: bool,
}

/// Estimated virtual size, for fees.
pub fn vsize(inputs: impl Iterator<Item = AddrType>, outputs: impl Iterator<Item = AddrType>) -> u64 {
    11 + inputs.map(AddrType::input_vbytes).sum::<u64>() + outputs.map(AddrType::output_vbytes).sum::<u64>()
}

fn placeholder_sig(out: &mut Vec<u8>, rng: &mut Rng) {
    // A 71-byte DER signature + sighash byte: 30 44 02 20 <32> 02 20 <32> 01.
    let mut r = [0u8; 64];
    rng.fill(&mut r);
    out.extend_from_slice(&[0x30, 0x44, 0x02, 0x20]);
    out.extend_from_slice(&r[..32]);
    out.extend_from_slice(&[0x02, 0x20]);
    out.extend_from_slice(&r[32..]);
    out.push(0x01);
}

fn placeholder_pubkey(out: &mut Vec<u8>, rng: &mut Rng) {
    let mut k = [0u8; 32];
    rng.fill(&mut k);
    out.push(0x02 | (k[0] & 1));
    out.extend_from_slice(&k);
}

/// Appends the serialization of a transaction spending `inputs` (with their nSequence) to
/// `outputs` to `out` (a block's transactions are built back to back into one buffer).
pub fn build(out: &mut Vec<u8>, version: i32, locktime: u32, inputs: &[(Utxo, u32)], outputs: &[(u64, Addr)], rng: &mut Rng) -> BuiltTx {
    let segwit = inputs.iter().any(|(u, _)| u.addr.ty.is_segwit());
    let start = out.len();
    out.reserve(16 + inputs.len() * 150 + outputs.len() * 44);
    let mut b = TxBuf { out, start };
    b.extend_from_slice(&version.to_le_bytes());
    if segwit {
        b.extend_from_slice(&[0, 1]);
    }
    let body_start = b.len();
    write_compact_size(b.out, inputs.len() as u64);
    for (u, seq) in inputs {
        b.extend_from_slice(&u.txid.0);
        b.extend_from_slice(&u.vout.to_le_bytes());
        match u.addr.ty {
            AddrType::P2pkh => {
                b.extend_from_slice(&[106, 71]);
                placeholder_sig(b.out, rng);
                b.push(33);
                placeholder_pubkey(b.out, rng);
            }
            AddrType::P2shP2wpkh => {
                b.extend_from_slice(&[23, 22, 0x00, 20]);
                let mut h = [0u8; 20];
                rng.fill(&mut h);
                b.extend_from_slice(&h);
            }
            AddrType::P2wpkh | AddrType::P2tr => b.push(0),
        }
        b.extend_from_slice(&seq.to_le_bytes());
    }
    write_compact_size(b.out, outputs.len() as u64);
    for (value, addr) in outputs {
        b.extend_from_slice(&value.to_le_bytes());
        addr.write_script(b.out);
    }
    let body_end = b.len();
    if segwit {
        for (u, _) in inputs {
            match u.addr.ty {
                AddrType::P2pkh => b.push(0),
                AddrType::P2shP2wpkh | AddrType::P2wpkh => {
                    b.extend_from_slice(&[2, 71]);
                    placeholder_sig(b.out, rng);
                    b.push(33);
                    placeholder_pubkey(b.out, rng);
                }
                AddrType::P2tr => {
                    b.push(1);
                    b.push(64);
                    let mut s = [0u8; 64];
                    rng.fill(&mut s);
                    b.extend_from_slice(&s);
                }
            }
        }
    }
    b.extend_from_slice(&locktime.to_le_bytes());
    let b = &b.out[start..];
    let (txid, wtxid) = if segwit {
        let txid = sha256d_parts(&[&b[..4], &b[body_start..body_end], &b[b.len() - 4..]]);
        (txid, sha256d(b))
    } else {
        let t = sha256d(b);
        (t, t)
    };
    BuiltTx { txid, wtxid, segwit }
}

/// A view of a buffer from `start`: positions and lengths are relative to the transaction.
struct TxBuf<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

impl TxBuf<'_> {
    fn len(&self) -> usize {
        self.out.len() - self.start
    }
    fn push(&mut self, b: u8) {
        self.out.push(b);
    }
    fn extend_from_slice(&mut self, s: &[u8]) {
        self.out.extend_from_slice(s);
    }
}

/// The coinbase of a block at `height`: BIP34 height, payout, and (for blocks with witness
/// data) the BIP141 commitment with an all-zero witness reserved value.
pub fn coinbase(height: u32, value: u64, payout: &Addr, witness_root: Option<Hash32>, extra_nonce: u32) -> (BuiltTx, Vec<u8>) {
    let mut script = Vec::with_capacity(12);
    match height {
        1..=16 => script.push(0x50 + height as u8),
        _ => {
            let mut n = height.to_le_bytes().to_vec();
            while n.len() > 1 && n[n.len() - 1] == 0 && n[n.len() - 2] & 0x80 == 0 {
                n.pop();
            }
            if n[n.len() - 1] & 0x80 != 0 {
                n.push(0);
            }
            script.push(n.len() as u8);
            script.extend_from_slice(&n);
        }
    }
    script.push(4);
    script.extend_from_slice(&extra_nonce.to_le_bytes());

    let segwit = witness_root.is_some();
    let mut b = Vec::with_capacity(200);
    b.extend_from_slice(&2i32.to_le_bytes());
    if segwit {
        b.extend_from_slice(&[0, 1]);
    }
    let body_start = b.len();
    b.push(1);
    b.extend_from_slice(&[0; 32]);
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    write_compact_size(&mut b, script.len() as u64);
    b.extend_from_slice(&script);
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.push(if segwit { 2 } else { 1 });
    b.extend_from_slice(&value.to_le_bytes());
    payout.write_script(&mut b);
    if let Some(root) = witness_root {
        let commitment = sha256d_parts(&[&root.0, &[0u8; 32]]);
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&[38, 0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]);
        b.extend_from_slice(&commitment.0);
    }
    let body_end = b.len();
    if segwit {
        b.extend_from_slice(&[1, 32]);
        b.extend_from_slice(&[0; 32]);
    }
    b.extend_from_slice(&0u32.to_le_bytes());
    let txid = if segwit { sha256d_parts(&[&b[..4], &b[body_start..body_end], &b[b.len() - 4..]]) } else { sha256d(&b) };
    (BuiltTx { txid, wtxid: if segwit { sha256d(&b) } else { txid }, segwit }, b)
}
