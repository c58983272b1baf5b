//! TagPacks: a header and a list of tags; any tag field set in the header is inherited by
//! every tag that does not set it itself.

use std::collections::HashMap;

use serde::Serialize;

use super::address;
use super::check::{Check, Header};
use super::taxonomy::Confidence;
use super::yaml::{Entry, Value};
use crate::IntelError;

pub(crate) const HEADER_FIELDS: &[&str] = &["title", "creator", "description", "owner", "is_public", "tags"];
pub(crate) const TAG_FIELDS: &[&str] = &[
    "label", "source", "currency", "network", "confidence", "address", "tx_hash", "actor", "category",
    "abuse", "concepts", "tag_type", "context", "is_cluster_definer", "lastmod",
];

/// One attribution: an address (or transaction) said by `source` to belong to `label`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tag {
    /// Line of the tag's entry in its pack file.
    pub line: u64,
    /// Canonical form (see `address::normalize`); `None` for a transaction tag.
    pub address: Option<String>,
    pub tx_hash: Option<String>,
    /// Lowercase ticker (`btc`, `eth`, ...).
    pub currency: String,
    /// Lowercase; the currency when the pack names no network (as graphsense-tagpack-tool).
    pub network: String,
    pub label: String,
    pub source: String,
    pub confidence: Confidence,
    pub category: Option<String>,
    pub abuse: Option<String>,
    pub actor: Option<String>,
    pub concepts: Vec<String>,
    pub tag_type: Option<String>,
    pub context: Option<serde_json::Value>,
    pub is_cluster_definer: Option<bool>,
    pub lastmod: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TagPack {
    pub title: String,
    pub creator: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub is_public: Option<bool>,
    pub tags: Vec<Tag>,
}

impl TagPack {
    pub(crate) fn from_entry(c: &mut Check, doc: &Entry) -> Result<TagPack, IntelError> {
        c.only(doc, &[HEADER_FIELDS, TAG_FIELDS].concat(), &["actors"], "a TagPack header")?;
        let Header { title, creator, description, is_public } = c.header(doc, "the TagPack header")?;
        let owner = c.text(doc.get("owner"))?.map(|(s, _)| s.to_string());
        let entries = match doc.get("tags") {
            Some(f) => match &f.value {
                Value::Entries(e) => e,
                _ => return Err(c.error(f.line, "tags", "must be a list of tags")),
            },
            None => return Err(c.error(doc.line.max(1), "tags", "missing: required in the TagPack header")),
        };
        let mut tags = Vec::with_capacity(entries.len());
        let mut defaulted_confidence = false;
        let mut seen: HashMap<(String, String, String, String, String), u64> = HashMap::new();
        for e in entries {
            let tag = tag(c, doc, e, &mut defaulted_confidence)?;
            let subject = tag.address.clone().or_else(|| tag.tx_hash.clone()).unwrap_or_default();
            // Same key as graphsense-tagpack-tool's duplicate check.
            let key = (subject, tag.currency.clone(), tag.network.clone(), tag.label.to_lowercase(), tag.source.to_lowercase());
            if let Some(first) = seen.insert(key, e.line) {
                c.warn(e.line, "address", format!("repeats the tag at line {first} (same address, currency, label and source)"));
            }
            tags.push(tag);
        }
        Ok(TagPack { title, creator, description, owner, is_public, tags })
    }
}

fn tag(c: &mut Check, header: &Entry, e: &Entry, defaulted_confidence: &mut bool) -> Result<Tag, IntelError> {
    c.only(e, TAG_FIELDS, HEADER_FIELDS, "a tag")?;
    let get = |name: &str| e.get(name).or_else(|| header.get(name));
    let whose = "the tag or the pack header";
    let label = c.required(get("label"), "label", e.line, whose)?.0.trim().to_string();
    let source = c.required(get("source"), "source", e.line, whose)?.0.trim().to_string();
    let currency = c.required(get("currency"), "currency", e.line, whose)?.0.trim().to_lowercase();
    let network = c.text(get("network"))?.map_or_else(|| currency.clone(), |(n, _)| n.trim().to_lowercase());
    let confidence = match c.text(get("confidence"))? {
        Some((level, line)) => c.taxonomy.confidence(level.trim()).ok_or_else(|| {
            c.error(line, "confidence", format!("`{level}` is not a confidence level of the taxonomy"))
        })?,
        None => {
            let lowest = c.taxonomy.lowest_confidence();
            if !*defaulted_confidence {
                *defaulted_confidence = true;
                c.warn(e.line, "confidence", format!(
                    "the pack gives no confidence; its tags without one get `{}` ({}), the lowest level, as graphsense-tagpack-tool does",
                    lowest.level, lowest.score
                ));
            }
            lowest
        }
    };
    let (address, tx_hash) = match (c.text(get("address"))?, c.text(get("tx_hash"))?) {
        (Some(_), Some((_, line))) => return Err(c.error(line, "tx_hash", "a tag has an address or a tx_hash, not both")),
        (None, None) => return Err(c.error(e.line, "address", format!("missing: a tag needs an address or a tx_hash in {whose}"))),
        (Some((a, line)), None) => {
            if a != a.trim() {
                c.warn(line, "address", "surrounding whitespace removed");
            }
            let canonical = address::normalize(&currency, a).unwrap_or_else(|why| {
                c.warn(line, "address", format!("{why}; kept as written, so it will match no ledger address"));
                a.trim().to_string()
            });
            (Some(canonical), None)
        }
        (None, Some((t, _))) => {
            let t = t.trim();
            let hex = t.strip_prefix("0x").unwrap_or(t).bytes().all(|b| b.is_ascii_hexdigit());
            (None, Some(if hex { t.to_ascii_lowercase() } else { t.to_string() }))
        }
    };
    let mut concept = |name: &str| -> Result<Option<String>, IntelError> {
        let v = c.text(get(name))?.map(|(s, line)| (s.trim().to_string(), line));
        if let Some((s, line)) = &v {
            c.concept(s, *line, name);
        }
        Ok(v.map(|(s, _)| s))
    };
    let category = concept("category")?;
    let abuse = concept("abuse")?;
    let concepts = c.list(get("concepts"))?;
    if let Some(f) = get("concepts") {
        for s in &concepts {
            c.concept(s, f.line, "concepts");
        }
    }
    let tag_type = match c.text(get("tag_type"))? {
        Some((t, line)) if !c.taxonomy.is_tag_type(t.trim()) => {
            return Err(c.error(line, "tag_type", format!("`{t}` is not a tag type of the taxonomy")))
        }
        t => t.map(|(t, _)| t.trim().to_string()),
    };
    Ok(Tag {
        line: e.line,
        address,
        tx_hash,
        currency,
        network,
        label,
        source,
        confidence,
        category,
        abuse,
        actor: c.text(get("actor"))?.map(|(s, _)| s.trim().to_string()),
        concepts,
        tag_type,
        context: c.context(get("context"), false)?,
        is_cluster_definer: c.boolean(get("is_cluster_definer"))?,
        lastmod: c.lastmod(get("lastmod"))?,
    })
}
