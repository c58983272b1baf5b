//! Importing pack files into the intel database: all files in one transaction, so a bad
//! file or an interruption leaves the database as it was.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};
use fundtrace_core::hex_encode;

use super::actor::ActorPack;
use super::check::Check;
use super::source::{self, Source};
use super::tag::TagPack;
use super::taxonomy::Taxonomy;
use super::{yaml, Warning};
use crate::{Intel, IntelError};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Pack {
    Tags(TagPack),
    Actors(ActorPack),
}

/// Parses and checks one pack file's text. A document with an `actors` list is an
/// ActorPack, anything else a TagPack.
pub fn parse_pack(file: &Path, text: &str, taxonomy: &Taxonomy, warnings: &mut Vec<Warning>) -> Result<Pack, IntelError> {
    let doc = yaml::parse(file, text)?;
    let mut c = Check { file, taxonomy, warnings, warned: HashSet::new() };
    if doc.get("actors").is_some() {
        ActorPack::from_entry(&mut c, &doc).map(Pack::Actors)
    } else {
        TagPack::from_entry(&mut c, &doc).map(Pack::Tags)
    }
}

/// After each file.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub files_done: usize,
    pub files_total: usize,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub tags: u64,
    pub actors: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportSummary {
    pub files: usize,
    /// Packs new to the database, changed (rows replaced), and identical to the stored copy.
    pub packs_added: usize,
    pub packs_replaced: usize,
    pub packs_unchanged: usize,
    /// Rows written by this import.
    pub tags_written: u64,
    pub actors_written: u64,
    /// Rows in the database afterwards.
    pub tags_total: u64,
    pub actors_total: u64,
    pub warnings: Vec<Warning>,
}

/// Imports every pack under `paths` (files, directories, archives). Either all of them are
/// imported or, on the first error, none.
pub fn import(
    intel: &mut Intel,
    paths: &[PathBuf],
    taxonomy: &Taxonomy,
    progress: &mut dyn FnMut(&Progress),
) -> Result<ImportSummary, IntelError> {
    let sources = dedup(source::collect(paths)?)?;
    let db_path = intel.path.clone();
    let sq = |source| IntelError::Sqlite { path: db_path.clone(), source };
    // One fsync for the whole import whatever `synchronous` says, so keep the durable
    // default; a big cache keeps the address index's pages in memory while it grows in
    // random order.
    let cache: i64 = intel.conn.pragma_query_value(None, "cache_size", |r| r.get(0)).map_err(sq)?;
    intel.conn.pragma_update(None, "cache_size", -128 * 1024).map_err(sq)?;
    let result = import_all(intel, &sources, taxonomy, progress);
    intel.conn.pragma_update(None, "cache_size", cache).map_err(sq)?;
    result
}

fn import_all(
    intel: &mut Intel,
    sources: &[Source],
    taxonomy: &Taxonomy,
    progress: &mut dyn FnMut(&Progress),
) -> Result<ImportSummary, IntelError> {
    let db_path = intel.path.clone();
    let sq = |source| IntelError::Sqlite { path: db_path.clone(), source };
    let tx = intel.conn.transaction().map_err(sq)?;
    let mut summary = ImportSummary { files: sources.len(), ..Default::default() };
    let mut p = Progress { files_total: sources.len(), bytes_total: sources.iter().map(|s| s.size).sum(), ..Default::default() };
    let mut touched = Vec::new();
    for src in sources {
        if let Some(pack_id) = import_one(&tx, src, taxonomy, &mut summary).map_err(|e| e.into_intel(&db_path))? {
            touched.push(pack_id);
            crash_point();
        }
        p.files_done += 1;
        p.bytes_done += src.size;
        (p.tags, p.actors) = (summary.tags_written, summary.actors_written);
        progress(&p);
    }
    summary.warnings.extend(unknown_actors(&tx, &touched).map_err(sq)?);
    summary.tags_total = tx.query_row("SELECT count(*) FROM tag", [], |r| r.get(0)).map_err(sq)?;
    summary.actors_total = tx.query_row("SELECT count(*) FROM actor", [], |r| r.get(0)).map_err(sq)?;
    tx.commit().map_err(sq)?;
    Ok(summary)
}

