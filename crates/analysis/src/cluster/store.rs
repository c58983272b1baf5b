//! The cluster store (`<data-dir>/btc-clusters/`): which cluster every address is in, and
//! the evidence of every merge.
//!
//! | file | record | bytes |
//! |---|---|---|
//! | `cluster.G.col` | cluster id (= oldest member's address id) per address | 4 |
//! | `size.G.col` | member count per cluster id (0 for addresses that are not a cluster id) | 4 |
//! | `merges.col` | one `Merge` per union that joined two clusters, in chain order | 40 |
//! | `MANIFEST` | counts, generation, the configuration, the last transaction clustered | |
//!
//! An update writes the two per-address columns as a new generation G+1, appends merges,
//! syncs, then renames a new MANIFEST into place: a crash at any point leaves the previous
//! manifest, its generation and its prefix of `merges.col` (the tail is cut on the next update).

use std::path::{Path, PathBuf};

use fundtrace_store::column::{Column, Plain};
use fundtrace_store::StoreError;
use serde::{Deserialize, Serialize};

pub const FORMAT_NAME: &str = "fundtrace-clusters";
/// Bumped on any change to a file's layout.
pub const FORMAT_VERSION: u32 = 1;
pub const MERGES: &str = "merges.col";
pub const LOCK: &str = "LOCK";

pub fn cluster_file(generation: u32) -> String {
    format!("cluster.{generation}.col")
}
pub fn size_file(generation: u32) -> String {
    format!("size.{generation}.col")
}

/// Why two clusters were joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum MergeKind {
    /// Both addresses were inputs of the transaction (common-input ownership).
    MultiInput = 1,
    /// The address received the transaction's change output (heuristics in `Merge::heuristics`).
    Change = 2,
}

impl MergeKind {
    pub fn from_u8(b: u8) -> Option<MergeKind> {
        match b {
            1 => Some(MergeKind::MultiInput),
            2 => Some(MergeKind::Change),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            MergeKind::MultiInput => "multi_input",
            MergeKind::Change => "change",
        }
    }
}

/// One union that joined two clusters: the evidence behind every cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Merge {
    /// The two addresses the transaction linked (input 0 and the other input, or the change).
    pub a: u32,
    pub b: u32,
    /// Transaction id (position in the ledger).
    pub tx: u64,
    /// The cluster ids before the merge: `kept` survives, `retired` is absorbed.
    pub kept: u32,
    pub retired: u32,
    pub kept_size: u32,
    pub retired_size: u32,
    /// For change merges: bit mask of the change heuristics naming this output.
    pub heuristics: u16,
    pub kind: u8,
    pub _pad: [u8; 5],
}
// SAFETY: repr(C): 4+4+8+4+4+4+4+2+1+5 = 40 bytes, align 8, no implicit padding.
unsafe impl Plain for Merge {}

/// How the clusters were built; an update must use the same configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterConfig {
    /// Skip the multi-input merge of transactions a multi-party CoinJoin rule recognises.
    pub coinjoin_exclusion: bool,
    /// Change-output expression (see `expr`); `None` = no change-based merges.
    pub change: Option<String>,
    /// A merge of two clusters each larger than this is a collapse alarm.
    pub collapse_threshold: u32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            coinjoin_exclusion: true,
            change: None,
            collapse_threshold: 1_000,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStats {
    pub coinjoins_excluded: u64,
    pub multi_input_merges: u64,
    pub change_merges: u64,
    /// Change merges refused because the two clusters are tagged as different entities.
    #[serde(default)]
    pub change_merges_vetoed: u64,
    pub collapse_alarms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterManifest {
    pub format: String,
    pub format_version: u32,
    pub config: ClusterConfig,
    /// Ledger transactions clustered (ids 0..txs).
    pub txs: u64,
    /// txid of the last transaction clustered, to notice a different ledger.
    pub last_txid: String,
    /// Addresses the per-address files cover (the ledger's count after `txs`).
    pub addresses: u64,
    pub merges: u64,
    pub clusters: u64,
    pub generation: u32,
    pub stats: ClusterStats,
}

impl ClusterManifest {
    pub fn new(config: ClusterConfig) -> ClusterManifest {
        ClusterManifest {
            format: FORMAT_NAME.into(),
            format_version: FORMAT_VERSION,
            config,
            txs: 0,
            last_txid: String::new(),
            addresses: 0,
            merges: 0,
            clusters: 0,
            generation: 0,
            stats: ClusterStats::default(),
        }
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join("MANIFEST")
    }

    /// `Ok(None)` if there is no cluster store in `dir`.
    pub fn load(dir: &Path) -> Result<Option<ClusterManifest>, StoreError> {
        let path = Self::path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::Io { path, source: e }),
        };
        #[derive(Deserialize)]
        struct Head {
            format: String,
            format_version: u32,
        }
        let damaged =
            |e: serde_json::Error| StoreError::Damaged(format!("{}: {e}", path.display()));
        let head: Head = serde_json::from_slice(&bytes).map_err(damaged)?;
        if head.format != FORMAT_NAME {
            return Err(StoreError::Damaged(format!(
                "{}: not a fundtrace cluster manifest",
                path.display()
            )));
        }
        if head.format_version != FORMAT_VERSION {
            return Err(StoreError::FormatVersion {
                dir: dir.to_path_buf(),
                found: head.format_version,
                expected: FORMAT_VERSION,
            });
        }
        serde_json::from_slice(&bytes).map(Some).map_err(damaged)
    }

    /// Atomically replaces the manifest.
    pub fn store(&self, dir: &Path) -> Result<(), StoreError> {
        use std::io::Write;
        let tmp = dir.join("MANIFEST.tmp");
        use fundtrace_store::column::io;
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&serde_json::to_vec_pretty(self).expect("serializable"))
            .map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, Self::path(dir)).map_err(io(dir))?;
        fundtrace_store::manifest::sync_dir(dir)
    }
}

