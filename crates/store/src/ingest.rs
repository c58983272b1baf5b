//! `ingest btc`: Bitcoin Core block files into the ledger store.
//!
//! Scan the files (headers only), choose the best chain from the store's tip (or genesis),
//! then decode blocks on worker threads (hashing is the expensive part) while this thread
//! resolves inputs and appends records, committing every `commit_every_txs` transactions.
//! A block that fails validation stops the run; the store stays at the last commit.

use std::borrow::Cow;
use std::path::Path;
use std::sync::mpsc;

use fundtrace_bitcoin::blkfile::{BlockFiles, ScannedBlock, Warning};
use fundtrace_bitcoin::chain::{best_chain, Anchor};
use fundtrace_bitcoin::merkle::check_block;
use fundtrace_bitcoin::script::classify;
use fundtrace_bitcoin::{AddressKey, Block, Network};
use fundtrace_core::{BlockHash, Hash32, ScriptType};

use crate::error::StoreError;
use fundtrace_core::fasthash::FastSet;
use crate::writer::{NewInput, NewOutput, NewTx, Writer};

#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// Commit after at least this many transactions (bounds memory and lost work on a crash).
    pub commit_every_txs: u64,
    /// Stop after this height.
    pub max_height: Option<u64>,
    /// Decoder threads (the writer runs on the calling thread).
    pub decoders: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        IngestOptions { commit_every_txs: 1_000_000, max_height: None, decoders: cores.saturating_sub(1).max(1) }
    }
}

/// Where an ingest run is, for progress display.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub blocks_done: u64,
    pub blocks_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub txs_done: u64,
}

/// What an ingest run did.
#[derive(Clone, Debug)]
pub struct IngestSummary {
    pub network: Network,
    pub blocks_added: u64,
    pub txs_added: u64,
    pub bytes_read: u64,
    /// Tip height after the run (`None`: still empty).
    pub height: Option<u64>,
    pub stale_blocks_skipped: u64,
    pub orphan_blocks_skipped: u64,
    /// Blocks found in the files that the store already held (or found twice).
    pub already_stored: u64,
    pub warnings: Vec<Warning>,
}

/// A block decoded and classified on a worker thread, ready for the writer.
struct Prepared<'a> {
    raw: Cow<'a, [u8]>,
    hash: BlockHash,
    header: [u8; 80],
    weight: u32,
    txs: Vec<(NewTx, std::ops::Range<usize>, std::ops::Range<usize>, u32)>,
    inputs: Vec<NewInput>,
    /// (value, type, address, pubkey range in `raw`)
    outputs: Vec<(u64, ScriptType, Option<AddressKey>, Option<(u32, u8)>)>,
    coinbase_value: u64,
}

fn prepare<'a>(raw: Cow<'a, [u8]>) -> Result<Prepared<'a>, String> {
    let (hash, header, weight, txs, inputs, outputs, coinbase_value) = {
        let block = Block::decode(&raw).map_err(|e| format!("undecodable block: {e}"))?;
        check_block(&block).map_err(|e| e.to_string())?;
        let base = raw.as_ptr() as usize;
        let t = &block.txs;
        let mut txs = Vec::with_capacity(t.txs.len());
        let mut inputs = Vec::with_capacity(t.inputs.len());
        let mut outputs = Vec::with_capacity(t.outputs.len());
        for tx in &t.txs {
            let in_start = inputs.len();
            for i in t.inputs_of(tx) {
                inputs.push(NewInput {
                    spends: (!i.is_coinbase()).then_some((i.prev_txid, i.prev_vout)),
                    sequence: i.sequence,
                });
            }
            let out_start = outputs.len();
            for o in t.outputs_of(tx) {
                let c = classify(o.script_pubkey);
                let pk = c.pubkey.map(|k| ((k.as_ptr() as usize - base) as u32, k.len() as u8));
                outputs.push((o.value, c.script_type, c.address, pk));
            }
            let meta = NewTx {
                txid: tx.txid,
                wtxid: tx.wtxid,
                version: tx.version,
                locktime: tx.locktime,
                size: tx.size(),
                weight: tx.weight(),
            };
            txs.push((meta, in_start..inputs.len(), out_start..outputs.len(), (tx.raw.as_ptr() as usize - base) as u32));
        }
        let coinbase_value = t.outputs_of(&t.txs[0]).iter().fold(0u64, |s, o| s.saturating_add(o.value));
        (block.hash, block.header.encode(), block.weight() as u32, txs, inputs, outputs, coinbase_value)
    };
    Ok(Prepared { raw, hash, header, weight, txs, inputs, outputs, coinbase_value })
}

