//! Importing list files: group them into publications, date them, parse them, and store them
//! with the rebuilt listings in one SQLite transaction (all or nothing).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::sdn_csv::{file_name, SdnFiles};
use super::{address, b10c, history, input_error, sdn_csv, Date, ListFile, ListKind, ListedAddress, RejectKind, Rejected, Snapshot};
use crate::{Intel, IntelError};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VersionStatus {
    Imported,
    /// The same files (by checksum) were imported before: nothing changed.
    AlreadyImported,
    /// An address-list version gained assets it did not cover yet.
    Extended,
}

impl VersionStatus {
    pub fn name(self) -> &'static str {
        match self {
            VersionStatus::Imported => "imported",
            VersionStatus::AlreadyImported => "already imported",
            VersionStatus::Extended => "extended",
        }
    }
}

/// What one list version of an import held and what became of it.
#[derive(Clone, Debug)]
pub struct VersionReport {
    pub list_kind: ListKind,
    pub list_date: Date,
    pub status: VersionStatus,
    pub files: Vec<ListFile>,
    pub record_count: u64,
    /// SDN entries carrying an address label.
    pub entries: usize,
    /// Accepted distinct addresses per asset.
    pub addresses: BTreeMap<String, usize>,
    /// Valid addresses in a format their asset does not take (accepted: see `address::check`).
    pub mislabelled: Vec<ListedAddress>,
    pub fragments: Vec<Rejected>,
    pub invalid: Vec<Rejected>,
    pub cut_remarks: Vec<i64>,
}

#[derive(Clone, Debug)]
pub struct ImportReport {
    pub versions: Vec<VersionReport>,
    /// Listings per list kind after the import.
    pub listings: BTreeMap<ListKind, usize>,
}

/// The files of one list version, as found on disk.
enum Publication {
    Sdn(SdnFiles),
    B10c(Vec<PathBuf>),
}

/// Imports list files or directories of them. A directory (or the directory of a file) is one
/// publication; its date is `list_date`, else a `YYYY-MM-DD` in the directory's name.
pub fn import<P: AsRef<Path>>(intel: &mut Intel, paths: &[P], list_date: Option<Date>) -> Result<ImportReport, IntelError> {
    let mut parsed = Vec::new();
    for (dir, publication) in publications(paths)? {
        let date = match list_date {
            Some(d) => d,
            None => {
                let name = file_name(&dir);
                let found = Date::find_in(&name).map_err(|e| input_error(&dir, None, None, e))?;
                found.ok_or_else(|| {
                    let m = "list files carry no date: give --list-date YYYY-MM-DD or name the directory after it (e.g. 2024-05-03)";
                    input_error(&dir, None, None, m.into())
                })?
            }
        };
        let snapshot = match &publication {
            Publication::Sdn(files) => sdn_csv::parse(files)?,
            Publication::B10c(files) => b10c::parse(files)?,
        };
        let clash = parsed.iter().find(|(d, s, _): &&(Date, Snapshot, PathBuf)| *d == date && s.list_kind == snapshot.list_kind);
        if let Some((_, _, first)) = clash {
            let m = format!("a second {} list dated {date} in one import (the first is in {})", snapshot.list_kind.name(), first.display());
            return Err(input_error(&dir, None, None, m));
        }
        parsed.push((date, snapshot, dir));
    }

    let path = intel.path.clone();
    let sql = |source| IntelError::Sqlite { path: path.clone(), source };
    let tx = intel.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
    let mut versions = Vec::new();
    for (date, snapshot, _) in parsed {
        let status = store(&tx, &snapshot, date, &sql)?;
        versions.push(report(snapshot, date, status));
    }
    let mut listings = BTreeMap::new();
    let kinds: BTreeSet<ListKind> = versions.iter().map(|v| v.list_kind).collect();
    for kind in kinds {
        listings.insert(kind, history::rebuild(&tx, kind).map_err(sql)?);
    }
    tx.commit().map_err(sql)?;
    Ok(ImportReport { versions, listings })
}

fn report(s: Snapshot, list_date: Date, status: VersionStatus) -> VersionReport {
    // Distinct addresses: one may be published under several entries.
    let distinct: BTreeSet<(&str, &str)> = s.addresses.iter().map(|a| (a.asset.as_str(), a.address.address.as_str())).collect();
    let mut addresses = BTreeMap::new();
    for (asset, _) in distinct {
        *addresses.entry(asset.to_string()).or_insert(0) += 1;
    }
    let (fragments, invalid) = s.rejected.into_iter().partition(|r| r.kind == RejectKind::Fragment);
    let mislabelled = s.addresses.iter().filter(|a| !address::usual_for(&a.asset, a.address.format)).cloned().collect();
    VersionReport {
        list_kind: s.list_kind,
        list_date,
        status,
        files: s.files,
        record_count: s.record_count,
        entries: s.entries.len(),
        addresses,
        mislabelled,
        fragments,
        invalid,
        cut_remarks: s.cut_remarks,
    }
}

