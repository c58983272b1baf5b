//! The list versions stored: what screening rests on, for display and audit.

use rusqlite::Connection;

use super::{Date, ListKind};
use crate::{Intel, IntelError};

/// One stored list version (a snapshot of one list kind on its list date).
#[derive(Clone, Debug, PartialEq)]
pub struct ListVersion {
    pub list_kind: ListKind,
    pub list_date: Date,
    /// Unix seconds.
    pub imported_at: i64,
    pub record_count: u64,
    /// (file name, sha256) of the files it was imported from.
    pub files: Vec<(String, String)>,
    /// Accepted (asset, address, entry) rows.
    pub addresses: u64,
    /// Rejected tokens (fragments and invalid).
    pub rejected: u64,
}

/// Every stored version, by list kind and date.
pub fn versions(intel: &Intel) -> Result<Vec<ListVersion>, IntelError> {
    read(&intel.conn).map_err(|e| intel.err(e))
}

fn read(conn: &Connection) -> rusqlite::Result<Vec<ListVersion>> {
    let mut stmt = conn.prepare(
        "SELECT id, list_kind, list_date, imported_at, record_count,
                (SELECT COUNT(*) FROM sanctions_address a WHERE a.version_id = v.id),
                (SELECT COUNT(*) FROM sanctions_rejected r WHERE r.version_id = v.id)
         FROM sanctions_list_version v ORDER BY list_kind, list_date",
    )?;
    let mut files = conn.prepare("SELECT name, sha256 FROM sanctions_list_file WHERE version_id = ?1 ORDER BY name")?;
    let mut out = Vec::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let bad = |what: &str, v: String| rusqlite::Error::ToSqlConversionFailure(format!("{what} {v:?} in the database").into());
        let kind: String = r.get(1)?;
        let date: String = r.get(2)?;
        out.push(ListVersion {
            list_kind: ListKind::from_name(&kind).ok_or_else(|| bad("unknown list kind", kind.clone()))?,
            list_date: Date::parse(&date).map_err(|_| bad("bad list date", date.clone()))?,
            imported_at: r.get(3)?,
            record_count: r.get::<_, i64>(4)? as u64,
            files: files.query_map([r.get::<_, i64>(0)?], |f| Ok((f.get(0)?, f.get(1)?)))?.collect::<Result<_, _>>()?,
            addresses: r.get::<_, i64>(5)? as u64,
            rejected: r.get::<_, i64>(6)? as u64,
        });
    }
    Ok(out)
}
