//! Screening: the derived listings loaded into memory, looked up by normalised address.
//!
//! The lookup key is the address, not the asset: OFAC labels one address under several assets
//! (an EVM address as ETH and USDT; Omni USDT on Bitcoin addresses), and whoever controls the
//! key on one chain controls it on the others. Each [`Listing`] says under which asset it is
//! published; callers that care filter on it.

use std::collections::HashMap;
use std::ops::Range;

use fundtrace_bitcoin::{AddressKey, Network};

use super::{normalize, Alias, Date, Format, ListKind, Normalized, SdnEntry};
use crate::{Intel, IntelError};

/// One run of list versions holding an address (under one SDN entry, for SDN lists).
#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    pub list_kind: ListKind,
    /// As OFAC labels it: XBT, ETH, USDT, ...
    pub asset: String,
    /// Normalised.
    pub address: String,
    pub format: Format,
    /// The SDN entry as of the run's last version; `None` in address-only lists.
    pub entry: Option<SdnEntry>,
    /// Date of the first list version of the run.
    pub listed_on: Date,
    /// Date of the first later version (of the same kind, covering the asset) without it.
    pub delisted_on: Option<Date>,
    /// Date of the run's last list version holding it.
    pub last_list_date: Date,
}

impl Listing {
    /// Listed on `at` (as far as the imported versions show), or now when `at` is `None`.
    pub fn active_at(&self, at: Option<Date>) -> bool {
        match at {
            None => self.delisted_on.is_none(),
            Some(d) => self.listed_on <= d && self.delisted_on.is_none_or(|x| d < x),
        }
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Status {
    Sanctioned,
    NotSanctioned,
    /// Not a valid address (checksum, length, characters, unknown format): never "clean".
    Invalid(String),
}

impl Status {
    pub fn name(&self) -> &'static str {
        match self {
            Status::Sanctioned => "sanctioned",
            Status::NotSanctioned => "not_sanctioned",
            Status::Invalid(_) => "invalid",
        }
    }
}

/// The answer for one screened string.
#[derive(Clone, Debug)]
pub struct Screening<'a> {
    pub query: String,
    pub address: Option<Normalized>,
    pub status: Status,
    /// Every listing of the address, active at the screening date or not (its history).
    pub listings: &'a [Listing],
}

/// All listings in memory, indexed by normalised address and by Bitcoin address key.
pub struct Sanctions {
    listings: Vec<Listing>,
    by_address: HashMap<String, Range<usize>>,
    by_bitcoin_key: HashMap<AddressKey, Range<usize>>,
    versions: Vec<(ListKind, Date)>,
}

impl Sanctions {
    /// Reads the listings of every list kind from the intel database.
    pub fn load(intel: &Intel) -> Result<Sanctions, IntelError> {
        load(intel).map_err(|e| intel.err(e))
    }

    /// Every listing, sorted by address.
    pub fn listings(&self) -> &[Listing] {
        &self.listings
    }

    /// The listings (history) of a normalised address.
    pub fn listings_of(&self, address: &str) -> &[Listing] {
        self.by_address.get(address).map_or(&[], |r| &self.listings[r.clone()])
    }

    /// A listing of the normalised `address` active on `at` (now if `None`).
    pub fn is_sanctioned(&self, address: &str, at: Option<Date>) -> Option<&Listing> {
        self.listings_of(address).iter().find(|l| l.active_at(at))
    }

    /// As [`Self::is_sanctioned`] for a Bitcoin address as the ledger store keys it (no string
    /// encoding on the hot path of a trace).
    pub fn is_sanctioned_bitcoin(&self, key: &AddressKey, at: Option<Date>) -> Option<&Listing> {
        let range = self.by_bitcoin_key.get(key)?;
        self.listings[range.clone()].iter().find(|l| l.active_at(at))
    }