const SDN_FILES: [&str; 4] = ["sdn.csv", "sdn_comments.csv", "alt.csv", "add.csv"];

/// Groups the given paths into publications, one per directory and list family.
fn publications<P: AsRef<Path>>(paths: &[P]) -> Result<Vec<(PathBuf, Publication)>, IntelError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for p in paths.iter().map(AsRef::as_ref) {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| input_error(p, None, None, format!("cannot read directory: {e}")))?;
            let mut found: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).filter(|f| known(f)).collect();
            if found.is_empty() {
                let m = "no OFAC list files here (sdn.csv, sdn_comments.csv, alt.csv, add.csv, sanctioned_addresses_<ASSET>.txt/.json)";
                return Err(input_error(p, None, None, m.into()));
            }
            found.sort();
            files.extend(found);
        } else if known(p) {
            files.push(p.to_path_buf());
        } else if !p.exists() {
            return Err(input_error(p, None, None, "no such file or directory".into()));
        } else {
            let m = "not a list file fundtrace knows (sdn.csv, sdn_comments.csv, alt.csv, add.csv, sanctioned_addresses_<ASSET>.txt/.json)";
            return Err(input_error(p, None, None, m.into()));
        }
    }
    let mut sdn: BTreeMap<PathBuf, SdnFiles> = BTreeMap::new();
    let mut lists: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for f in files {
        let dir = directory_of(&f);
        if b10c::asset_of(&f).is_some() {
            let v = lists.entry(dir).or_default();
            if !v.contains(&f) {
                v.push(f);
            }
            continue;
        }
        let s = sdn.entry(dir).or_default();
        match file_name(&f).to_ascii_lowercase().as_str() {
            "sdn.csv" => s.sdn = f,
            "sdn_comments.csv" => s.comments = Some(f),
            "alt.csv" => s.alt = Some(f),
            _ => s.add = Some(f),
        }
    }
    let mut out = Vec::new();
    for (dir, mut s) in sdn {
        if s.sdn.as_os_str().is_empty() {
            let m = "sdn_comments.csv, alt.csv and add.csv complete an sdn.csv, which is not here";
            return Err(input_error(&dir, None, None, m.into()));
        }
        // Companions published beside sdn.csv belong to it even when only sdn.csv is named.
        let beside = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        s.comments = s.comments.or_else(|| beside("sdn_comments.csv"));
        s.alt = s.alt.or_else(|| beside("alt.csv"));
        s.add = s.add.or_else(|| beside("add.csv"));
        out.push((dir, Publication::Sdn(s)));
    }
    out.extend(lists.into_iter().map(|(dir, files)| (dir, Publication::B10c(files))));
    Ok(out)
}

fn known(path: &Path) -> bool {
    path.is_file() && (SDN_FILES.contains(&file_name(path).to_ascii_lowercase().as_str()) || b10c::asset_of(path).is_some())
}

/// The directory holding `file`, absolute where possible (its name may carry the list date).
fn directory_of(file: &Path) -> PathBuf {
    let parent = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_path_buf())
}

type Sql<'a> = &'a dyn Fn(rusqlite::Error) -> IntelError;

