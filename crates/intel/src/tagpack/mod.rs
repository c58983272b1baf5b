//! GraphSense TagPacks and ActorPacks (see ../shared/specs/graphsense-reference.md): attribution
//! tags imported exactly as published, checked against the GraphSense taxonomy, and kept in
//! SQLite with their provenance (pack file, content hash, line, source, creator, confidence).
//!
//! - `import` reads pack files, directories and `.tar.xz` archives in one transaction.
//! - `Intel::tags_of` / `Intel::actor` answer for one address or actor.
//! - `Tags::load_for_currency` gives analysis an in-memory map address → compact tags, and
//!   `best_label` / `conflicts` summarise the tags of a set of addresses (a cluster).

mod actor;
mod address;
mod attribution;
mod check;
mod import;
mod query;
mod source;
mod tag;
mod taxonomy;
mod yaml;

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

pub use actor::{Actor, ActorPack};
pub use address::{lookup_forms, normalize as normalize_address};
pub use attribution::{best_label, conflicts, BestLabel, Conflict, TagRef, Tags};
pub use import::{import, parse_pack, ImportSummary, Pack, Progress};
pub use query::{PackInfo, StoredActor, StoredTag};
pub use tag::{Tag, TagPack};
pub use taxonomy::{Confidence, Taxonomy};

/// Something in a pack that is imported but deserves a look (a concept the taxonomy lacks,
/// an address that fails its checksum, a repeated tag). Names the place like an error does.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Warning {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Warning { file, line, field, message } = self.clone();
        crate::IntelError::Input { file, line, field, message }.fmt(f)
    }
}

/// Tables of pack files, tags and actors.
///
/// `pack.uri` is a pack's identity across imports (its path from the repository's `packs/` or
/// `actors/` folder); `sha256` is of the file's bytes, so an unchanged pack is recognised and
/// skipped, and a changed one has its rows replaced. Addresses are stored in canonical form
/// (see `normalize_address`); `line` points at the entry in the pack file. Lists and contexts
/// are JSON text.
pub const SCHEMA_V1: &str = "
CREATE TABLE pack (
    id          INTEGER PRIMARY KEY,
    uri         TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('tagpack', 'actorpack')),
    file        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    title       TEXT NOT NULL,
    creator     TEXT NOT NULL,
    description TEXT,
    owner       TEXT,
    is_public   INTEGER,
    entries     INTEGER NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE TABLE tag (
    id                 INTEGER PRIMARY KEY,
    pack_id            INTEGER NOT NULL REFERENCES pack(id) ON DELETE CASCADE,
    line               INTEGER NOT NULL,
    address            TEXT,
    tx_hash            TEXT,
    currency           TEXT NOT NULL,
    network            TEXT NOT NULL,
    label              TEXT NOT NULL,
    source             TEXT NOT NULL,
    confidence         TEXT NOT NULL,
    confidence_score   INTEGER NOT NULL,
    category           TEXT,
    abuse              TEXT,
    actor              TEXT,
    concepts           TEXT,
    tag_type           TEXT,
    context            TEXT,
    is_cluster_definer INTEGER,
    lastmod            TEXT,
    UNIQUE (pack_id, line),
    CHECK ((address IS NULL) <> (tx_hash IS NULL))
);
CREATE INDEX tag_address ON tag(address);
CREATE INDEX tag_actor ON tag(actor);
CREATE TABLE actor (
    id            TEXT PRIMARY KEY,
    pack_id       INTEGER NOT NULL REFERENCES pack(id) ON DELETE CASCADE,
    line          INTEGER NOT NULL,
    uri           TEXT NOT NULL,
    label         TEXT NOT NULL,
    lastmod       TEXT NOT NULL,
    categories    TEXT NOT NULL,
    jurisdictions TEXT NOT NULL,
    aliases       TEXT NOT NULL,
    context       TEXT
);
CREATE INDEX actor_pack ON actor(pack_id);
";
