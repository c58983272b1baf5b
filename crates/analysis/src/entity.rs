//! Who is behind an address: attribution tags and sanctions listings, spread from the
//! tagged addresses to their whole cluster. An entity is a cluster (or, without clusters,
//! one address) that carries at least one tag or listing.

use std::collections::HashMap;

use fundtrace_bitcoin::{AddressKey, Network};
use fundtrace_intel::sanctions::{Listing, Sanctions};
use fundtrace_intel::tagpack::{best_label, conflicts, Conflict, TagRef, Tags, Taxonomy};
use fundtrace_store::Ledger;

use crate::cluster::Clusters;
use crate::risk;

/// A sanctions listing of one of the entity's addresses.
#[derive(Clone, Debug)]
pub struct SanctionedAddress {
    pub address: u32,
    pub listing: Listing,
}

impl SanctionedAddress {
    /// The SDN entry's name (none in address-only lists).
    pub fn name(&self) -> Option<&str> {
        self.listing.entry.as_ref().map(|e| e.name.as_str())
    }
    pub fn programs(&self) -> &[String] {
        self.listing.entry.as_ref().map_or(&[], |e| e.programs.as_slice())
    }
}

#[derive(Clone, Debug)]
pub struct Entity {
    /// Cluster id (or address id when there are no clusters).
    pub key: u32,
    pub label: String,
    pub category: Option<String>,
    pub abuse: Option<String>,
    pub actor: Option<String>,
    /// Confidence score of the chosen label, 0-100.
    pub confidence: u8,
    /// Tags on the entity's addresses.
    pub tags: usize,
    /// Tags that cannot all be right (reported, not resolved).
    pub conflicts: Vec<Conflict>,
    /// Sanctions listings of its addresses, active or not.
    pub sanctions: Vec<SanctionedAddress>,
    /// The risk category (methods.md §6.2) the entity counts under.
    pub risk_category: &'static str,
}

/// Entities of one ledger, by key.
pub struct Attribution<'c> {
    clusters: Option<&'c Clusters>,
    entities: HashMap<u32, Entity>,
}

/// The ledger's key of an address string tagged for Bitcoin (any network's spelling).
fn address_id(ledger: &Ledger, network: Network, s: &str) -> Option<u32> {
    let key = AddressKey::parse(s, network).ok()?;
    ledger.find_address(key.as_bytes()).map(|a| a.0)
}

/// The entity an address stands for: its cluster, or itself when unclustered.
fn entity_key(clusters: Option<&Clusters>, address: u32) -> u32 {
    clusters.and_then(|c| c.cluster_of(address)).unwrap_or(address)
}

/// A tag identity per tagged address (the actor, else the label, without case), for the
/// change-merge veto of clustering: address id -> identity id.
pub fn tag_identities(ledger: &Ledger, network: Network, tags: &Tags) -> HashMap<u32, u32> {
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut out = HashMap::new();
    for (address, t) in tags.iter() {
        let (Some(a), Some(first)) = (address_id(ledger, network, address), t.first()) else { continue };
        let name = first.actor.as_deref().unwrap_or(&first.label).to_lowercase();
        let n = ids.len() as u32;
        out.insert(a, *ids.entry(name).or_insert(n));
    }
    out
}

impl<'c> Attribution<'c> {
    /// Joins `tags` (Bitcoin tags) and `sanctions` to the ledger's addresses and spreads them
    /// over `clusters`.
    pub fn build(ledger: &Ledger, network: Network, clusters: Option<&'c Clusters>, tags: &Tags, sanctions: Option<&Sanctions>) -> Attribution<'c> {
        let key = |a: u32| entity_key(clusters, a);
        let mut by_key: HashMap<u32, Vec<&TagRef>> = HashMap::new();
        for (address, t) in tags.iter() {
            if let Some(a) = address_id(ledger, network, address) {
                by_key.entry(key(a)).or_default().extend(t.iter());
            }
        }
        let mut listed: HashMap<u32, Vec<(u32, &Listing)>> = HashMap::new();
        if let Some(s) = sanctions {
            for l in s.listings() {
                if let Some(a) = address_id(ledger, network, &l.address) {
                    listed.entry(key(a)).or_default().push((a, l));
                }
            }
        }
        let taxonomy = Taxonomy::builtin();
        let mut entities = HashMap::new();
        let keys: std::collections::BTreeSet<u32> = by_key.keys().chain(listed.keys()).copied().collect();
        for k in keys {
            let t = by_key.get(&k).map(Vec::as_slice).unwrap_or(&[]);
            let best = best_label(t.iter().copied(), taxonomy);
            let sanctions: Vec<SanctionedAddress> = listed
                .get(&k)
                .into_iter()
                .flatten()
                .map(|&(address, l)| SanctionedAddress { address, listing: l.clone() })
                .collect();
            let label = best
                .as_ref()
                .map(|b| b.label.clone())
                .or_else(|| sanctions.iter().find_map(|s| s.name().map(String::from)))
                .unwrap_or_else(|| "sanctioned address".into());
            let category = best.as_ref().and_then(|b| b.category.clone());
            // Listed today counts as sanctioned for scores; a past listing is history, shown but
            // not scored (an entity delisted years ago is not a sanctioned counterparty now).
            let listed_now = sanctions.iter().any(|x| x.listing.active_at(None));
            let abuse = best.as_ref().and_then(|b| b.abuse.clone()).or_else(|| listed_now.then(|| "sanction".to_string()));
            let risk_category = if listed_now { "sanctioned" } else { risk::category_of(category.as_deref(), abuse.as_deref()) };
            entities.insert(
                k,
                Entity {
                    key: k,
                    label,
                    category,
                    abuse,
                    actor: best.as_ref().and_then(|b| b.actor.clone()),
                    confidence: best.as_ref().map_or(0, |b| b.confidence),
                    tags: t.len(),
                    conflicts: conflicts(t.iter().copied()),
                    sanctions,
                    risk_category,
                },
            );
        }
        Attribution { clusters, entities }
    }

    /// The entity key of an address: its cluster id, or the address itself.
    pub fn key(&self, address: u32) -> u32 {
        entity_key(self.clusters, address)
    }

    pub fn entity_of(&self, address: u32) -> Option<&Entity> {
        self.entities.get(&self.key(address))
    }

    pub fn entity(&self, key: u32) -> Option<&Entity> {
        self.entities.get(&key)
    }

    pub fn len(&self) -> usize {
        self.entities.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entity> {
        self.entities.values()
    }

    /// Digest of what risk reads from the attribution (each entity and its risk category):
    /// an exposure index built from another attribution must not answer for this one.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut rows: Vec<(u32, &str)> = self.entities.values().map(|e| (e.key, e.risk_category)).collect();
        rows.sort_unstable();
        let mut h = Sha256::new();
        for (k, c) in rows {
            h.update(k.to_le_bytes());
            h.update(c.as_bytes());
            h.update([0]);
        }
        fundtrace_core::hex_encode(&h.finalize())
    }
}
