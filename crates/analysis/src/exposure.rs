//! Exposure of every address at once, in one pass over the ledger, for screening at scale.
//!
//! The receiving side of `risk` asks, for an address: of the value it received from others,
//! how much came from entities of each category, and how many hops back? A backward trace
//! answers it for one address. This pass answers it for all of them: transactions are
//! processed in chain order and every output carries its *origin vector* (amount per
//! (category, hop)), built from its transaction's inputs exactly as a backward haircut split
//! would: an input spending an attributed entity's coin contributes that coin's value at hop
//! 1 for the entity's category; any other input contributes its own origin vector one hop
//! further (dropped beyond `max_hops`); each output gets its share in proportion to its value.
//! So an address's exposure is the sum of the vectors of the outputs it received, and scoring
//! it is a lookup. Memory holds the vectors of unspent outputs only.
//!
//! Amounts here are estimates derived from ledger amounts, kept as f64 (no ledger data is
//! stored this way); a test checks them against the integer backward trace.

use fundtrace_core::fasthash::FastMap;

use fundtrace_store::column::{io, write_file};
use fundtrace_store::Ledger;

use crate::risk::CATEGORIES;
use crate::trace::{FlowGraph, LedgerGraph};

/// (category index into `risk::CATEGORIES`, hop) -> amount.
pub type Vector = Vec<(u8, u8, f64)>;

/// What one address received from others, by origin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AddressExposure {
    /// Value received from others (outputs of transactions the address's entity did not fund).
    pub received: u64,
    pub origins: Vector,
}

/// Exposure of every address that received value from others.
pub struct ExposureIndex {
    pub max_hops: u8,
    by_address: FastMap<u32, AddressExposure>,
    pub txs: u64,
}

impl ExposureIndex {
    pub fn get(&self, address: u32) -> Option<&AddressExposure> {
        self.by_address.get(&address)
    }
    pub fn len(&self) -> usize {
        self.by_address.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }
}

fn add(into: &mut Vector, from: &[(u8, u8, f64)], scale: f64, shift: u8, max_hops: u8) {
    for &(c, h, a) in from {
        let h = h + shift;
        if h > max_hops {
            continue;
        }
        match into.iter_mut().find(|x| x.0 == c && x.1 == h) {
            Some(x) => x.2 += a * scale,
            None => into.push((c, h, a * scale)),
        }
    }
}

/// Builds the index. `category_of(address)` gives the risk category index of the entity an
/// address belongs to (which stops the path there); `entity_of(address)` its entity key, so
/// that an entity's transfers to itself do not count as inflows.
pub fn build(
    ledger: &Ledger,
    max_hops: u8,
    category_of: &dyn Fn(u32) -> Option<u8>,
    entity_of: &dyn Fn(u32) -> u32,
    progress: &mut dyn FnMut(u64, u64),
) -> ExposureIndex {
    let mut live: FastMap<u64, Vector> = FastMap::default();
    let mut by_address: FastMap<u32, AddressExposure> = FastMap::default();
    let mut ins = Vec::new();
    let mut mix: Vector = Vec::new();
    let mut funders: Vec<u32> = Vec::new();
    let n = ledger.tx_count();
    let g = LedgerGraph::new(ledger);
    for tx in 0..n {
        if tx % (1 << 18) == 0 {
            progress(tx, n);
        }
        g.inputs(tx, &mut ins);
        if ins.is_empty() {
            // Coinbase: newly mined coins are an inflow with no attributed origin (as the
            // backward trace counts them).
            for o in g.outputs(tx) {
                if let (Some(a), w) = (g.address(o), g.value(o)) {
                    if w > 0 {
                        by_address.entry(a).or_default().received += w;
                    }
                }
            }
            continue;
        }
        mix.clear();
        let mut v_in = 0u64;
        funders.clear();
        for &(o, v) in &ins {
            v_in += v;
            let vec = live.remove(&o);
            match g.address(o) {
                Some(a) => {
                    funders.push(entity_of(a));
                    match category_of(a) {
                        Some(c) => add(&mut mix, &[(c, 0, v as f64)], 1.0, 1, max_hops),
                        None => add(&mut mix, vec.as_deref().unwrap_or(&[]), 1.0, 1, max_hops),
                    }
                }
                None => add(&mut mix, vec.as_deref().unwrap_or(&[]), 1.0, 1, max_hops),
            }
        }
        if v_in == 0 {
            continue;
        }
        for o in g.outputs(tx) {
            let w = g.value(o);
            if w == 0 {
                continue;
            }
            // The output's share of the mix (whose (category, hop) keys are already unique).
            let scale = w as f64 / v_in as f64;
            if let Some(a) = g.address(o) {
                // Inflow from others only: not what the entity paid itself (change).
                if !funders.contains(&entity_of(a)) {
                    let e = by_address.entry(a).or_default();
                    e.received += w;
                    add(&mut e.origins, &mix, scale, 0, max_hops);
                }
            }
            // Only coins that will be spent need their vector kept.
            if !mix.is_empty() && g.spender(o).is_some() {
                live.insert(o, mix.iter().map(|&(c, h, a)| (c, h, a * scale)).collect());
            }
        }
    }
    progress(n, n);
    ExposureIndex { max_hops, by_address, txs: n }
}