    /// Validates and normalises `query`, then looks it up.
    pub fn screen(&self, query: &str, at: Option<Date>) -> Screening<'_> {
        let normalized = normalize(query).or_else(|why| {
            // Addresses of assets without a checker are matched exactly as published.
            let unchecked = self.listings_of(query.trim()).iter().any(|l| l.format == Format::Unchecked);
            if unchecked {
                Ok(Normalized { address: query.trim().to_string(), format: Format::Unchecked })
            } else {
                Err(why)
            }
        });
        match normalized {
            Err(why) => Screening { query: query.to_string(), address: None, status: Status::Invalid(why), listings: &[] },
            Ok(n) => {
                let listings = self.listings_of(&n.address);
                let hit = listings.iter().any(|l| l.active_at(at));
                let status = if hit { Status::Sanctioned } else { Status::NotSanctioned };
                Screening { query: query.to_string(), address: Some(n), status, listings }
            }
        }
    }

    /// Per list kind, the date of the latest version on or before `at` (or the latest): what a
    /// screening on `at` rests on.
    pub fn lists_in_effect(&self, at: Option<Date>) -> Vec<(ListKind, Date)> {
        ListKind::ALL
            .into_iter()
            .filter_map(|k| {
                let dates = self.versions.iter().filter(|(vk, d)| *vk == k && at.is_none_or(|a| *d <= a));
                dates.map(|(_, d)| *d).max().map(|d| (k, d))
            })
            .collect()
    }
}

fn load(intel: &Intel) -> rusqlite::Result<Sanctions> {
    let conn = &intel.conn;
    let date = |s: String| Date::parse(&s).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()));
    let mut programs: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    let mut stmt = conn.prepare("SELECT version_id, ent_num, program FROM sanctions_program ORDER BY rowid")?;
    for row in stmt.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))? {
        let (k, p) = row?;
        programs.entry(k).or_default().push(p);
    }
    let mut stmt = conn.prepare(
        "SELECT l.list_kind, l.asset, l.address, l.format, l.ent_num, l.listed_on, l.delisted_on, v.list_date,
                l.last_version_id, e.name, e.sdn_type, e.title, e.aliases, e.countries
         FROM sanctions_listing l JOIN sanctions_list_version v ON v.id = l.last_version_id
         LEFT JOIN sanctions_sdn_entry e ON e.version_id = l.last_version_id AND e.ent_num = l.ent_num
         ORDER BY l.address, l.listed_on, l.list_kind, l.ent_num",
    )?;
    let mut listings = Vec::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let ent_num: Option<i64> = r.get(4)?;
        let name: Option<String> = r.get(9)?;
        let entry = match (ent_num, name) {
            (Some(ent_num), Some(name)) => Some(SdnEntry {
                ent_num,
                name,
                sdn_type: r.get(10)?,
                programs: programs.get(&(r.get(8)?, ent_num)).cloned().unwrap_or_default(),
                title: r.get(11)?,
                remarks: None,
                aliases: aliases(&r.get::<_, String>(12)?),
                countries: serde_json::from_str(&r.get::<_, String>(13)?).unwrap_or_default(),
            }),
            _ => None,
        };
        let kind: String = r.get(0)?;
        let format: String = r.get(3)?;
        listings.push(Listing {
            list_kind: ListKind::from_name(&kind).ok_or_else(|| unknown("list kind", &kind))?,
            asset: r.get(1)?,
            address: r.get(2)?,
            format: Format::from_name(&format).ok_or_else(|| unknown("address format", &format))?,
            entry,
            listed_on: date(r.get(5)?)?,
            delisted_on: r.get::<_, Option<String>>(6)?.map(date).transpose()?,
            last_list_date: date(r.get(7)?)?,
        });
    }
    let mut by_address: HashMap<String, Range<usize>> = HashMap::new();
    let mut by_bitcoin_key = HashMap::new();
    let mut start = 0;
    for i in 1..=listings.len() {
        if i == listings.len() || listings[i].address != listings[start].address {
            let l = &listings[start];
            if let (Format::Bitcoin, Ok(key)) = (l.format, AddressKey::parse(&l.address, Network::Main)) {
                by_bitcoin_key.insert(key, start..i);
            }
            by_address.insert(l.address.clone(), start..i);
            start = i;
        }
    }
    let mut versions = Vec::new();
    let mut stmt = conn.prepare("SELECT list_kind, list_date FROM sanctions_list_version")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
        let (kind, d) = row?;
        versions.push((ListKind::from_name(&kind).ok_or_else(|| unknown("list kind", &kind))?, date(d)?));
    }
    Ok(Sanctions { listings, by_address, by_bitcoin_key, versions })
}

fn aliases(json: &str) -> Vec<Alias> {
    let v: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_default();
    v.iter()
        .filter_map(|a| Some(Alias { alias_type: a["type"].as_str()?.to_string(), name: a["name"].as_str()?.to_string() }))
        .collect()
}

fn unknown(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(format!("unknown {what} {value:?} in the database").into())
}
