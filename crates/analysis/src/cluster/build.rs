//! Building and extending the clusters: one pass over the transactions the cluster store has
//! not seen, in chain order (so "first seen" and "spent later" mean what they say).

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use fundtrace_core::fasthash::FastMap;
use fundtrace_core::TxId;
use fundtrace_store::column::{io, write_file, Appender};
use fundtrace_store::{Ledger, StoreError};

use super::store::*;
use super::unionfind::UnionFind;
use crate::change::Context;
use crate::coinjoin::{self, Rules};
use crate::expr::ChangeExpr;
use crate::txview::ChainWalk;

/// Progress for display: transactions done of the total to do.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// What an update did.
#[derive(Clone, Debug, Default)]
pub struct UpdateSummary {
    pub txs_processed: u64,
    pub merges_added: u64,
    pub clusters: u64,
    pub addresses: u64,
    /// Collapse alarms raised by this update, with their evidence.
    pub alarms: Vec<Merge>,
}

#[derive(Debug)]
pub enum ClusterError {
    Store(StoreError),
    /// The store was built with another configuration; updating it would mix two rules.
    ConfigChanged {
        dir: std::path::PathBuf,
        stored: ClusterConfig,
        requested: ClusterConfig,
    },
    /// The cluster store does not belong to this ledger (or the ledger was rebuilt).
    LedgerMismatch(String),
    BadExpression(String),
}

impl From<StoreError> for ClusterError {
    fn from(e: StoreError) -> Self {
        ClusterError::Store(e)
    }
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::Store(e) => e.fmt(f),
            ClusterError::ConfigChanged { dir, stored, requested } => write!(
                f,
                "{}: clusters were built with {} and this run asks for {}; pass --rebuild to start over",
                dir.display(),
                describe(stored),
                describe(requested)
            ),
            ClusterError::LedgerMismatch(why) => write!(f, "{why}; pass --rebuild to cluster this ledger from scratch"),
            ClusterError::BadExpression(why) => write!(f, "--change: {why}"),
        }
    }
}

impl std::error::Error for ClusterError {}

pub fn describe(c: &ClusterConfig) -> String {
    format!(
        "multi-input{}, change {}, collapse threshold {}",
        if c.coinjoin_exclusion {
            " excluding CoinJoins"
        } else {
            " including CoinJoins"
        },
        c.change.as_deref().unwrap_or("off"),
        c.collapse_threshold
    )
}

/// The detectors' rules for this ledger: mainnet height gates and Wasabi 1 coordinators.
pub fn rules_for(ledger: &Ledger) -> Rules {
    let mainnet = ledger.manifest.network == "main";
    let mut rules = Rules {
        mainnet,
        wasabi1_coordinators: [None, None],
    };
    if mainnet {
        for (slot, addr) in rules
            .wasabi1_coordinators
            .iter_mut()
            .zip(coinjoin::WASABI1_COORDINATORS)
        {
            let key = fundtrace_bitcoin::AddressKey::parse(addr, fundtrace_bitcoin::Network::Main)
                .expect("valid constant");
            *slot = ledger.find_address(key.as_bytes()).map(|a| a.0);
        }
    }
    rules
}

