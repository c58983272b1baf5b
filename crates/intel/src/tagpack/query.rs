//! Reading tags and actors back, each with the pack it came from.

use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use super::{address, Actor, Confidence, Tag};
use crate::{Intel, IntelError};

/// Where a tag or actor came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PackInfo {
    pub id: i64,
    pub uri: String,
    pub kind: String,
    pub file: String,
    pub sha256: String,
    pub title: String,
    pub creator: String,
    pub entries: u64,
    pub imported_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredTag {
    #[serde(flatten)]
    pub tag: Tag,
    pub pack: PackInfo,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredActor {
    #[serde(flatten)]
    pub actor: Actor,
    pub pack: PackInfo,
}

const PACK_COLUMNS: &str = "p.id, p.uri, p.kind, p.file, p.sha256, p.title, p.creator, p.entries, p.imported_at";

fn pack_at(r: &Row, i: usize) -> rusqlite::Result<PackInfo> {
    Ok(PackInfo {
        id: r.get(i)?,
        uri: r.get(i + 1)?,
        kind: r.get(i + 2)?,
        file: r.get(i + 3)?,
        sha256: r.get(i + 4)?,
        title: r.get(i + 5)?,
        creator: r.get(i + 6)?,
        entries: r.get::<_, i64>(i + 7)? as u64,
        imported_at: r.get(i + 8)?,
    })
}

fn json<T: serde::de::DeserializeOwned + Default>(s: Option<String>) -> T {
    // Written by this crate from the same types, so it parses; a hand-edited row reads as empty.
    s.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default()
}

const TAG_COLUMNS: &str = "t.line, t.address, t.tx_hash, t.currency, t.network, t.label, t.source, t.confidence,
    t.confidence_score, t.category, t.abuse, t.actor, t.concepts, t.tag_type, t.context, t.is_cluster_definer, t.lastmod";

fn tag_at(r: &Row) -> rusqlite::Result<Tag> {
    Ok(Tag {
        line: r.get::<_, i64>(0)? as u64,
        address: r.get(1)?,
        tx_hash: r.get(2)?,
        currency: r.get(3)?,
        network: r.get(4)?,
        label: r.get(5)?,
        source: r.get(6)?,
        confidence: Confidence { level: r.get(7)?, score: r.get(8)? },
        category: r.get(9)?,
        abuse: r.get(10)?,
        actor: r.get(11)?,
        concepts: json(r.get(12)?),
        tag_type: r.get(13)?,
        context: r.get::<_, Option<String>>(14)?.and_then(|s| serde_json::from_str(&s).ok()),
        is_cluster_definer: r.get(15)?,
        lastmod: r.get(16)?,
    })
}

impl Intel {
    /// Every tag on `address` (any spelling: it is normalized as Bitcoin and as Ethereum
    /// address, and also looked up as typed), optionally of one currency; highest confidence
    /// first, then by pack and line.
    pub fn tags_of(&self, address: &str, currency: Option<&str>) -> Result<Vec<StoredTag>, IntelError> {
        let forms = address::lookup_forms(address);
        let marks = (1..=forms.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT {TAG_COLUMNS}, {PACK_COLUMNS} FROM tag t JOIN pack p ON p.id = t.pack_id
             WHERE t.address IN ({marks}) ORDER BY t.confidence_score DESC, p.uri, t.line"
        );
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(rusqlite::params_from_iter(forms.iter()), |r| Ok(StoredTag { tag: tag_at(r)?, pack: pack_at(r, 17)? }))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let t = row.map_err(|e| self.err(e))?;
            if currency.is_none_or(|c| c.eq_ignore_ascii_case(&t.tag.currency)) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// The actor with this id, with the ActorPack that defines it.
    pub fn actor(&self, id: &str) -> Result<Option<StoredActor>, IntelError> {
        let sql = format!(
            "SELECT a.id, a.uri, a.label, a.lastmod, a.categories, a.jurisdictions, a.aliases, a.context, a.line,
             {PACK_COLUMNS} FROM actor a JOIN pack p ON p.id = a.pack_id WHERE a.id = ?1"
        );
        self.conn
            .query_row(&sql, [id], |r| {
                let actor = Actor {
                    id: r.get(0)?,
                    uri: r.get(1)?,
                    label: r.get(2)?,
                    lastmod: r.get(3)?,
                    categories: json(r.get(4)?),
                    jurisdictions: json(r.get(5)?),
                    aliases: json(r.get(6)?),
                    context: r.get::<_, Option<String>>(7)?.and_then(|s| serde_json::from_str(&s).ok()),
                    line: r.get::<_, i64>(8)? as u64,
                };
                Ok(StoredActor { actor, pack: pack_at(r, 9)? })
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Number of tags naming `actor`.
    pub fn actor_tag_count(&self, actor: &str) -> Result<u64, IntelError> {
        self.conn
            .query_row("SELECT count(*) FROM tag WHERE actor = ?1", [actor], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.err(e))
    }

    /// All imported packs, by uri.
    pub fn packs(&self) -> Result<Vec<PackInfo>, IntelError> {
        let mut st = self.conn.prepare(&format!("SELECT {PACK_COLUMNS} FROM pack p ORDER BY p.uri")).map_err(|e| self.err(e))?;
        let rows = st.query_map([], |r| pack_at(r, 0)).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
