//! Ground truth, written next to the blocks as JSON Lines (documented in README.md):
//! `entities.jsonl`, `addresses.jsonl` (streamed as addresses are created), `incidents.jsonl`
//! and `summary.json`. It is everything needed to score clustering and tracing without
//! looking at fundtrace's output.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use fundtrace_bitcoin::Network;
use serde::Serialize;

use crate::direct::DirectWriter;
use crate::tx::Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Individual,
    Exchange,
    MiningPool,
    Merchant,
    PaymentProcessor,
    Gambling,
    Mixer,
    OtcBroker,
    CoinjoinCoordinator,
    Thief,
}

/// Wallet software: decides script types over time and transaction fingerprints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Software {
    /// Bitcoin Core: anti-fee-sniping locktime, RBF, fresh change, random output order.
    Core,
    /// Electrum: anti-fee-sniping locktime, RBF, BIP69 ordering.
    Electrum,
    /// Mobile wallets: locktime 0, final sequence, nested segwit.
    Mobile,
    /// Old wallets: P2PKH, version 1, change back to the sending address.
    Legacy,
    /// Custom service software: batching, locktime 0, version 2.
    Service,
}

#[derive(Clone, Debug, Serialize)]
pub struct Entity {
    pub id: u32,
    pub kind: Kind,
    pub name: String,
    pub country: &'static str,
    pub software: Software,
}

#[derive(Clone, Debug, Serialize)]
pub struct OutRef {
    pub txid: String,
    pub vout: u32,
    pub value: u64,
    pub address: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LaunderingTx {
    pub txid: String,
    pub role: &'static str,
    pub height: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Endpoint {
    pub txid: String,
    pub vout: u32,
    pub entity: u32,
    pub entity_kind: Kind,
    pub amount: u64,
    pub height: u32,
    /// How the coins got there: `peel`, `direct`, `via_mixer`, `via_coinjoin`.
    pub route: &'static str,
}

/// One planted theft and everything the thief did with the coins.
#[derive(Clone, Debug, Serialize)]
pub struct Incident {
    pub id: u32,
    pub thief: u32,
    pub victim: u32,
    pub height: u32,
    pub time: u32,
    pub theft_txid: String,
    pub stolen_outputs: Vec<OutRef>,
    pub stolen_value: u64,
    pub laundering_txs: Vec<LaunderingTx>,
    /// Every transfer of value from the thief to another entity: exchange and OTC cash-outs,
    /// mixer deposits, CoinJoin coordinator fees.
    pub endpoints: Vec<Endpoint>,
    /// Value the thief received back from custodial mixers (the mixer's own coins).
    pub mixer_payouts: u64,
    /// Miner fees the thief paid (its share of CoinJoin fees included).
    pub fees_paid: u64,
    /// Value the thief still held when the simulation ended.
    pub unspent_at_end: u64,
}

pub struct Truth {
    network: Network,
    addresses: DirectWriter,
    coinjoins: BufWriter<File>,
    pub address_count: u64,
    line: String,
}

impl Truth {
    pub fn create(dir: &Path, network: Network) -> std::io::Result<Truth> {
        std::fs::create_dir_all(dir)?;
        Ok(Truth {
            network,
            addresses: DirectWriter::create(&dir.join("addresses.jsonl"))?,
            coinjoins: BufWriter::new(File::create(dir.join("coinjoins.jsonl"))?),
            address_count: 0,
            line: String::with_capacity(128),
        })
    }

    pub fn address_string(&self, addr: &Addr) -> String {
        addr.key().encode(self.network)
    }

    /// Records that `entity` owns the new address `addr`.
    pub fn address(&mut self, addr: &Addr, entity: u32) -> std::io::Result<()> {
        use std::fmt::Write as _;
        self.line.clear();
        self.line.push_str("{\"address\":\"");
        addr.key().encode_into(self.network, &mut self.line);
        let _ = writeln!(self.line, "\",\"entity\":{entity}}}");
        self.address_count += 1;
        self.addresses.write_all(self.line.as_bytes())
    }

    /// Records a CoinJoin round (`whirlpool_tx0`, `whirlpool_mix`, `wasabi2`, `joinmarket`).
    pub fn coinjoin(&mut self, txid: &fundtrace_core::Txid, kind: &str, height: u32) -> std::io::Result<()> {
        writeln!(self.coinjoins, "{{\"txid\":\"{txid}\",\"kind\":\"{kind}\",\"height\":{height}}}")
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.coinjoins.flush()?;
        self.addresses.finish()
    }
}

/// Writes one JSON value per line.
pub fn write_jsonl<T: Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    for item in items {
        serde_json::to_writer(&mut w, item)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// One public attribution of a simulated world.
pub struct PublicTag {
    pub address: String,
    pub label: String,
    pub category: &'static str,
    pub abuse: Option<&'static str>,
    pub entity: u32,
}

/// The GraphSense concept of an entity kind (what a public tag would say).
pub fn concept(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        Kind::Exchange | Kind::OtcBroker => "exchange",
        Kind::Mixer => "mixing_service",
        Kind::Gambling => "gambling",
        Kind::PaymentProcessor => "payment_processor",
        Kind::MiningPool => "miner",
        Kind::Merchant => "shop",
        Kind::CoinjoinCoordinator => "coinjoin",
        Kind::Individual | Kind::Thief => return None,
    })
}

/// Writes `tags` as a GraphSense TagPack (the format `fundtrace tags import` reads): what an
/// investigator could know publicly, so the ground truth itself stays out of the analysis.
pub fn write_tagpack(path: &Path, title: &str, lastmod: &str, tags: &[PublicTag]) -> std::io::Result<()> {
    let mut w = BufWriter::new(File::create(path)?);
    writeln!(w, "title: \"{title}\"")?;
    writeln!(w, "creator: fundtrace simulate")?;
    writeln!(w, "description: Service hot wallets and theft addresses of a simulated world, as public attribution would give them")?;
    writeln!(w, "is_public: true")?;
    writeln!(w, "currency: BTC")?;
    writeln!(w, "network: BTC")?;
    writeln!(w, "confidence: service_data")?;
    writeln!(w, "lastmod: {lastmod}")?;
    writeln!(w, "tags:")?;
    for t in tags {
        writeln!(w, "  - address: {}", t.address)?;
        writeln!(w, "    label: \"{}\"", t.label)?;
        writeln!(w, "    category: {}", t.category)?;
        if let Some(a) = t.abuse {
            writeln!(w, "    abuse: {a}")?;
        }
        writeln!(w, "    source: https://fundtrace.invalid/simulated/entity/{}", t.entity)?;
    }
    w.flush()
}