/// The same pack reached twice (a folder and the archive of it) is read once; two different
/// files claiming one identity would make the result depend on their order, so they are
/// refused.
fn dedup(sources: Vec<Source>) -> Result<Vec<Source>, IntelError> {
    let mut out: Vec<Source> = Vec::with_capacity(sources.len());
    let mut digests: HashMap<String, String> = HashMap::new();
    for s in sources {
        if let Some(prev) = out.last().filter(|p| p.uri == s.uri) {
            let d = |x: &Source| x.bytes().map(|b| hex_encode(&Sha256::digest(&b)));
            let first = match digests.get(&prev.uri) {
                Some(h) => h.clone(),
                None => d(prev)?,
            };
            if first != d(&s)? {
                return Err(IntelError::Input {
                    file: s.file.clone(),
                    line: None,
                    field: None,
                    message: format!("differs from {} although both are pack {}; import one of them", prev.file.display(), s.uri),
                });
            }
            digests.insert(s.uri.clone(), first);
            continue;
        }
        out.push(s);
    }
    Ok(out)
}

/// Errors inside one file's import: bad input, or the database.
enum Failed {
    Input(IntelError),
    Sqlite(rusqlite::Error),
}

impl From<IntelError> for Failed {
    fn from(e: IntelError) -> Self {
        Failed::Input(e)
    }
}
impl From<rusqlite::Error> for Failed {
    fn from(e: rusqlite::Error) -> Self {
        Failed::Sqlite(e)
    }
}
impl Failed {
    fn into_intel(self, db: &Path) -> IntelError {
        match self {
            Failed::Input(e) => e,
            Failed::Sqlite(source) => IntelError::Sqlite { path: db.to_path_buf(), source },
        }
    }
}

