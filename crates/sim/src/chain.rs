//! Writes blocks into a Bitcoin Core `blocks/` directory: `blk?????.dat` files of at most
//! 128 MiB of `[magic][size][block]` records, optionally obfuscated with a `xor.dat` key.
//!
//! The chain starts with the network's real genesis block. On regtest every block also
//! carries real proof of work (the regtest target is met by about every second header hash);
//! a mainnet-like chain keeps mainnet's framing and addresses but not its work.

use std::io::Write;
use std::path::{Path, PathBuf};

use fundtrace_bitcoin::chain::meets_target;
use fundtrace_bitcoin::encode::write_compact_size;
use fundtrace_bitcoin::hash::sha256d;
use fundtrace_bitcoin::merkle::merkle_root;
use fundtrace_bitcoin::{Header, Network};
use fundtrace_core::{hex_decode, BlockHash, Hash32};

use crate::direct::DirectWriter;
use crate::tx::{coinbase, Addr, BuiltTx};

/// Bitcoin Core's maximum block file size.
pub const MAX_BLK_FILE: u64 = 128 * 1024 * 1024;

/// The genesis coinbase, identical on every network.
const GENESIS_COINBASE: &str = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000";

/// The network's genesis block, serialized.
pub fn genesis_block(network: Network) -> Vec<u8> {
    let (time, bits, nonce) = match network {
        Network::Main => (1231006505, 0x1d00ffff, 2083236893),
        Network::Regtest => (1296688602, 0x207fffff, 2),
        other => panic!("the simulator writes main-like or regtest chains, not {other}"),
    };
    let tx = hex_decode(GENESIS_COINBASE).expect("constant");
    let header = Header {
        version: 1,
        prev_blockhash: Hash32::default(),
        merkle_root: sha256d(&tx),
        time,
        bits,
        nonce,
    };
    let mut b = header.encode().to_vec();
    b.push(1);
    b.extend_from_slice(&tx);
    b
}

pub struct ChainWriter {
    dir: PathBuf,
    network: Network,
    xor: Option<[u8; 8]>,
    file_no: u32,
    file: DirectWriter,
    file_pos: u64,
    bits: u32,
    /// Height of the last block written.
    pub height: u32,
    pub tip: BlockHash,
    pub bytes_written: u64,
    pub files: u32,
}

impl ChainWriter {
    /// Creates `dir` (Bitcoin Core's `blocks/`), writes `xor.dat` if a key is given, and the
    /// genesis block.
    pub fn create(dir: &Path, network: Network, xor: Option<[u8; 8]>) -> std::io::Result<ChainWriter> {
        std::fs::create_dir_all(dir)?;
        if let Some(k) = xor {
            std::fs::write(dir.join("xor.dat"), k)?;
        }
        let genesis = genesis_block(network);
        let header: [u8; 80] = genesis[..80].try_into().unwrap();
        let mut w = ChainWriter {
            dir: dir.to_path_buf(),
            network,
            xor,
            file_no: 0,
            file: DirectWriter::create(&dir.join("blk00000.dat"))?,
            file_pos: 0,
            bits: Header::decode(&header).bits,
            height: 0,
            tip: sha256d(&header),
            bytes_written: 0,
            files: 1,
        };
        w.write_record(&genesis)?;
        Ok(w)
    }

    fn write_record(&mut self, block: &[u8]) -> std::io::Result<()> {
        self.write_record_parts(&[block])
    }

    /// Writes one framed block given as consecutive parts (no copy into one buffer).
    fn write_record_parts(&mut self, parts: &[&[u8]]) -> std::io::Result<()> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if self.file_pos > 0 && self.file_pos + 8 + len as u64 > MAX_BLK_FILE {
            self.file_no += 1;
            self.files += 1;
            let name = format!("blk{:05}.dat", self.file_no);
            std::mem::replace(&mut self.file, DirectWriter::create(&self.dir.join(name))?).finish()?;
            self.file_pos = 0;
        }
        let mut frame = [0u8; 8];
        frame[..4].copy_from_slice(&self.network.magic());
        frame[4..].copy_from_slice(&(len as u32).to_le_bytes());
        match self.xor {
            None => {
                self.file.write_all(&frame)?;
                for p in parts {
                    self.file.write_all(p)?;
                }
            }
            Some(key) => {
                let start = self.file_pos as usize;
                let mut buf = Vec::with_capacity(8 + len);
                buf.extend_from_slice(&frame);
                for p in parts {
                    buf.extend_from_slice(p);
                }
                for (i, b) in buf.iter_mut().enumerate() {
                    *b ^= key[(start + i) % 8];
                }
                self.file.write_all(&buf)?;
            }
        }
        self.file_pos += 8 + len as u64;
        self.bytes_written += 8 + len as u64;
        Ok(())
    }

    /// Appends a block with a coinbase paying `reward` to `payout` followed by `txs`, whose
    /// serializations lie back to back in `tx_bytes`. Returns the coinbase (output 0 pays).
    pub fn append(&mut self, time: u32, reward: u64, payout: &Addr, txs: &[BuiltTx], tx_bytes: &[u8]) -> std::io::Result<BuiltTx> {
        let height = self.height + 1;
        let any_witness = txs.iter().any(|t| t.segwit);
        let witness_root = any_witness
            .then(|| merkle_root(std::iter::once(Hash32::default()).chain(txs.iter().map(|t| t.wtxid))));
        let (cb, cb_bytes) = coinbase(height, reward, payout, witness_root, self.file_no);
        let mut header = Header {
            version: 0x2000_0000,
            prev_blockhash: self.tip,
            merkle_root: merkle_root(std::iter::once(cb.txid).chain(txs.iter().map(|t| t.txid))),
            time,
            bits: self.bits,
            nonce: 0,
        };
        if self.network == Network::Regtest {
            while !meets_target(&header.block_hash(), header.bits) {
                header.nonce += 1;
            }
        }
        let mut head = header.encode().to_vec();
        write_compact_size(&mut head, 1 + txs.len() as u64);
        self.write_record_parts(&[&head, &cb_bytes, tx_bytes])?;
        self.height = height;
        self.tip = header.block_hash();
        Ok(cb)
    }

    /// Writes what is buffered and waits until the last file is on the device.
    pub fn finish(self) -> std::io::Result<()> {
        self.file.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_blocks_hash_to_the_networks_genesis() {
        for n in [Network::Main, Network::Regtest] {
            let g = genesis_block(n);
            assert_eq!(sha256d(&g[..80]), n.genesis_hash(), "{n}");
        }
    }
}