/// Ingests the best chain found in `files` into the store at `store_dir`.
pub fn ingest_btc(
    store_dir: &Path,
    files: &BlockFiles,
    opts: &IngestOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<IngestSummary, StoreError> {
    let (network, scanned, warnings) = files.scan().map_err(StoreError::BlockFile)?;
    let mut writer = Writer::open(store_dir, "bitcoin", network.name())?;
    let ledger = writer.ledger();
    let base = ledger.block_count();
    let stored: FastSet<[u8; 32]> = (0..base).map(|h| ledger.block(h).unwrap().hash).collect();
    let anchor = match base.checked_sub(1) {
        None => Anchor::Genesis(network.genesis_hash()),
        Some(tip) => Anchor::Tip(Hash32(ledger.block(tip).unwrap().hash)),
    };
    let chain = best_chain(&scanned, anchor, |h| stored.contains(&h.0));
    if base == 0 && chain.path.is_empty() {
        return Err(StoreError::InvalidBlock {
            file: files.files[0].clone(),
            offset: 0,
            height: 0,
            message: format!(
                "no block connects to the {network} genesis block {} ({} blocks scanned)",
                network.genesis_hash(),
                scanned.len()
            ),
        });
    }
    let mut path: Vec<&ScannedBlock> = chain.path.iter().map(|&i| &scanned[i]).collect();
    if let Some(max) = opts.max_height {
        path.truncate((max + 1).saturating_sub(base) as usize);
    }
    let mut p = Progress {
        blocks_total: path.len() as u64,
        bytes_total: path.iter().map(|b| b.location.size as u64).sum(),
        ..Default::default()
    };
    progress(&p);
    let skipped = Some((chain.stale as u64, chain.orphans as u64));

    let decoders = opts.decoders.max(1);
    let result: Result<(), StoreError> = std::thread::scope(|scope| {
        let mut receivers = Vec::with_capacity(decoders);
        for w in 0..decoders {
            let (tx, rx) = mpsc::sync_channel::<Result<Prepared<'_>, String>>(8);
            receivers.push(rx);
            let path = &path;
            scope.spawn(move || {
                for b in path.iter().skip(w).step_by(decoders) {
                    if tx.send(prepare(files.block(b.location))).is_err() {
                        return; // the writer stopped
                    }
                }
            });
        }
        for (k, scanned) in path.iter().enumerate() {
            let height = base + k as u64;
            let file = files.files[scanned.location.file as usize].clone();
            let at = |offset: u64, message: String| StoreError::InvalidBlock { file: file.clone(), offset, height: height as u32, message };
            let block = receivers[k % decoders]
                .recv()
                .expect("decoder threads send one result per block")
                .map_err(|e| at(scanned.location.offset, format!("block {}: {e}", scanned.hash)))?;
            writer.add_block(block.hash.0, block.header, block.raw.len() as u32, block.weight);
            let mut fees = 0u64;
            for (n, (meta, ins, outs, tx_offset)) in block.txs.iter().enumerate() {
                let outputs: Vec<NewOutput<'_>> = block.outputs[outs.clone()]
                    .iter()
                    .map(|&(value, script_type, address, pk)| NewOutput {
                        value,
                        script_type,
                        address,
                        pubkey: pk.map(|(o, l)| &block.raw[o as usize..o as usize + l as usize]),
                    })
                    .collect();
                let fee = writer.add_tx(meta, &block.inputs[ins.clone()], &outputs).map_err(|e| {
                    at(
                        scanned.location.offset + *tx_offset as u64,
                        format!("block {} tx {n} ({}): {e}", block.hash, meta.txid),
                    )
                })?;
                fees += fee;
            }
            let allowed = network.subsidy(height) + fees;
            if block.coinbase_value > allowed {
                return Err(at(
                    scanned.location.offset,
                    format!(
                        "block {}: coinbase pays {} sat, more than subsidy + fees ({allowed} sat)",
                        block.hash, block.coinbase_value
                    ),
                ));
            }
            p.blocks_done += 1;
            p.bytes_done += block.raw.len() as u64;
            p.txs_done += block.txs.len() as u64;
            drop(block);
            files.release(scanned.location);
            if writer.pending_txs() >= opts.commit_every_txs {
                writer.commit(skipped)?;
            }
            progress(&p);
        }
        Ok(())
    });
    if let Err(e) = result {
        writer.discard();
        return Err(e);
    }
    writer.commit(skipped)?;
    Ok(IngestSummary {
        network,
        blocks_added: p.blocks_done,
        txs_added: p.txs_done,
        bytes_read: p.bytes_done,
        height: writer.ledger().manifest.height(),
        stale_blocks_skipped: chain.stale as u64,
        orphan_blocks_skipped: chain.orphans as u64,
        already_stored: chain.duplicates as u64,
        warnings,
    })
}