/// Imports one file; the pack's row id when rows were written.
fn import_one(tx: &Transaction, src: &Source, taxonomy: &Taxonomy, summary: &mut ImportSummary) -> Result<Option<i64>, Failed> {
    let bytes = src.bytes()?;
    let sha256 = hex_encode(&Sha256::digest(&bytes));
    let existing: Option<(i64, String)> = tx
        .query_row("SELECT id, sha256 FROM pack WHERE uri = ?1", [&src.uri], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if existing.as_ref().is_some_and(|(_, h)| *h == sha256) {
        summary.packs_unchanged += 1;
        return Ok(None);
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| IntelError::Input {
        file: src.file.clone(),
        line: None,
        field: None,
        message: format!("not UTF-8 text (at byte {})", e.valid_up_to()),
    })?;
    let pack = parse_pack(&src.file, text, taxonomy, &mut summary.warnings)?;
    let (kind, title, creator, description, owner, is_public, entries) = match &pack {
        Pack::Tags(p) => ("tagpack", &p.title, &p.creator, &p.description, &p.owner, p.is_public, p.tags.len()),
        Pack::Actors(p) => ("actorpack", &p.title, &p.creator, &p.description, &None, p.is_public, p.actors.len()),
    };
    let file = src.file.display().to_string();
    let pack_id = match existing {
        Some((id, _)) => {
            tx.execute("DELETE FROM tag WHERE pack_id = ?1", [id])?;
            tx.execute("DELETE FROM actor WHERE pack_id = ?1", [id])?;
            tx.execute(
                "UPDATE pack SET kind = ?2, file = ?3, sha256 = ?4, title = ?5, creator = ?6, description = ?7,
                 owner = ?8, is_public = ?9, entries = ?10, imported_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
                 WHERE id = ?1",
                params![id, kind, file, sha256, title, creator, description, owner, is_public, entries as i64],
            )?;
            summary.packs_replaced += 1;
            id
        }
        None => {
            tx.execute(
                "INSERT INTO pack (uri, kind, file, sha256, title, creator, description, owner, is_public, entries, imported_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                params![src.uri, kind, file, sha256, title, creator, description, owner, is_public, entries as i64],
            )?;
            summary.packs_added += 1;
            tx.last_insert_rowid()
        }
    };
    match &pack {
        Pack::Tags(p) => summary.tags_written += insert_tags(tx, pack_id, p)?,
        Pack::Actors(p) => summary.actors_written += insert_actors(tx, pack_id, &src.file, p)?,
    }
    Ok(Some(pack_id))
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialize")
}

fn insert_tags(tx: &Transaction, pack_id: i64, p: &TagPack) -> Result<u64, rusqlite::Error> {
    let mut st = tx.prepare_cached(
        "INSERT INTO tag (pack_id, line, address, tx_hash, currency, network, label, source, confidence,
         confidence_score, category, abuse, actor, concepts, tag_type, context, is_cluster_definer, lastmod)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?;
    for t in &p.tags {
        st.execute(params![
            pack_id,
            t.line as i64,
            t.address,
            t.tx_hash,
            t.currency,
            t.network,
            t.label,
            t.source,
            t.confidence.level,
            t.confidence.score,
            t.category,
            t.abuse,
            t.actor,
            (!t.concepts.is_empty()).then(|| json_list(&t.concepts)),
            t.tag_type,
            t.context.as_ref().map(|c| c.to_string()),
            t.is_cluster_definer,
            t.lastmod,
        ])?;
    }
    Ok(p.tags.len() as u64)
}

fn insert_actors(tx: &Transaction, pack_id: i64, file: &Path, p: &ActorPack) -> Result<u64, Failed> {
    let mut st = tx.prepare_cached(
        "INSERT INTO actor (id, pack_id, line, uri, label, lastmod, categories, jurisdictions, aliases, context)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for a in &p.actors {
        let owner: Option<String> = tx
            .query_row("SELECT p.file FROM actor a JOIN pack p ON p.id = a.pack_id WHERE a.id = ?1", [&a.id], |r| r.get(0))
            .optional()?;
        if let Some(other) = owner {
            return Err(Failed::Input(IntelError::Input {
                file: file.to_path_buf(),
                line: Some(a.line),
                field: Some("id".into()),
                message: format!("actor `{}` is already defined by {other}", a.id),
            }));
        }
        st.execute(params![
            a.id,
            pack_id,
            a.line as i64,
            a.uri,
            a.label,
            a.lastmod,
            json_list(&a.categories),
            json_list(&a.jurisdictions),
            json_list(&a.aliases),
            a.context.as_ref().map(|c| c.to_string()),
        ])?;
    }
    Ok(p.actors.len() as u64)
}

/// Tags of the packs just written that name an actor no ActorPack in the database defines
/// (only once some ActorPack has been imported: before that, every actor is unknown).
fn unknown_actors(tx: &Transaction, packs: &[i64]) -> Result<Vec<Warning>, rusqlite::Error> {
    let any: bool = tx.query_row("SELECT EXISTS (SELECT 1 FROM actor)", [], |r| r.get(0))?;
    if !any || packs.is_empty() {
        return Ok(Vec::new());
    }
    let ids = packs.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let mut st = tx.prepare(&format!(
        "SELECT t.actor, count(*), min(p.file), min(t.line) FROM tag t JOIN pack p ON p.id = t.pack_id
         WHERE t.pack_id IN ({ids}) AND t.actor IS NOT NULL AND NOT EXISTS (SELECT 1 FROM actor a WHERE a.id = t.actor)
         GROUP BY t.actor, t.pack_id ORDER BY min(p.file), min(t.line)"
    ))?;
    let rows = st.query_map([], |r| {
        let (actor, n, file, line): (String, i64, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
        Ok(Warning {
            file: file.into(),
            line: Some(line as u64),
            field: Some("actor".into()),
            message: format!("`{actor}` ({n} tags in this pack) is not an actor of any imported ActorPack"),
        })
    })?;
    rows.collect()
}

/// Test hook: `FUNDTRACE_CRASH_AT=tags-import` aborts the process once a pack's rows are
/// written but not committed, as a kill or a power cut would.
fn crash_point() {
    if std::env::var_os("FUNDTRACE_CRASH_AT").is_some_and(|p| p == "tags-import") {
        std::process::abort();
    }
}
