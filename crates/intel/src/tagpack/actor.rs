//! ActorPacks: the entities that tags name in their `actor` field (exchanges, mixers,
//! groups such as `lazarusgroup`), with categories, jurisdictions and aliases.

use std::collections::HashMap;

use serde::Serialize;

use super::check::{Check, Header};
use super::yaml::{Entry, Value};
use crate::IntelError;

pub(crate) const HEADER_FIELDS: &[&str] = &["title", "creator", "description", "is_public", "actors"];
pub(crate) const ACTOR_FIELDS: &[&str] =
    &["id", "uri", "label", "lastmod", "categories", "jurisdictions", "context", "aliases"];

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Actor {
    pub id: String,
    pub uri: String,
    pub label: String,
    pub lastmod: String,
    /// Concepts (e.g. `exchange`, `sanction`).
    pub categories: Vec<String>,
    /// ISO 3166 alpha-2 codes.
    pub jurisdictions: Vec<String>,
    pub aliases: Vec<String>,
    /// Free-form: refs, uris, images, twitter_handle, legal_name, notes...
    pub context: Option<serde_json::Value>,
    /// Line of the actor's entry in its pack file.
    pub line: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActorPack {
    pub title: String,
    pub creator: String,
    pub description: Option<String>,
    pub is_public: Option<bool>,
    pub actors: Vec<Actor>,
}

impl ActorPack {
    pub(crate) fn from_entry(c: &mut Check, doc: &Entry) -> Result<ActorPack, IntelError> {
        c.only(doc, &[HEADER_FIELDS, ACTOR_FIELDS].concat(), &["tags"], "an ActorPack header")?;
        let Header { title, creator, description, is_public } = c.header(doc, "the ActorPack header")?;
        let Some(Value::Entries(entries)) = doc.get("actors").map(|f| &f.value) else {
            let line = doc.get("actors").map_or(doc.line, |f| f.line);
            return Err(c.error(line, "actors", "must be a list of actors"));
        };
        let mut actors = Vec::with_capacity(entries.len());
        let mut ids: HashMap<String, u64> = HashMap::new();
        for e in entries {
            let a = actor(c, doc, e)?;
            if let Some(first) = ids.insert(a.id.clone(), e.line) {
                let line = e.get("id").map_or(e.line, |f| f.line);
                return Err(c.error(line, "id", format!("actor `{}` is already defined at line {first}", a.id)));
            }
            actors.push(a);
        }
        Ok(ActorPack { title, creator, description, is_public, actors })
    }
}

fn actor(c: &mut Check, header: &Entry, e: &Entry) -> Result<Actor, IntelError> {
    c.only(e, ACTOR_FIELDS, HEADER_FIELDS, "an actor")?;
    let get = |name: &str| e.get(name).or_else(|| header.get(name));
    let whose = "the actor or the pack header";
    let id = c.required(get("id"), "id", e.line, whose)?.0.trim().to_string();
    let uri = c.required(get("uri"), "uri", e.line, whose)?.0.trim().to_string();
    let label = c.required(get("label"), "label", e.line, whose)?.0.trim().to_string();
    let lastmod = c.lastmod(get("lastmod"))?.ok_or_else(|| c.error(e.line, "lastmod", format!("missing: required in {whose}")))?;
    let Some(cats) = get("categories") else {
        return Err(c.error(e.line, "categories", format!("missing: required in {whose}")));
    };
    let categories = c.list(Some(cats))?;
    for cat in &categories {
        c.concept(cat, cats.line, "categories");
    }
    let jurisdictions = c.list(get("jurisdictions"))?;
    if let Some(f) = get("jurisdictions") {
        if let Some(bad) = jurisdictions.iter().find(|j| !c.taxonomy.is_country(j)) {
            return Err(c.error(f.line, "jurisdictions", format!("`{bad}` is not an ISO 3166 country code")));
        }
    }
    Ok(Actor {
        id,
        uri,
        label,
        lastmod,
        categories,
        jurisdictions,
        aliases: c.list(get("aliases"))?,
        context: c.context(get("context"), true)?,
        line: e.line,
    })
}
