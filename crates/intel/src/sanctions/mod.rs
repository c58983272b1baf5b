//! OFAC sanctions lists with their history of listings and delistings, and address screening.
//!
//! Each import stores one *list version* (a snapshot: what a list held on its list date) of one
//! *list kind*. Listings (listed on / delisted on, per address and SDN entry) are derived from
//! all stored snapshots of the same kind, sorted by date, so imports may arrive in any order and
//! a delisting is only ever inferred within one kind of list:
//!
//! - `sdn`: OFAC's legacy CSV (`sdn.csv`) with `sdn_comments.csv`, the continuation of remarks
//!   cut at 1000 characters;
//! - `sdn-without-comments`: `sdn.csv` alone, whose cut remarks may hide addresses;
//! - `0xb10c`: the per-asset address lists extracted from OFAC's XML by 0xB10C's nightly job.
//!
//! Data flow: [`sdn_csv`] / [`b10c`] parse files into a [`Snapshot`]; [`import()`] stores
//! snapshots in one transaction and rebuilds the listings ([`history`]); [`Sanctions::load`]
//! reads the listings into a hash map for screening.

pub mod address;
pub mod b10c;
pub mod history;
pub mod import;
pub mod screen;
pub mod sdn_csv;
pub mod versions;

pub use address::{normalize, Format, Normalized};
pub use fundtrace_core::Date;
pub use import::{import, ImportReport, VersionReport, VersionStatus};
pub use screen::{Listing, Sanctions, Screening, Status};
pub use versions::{versions, ListVersion};

use std::path::PathBuf;

/// Tables of list versions (snapshots), their entries and addresses, and the derived listings.
pub const SCHEMA_V1: &str = "
CREATE TABLE sanctions_list_version (
    id INTEGER PRIMARY KEY,
    list_kind TEXT NOT NULL CHECK (list_kind IN ('sdn', 'sdn-without-comments', '0xb10c')),
    list_date TEXT NOT NULL,           -- YYYY-MM-DD: given at import or taken from the directory name
    imported_at INTEGER NOT NULL,      -- Unix seconds
    record_count INTEGER NOT NULL,     -- records in sdn.csv; 0 for address lists
    UNIQUE (list_kind, list_date)
);
-- The files a version was imported from; their checksums make re-imports idempotent.
CREATE TABLE sanctions_list_file (
    version_id INTEGER NOT NULL REFERENCES sanctions_list_version(id),
    name TEXT NOT NULL,                -- as published: sdn.csv, sanctioned_addresses_XBT.txt, ...
    asset TEXT,                        -- the one asset a per-asset list covers; NULL: all assets
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (version_id, name)
);
-- SDN entries that carry a digital currency address label (the ones screening can name).
CREATE TABLE sanctions_sdn_entry (
    version_id INTEGER NOT NULL REFERENCES sanctions_list_version(id),
    ent_num INTEGER NOT NULL,
    name TEXT NOT NULL,
    sdn_type TEXT NOT NULL,            -- individual, entity, vessel, aircraft
    title TEXT,
    remarks TEXT,                      -- joined with its sdn_comments.csv continuation
    aliases TEXT NOT NULL,             -- JSON array of {type, name} from alt.csv
    countries TEXT NOT NULL,           -- JSON array of countries from add.csv
    PRIMARY KEY (version_id, ent_num)
);
CREATE TABLE sanctions_program (
    version_id INTEGER NOT NULL,
    ent_num INTEGER NOT NULL,
    program TEXT NOT NULL,             -- e.g. CYBER2, DPRK3
    PRIMARY KEY (version_id, ent_num, program),
    FOREIGN KEY (version_id, ent_num) REFERENCES sanctions_sdn_entry(version_id, ent_num)
);
CREATE TABLE sanctions_address (
    version_id INTEGER NOT NULL REFERENCES sanctions_list_version(id),
    asset TEXT NOT NULL,               -- as OFAC labels it: XBT, ETH, USDT, ...
    address TEXT NOT NULL,             -- normalised (see address.rs)
    format TEXT NOT NULL,              -- bitcoin, evm, base58check, ..., unchecked
    ent_num INTEGER,                   -- NULL in address-only lists
    published TEXT NOT NULL            -- as written in the list
);
CREATE UNIQUE INDEX sanctions_address_key ON sanctions_address (version_id, asset, address, IFNULL(ent_num, -1));
-- Address tokens never accepted: cut at the remarks limit (fragment) or failing their checks.
CREATE TABLE sanctions_rejected (
    version_id INTEGER NOT NULL REFERENCES sanctions_list_version(id),
    ent_num INTEGER,
    asset TEXT NOT NULL,
    token TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('fragment', 'invalid')),
    reason TEXT NOT NULL,
    line INTEGER                       -- in the published file
);
-- Entries whose remarks were cut with no continuation: absence of an address there proves nothing.
CREATE TABLE sanctions_cut_remarks (
    version_id INTEGER NOT NULL REFERENCES sanctions_list_version(id),
    ent_num INTEGER NOT NULL,
    PRIMARY KEY (version_id, ent_num)
);
-- Derived from the snapshots of one list kind after every import (history.rs).
CREATE TABLE sanctions_listing (
    list_kind TEXT NOT NULL,
    asset TEXT NOT NULL,
    address TEXT NOT NULL,
    format TEXT NOT NULL,
    ent_num INTEGER,
    listed_on TEXT NOT NULL,           -- first version of the run that holds it
    delisted_on TEXT,                  -- first later version (covering the asset) without it
    last_version_id INTEGER NOT NULL REFERENCES sanctions_list_version(id)
);
CREATE INDEX sanctions_listing_address ON sanctions_listing (address);
";