/// Stores a snapshot as the version (kind, date), or checks it against the stored one.
fn store(tx: &Transaction, s: &Snapshot, date: Date, sql: Sql) -> Result<VersionStatus, IntelError> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM sanctions_list_version WHERE list_kind = ?1 AND list_date = ?2",
            params![s.list_kind.name(), date.to_string()],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql)?;
    let Some(id) = existing else {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        tx.execute(
            "INSERT INTO sanctions_list_version (list_kind, list_date, imported_at, record_count) VALUES (?1, ?2, ?3, ?4)",
            params![s.list_kind.name(), date.to_string(), now, s.record_count as i64],
        )
        .map_err(sql)?;
        let id = tx.last_insert_rowid();
        for f in &s.files {
            insert_file(tx, id, f).map_err(sql)?;
        }
        insert_entries(tx, id, s).map_err(sql)?;
        insert_addresses(tx, id, s, None).map_err(sql)?;
        return Ok(VersionStatus::Imported);
    };
    let mut stored: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    let mut stmt = tx.prepare("SELECT name, sha256, asset FROM sanctions_list_file WHERE version_id = ?1").map_err(sql)?;
    for row in stmt.query_map([id], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))).map_err(sql)? {
        let (name, v) = row.map_err(sql)?;
        stored.insert(name, v);
    }
    let what = format!("the {} list of {date}", s.list_kind.name());
    let mut status = VersionStatus::AlreadyImported;
    for f in &s.files {
        match stored.get(&f.name) {
            Some((sha, _)) if *sha == f.sha256 => continue,
            Some((sha, _)) => {
                let m = format!("differs from the {} imported for {what} (sha256 {sha}); a list version never changes", f.name);
                return Err(input_error(&f.path, None, None, m));
            }
            None if s.list_kind != ListKind::B10c => {
                let names: Vec<&str> = stored.keys().map(String::as_str).collect();
                let m = format!("{what} is already imported from {}; it cannot gain {}", names.join(", "), f.name);
                return Err(input_error(&f.path, None, None, m));
            }
            None => {}
        }
        let asset = f.asset.as_deref().unwrap_or_default();
        let covered = stored.values().any(|(_, a)| a.as_deref() == Some(asset));
        if covered {
            // The other format (.txt / .json) of an asset already stored: it must agree.
            let mut q = tx.prepare("SELECT address FROM sanctions_address WHERE version_id = ?1 AND asset = ?2").map_err(sql)?;
            let have: BTreeSet<String> = q.query_map(params![id, asset], |r| r.get(0)).map_err(sql)?.collect::<Result<_, _>>().map_err(sql)?;
            let new: BTreeSet<String> = s.addresses.iter().filter(|a| a.asset == asset).map(|a| a.address.address.clone()).collect();
            if have != new {
                return Err(input_error(&f.path, None, None, format!("holds other {asset} addresses than {what} already imported")));
            }
        } else {
            insert_addresses(tx, id, s, Some(asset)).map_err(sql)?;
            status = VersionStatus::Extended;
        }
        insert_file(tx, id, f).map_err(sql)?;
        stored.insert(f.name.clone(), (f.sha256.clone(), f.asset.clone()));
    }
    Ok(status)
}

fn insert_file(tx: &Transaction, id: i64, f: &ListFile) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO sanctions_list_file (version_id, name, asset, sha256, size) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, f.name, f.asset, f.sha256, f.size as i64],
    )
}

fn insert_entries(tx: &Transaction, id: i64, s: &Snapshot) -> rusqlite::Result<()> {
    let mut entry = tx.prepare(
        "INSERT INTO sanctions_sdn_entry (version_id, ent_num, name, sdn_type, title, remarks, aliases, countries)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut program = tx.prepare("INSERT OR IGNORE INTO sanctions_program (version_id, ent_num, program) VALUES (?1, ?2, ?3)")?;
    for e in &s.entries {
        let aliases: Vec<serde_json::Value> =
            e.aliases.iter().map(|a| serde_json::json!({"type": a.alias_type, "name": a.name})).collect();
        let aliases = serde_json::Value::from(aliases).to_string();
        let countries = serde_json::Value::from(e.countries.clone()).to_string();
        entry.execute(params![id, e.ent_num, e.name, e.sdn_type, e.title, e.remarks, aliases, countries])?;
        for p in &e.programs {
            program.execute(params![id, e.ent_num, p])?;
        }
    }
    let mut cut = tx.prepare("INSERT OR IGNORE INTO sanctions_cut_remarks (version_id, ent_num) VALUES (?1, ?2)")?;
    for e in &s.cut_remarks {
        cut.execute(params![id, e])?;
    }
    Ok(())
}

/// Stores the snapshot's addresses and rejected tokens (of one asset, or all).
fn insert_addresses(tx: &Transaction, id: i64, s: &Snapshot, asset: Option<&str>) -> rusqlite::Result<()> {
    let mut insert = tx.prepare(
        "INSERT OR IGNORE INTO sanctions_address (version_id, asset, address, format, ent_num, published)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for a in s.addresses.iter().filter(|a| asset.is_none_or(|x| x == a.asset)) {
        insert.execute(params![id, a.asset, a.address.address, a.address.format.name(), a.ent_num, a.published])?;
    }
    let mut reject = tx.prepare(
        "INSERT INTO sanctions_rejected (version_id, ent_num, asset, token, kind, reason, line) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for r in s.rejected.iter().filter(|r| asset.is_none_or(|x| x == r.asset)) {
        reject.execute(params![id, r.ent_num, r.asset, r.token, r.kind.name(), r.reason, r.line as i64])?;
    }
    Ok(())
}
