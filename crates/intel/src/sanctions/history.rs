//! Listings derived from snapshots: per address (and SDN entry), the runs of consecutive list
//! versions that hold it. A run starts at the first version holding it (listed on) and ends at
//! the first later version of the same kind that covers its asset and no longer holds it
//! (delisted on). Versions are sorted by date here, so import order does not matter.

use std::collections::{HashMap, HashSet};

use rusqlite::{params, Transaction};

use super::{Date, ListKind};

/// What a listing is about: an address under one SDN entry (or under none, in address lists).
#[derive(Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct ListingKey {
    pub asset: String,
    pub address: String,
    pub ent_num: Option<i64>,
}

/// One list version as history sees it.
#[derive(Clone, Debug)]
pub struct VersionCoverage {
    pub id: i64,
    pub date: Date,
    /// Assets the version covers; `None`: all (an SDN publication lists every asset).
    pub assets: Option<HashSet<String>>,
    /// Entries whose remarks were cut: an address missing under them may just be cut off.
    pub cut: HashSet<i64>,
}

impl VersionCoverage {
    fn covers(&self, asset: &str) -> bool {
        self.assets.as_ref().is_none_or(|a| a.contains(asset))
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Run {
    pub key: ListingKey,
    pub listed_on: Date,
    pub delisted_on: Option<Date>,
    /// The last version of the run holding the key (its entry details are the latest).
    pub last_version: i64,
}

/// Runs of every key in `present` (key → ids of the versions holding it) over `versions`.
pub fn runs(versions: &[VersionCoverage], present: &HashMap<ListingKey, HashSet<i64>>) -> Vec<Run> {
    let mut sorted: Vec<&VersionCoverage> = versions.iter().collect();
    sorted.sort_by_key(|v| v.date);
    let mut keys: Vec<&ListingKey> = present.keys().collect();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let holding = &present[key];
        let mut open: Option<(Date, i64)> = None;
        for v in sorted.iter().filter(|v| v.covers(&key.asset)) {
            match open {
                _ if holding.contains(&v.id) => open = Some((open.map_or(v.date, |o| o.0), v.id)),
                Some(_) if key.ent_num.is_some_and(|e| v.cut.contains(&e)) => {} // not shown, not proven gone
                Some((listed_on, last_version)) => {
                    out.push(Run { key: key.clone(), listed_on, delisted_on: Some(v.date), last_version });
                    open = None;
                }
                None => {}
            }
        }
        if let Some((listed_on, last_version)) = open {
            out.push(Run { key: key.clone(), listed_on, delisted_on: None, last_version });
        }
    }
    out
}

/// Recomputes the `sanctions_listing` rows of one list kind from its stored snapshots.
pub(crate) fn rebuild(tx: &Transaction, kind: ListKind) -> rusqlite::Result<usize> {
    let mut versions: HashMap<i64, VersionCoverage> = HashMap::new();
    let mut stmt = tx.prepare("SELECT id, list_date FROM sanctions_list_version WHERE list_kind = ?1")?;
    for row in stmt.query_map([kind.name()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
        let (id, date) = row?;
        let date = Date::parse(&date).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
        versions.insert(id, VersionCoverage { id, date, assets: None, cut: HashSet::new() });
    }
    let mut stmt = tx.prepare(
        "SELECT f.version_id, f.asset FROM sanctions_list_file f JOIN sanctions_list_version v ON v.id = f.version_id
         WHERE v.list_kind = ?1 AND f.asset IS NOT NULL",
    )?;
    for row in stmt.query_map([kind.name()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
        let (id, asset) = row?;
        if let Some(v) = versions.get_mut(&id) {
            v.assets.get_or_insert_with(HashSet::new).insert(asset);
        }
    }
    let mut stmt = tx.prepare(
        "SELECT c.version_id, c.ent_num FROM sanctions_cut_remarks c JOIN sanctions_list_version v ON v.id = c.version_id
         WHERE v.list_kind = ?1",
    )?;
    for row in stmt.query_map([kind.name()], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))? {
        let (id, ent_num) = row?;
        if let Some(v) = versions.get_mut(&id) {
            v.cut.insert(ent_num);
        }
    }
    let mut present: HashMap<ListingKey, HashSet<i64>> = HashMap::new();
    let mut formats: HashMap<String, String> = HashMap::new();
    let mut stmt = tx.prepare(
        "SELECT a.version_id, a.asset, a.address, a.ent_num, a.format FROM sanctions_address a
         JOIN sanctions_list_version v ON v.id = a.version_id WHERE v.list_kind = ?1",
    )?;
    for row in stmt.query_map([kind.name()], |r| {
        Ok((r.get::<_, i64>(0)?, ListingKey { asset: r.get(1)?, address: r.get(2)?, ent_num: r.get(3)? }, r.get::<_, String>(4)?))
    })? {
        let (id, key, format) = row?;
        formats.insert(key.address.clone(), format);
        present.entry(key).or_default().insert(id);
    }
    let versions: Vec<VersionCoverage> = versions.into_values().collect();
    let runs = runs(&versions, &present);
    tx.execute("DELETE FROM sanctions_listing WHERE list_kind = ?1", [kind.name()])?;
    let mut insert = tx.prepare(
        "INSERT INTO sanctions_listing (list_kind, asset, address, format, ent_num, listed_on, delisted_on, last_version_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for r in &runs {
        insert.execute(params![
            kind.name(),
            r.key.asset,
            r.key.address,
            formats.get(&r.key.address).map_or("unchecked", String::as_str),
            r.key.ent_num,
            r.listed_on.to_string(),
            r.delisted_on.map(|d| d.to_string()),
            r.last_version,
        ])?;
    }
    Ok(runs.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: i64, date: &str, assets: Option<&[&str]>, cut: &[i64]) -> VersionCoverage {
        VersionCoverage {
            id,
            date: Date::parse(date).unwrap(),
            assets: assets.map(|a| a.iter().map(|s| s.to_string()).collect()),
            cut: cut.iter().copied().collect(),
        }
    }

    fn key(asset: &str, ent_num: Option<i64>) -> ListingKey {
        ListingKey { asset: asset.into(), address: "a".into(), ent_num }
    }

    fn dates(r: &[Run]) -> Vec<(String, Option<String>)> {
        r.iter().map(|r| (r.listed_on.to_string(), r.delisted_on.map(|d| d.to_string()))).collect()
    }

    #[test]
    fn listed_delisted_relisted_in_any_order() {
        // Versions given out of date order: 3 (March) holds it, 1 (January) holds it, 2 (February) does not.
        let versions = [v(3, "2024-03-01", None, &[]), v(1, "2024-01-01", None, &[]), v(2, "2024-02-01", None, &[])];
        let present = HashMap::from([(key("XBT", Some(9)), HashSet::from([1, 3]))]);
        let r = runs(&versions, &present);
        assert_eq!(
            dates(&r),
            [("2024-01-01".into(), Some("2024-02-01".into())), ("2024-03-01".into(), None)]
        );
        assert_eq!((r[0].last_version, r[1].last_version), (1, 3));
    }

    #[test]
    fn versions_not_covering_the_asset_or_cutting_the_entry_prove_nothing() {
        // Version 2 is an XBT-only address list: the ETH address is not delisted by it.
        let versions = [v(1, "2024-01-01", Some(&["ETH"]), &[]), v(2, "2024-02-01", Some(&["XBT"]), &[])];
        let present = HashMap::from([(key("ETH", None), HashSet::from([1]))]);
        assert_eq!(dates(&runs(&versions, &present)), [("2024-01-01".into(), None)]);
        // Entry 9's remarks are cut in version 2: its address may be beyond the cut.
        let versions = [v(1, "2024-01-01", None, &[]), v(2, "2024-02-01", None, &[9]), v(3, "2024-03-01", None, &[])];
        let present = HashMap::from([(key("XBT", Some(9)), HashSet::from([1]))]);
        assert_eq!(dates(&runs(&versions, &present)), [("2024-01-01".into(), Some("2024-03-01".into()))]);
    }
}