/// A read-only view of the clusters as of the last update.
pub struct Clusters {
    pub dir: PathBuf,
    pub manifest: ClusterManifest,
    cluster: Column<u32>,
    size: Column<u32>,
    merges: Column<Merge>,
}

impl Clusters {
    /// `Ok(None)` when no clustering has been run in `dir`.
    pub fn open(dir: &Path) -> Result<Option<Clusters>, StoreError> {
        let Some(manifest) = ClusterManifest::load(dir)? else {
            return Ok(None);
        };
        let g = manifest.generation;
        Ok(Some(Clusters {
            cluster: Column::open(&dir.join(cluster_file(g)), manifest.addresses)?,
            size: Column::open(&dir.join(size_file(g)), manifest.addresses)?,
            merges: Column::open(&dir.join(MERGES), manifest.merges)?,
            dir: dir.to_path_buf(),
            manifest,
        }))
    }

    /// Cluster id of an address (`None` if the address is newer than the last update).
    pub fn cluster_of(&self, address: u32) -> Option<u32> {
        self.cluster.as_slice().get(address as usize).copied()
    }

    /// Member count of a cluster id (0 if the id was retired by a merge).
    pub fn size(&self, cluster: u32) -> u32 {
        self.size
            .as_slice()
            .get(cluster as usize)
            .copied()
            .unwrap_or(0)
    }

    /// Every address's cluster id, indexed by address id.
    pub fn assignment(&self) -> &[u32] {
        self.cluster.as_slice()
    }

    pub fn sizes(&self) -> &[u32] {
        self.size.as_slice()
    }

    pub fn merges(&self) -> &[Merge] {
        self.merges.as_slice()
    }

    /// Members of a cluster in address-id order (a scan: ~4 bytes read per address).
    pub fn members(&self, cluster: u32) -> Vec<u32> {
        self.cluster
            .as_slice()
            .iter()
            .enumerate()
            .filter(|(_, &c)| c == cluster)
            .map(|(a, _)| a as u32)
            .collect()
    }

    /// SHA-256 of every committed record (assignment, sizes, merges) and the manifest's
    /// counts: equal digests mean equal clusterings, however many runs or crashes made them.
    pub fn content_digest(&self) -> String {
        use fundtrace_store::column::as_bytes;
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let m = &self.manifest;
        for n in [m.txs, m.addresses, m.merges, m.clusters] {
            h.update(n.to_le_bytes());
        }
        h.update(as_bytes(self.assignment()));
        h.update(as_bytes(self.sizes()));
        h.update(as_bytes(self.merges()));
        fundtrace_core::hex_encode(&h.finalize())
    }

    /// Members of every cluster at once (a counting sort of the assignment): for queries that
    /// visit many clusters, where `members` per cluster would rescan everything.
    pub fn member_index(&self) -> MemberIndex {
        let assignment = self.assignment();
        let mut start = vec![0u32; assignment.len() + 1];
        for &c in assignment {
            start[c as usize + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut fill = start.clone();
        let mut members = vec![0u32; assignment.len()];
        for (a, &c) in assignment.iter().enumerate() {
            members[fill[c as usize] as usize] = a as u32;
            fill[c as usize] += 1;
        }
        MemberIndex { start, members }
    }

    /// The merge that retired a cluster id, if it was retired.
    pub fn retired_by(&self, cluster: u32) -> Option<&Merge> {
        self.merges().iter().find(|m| m.retired == cluster)
    }
}

/// Members of every cluster, grouped by cluster id (see `Clusters::member_index`).
pub struct MemberIndex {
    start: Vec<u32>,
    members: Vec<u32>,
}

impl MemberIndex {
    pub fn of(&self, cluster: u32) -> &[u32] {
        match (self.start.get(cluster as usize), self.start.get(cluster as usize + 1)) {
            (Some(&a), Some(&b)) => &self.members[a as usize..b as usize],
            _ => &[],
        }
    }
}
