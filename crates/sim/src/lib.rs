//! Seeded synthetic Bitcoin economies written as Bitcoin Core block files, with planted
//! DPRK-style thefts and full ground truth (who owns every address, where every stolen
//! satoshi went).
//!
//! Layout of an output directory:
//! ```text
//! DIR/blocks/blk00000.dat ...   Bitcoin Core block files (+ xor.dat with --xor)
//! DIR/truth/entities.jsonl      every entity: id, kind, name, country, wallet software
//! DIR/truth/addresses.jsonl     every address -> entity id
//! DIR/truth/incidents.jsonl     every planted theft: stolen outputs, laundering txs, endpoints
//! DIR/truth/coinjoins.jsonl     every CoinJoin round: txid, kind, height
//! DIR/truth/summary.json        counts
//! ```

pub mod chain;
pub mod coinjoin;
pub mod direct;
pub mod economy;
pub mod incident;
pub mod mixer;
pub mod rng;
pub mod truth;
pub mod tx;
pub mod world;

use std::path::Path;

use serde::Serialize;

pub use world::Config;
use world::World;

/// Progress of a run, for display.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    pub txs: u64,
    pub txs_target: u64,
    pub blocks: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub seed: u64,
    pub network: String,
    pub blocks: u64,
    pub transactions: u64,
    pub bytes: u64,
    pub blk_files: u32,
    pub xor: bool,
    pub entities: u64,
    pub entities_by_kind: std::collections::BTreeMap<String, u64>,
    pub addresses: u64,
    pub incidents: u64,
    pub stolen_value: u64,
    pub start_time: u32,
    pub end_time: u32,
}

fn write_err(e: std::io::Error, what: &Path) -> String {
    format!("{}: {e}", what.display())
}

