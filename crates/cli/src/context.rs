//! What the analysis commands (trace, risk, path) work from: the ledger, its clusters (if
//! built), and the attribution of its addresses from the imported tags and sanctions lists.

use std::path::Path;

use fundtrace_analysis::cluster::Clusters;
use fundtrace_analysis::entity::{Attribution, Entity};
use fundtrace_bitcoin::Network;
use fundtrace_core::TxId;
use fundtrace_intel::sanctions::Sanctions;
use fundtrace_intel::tagpack::Tags;
use fundtrace_intel::Intel;
use fundtrace_store::Ledger;
use serde_json::{json, Value};

use crate::{show, Failure};

pub struct Context {
    pub ledger: Ledger,
    pub network: Network,
    pub clusters: Option<Clusters>,
    pub tags: Tags,
    pub sanctions: Option<Sanctions>,
}

impl Context {
    pub fn open(data_dir: &Path) -> Result<Context, Failure> {
        let (ledger, network) = show::open(data_dir)?;
        let clusters = Clusters::open(&crate::btc_clusters(data_dir))?;
        // Attribution is optional: without imported tags or lists, traces run unattributed.
        let (tags, sanctions) = if data_dir.join(fundtrace_intel::db::FILE).exists() {
            let intel = Intel::open(data_dir)?;
            (Tags::load_for_currency(&intel, "btc")?, Some(Sanctions::load(&intel)?))
        } else {
            (Tags::empty("btc"), None)
        };
        Ok(Context { ledger, network, clusters, tags, sanctions })
    }

    /// The ledger as a flow graph for traces, exposure and paths (column views taken once).
    pub fn graph(&self) -> fundtrace_analysis::trace::LedgerGraph<'_> {
        fundtrace_analysis::trace::LedgerGraph::new(&self.ledger)
    }

    pub fn attribution(&self) -> Attribution<'_> {
        Attribution::build(&self.ledger, self.network, self.clusters.as_ref(), &self.tags, self.sanctions.as_ref())
    }

    pub fn address_id(&self, s: &str) -> Result<u32, Failure> {
        show::address_id(&self.ledger, self.network, s)
    }

    pub fn address_str(&self, a: u32) -> String {
        show::address_str(&self.ledger, self.network, a)
    }

    pub fn tx_id(&self, s: &str) -> Result<u64, Failure> {
        show::find_tx(&self.ledger, &show::txid_arg(s)?).map(|t| t.0)
    }

    pub fn txid(&self, tx: u64) -> String {
        self.ledger.txid(TxId(tx)).to_string()
    }

    /// Height and block time of a transaction.
    pub fn when(&self, tx: u64) -> (u64, u32) {
        fundtrace_analysis::trace::FlowGraph::when(&self.graph(), tx)
    }

    /// An entity as JSON: label, category, risk category, actor, sanctions.
    pub fn entity_json(&self, e: &Entity) -> Value {
        json!({
            "entity": e.key,
            "label": e.label,
            "category": e.category,
            "abuse": e.abuse,
            "actor": e.actor,
            "confidence": e.confidence,
            "risk_category": e.risk_category,
            "sanctioned": !e.sanctions.is_empty(),
        })
    }
}
