//! The intel database: one SQLite file, opened with migrations applied in order.
//!
//! Each migration is a SQL script owned by the module whose tables it creates; the database's
//! `user_version` records how many have run, so an older file is upgraded in place and a file
//! from a newer fundtrace is refused rather than misread.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

/// File name inside the data directory.
pub const FILE: &str = "intel.sqlite";

/// Migrations in order; `user_version` = number applied. Append only: never edit a released one.
const MIGRATIONS: &[&str] = &[crate::tagpack::SCHEMA_V1, crate::sanctions::SCHEMA_V1];

#[derive(Debug)]
pub enum IntelError {
    Sqlite { path: PathBuf, source: rusqlite::Error },
    /// Written by a newer fundtrace (more migrations than this one knows).
    NewerSchema { path: PathBuf, found: u32, known: u32 },
    /// An input file that cannot be imported: names the file and the place in it.
    Input { file: PathBuf, line: Option<u64>, field: Option<String>, message: String },
}

impl fmt::Display for IntelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntelError::Sqlite { path, source } => write!(f, "{}: {source}", path.display()),
            IntelError::NewerSchema { path, found, known } => write!(
                f,
                "{}: schema version {found} was written by a newer fundtrace (this one knows {known})",
                path.display()
            ),
            IntelError::Input { file, line, field, message } => {
                write!(f, "{}", file.display())?;
                if let Some(l) = line {
                    write!(f, ":{l}")?;
                }
                if let Some(k) = field {
                    write!(f, ": field `{k}`")?;
                }
                write!(f, ": {message}")
            }
        }
    }
}

impl std::error::Error for IntelError {}

/// An open intel database.
pub struct Intel {
    pub path: PathBuf,
    pub conn: Connection,
}

impl Intel {
    /// Opens (creating if needed) `intel.sqlite` in `data_dir` and applies pending migrations.
    pub fn open(data_dir: &Path) -> Result<Intel, IntelError> {
        std::fs::create_dir_all(data_dir).map_err(|e| IntelError::Sqlite {
            path: data_dir.to_path_buf(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })?;
        Self::open_file(&data_dir.join(FILE))
    }

    pub fn open_file(path: &Path) -> Result<Intel, IntelError> {
        let err = |source| IntelError::Sqlite { path: path.to_path_buf(), source };
        let mut conn = Connection::open(path).map_err(err)?;
        // WAL: readers never block the importer, and an interrupted import rolls back cleanly.
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(err)?;
        let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(err)?;
        if version as usize > MIGRATIONS.len() {
            return Err(IntelError::NewerSchema { path: path.to_path_buf(), found: version, known: MIGRATIONS.len() as u32 });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", (i + 1) as u32).map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(Intel { path: path.to_path_buf(), conn })
    }

    /// Wraps a SQLite error with this database's path.
    pub fn err(&self, source: rusqlite::Error) -> IntelError {
        IntelError::Sqlite { path: self.path.clone(), source }
    }
}
