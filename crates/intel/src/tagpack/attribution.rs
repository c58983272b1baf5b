//! Tags as analysis uses them: an in-memory map address → compact tags for one currency,
//! and two pure functions over the tags of a set of addresses (a cluster): which label to
//! show, and which tags contradict each other.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;

use super::address;
use super::tag::Tag;
use super::taxonomy::Taxonomy;
use crate::{Intel, IntelError};

/// One tag, reduced to what clustering, tracing and risk scoring read. Strings are shared
/// between the tags that carry the same one (a pack often labels 50k addresses alike).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TagRef {
    pub label: Arc<str>,
    pub category: Option<Arc<str>>,
    pub abuse: Option<Arc<str>>,
    pub actor: Option<Arc<str>>,
    /// Confidence score, 0-100.
    pub confidence: u8,
    /// Row id of the pack (`Intel::packs`), for provenance.
    pub pack: i64,
    pub is_cluster_definer: bool,
}

impl TagRef {
    /// The compact form of a full tag from pack `pack` (strings not shared).
    pub fn of(tag: &Tag, pack: i64) -> TagRef {
        TagRef {
            label: tag.label.as_str().into(),
            category: tag.category.as_deref().map(Into::into),
            abuse: tag.abuse.as_deref().map(Into::into),
            actor: tag.actor.as_deref().map(Into::into),
            confidence: tag.confidence.score,
            pack,
            is_cluster_definer: tag.is_cluster_definer.unwrap_or(false),
        }
    }
}

/// All address tags of one currency, by canonical address.
pub struct Tags {
    currency: String,
    by_address: HashMap<Box<str>, Vec<TagRef>>,
}

impl Tags {
    /// Loads every address tag of `currency` (`btc`, `eth`, ...; any case). Identical tags
    /// from one pack (a pack listing an address twice) count once.
    pub fn load_for_currency(intel: &Intel, currency: &str) -> Result<Tags, IntelError> {
        let currency = currency.to_ascii_lowercase();
        let mut st = intel
            .conn
            .prepare(
                "SELECT address, label, category, abuse, actor, confidence_score, pack_id, is_cluster_definer
                 FROM tag WHERE currency = ?1 AND address IS NOT NULL",
            )
            .map_err(|e| intel.err(e))?;
        let mut strings: HashMap<String, Arc<str>> = HashMap::new();
        let mut intern = |s: &str| -> Arc<str> {
            if let Some(a) = strings.get(s) {
                return a.clone();
            }
            let a: Arc<str> = Arc::from(s);
            strings.insert(s.to_string(), a.clone());
            a
        };
        let mut by_address: HashMap<Box<str>, Vec<TagRef>> = HashMap::new();
        let mut rows = st.query([&currency]).map_err(|e| intel.err(e))?;
        while let Some(r) = rows.next().map_err(|e| intel.err(e))? {
            let text = |i: usize| r.get_ref(i).and_then(|v| v.as_str_or_null().map_err(Into::into));
            let mut read = || -> rusqlite::Result<(String, TagRef)> {
                let tag = TagRef {
                    label: intern(text(1)?.unwrap_or("")),
                    category: text(2)?.map(&mut intern),
                    abuse: text(3)?.map(&mut intern),
                    actor: text(4)?.map(&mut intern),
                    confidence: r.get(5)?,
                    pack: r.get(6)?,
                    is_cluster_definer: r.get::<_, Option<bool>>(7)?.unwrap_or(false),
                };
                Ok((r.get(0)?, tag))
            };
            let (addr, tag) = read().map_err(|e| intel.err(e))?;
            let tags = by_address.entry(addr.into_boxed_str()).or_default();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        Ok(Tags { currency, by_address })
    }

    /// No tags (a data directory where none were imported).
    pub fn empty(currency: &str) -> Tags {
        Tags { currency: currency.to_ascii_lowercase(), by_address: HashMap::new() }
    }

    pub fn currency(&self) -> &str {
        &self.currency
    }

    /// Tags of `address` in any spelling of this currency (normalized first).
    pub fn get(&self, address: &str) -> &[TagRef] {
        let key = address::normalize(&self.currency, address).unwrap_or_else(|_| address.trim().to_string());
        self.by_address.get(key.as_str()).map_or(&[], |v| v.as_slice())
    }

    /// Number of tagged addresses.
    pub fn len(&self) -> usize {
        self.by_address.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_address.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[TagRef])> {
        self.by_address.iter().map(|(a, t)| (a.as_ref(), t.as_slice()))
    }
}

/// The label to show for a set of tags, and how well the tags agree on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BestLabel {
    pub label: String,
    pub actor: Option<String>,
    pub category: Option<String>,
    pub abuse: Option<String>,
    pub confidence: u8,
    /// Tags of the chosen confidence carrying this label (case-insensitive).
    pub support: usize,
    /// All tags considered.
    pub tags: usize,
}