/// Which series a list version belongs to; delistings are inferred within one kind only,
/// because the kinds differ in completeness.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ListKind {
    Sdn,
    SdnWithoutComments,
    B10c,
}

impl ListKind {
    pub const ALL: [ListKind; 3] = [ListKind::Sdn, ListKind::SdnWithoutComments, ListKind::B10c];

    pub fn name(self) -> &'static str {
        match self {
            ListKind::Sdn => "sdn",
            ListKind::SdnWithoutComments => "sdn-without-comments",
            ListKind::B10c => "0xb10c",
        }
    }

    pub fn from_name(s: &str) -> Option<ListKind> {
        ListKind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A file a list version is read from.
#[derive(Clone, Debug)]
pub struct ListFile {
    pub path: PathBuf,
    /// The published file name, lowercase for OFAC's (`sdn.csv`), as is for 0xB10C's.
    pub name: String,
    /// The asset a per-asset list covers; `None` for SDN files, which cover every asset.
    pub asset: Option<String>,
    pub sha256: String,
    pub size: u64,
}

/// An SDN entry (one `ent_num` of sdn.csv) that carries digital currency addresses.
#[derive(Clone, Debug, PartialEq)]
pub struct SdnEntry {
    pub ent_num: i64,
    pub name: String,
    /// `individual`, `vessel`, `aircraft`, or `entity` (OFAC leaves entities' type empty).
    pub sdn_type: String,
    /// Sanctions programs, e.g. `["DPRK3", "CYBER2"]` from OFAC's `DPRK3] [CYBER2`.
    pub programs: Vec<String>,
    pub title: Option<String>,
    pub remarks: Option<String>,
    pub aliases: Vec<Alias>,
    pub countries: Vec<String>,
}

/// A name from alt.csv: `aka`, `fka` (formerly) or `nka` (now known as).
#[derive(Clone, Debug, PartialEq)]
pub struct Alias {
    pub alias_type: String,
    pub name: String,
}

/// An address a list version holds.
#[derive(Clone, Debug, PartialEq)]
pub struct ListedAddress {
    pub asset: String,
    pub address: Normalized,
    /// The SDN entry it is published under; `None` in address-only lists.
    pub ent_num: Option<i64>,
    pub published: String,
    pub line: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RejectKind {
    /// Cut off where OFAC truncates remarks (and no continuation was given).
    Fragment,
    /// Fails its format's checks anywhere else.
    Invalid,
}

impl RejectKind {
    pub fn name(self) -> &'static str {
        match self {
            RejectKind::Fragment => "fragment",
            RejectKind::Invalid => "invalid",
        }
    }
}

/// An address token a list publishes that was not accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejected {
    pub ent_num: Option<i64>,
    pub asset: String,
    pub token: String,
    pub kind: RejectKind,
    pub reason: String,
    pub line: u64,
}

/// What one list version holds, parsed from its files, before it is stored.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub list_kind: ListKind,
    pub files: Vec<ListFile>,
    pub record_count: u64,
    pub entries: Vec<SdnEntry>,
    pub addresses: Vec<ListedAddress>,
    pub rejected: Vec<Rejected>,
    /// Entries whose remarks end at OFAC's cut with no continuation.
    pub cut_remarks: Vec<i64>,
}

impl Snapshot {
    pub fn empty(list_kind: ListKind) -> Snapshot {
        Snapshot { list_kind, files: vec![], record_count: 0, entries: vec![], addresses: vec![], rejected: vec![], cut_remarks: vec![] }
    }
}

/// Reads a whole input file, naming it on failure.
pub(crate) fn read_file(path: &std::path::Path) -> Result<Vec<u8>, crate::IntelError> {
    std::fs::read(path).map_err(|e| input_error(path, None, None, format!("cannot read: {e}")))
}

pub(crate) fn input_error(path: &std::path::Path, line: Option<u64>, field: Option<&str>, message: String) -> crate::IntelError {
    crate::IntelError::Input { file: path.to_path_buf(), line, field: field.map(str::to_string), message }
}