/// Clusters the transactions of `ledger` not yet in the store at `dir` (all of them the first
/// time). `rebuild` discards an existing store first. Alarms are also returned for printing.
pub fn update(
    ledger: &Ledger,
    dir: &Path,
    config: &ClusterConfig,
    rebuild: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<UpdateSummary, ClusterError> {
    update_with_tags(ledger, dir, config, rebuild, &HashMap::new(), progress)
}

/// `update`, with tag identities (address id -> an id per actor or label) that veto change
/// merges: a change output never joins two clusters tagged as different entities (methods.md
/// §2.3, Ermilov et al.'s votes for separation). Multi-input merges are not vetoed; their
/// tag conflicts are reported by `cluster show`.
pub fn update_with_tags(
    ledger: &Ledger,
    dir: &Path,
    config: &ClusterConfig,
    rebuild: bool,
    identities: &HashMap<u32, u32>,
    progress: &mut dyn FnMut(Progress),
) -> Result<UpdateSummary, ClusterError> {
    let change = config
        .change
        .as_deref()
        .map(ChangeExpr::parse)
        .transpose()
        .map_err(ClusterError::BadExpression)?;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let lock_path = dir.join(LOCK);
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(&lock_path))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(StoreError::Locked {
                dir: dir.to_path_buf(),
            }
            .into())
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError::Io {
                path: lock_path,
                source: e,
            }
            .into())
        }
    }

    let existing = if rebuild {
        None
    } else {
        ClusterManifest::load(dir)?
    };
    let mut m = match existing {
        Some(m) if m.config != *config => {
            return Err(ClusterError::ConfigChanged {
                dir: dir.to_path_buf(),
                stored: m.config,
                requested: config.clone(),
            })
        }
        Some(m) => m,
        None => {
            // A fresh start: the previous manifest (if any) goes first, so a crash from here on
            // leaves "no clusters" rather than a manifest pointing at half-rewritten files.
            let _ = std::fs::remove_file(ClusterManifest::path(dir));
            fundtrace_store::manifest::sync_dir(dir)?;
            for e in std::fs::read_dir(dir).map_err(io(dir))?.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if (name.starts_with("cluster.") || name.starts_with("size."))
                    && name.ends_with(".col")
                {
                    std::fs::remove_file(e.path()).map_err(io(&e.path()))?;
                }
            }
            ClusterManifest::new(config.clone())
        }
    };
    if m.txs > ledger.tx_count() {
        return Err(ClusterError::LedgerMismatch(format!(
            "{}: clusters cover {} transactions but the ledger holds {}",
            dir.display(),
            m.txs,
            ledger.tx_count()
        )));
    }
    if m.txs > 0 && ledger.txid(TxId(m.txs - 1)).to_string() != m.last_txid {
        return Err(ClusterError::LedgerMismatch(format!(
            "{}: transaction {} of the ledger is not the one last clustered ({})",
            dir.display(),
            m.txs - 1,
            m.last_txid
        )));
    }

    if m.txs == ledger.tx_count() && m.txs > 0 {
        // Nothing new: leave the files alone.
        return Ok(UpdateSummary { clusters: m.clusters, addresses: m.addresses, ..Default::default() });
    }
    let (mut uf, merges_bytes) = {
        let old = if m.txs > 0 {
            Clusters::open(dir)?
        } else {
            None
        };
        let uf = match &old {
            Some(c) => UnionFind::from_parts(c.assignment().to_vec(), c.sizes().to_vec()),
            None => UnionFind::from_parts(Vec::new(), Vec::new()),
        };
        (uf, m.merges * std::mem::size_of::<Merge>() as u64)
    };
    let merges_path = dir.join(MERGES);
    let mut merges = Appender::open(&merges_path, merges_bytes)?;
    uf.grow(ledger.address_count() as usize);

    // Tag identity of each cluster root, from the tagged addresses (first tag wins).
    let mut identity: FastMap<u32, u32> = FastMap::default();
    for (&a, &i) in identities {
        if (a as usize) < uf.len() {
            let r = uf.find(a);
            identity.entry(r).or_insert(i);
        }
    }
    let c = ledger.columns();
    let rules = rules_for(ledger);
    let mut summary = UpdateSummary::default();
    let start = m.txs;
    let end = ledger.tx_count();
    // The walk knows which output addresses are new in each transaction (the change
    // heuristics' "fresh address").
    let mut batch: Vec<Merge> = Vec::new();
    let start_stats = m.stats.clone();
    let mut walk = ChainWalk::new(ledger, start, m.addresses as u32);
    while let Some(first_new_address) = walk.advance() {
        let view = &walk.view;
        let tx = view.tx;
        if view.coinbase {
            continue;
        }
        let coinjoin = coinjoin::multi_party(view, &rules).is_some();
        if coinjoin && config.coinjoin_exclusion {
            // BlockSci's processTransaction skips the whole transaction: its inputs belong to
            // several parties, and so may its change outputs.
            m.stats.coinjoins_excluded += 1;
            continue;
        }
        let Some(first) = view.inputs.iter().find_map(|i| i.address) else {
            continue;
        };
        let stats = &mut m.stats;
        let mut join = |uf: &mut UnionFind, b: u32, kind: MergeKind, heuristics: u16| {
            let (ra, rb) = (uf.find(first), uf.find(b));
            if ra == rb {
                return;
            }
            let (ia, ib) = (identity.get(&ra).copied(), identity.get(&rb).copied());
            if kind == MergeKind::Change && ia.is_some() && ib.is_some() && ia != ib {
                stats.change_merges_vetoed += 1;
                return;
            }
            if let Some(j) = uf.union_roots(ra, rb) {
                if let Some(i) = ia.or(ib) {
                    identity.insert(j.kept, i);
                }
                let merge = Merge {
                    a: first,
                    b,
                    tx,
                    kept: j.kept,
                    retired: j.retired,
                    kept_size: j.kept_size,
                    retired_size: j.retired_size,
                    heuristics,
                    kind: kind as u8,
                    _pad: [0; 5],
                };
                if j.kept_size > config.collapse_threshold
                    && j.retired_size > config.collapse_threshold
                {
                    summary.alarms.push(merge);
                }
                match kind {
                    MergeKind::MultiInput => stats.multi_input_merges += 1,
                    MergeKind::Change => stats.change_merges += 1,
                }
                batch.push(merge);
            }
        };
        for i in &view.inputs {
            if let Some(b) = i.address {
                join(&mut uf, b, MergeKind::MultiInput, 0);
            }
        }
        if let Some(expr) = &change {
            let ctx = Context {
                first_new_address,
                coinjoin,
                ledger: Some(c),
            };
            if let Some(v) = expr.verdict(view, &ctx) {
                if let Some(b) = view.outputs[v.output].address {
                    join(&mut uf, b, MergeKind::Change, v.heuristics);
                }
            }
        }
        if batch.len() >= 1 << 16 {
            merges.push(&batch)?;
            batch.clear();
        }
        if (tx - start).is_multiple_of(1 << 16) {
            progress(Progress {
                done: tx - start,
                total: end - start,
            });
        }
    }
    merges.push(&batch)?;
    batch.clear();
    merges.sync()?;
    fundtrace_store::crash_point("cluster-after-merges");
    progress(Progress {
        done: end - start,
        total: end - start,
    });

    let merges_total = m.merges + summary_merges(&m, start_stats);
    let added = merges_total - m.merges;
    let (roots, sizes) = uf.into_flat();
    let clusters = sizes.iter().filter(|&&s| s > 0).count() as u64;

    let old_generation = m.generation;
    let g = if start == 0 { 0 } else { old_generation + 1 };
    write_file(&dir.join(cluster_file(g)), &roots)?;
    write_file(&dir.join(size_file(g)), &sizes)?;
    fundtrace_store::crash_point("cluster-after-columns");
    m.stats.collapse_alarms += summary.alarms.len() as u64;
    m.txs = end;
    m.last_txid = if end > 0 {
        ledger.txid(TxId(end - 1)).to_string()
    } else {
        String::new()
    };
    m.addresses = roots.len() as u64;
    m.merges = merges_total;
    m.clusters = clusters;
    m.generation = g;
    m.store(dir)?;
    fundtrace_store::crash_point("cluster-after-manifest");
    if old_generation != g && start > 0 {
        let _ = std::fs::remove_file(dir.join(cluster_file(old_generation)));
        let _ = std::fs::remove_file(dir.join(size_file(old_generation)));
    }
    summary.txs_processed = end - start;
    summary.merges_added = added;
    summary.clusters = clusters;
    summary.addresses = roots.len() as u64;
    Ok(summary)
}

/// Merges recorded since `before` (every merge is counted once, by kind).
fn summary_merges(m: &ClusterManifest, before: ClusterStats) -> u64 {
    (m.stats.multi_input_merges - before.multi_input_merges)
        + (m.stats.change_merges - before.change_merges)
}

