//! Helpers for the real-data TagPack tests: the staged GraphSense files, scratch databases,
//! and facts read from pack files by plain text scanning (independent of the importer).

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use fundtrace_intel::tagpack::{self, ImportSummary, Taxonomy};
use fundtrace_intel::{Intel, IntelError};

/// `<test data>/graphsense-tagpacks`, or `None` after a SKIP line.
pub fn data(what: &str) -> Option<PathBuf> {
    let d = fundtrace_core::testdata::dir(what)?.join("graphsense-tagpacks");
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!("SKIP {what}: {} not found", d.display());
        None
    }
}

/// A fresh scratch folder.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ft-intel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub fn import(intel: &mut Intel, paths: &[PathBuf]) -> Result<ImportSummary, IntelError> {
    tagpack::import(intel, paths, Taxonomy::builtin(), &mut |_| {})
}

/// Number of tag entries in a pack file, counted as the lines holding an `address:` or
/// `tx_hash:` key inside the `tags:` list.
pub fn count_entries(text: &str) -> usize {
    text.lines()
        .skip_while(|l| !l.starts_with("tags:"))
        .filter(|l| {
            let l = l.trim_start().trim_start_matches("- ").trim_start();
            l.starts_with("address:") || l.starts_with("tx_hash:")
        })
        .count()
}

/// The address of the first tag entry of `currency` (its own `currency:` line, else the
/// header's).
pub fn first_address_of(text: &str, currency: &str) -> String {
    let header = header_value(text, "currency");
    let body: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("tags:")).skip(1).collect();
    let starts: Vec<usize> = (0..body.len()).filter(|&i| body[i].starts_with("- ")).collect();
    for (k, &s) in starts.iter().enumerate() {
        let entry = &body[s..*starts.get(k + 1).unwrap_or(&body.len())];
        let field = |key: &str| {
            entry.iter().find_map(|l| l.trim_start_matches("- ").trim().strip_prefix(&format!("{key}: ")).map(unquote))
        };
        if field("currency").or(header.clone()).as_deref() == Some(currency) {
            return field("address").expect("an address tag");
        }
    }
    panic!("no {currency} tag")
}

/// A top-level (header) `key: value` of a pack file, unquoted.
pub fn header_value(text: &str, key: &str) -> Option<String> {
    let prefix = format!("{key}:");
    text.lines().take_while(|l| !l.starts_with("tags:")).find_map(|l| l.strip_prefix(&prefix)).map(|v| unquote(v.trim()))
}

pub fn unquote(v: &str) -> String {
    v.trim_matches(|c| c == '\'' || c == '"').to_string()
}

/// 1-based number of the first line containing `needle`.
pub fn line_of(text: &str, needle: &str) -> u64 {
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} not in the file")) as u64 + 1
}

/// Every row of the tag tables (without import times), for "unchanged" comparisons.
pub fn snapshot(intel: &Intel) -> Vec<String> {
    rows(intel, "t.*")
}

/// `snapshot` without the row ids a re-import renumbers: what the packs say, and where.
pub fn content(intel: &Intel) -> Vec<String> {
    let mut st = intel.conn.prepare("SELECT name FROM pragma_table_info('tag') WHERE name NOT IN ('id', 'pack_id')").unwrap();
    let columns: Vec<String> = st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|c| format!("t.{}", c.unwrap())).collect();
    rows(intel, &columns.join(", "))
}

fn rows(intel: &Intel, tag_columns: &str) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT uri, kind, file, sha256, title, creator, entries FROM pack ORDER BY uri".to_string(),
        format!("SELECT p.uri, {tag_columns} FROM tag t JOIN pack p ON p.id = t.pack_id ORDER BY p.uri, t.line"),
        "SELECT * FROM actor ORDER BY id".to_string(),
    ] {
        let mut st = intel.conn.prepare(&sql).unwrap();
        let n = st.column_count();
        let rows = st
            .query_map([], |r| {
                Ok((0..n).map(|i| format!("{:?}", r.get_ref(i).unwrap())).collect::<Vec<_>>().join("|"))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

pub fn count(intel: &Intel, sql: &str) -> i64 {
    intel.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}