/// Simulates a world into `out` (created; must not already hold blocks).
pub fn simulate(cfg: &Config, out: &Path, progress: &mut dyn FnMut(&Progress)) -> Result<Summary, String> {
    let blocks_dir = out.join("blocks");
    let truth_dir = out.join("truth");
    if blocks_dir.join("blk00000.dat").exists() {
        return Err(format!("{} already holds block files; choose an empty --out", blocks_dir.display()));
    }
    let xor = cfg.xor.then(|| {
        let mut r = rng::Rng::new(cfg.seed ^ 0x786f_7200);
        let mut k = [0u8; 8];
        r.fill(&mut k);
        k
    });
    let chain = chain::ChainWriter::create(&blocks_dir, cfg.network, xor).map_err(|e| write_err(e, &blocks_dir))?;
    let truth = truth::Truth::create(&truth_dir, cfg.network).map_err(|e| write_err(e, &truth_dir))?;
    let mut w = World::new(cfg.clone(), chain, truth);
    w.txs_written = 1; // the genesis coinbase
    economy::populate(&mut w);
    incident::plan(&mut w);
    let mut p = Progress { txs_target: cfg.txs, ..Default::default() };
    while w.txs_written < cfg.txs {
        build_block(&mut w).map_err(|e| write_err(e, &blocks_dir))?;
        p.txs = w.txs_written;
        p.blocks = w.chain.height as u64 + 1;
        p.bytes = w.chain.bytes_written;
        progress(&p);
    }
    let incidents = incident::finish(&mut w);
    let mut by_kind = std::collections::BTreeMap::new();
    for e in &w.entities {
        *by_kind.entry(serde_json::to_value(e.kind).unwrap().as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    truth::write_jsonl(&truth_dir.join("entities.jsonl"), &w.entities).map_err(|e| write_err(e, &truth_dir))?;
    truth::write_jsonl(&truth_dir.join("incidents.jsonl"), &incidents).map_err(|e| write_err(e, &truth_dir))?;
    let summary = Summary {
        seed: cfg.seed,
        network: cfg.network.name().into(),
        blocks: w.chain.height as u64 + 1,
        transactions: w.txs_written,
        bytes: w.chain.bytes_written,
        blk_files: w.chain.files,
        xor: cfg.xor,
        entities: w.entities.len() as u64,
        entities_by_kind: by_kind,
        addresses: w.truth.address_count,
        incidents: incidents.len() as u64,
        stolen_value: incidents.iter().map(|i| i.stolen_value).sum(),
        start_time: cfg.start_time,
        end_time: w.time(),
    };
    write_public_tags(&w, &incidents, &truth_dir).map_err(|e| write_err(e, &truth_dir))?;
    let s = serde_json::to_vec_pretty(&summary).unwrap();
    std::fs::write(truth_dir.join("summary.json"), s).map_err(|e| write_err(e, &truth_dir))?;
    let World { chain, truth, .. } = w;
    chain.finish().map_err(|e| write_err(e, &blocks_dir))?;
    truth.finish().map_err(|e| write_err(e, &truth_dir))?;
    Ok(summary)
}

/// `truth/tags.yaml`: the wallets every service keeps (hot wallet, cold storage...) that
/// received coins, and the addresses each theft paid, as a published advisory would list
/// them. It is all the attribution a trace of the world needs; clustering spreads it.
fn write_public_tags(w: &World, incidents: &[truth::Incident], dir: &Path) -> std::io::Result<()> {
    let mut tags = Vec::new();
    for e in &w.entities {
        let Some(category) = truth::concept(e.kind) else { continue };
        for a in w.wallets[e.id as usize].fixed.iter().flatten() {
            if !w.unrecorded.contains_key(a) {
                tags.push(truth::PublicTag { address: w.truth.address_string(a), label: e.name.clone(), category, abuse: None, entity: e.id });
            }
        }
    }
    for inc in incidents {
        for so in &inc.stolen_outputs {
            let label = format!("{} theft from {}", w.entities[inc.thief as usize].name, w.entities[inc.victim as usize].name);
            tags.push(truth::PublicTag { address: so.address.clone(), label, category: "perpetrator", abuse: Some("service_hack"), entity: inc.thief });
        }
    }
    let title = format!("Simulated world, seed {}", w.cfg.seed);
    let lastmod = fundtrace_core::Date::from_unix(w.time() as i64).to_string();
    truth::write_tagpack(&dir.join("tags.yaml"), &title, &lastmod, &tags)
}

/// One block: matured coinbases become spendable, incidents and mixers act, everyday
/// activity fills the block, and a pool mines it.
fn build_block(w: &mut World) -> std::io::Result<()> {
    let height = w.chain.height + 1;
    while w.immature.front().is_some_and(|(h, _, _)| *h <= height) {
        let (_, pool, u) = w.immature.pop_front().unwrap();
        w.wallets[pool as usize].pockets[world::MAIN].push(u);
    }
    w.feerate = 1 + w.rng.log_range(1, 60);
    incident::step(w);
    w.fresh.clear();
    mixer::process_due(w);
    let target = w.cfg.txs_per_block as usize;
    let mut misses = 0;
    while w.block.len() < target && misses < target * 2 && w.txs_written + 1 < w.cfg.txs {
        w.fresh.clear();
        if !economy::activity(w) {
            misses += 1;
        }
    }
    let pool = w.random_of(truth::Kind::MiningPool).expect("pools exist");
    let payout = w.fixed_address(pool, world::MAIN);
    let reward = w.cfg.network.subsidy(height as u64) + w.block_fees;
    let time = w.time();
    let txs = std::mem::take(&mut w.block);
    let cb = w.chain.append(time, reward, &payout, &txs, &w.block_bytes)?;
    w.block_bytes.clear();
    w.record_paid(&[world::Payee { entity: pool, pocket: world::MAIN, addr: payout, value: reward }]);
    w.txs_written += 1;
    w.block_fees = 0;
    w.block = txs;
    w.block.clear();
    if reward > 0 {
        let u = tx::Utxo { txid: cb.txid, vout: 0, value: reward, addr: payout };
        w.immature.push_back((height + 100, pool, u));
    }
    Ok(())
}