/// Chooses the label for a set of tags (e.g. of all addresses of a cluster):
///
/// 1. the highest confidence score wins, whatever the number of weaker tags;
/// 2. among those, a tag naming an actor beats one that does not (it resolves to an entity);
/// 3. then the more specific category: deeper in the concept taxonomy (`exchange` under
///    `service` under `entity`), a tag without a category or with one outside the taxonomy
///    being least specific;
/// 4. then the label carried by more of those tags (compared without case);
/// 5. then the alphabetically first label, actor and category, and the lowest pack id, so
///    the choice never depends on the order of the input.
///
/// `None` for no tags.
pub fn best_label<'a>(tags: impl IntoIterator<Item = &'a TagRef>, taxonomy: &Taxonomy) -> Option<BestLabel> {
    let tags: Vec<&TagRef> = tags.into_iter().collect();
    let top = tags.iter().map(|t| t.confidence).max()?;
    let strongest: Vec<&TagRef> = tags.iter().copied().filter(|t| t.confidence == top).collect();
    let mut freq: HashMap<String, usize> = HashMap::new();
    for t in &strongest {
        *freq.entry(t.label.to_lowercase()).or_default() += 1;
    }
    let depth = |t: &TagRef| t.category.as_deref().and_then(|c| taxonomy.concept_depth(c)).map_or(-1, |d| d as i64);
    let rank = |a: &&TagRef, b: &&TagRef| -> Ordering {
        (a.actor.is_some(), depth(a), freq[&a.label.to_lowercase()])
            .cmp(&(b.actor.is_some(), depth(b), freq[&b.label.to_lowercase()]))
            // Reversed: the smaller string ranks higher.
            .then_with(|| b.label.cmp(&a.label))
            .then_with(|| b.actor.cmp(&a.actor))
            .then_with(|| b.category.cmp(&a.category))
            .then_with(|| b.pack.cmp(&a.pack))
    };
    let best = strongest.iter().copied().max_by(rank)?;
    Some(BestLabel {
        label: best.label.to_string(),
        actor: best.actor.as_deref().map(str::to_string),
        category: best.category.as_deref().map(str::to_string),
        abuse: best.abuse.as_deref().map(str::to_string),
        confidence: top,
        support: freq[&best.label.to_lowercase()],
        tags: tags.len(),
    })
}

/// Kinds of service that one entity does not run together; tags on one cluster from two of
/// them mean the cluster merged entities it should not have (or a tag is wrong).
const SERVICES: &[(&str, &[&str])] = &[
    ("exchange", &["exchange"]),
    ("mixer", &["mixing_service", "coinjoin", "mixing"]),
    ("miner", &["miner", "mining_service"]),
    ("gambling", &["gambling"]),
    ("market", &["market"]),
];

fn service_of(category: &str) -> Option<&'static str> {
    SERVICES.iter().find(|(_, cats)| cats.contains(&category)).map(|(s, _)| *s)
}

/// Tags of one set of addresses that cannot all be right.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Conflict {
    /// Categories of different kinds of service (see `SERVICES`), e.g. `exchange` and
    /// `mixing_service`.
    Services { services: Vec<String>, categories: Vec<String> },
    /// Different actors with the same kind of service, e.g. two exchanges.
    Actors { service: String, actors: Vec<String> },
}

