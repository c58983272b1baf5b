//! Merkle roots over txids and the BIP141 witness commitment.

use fundtrace_core::Hash32;

use crate::decode::Block;
use crate::hash::sha256d_parts;

/// The merkle root of `leaves` as Bitcoin computes it (an odd last node pairs with itself).
pub fn merkle_root(leaves: impl IntoIterator<Item = Hash32>) -> Hash32 {
    let mut level: Vec<Hash32> = leaves.into_iter().collect();
    if level.is_empty() {
        return Hash32::default();
    }
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(*level.last().unwrap());
        }
        level = level.chunks(2).map(|p| sha256d_parts(&[&p[0].0, &p[1].0])).collect();
    }
    level[0]
}

/// BIP141 commitment header inside the coinbase output script: OP_RETURN, push 36, aa21a9ed.
const COMMITMENT_PREFIX: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];

/// Why a block's transactions do not match its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MerkleMismatch {
    MerkleRoot { header: Hash32, computed: Hash32 },
    WitnessCommitment { committed: Hash32, computed: Hash32 },
    /// Witness data present but no commitment (or no 32-byte reserved value) to check it by.
    MissingWitnessCommitment,
}

impl std::fmt::Display for MerkleMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MerkleMismatch::MerkleRoot { header, computed } => {
                write!(f, "merkle root mismatch: header has {header}, transactions give {computed}")
            }
            MerkleMismatch::WitnessCommitment { committed, computed } => write!(
                f,
                "witness commitment mismatch: coinbase commits to {committed}, wtxids give {computed}"
            ),
            MerkleMismatch::MissingWitnessCommitment => {
                write!(f, "block has witness data but no witness commitment in its coinbase")
            }
        }
    }
}

/// The witness commitment in the coinbase (the last matching output, as in BIP141), if any.
pub fn witness_commitment(block: &Block<'_>) -> Option<Hash32> {
    let coinbase = block.txs.txs.first()?;
    block
        .txs
        .outputs_of(coinbase)
        .iter()
        .rev()
        .find(|o| o.script_pubkey.len() >= 38 && o.script_pubkey[..6] == COMMITMENT_PREFIX)
        .map(|o| Hash32(o.script_pubkey[6..38].try_into().unwrap()))
}

/// Checks the header's merkle root against the txids and, when any transaction carries a
/// witness, the coinbase's witness commitment against the wtxids (coinbase wtxid = 0).
pub fn check_block(block: &Block<'_>) -> Result<(), MerkleMismatch> {
    let computed = merkle_root(block.txs.txs.iter().map(|t| t.txid));
    if computed != block.header.merkle_root {
        return Err(MerkleMismatch::MerkleRoot { header: block.header.merkle_root, computed });
    }
    if !block.txs.txs.iter().any(|t| t.segwit) {
        return Ok(());
    }
    let committed = witness_commitment(block).ok_or(MerkleMismatch::MissingWitnessCommitment)?;
    let coinbase = &block.txs.txs[0];
    let items: Vec<&[u8]> = block.txs.inputs_of(coinbase).first().map(|i| block.txs.witness_of(i).collect()).unwrap_or_default();
    let reserved = match items.as_slice() {
        [r] if r.len() == 32 => *r,
        _ => return Err(MerkleMismatch::MissingWitnessCommitment),
    };
    let witness_root = merkle_root(
        std::iter::once(Hash32::default()).chain(block.txs.txs[1..].iter().map(|t| t.wtxid)),
    );
    let computed = sha256d_parts(&[&witness_root.0, reserved]);
    if computed != committed {
        return Err(MerkleMismatch::WitnessCommitment { committed, computed });
    }
    Ok(())
}