/// The risk category name of an index.
pub fn category_name(c: u8) -> &'static str {
    CATEGORIES.get(c as usize).map_or("other", |x| x.0)
}

/// The index of a risk category name.
pub fn category_index(name: &str) -> Option<u8> {
    CATEGORIES.iter().position(|x| x.0 == name).map(|i| i as u8)
}

/// One origin as stored: category, hop, amount (f32 keeps 7 significant digits, plenty for
/// shares). 8 bytes.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct StoredOrigin {
    pub category: u8,
    pub hop: u8,
    pub _pad: [u8; 2],
    pub amount: f32,
}
// SAFETY: repr(C), 1 + 1 + 2 + 4 = 8 bytes, align 4, no implicit padding.
unsafe impl fundtrace_store::column::Plain for StoredOrigin {}

/// What a stored index was built from; it answers only while all of it still holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexManifest {
    pub format: String,
    pub format_version: u32,
    pub txs: u64,
    pub last_txid: String,
    pub max_hops: u8,
    /// Digest of the attribution it used (entities and their categories).
    pub attribution: String,
    /// The clustering it used (entities are clusters): its configuration and size, or "none".
    pub clusters: String,
    pub addresses: u64,
}

pub const INDEX_FORMAT: &str = "fundtrace-exposure";
const RECEIVED: &str = "received.col";
const ORIGIN_END: &str = "origin_end.col";
const ORIGINS: &str = "origins.col";


impl ExposureIndex {
    /// Writes the index to `dir` (replacing what was there: it is derived data, rebuilt whole).
    pub fn store(&self, dir: &std::path::Path, manifest: &IndexManifest) -> Result<(), fundtrace_store::StoreError> {
        let tmp = dir.with_extension("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let n = manifest.addresses as usize;
        let mut received = vec![0u64; n];
        let mut ends = vec![0u64; n];
        let mut origins: Vec<StoredOrigin> = Vec::new();
        for (a, slot) in ends.iter_mut().enumerate() {
            if let Some(e) = self.by_address.get(&(a as u32)) {
                received[a] = e.received;
                origins.extend(e.origins.iter().map(|&(category, hop, amount)| StoredOrigin { category, hop, _pad: [0; 2], amount: amount as f32 }));
            }
            *slot = origins.len() as u64;
        }
        write_file(&tmp.join(RECEIVED), &received)?;
        write_file(&tmp.join(ORIGIN_END), &ends)?;
        write_file(&tmp.join(ORIGINS), &origins)?;
        let m = tmp.join("MANIFEST");
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&m).map_err(io(&m))?;
            f.write_all(&serde_json::to_vec_pretty(manifest).expect("serializable")).map_err(io(&m))?;
            f.sync_all().map_err(io(&m))?;
        }
        fundtrace_store::manifest::sync_dir(&tmp)?;
        // Swap directories: a crash in between leaves no index (rebuilt on demand), never a
        // mixed one.
        let old = dir.with_extension("old");
        let _ = std::fs::remove_dir_all(&old);
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(io(dir))?;
        }
        std::fs::rename(&tmp, dir).map_err(io(dir))?;
        if let Some(parent) = dir.parent() {
            fundtrace_store::manifest::sync_dir(parent)?;
        }
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }
}

/// A stored index, mapped.
pub struct StoredIndex {
    pub manifest: IndexManifest,
    received: fundtrace_store::column::Column<u64>,
    ends: fundtrace_store::column::Column<u64>,
    origins: fundtrace_store::column::Column<StoredOrigin>,
}

impl StoredIndex {
    /// `None` when there is no usable index in `dir` (missing, or damaged by an interrupted
    /// write: it is derived data, rebuilt by `fundtrace exposure`, never a reason to fail).
    pub fn open(dir: &std::path::Path) -> Option<StoredIndex> {
        Self::try_open(dir).ok().flatten()
    }

    fn try_open(dir: &std::path::Path) -> Result<Option<StoredIndex>, fundtrace_store::StoreError> {
        use fundtrace_store::column::Column;
        let m = dir.join("MANIFEST");
        let bytes = match std::fs::read(&m) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(fundtrace_store::StoreError::Io { path: m, source: e }),
        };
        let manifest: IndexManifest =
            serde_json::from_slice(&bytes).map_err(|e| fundtrace_store::StoreError::Damaged(format!("{}: {e}", m.display())))?;
        if manifest.format != INDEX_FORMAT || manifest.format_version != 1 {
            return Ok(None);
        }
        let ends: Column<u64> = Column::open(&dir.join(ORIGIN_END), manifest.addresses)?;
        let total = ends.as_slice().last().copied().unwrap_or(0);
        Ok(Some(StoredIndex {
            received: Column::open(&dir.join(RECEIVED), manifest.addresses)?,
            origins: Column::open(&dir.join(ORIGINS), total)?,
            ends,
            manifest,
        }))
    }

    /// (value received from others, origins) of an address.
    pub fn get(&self, address: u32) -> Option<(u64, &[StoredOrigin])> {
        let a = address as usize;
        let received = *self.received.as_slice().get(a)?;
        let ends = self.ends.as_slice();
        let start = if a == 0 { 0 } else { ends[a - 1] } as usize;
        Some((received, &self.origins.as_slice()[start..ends[a] as usize]))
    }
}