/// Finds the conflicts among `tags` (e.g. of all addresses of a cluster):
///
/// - **services**: the categories fall into more than one of exchange, mixer
///   (`mixing_service`, `coinjoin`), miner (`miner`, `mining_service`), gambling, market;
/// - **actors**: tags of one such service name more than one actor (two exchanges).
///
/// Other categories (user, organization, defi...) and abuses (an exchange can be
/// sanctioned) never conflict. Results are sorted, so equal inputs give equal outputs.
pub fn conflicts<'a>(tags: impl IntoIterator<Item = &'a TagRef>) -> Vec<Conflict> {
    let mut services: BTreeSet<&str> = BTreeSet::new();
    let mut categories: BTreeSet<&str> = BTreeSet::new();
    let mut actors: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for t in tags {
        let Some((cat, service)) = t.category.as_deref().and_then(|c| Some((c, service_of(c)?))) else { continue };
        services.insert(service);
        categories.insert(cat);
        if let Some(a) = t.actor.as_deref() {
            actors.entry(service).or_default().insert(a);
        }
    }
    let mut out = Vec::new();
    if services.len() > 1 {
        out.push(Conflict::Services {
            services: services.iter().map(|s| s.to_string()).collect(),
            categories: categories.iter().map(|s| s.to_string()).collect(),
        });
    }
    let mut by_service: Vec<_> = actors.into_iter().filter(|(_, a)| a.len() > 1).collect();
    by_service.sort();
    for (service, a) in by_service {
        out.push(Conflict::Actors { service: service.to_string(), actors: a.iter().map(|s| s.to_string()).collect() });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(label: &str, category: Option<&str>, actor: Option<&str>, confidence: u8, pack: i64) -> TagRef {
        TagRef {
            label: label.into(),
            category: category.map(Into::into),
            abuse: None,
            actor: actor.map(Into::into),
            confidence,
            pack,
            is_cluster_definer: false,
        }
    }

    #[test]
    fn confidence_beats_numbers() {
        let t = Taxonomy::builtin();
        let mut tags: Vec<TagRef> = (0..5).map(|i| tag("Some Shop", Some("shop"), None, 20, i)).collect();
        tags.push(tag("Lazarus group", Some("user"), Some("lazarusgroup"), 60, 9));
        let b = best_label(&tags, t).unwrap();
        assert_eq!((b.label.as_str(), b.confidence, b.support, b.tags), ("Lazarus group", 60, 1, 6));
        assert_eq!(b.actor.as_deref(), Some("lazarusgroup"));
        assert_eq!(best_label(&[], t), None);
    }

    #[test]
    fn actor_then_specific_then_frequent() {
        let t = Taxonomy::builtin();
        // Same confidence: the tag with an actor wins over two without.
        let tags = [tag("x", Some("exchange"), None, 50, 1), tag("x", Some("exchange"), None, 50, 2), tag("Kraken", Some("service"), Some("kraken"), 50, 3)];
        assert_eq!(best_label(&tags, t).unwrap().label, "Kraken");
        // Both with actors: exchange (depth 3) is more specific than organization (2).
        let tags = [tag("Org", Some("organization"), Some("org"), 50, 1), tag("Binance", Some("exchange"), Some("binance"), 50, 2)];
        assert_eq!(best_label(&tags, t).unwrap().label, "Binance");
        // All else equal: the more frequent label, counted without case.
        let tags = [tag("b", None, None, 50, 1), tag("A", None, None, 50, 2), tag("a", None, None, 50, 3)];
        let b = best_label(&tags, t).unwrap();
        assert_eq!((b.label.to_lowercase().as_str(), b.support), ("a", 2));
        // Order of the input does not matter.
        let mut rev = tags.clone();
        rev.reverse();
        assert_eq!(best_label(&rev, t), best_label(&tags, t));
    }

    #[test]
    fn conflict_rules() {
        let ex = tag("Binance", Some("exchange"), Some("binance"), 50, 1);
        let ex2 = tag("Huobi", Some("exchange"), Some("huobi"), 50, 2);
        let mix = tag("ChipMixer", Some("mixing_service"), None, 50, 3);
        let user = tag("Lazarus", Some("user"), Some("lazarusgroup"), 60, 4);
        assert_eq!(conflicts([&ex, &user]), vec![]);
        assert_eq!(conflicts([&ex, &ex.clone()]), vec![]);
        assert_eq!(
            conflicts([&ex, &mix]),
            vec![Conflict::Services { services: vec!["exchange".into(), "mixer".into()], categories: vec!["exchange".into(), "mixing_service".into()] }]
        );
        assert_eq!(conflicts([&ex2, &ex]), vec![Conflict::Actors { service: "exchange".into(), actors: vec!["binance".into(), "huobi".into()] }]);
    }
}
