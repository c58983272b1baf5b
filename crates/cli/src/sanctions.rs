//! `fundtrace sanctions import` and `fundtrace screen`: OFAC lists with history, and screening
//! addresses (or a transaction's addresses) against them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use fundtrace_bitcoin::{AddressKey, Header};
use fundtrace_core::{InputId, OutputId};
use fundtrace_intel::sanctions::{self, Date, Listing, Sanctions, Screening, Status, VersionReport};
use fundtrace_intel::Intel;
use serde_json::{json, Value};

use crate::show::JsonFlag;
use crate::{usage, Failure};

#[derive(Subcommand)]
pub enum SanctionsCommand {
    /// Import OFAC lists: sdn.csv (with sdn_comments.csv, alt.csv, add.csv beside it) or
    /// 0xB10C's sanctioned_addresses_<ASSET>.txt/.json. Each directory is one list version.
    Import(ImportArgs),
    /// The list versions imported (what screening rests on)
    Versions(JsonFlag),
}

#[derive(Args)]
pub struct ImportArgs {
    /// List files, or directories holding them
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The list's publication date, YYYY-MM-DD [default: a date in the directory's name]
    #[arg(long)]
    list_date: Option<String>,
    #[command(flatten)]
    out: JsonFlag,
}

/// Exit codes: 0 when screening ran, hits or not; with --fail-on-hit, 3 if any address is
/// sanctioned, else 4 if any is invalid. 1: failed (no lists imported, store missing), 2: usage.
#[derive(Args)]
pub struct ScreenArgs {
    /// Addresses to screen; none or `-`: one per line on stdin (blank lines and # comments skipped)
    addresses: Vec<String>,
    /// Screen as of this date (YYYY-MM-DD) [default: the latest list versions]
    #[arg(long, conflicts_with = "tx")]
    at: Option<String>,
    /// Screen every input and output address of this transaction (in the ledger store) as of
    /// its block's date
    #[arg(long)]
    tx: Option<String>,
    /// Exit 3 if any address is sanctioned, else 4 if any is invalid (for scripts)
    #[arg(long)]
    fail_on_hit: bool,
    #[command(flatten)]
    out: JsonFlag,
}

fn date_arg(flag: &str, s: &str) -> Result<Date, Failure> {
    Date::parse(s).map_err(|e| usage(format!("--{flag}: {e}")))
}

pub fn run(data_dir: &Path, cmd: SanctionsCommand) -> Result<(), Failure> {
    match cmd {
        SanctionsCommand::Import(a) => import(data_dir, a),
        SanctionsCommand::Versions(out) => versions(data_dir, out),
    }
}

fn versions(data_dir: &Path, out: JsonFlag) -> Result<(), Failure> {
    let intel = Intel::open(data_dir)?;
    let versions = sanctions::versions(&intel)?;
    if out.json {
        let v: Vec<Value> = versions
            .iter()
            .map(|v| {
                json!({
                    "list_kind": v.list_kind.name(),
                    "list_date": v.list_date.to_string(),
                    "imported_at": v.imported_at,
                    "records": v.record_count,
                    "addresses": v.addresses,
                    "rejected": v.rejected,
                    "files": v.files.iter().map(|(name, sha256)| json!({"name": name, "sha256": sha256})).collect::<Vec<_>>(),
                })
            })
            .collect();
        say!("{}", serde_json::to_string_pretty(&Value::Array(v)).expect("json"));
        return Ok(());
    }
    if versions.is_empty() {
        say!("no sanctions lists imported");
    }
    for v in &versions {
        let files = file_names(v.files.iter().map(|(n, _)| n.as_str()));
        say!("{:<21} {}  {:>5} addresses  {:>3} rejected  {files}", v.list_kind.name(), v.list_date, v.addresses, v.rejected);
    }
    Ok(())
}

/// File names for a line of text: a list of 34 per-asset files is summed up.
fn file_names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    match names.len() {
        0..=4 => names.join(", "),
        n => format!("{}, ... ({n} files)", names[..3].join(", ")),
    }
}

fn import(data_dir: &Path, a: ImportArgs) -> Result<(), Failure> {
    let list_date = a.list_date.as_deref().map(|s| date_arg("list-date", s)).transpose()?;
    let mut intel = Intel::open(data_dir)?;
    let report = sanctions::import(&mut intel, &a.paths, list_date)?;
    let listings: serde_json::Map<String, Value> = report.listings.iter().map(|(k, n)| (k.name().to_string(), json!(n))).collect();
    let v = json!({
        "versions": report.versions.iter().map(version_json).collect::<Vec<_>>(),
        "listings": listings,
    });
    if a.out.json {
        say!("{}", serde_json::to_string_pretty(&v).expect("json"));
    } else {
        report.versions.iter().for_each(print_version);
        let per_kind: Vec<String> = report.listings.iter().map(|(k, n)| format!("{} {n}", k.name())).collect();
        say!("listings now: {}", per_kind.join(", "));
    }
    Ok(())
}

fn version_json(r: &VersionReport) -> Value {
    json!({
        "list_kind": r.list_kind.name(),
        "list_date": r.list_date.to_string(),
        "status": r.status.name(),
        "files": r.files.iter().map(|f| json!({"name": f.name, "asset": f.asset, "sha256": f.sha256, "size": f.size})).collect::<Vec<_>>(),
        "records": r.record_count,
        "entries": r.entries,
        "addresses": r.addresses,
        "mislabelled": r.mislabelled.iter().map(|a| json!({
            "ent_num": a.ent_num, "asset": a.asset, "address": a.address.address, "format": a.address.format.name(), "line": a.line,
        })).collect::<Vec<_>>(),
        "fragments": r.fragments.iter().map(|f| json!({
            "ent_num": f.ent_num, "asset": f.asset, "fragment": f.token, "reason": f.reason, "line": f.line,
        })).collect::<Vec<_>>(),
        "invalid": r.invalid.iter().map(|f| json!({
            "ent_num": f.ent_num, "asset": f.asset, "token": f.token, "reason": f.reason, "line": f.line,
        })).collect::<Vec<_>>(),
        "cut_remarks": r.cut_remarks,
    })
}

fn print_version(r: &VersionReport) {
    let files = file_names(r.files.iter().map(|f| f.name.as_str()));
    say!("{} {}: {} ({files})", r.list_kind.name(), r.list_date, r.status.name());
    let per_asset: Vec<String> = r.addresses.iter().map(|(a, n)| format!("{a} {n}")).collect();
    let total: usize = r.addresses.values().sum();
    if r.record_count > 0 {
        say!("  {} records, {} entries with addresses", r.record_count, r.entries);
    }
    say!("  {total} addresses: {}", per_asset.join(", "));
    for a in &r.mislabelled {
        let ent = a.ent_num.map_or(String::new(), |e| format!(" of ent_num {e}"));
        say!("  mislabelled (kept): {} {}{ent} is a {} address", a.asset, a.address.address, a.address.format.name());
    }
    for f in &r.fragments {
        say!("  fragment (rejected): ent_num {} {} {:?}: {}", f.ent_num.unwrap_or_default(), f.asset, f.token, f.reason);
    }
    for f in &r.invalid {
        let ent = f.ent_num.map_or(format!("line {}", f.line), |e| format!("ent_num {e}"));
        say!("  invalid (rejected): {ent} {} {:?}: {}", f.asset, f.token, f.reason);
    }
    if !r.cut_remarks.is_empty() {
        let ents: Vec<String> = r.cut_remarks.iter().map(i64::to_string).collect();
        say!("  remarks cut at {} characters without sdn_comments.csv (addresses may be missing): ent_num {}", sanctions::sdn_csv::REMARKS_LIMIT, ents.join(", "));
    }
}

/// A screened address and, for `--tx`, where it occurs in the transaction.
struct Query {
    address: String,
    tx_inputs: Vec<u64>,
    tx_outputs: Vec<u64>,
}

pub fn screen(data_dir: &Path, a: ScreenArgs) -> Result<(), Failure> {
    let mut at = a.at.as_deref().map(|s| date_arg("at", s)).transpose()?;
    let mut tx_json = None;
    let queries = match &a.tx {
        Some(txid) => {
            if !a.addresses.is_empty() {
                return Err(usage("--tx screens the transaction's addresses: give no addresses with it"));
            }
            let (queries, date, v) = tx_addresses(data_dir, txid)?;
            at = Some(date);
            tx_json = Some(v);
            queries
        }
        None => addresses(&a.addresses)?,
    };
    let intel = Intel::open(data_dir)?;
    let s = Sanctions::load(&intel)?;
    if s.lists_in_effect(None).is_empty() {
        return Err(Failure::from("no sanctions lists imported: run `fundtrace sanctions import` first"));
    }
    let lists = s.lists_in_effect(at);
    let mut counts: BTreeMap<&str, usize> = ["sanctioned", "not_sanctioned", "invalid"].into_iter().map(|k| (k, 0)).collect();
    // Results are written as they are screened: a batch of a million addresses costs no memory.
    let mut out = Out(std::io::BufWriter::new(std::io::stdout().lock()));
    let when = at.map_or("latest lists".to_string(), |d| format!("as of {d}"));
    if a.out.json {
        let lists: Vec<Value> = lists.iter().map(|(k, d)| json!({"list_kind": k.name(), "list_date": d.to_string()})).collect();
        out.line("{");
        out.line(&format!("  \"at\": {},", json!(at.map(|d| d.to_string()))));
        out.line(&format!("  \"lists\": {},", pretty(&Value::Array(lists), 2)));
        if let Some(t) = &tx_json {
            out.line(&format!("  \"tx\": {},", pretty(t, 2)));
        }
        out.line("  \"results\": [");
    } else {
        if let Some(t) = &tx_json {
            out.line(&format!("tx {} (block {}, {when})", t["txid"].as_str().unwrap_or("-"), t["block_height"]));
        }
        let against: Vec<String> = lists.iter().map(|(k, d)| format!("{} {d}", k.name())).collect();
        match against.is_empty() {
            true => out.line(&format!("screened {when}: no list version on or before that date (nothing to screen against)")),
            false => out.line(&format!("screened {when} against {}", against.join(", "))),
        }
    }
    for (i, q) in queries.iter().enumerate() {
        let sc = s.screen(&q.address, at);
        *counts.entry(sc.status.name()).or_default() += 1;
        if !a.out.json {
            out.line(&result_line(&sc, at));
            continue;
        }
        let mut r = result_json(&sc, at);
        if a.tx.is_some() {
            r["tx_inputs"] = json!(q.tx_inputs);
            r["tx_outputs"] = json!(q.tx_outputs);
        }
        out.line(&format!("    {}{}", pretty(&r, 4), if i + 1 < queries.len() { "," } else { "" }));
    }
    if a.out.json {
        let summary = json!({"screened": queries.len(), "sanctioned": counts["sanctioned"], "not_sanctioned": counts["not_sanctioned"], "invalid": counts["invalid"]});
        out.line("  ],");
        out.line(&format!("  \"summary\": {}", pretty(&summary, 2)));
        out.line("}");
    } else {
        out.line(&format!("{} sanctioned, {} not sanctioned, {} invalid", counts["sanctioned"], counts["not_sanctioned"], counts["invalid"]));
    }
    out.flush();
    match (a.fail_on_hit, counts["sanctioned"], counts["invalid"]) {
        (true, hits, _) if hits > 0 => Err(Failure { code: 3, message: format!("{hits} of {} addresses sanctioned (--fail-on-hit)", queries.len()) }),
        (true, _, bad) if bad > 0 => Err(Failure { code: 4, message: format!("{bad} of {} addresses invalid (--fail-on-hit)", queries.len()) }),
        _ => Ok(()),
    }
}

/// Buffered stdout for a line per address; a closed pipe (`| head`) ends the process quietly,
/// as `say!` does.
struct Out(std::io::BufWriter<std::io::StdoutLock<'static>>);

impl Out {
    fn line(&mut self, s: &str) {
        if writeln!(self.0, "{s}").is_err() {
            std::process::exit(0);
        }
    }
    fn flush(&mut self) {
        if self.0.flush().is_err() {
            std::process::exit(0);
        }
    }
}

/// `v` pretty-printed as a value nested `indent` spaces deep in a pretty-printed document.
fn pretty(v: &Value, indent: usize) -> String {
    let text = serde_json::to_string_pretty(v).expect("json");
    text.replace('\n', &format!("\n{}", " ".repeat(indent)))
}

/// The addresses given, with `-` (or none) read from stdin one per line.
fn addresses(args: &[String]) -> Result<Vec<Query>, Failure> {
    let out: Vec<Query> = crate::args_or_stdin(args, true)?
        .into_iter()
        .map(|address| Query { address, tx_inputs: vec![], tx_outputs: vec![] })
        .collect();
    if out.is_empty() {
        return Err(usage("no addresses to screen (give them as arguments or one per line on stdin)"));
    }
    Ok(out)
}

/// A transaction's input and output addresses (each once, with where it occurs), its block's
/// date, and a summary of the transaction.
fn tx_addresses(data_dir: &Path, txid: &str) -> Result<(Vec<Query>, Date, Value), Failure> {
    let hash = crate::show::txid_arg(txid)?;
    let (l, network) = crate::show::open(data_dir)?;
    let id = crate::show::find_tx(&l, &hash)?;
    let height = l.tx_height(id);
    let block = l.block(height).ok_or_else(|| Failure::from(format!("block {height} missing from the store")))?;
    let time = Header::decode(&block.header).time;
    let mut queries: Vec<Query> = Vec::new();
    let mut add = |address: Option<fundtrace_core::AddressId>, input: Option<u64>, output: Option<u64>| {
        let Some(key) = address.and_then(|a| AddressKey::from_bytes(l.address_key(a))) else { return };
        let address = key.encode(network);
        let i = queries.iter().position(|q| q.address == address).unwrap_or_else(|| {
            queries.push(Query { address, tx_inputs: vec![], tx_outputs: vec![] });
            queries.len() - 1
        });
        queries[i].tx_inputs.extend(input);
        queries[i].tx_outputs.extend(output);
    };
    let inputs = l.inputs_of(id);
    for i in inputs.clone() {
        if let Some(o) = l.input_spent(InputId(i)) {
            add(l.output(o).address, Some(i - inputs.start), None);
        }
    }
    let outputs = l.outputs_of(id);
    for o in outputs.clone() {
        add(l.output(OutputId(o)).address, None, Some(o - outputs.start));
    }
    let v = json!({"txid": hash.to_string(), "block_height": height, "block_time": time});
    Ok((queries, Date::from_unix(time as i64), v))
}

fn listing_json(l: &Listing, at: Option<Date>) -> Value {
    let e = l.entry.as_ref();
    json!({
        "list_kind": l.list_kind.name(),
        "asset": l.asset,
        "ent_num": e.map(|e| e.ent_num),
        "name": e.map(|e| e.name.as_str()),
        "sdn_type": e.map(|e| e.sdn_type.as_str()),
        "programs": e.map_or(vec![], |e| e.programs.clone()),
        "aliases": e.map_or(vec![], |e| e.aliases.iter().map(|a| a.name.clone()).collect::<Vec<_>>()),
        "listed_on": l.listed_on.to_string(),
        "delisted_on": l.delisted_on.map(|d| d.to_string()),
        "last_list_date": l.last_list_date.to_string(),
        "active": l.active_at(at),
    })
}

fn result_json(sc: &Screening, at: Option<Date>) -> Value {
    json!({
        "query": sc.query,
        "address": sc.address.as_ref().map(|n| n.address.as_str()),
        "format": sc.address.as_ref().map(|n| n.format.name()),
        "status": sc.status.name(),
        // null, not false, for an invalid address: it was not screened.
        "sanctioned": match sc.status { Status::Invalid(_) => Value::Null, ref s => Value::Bool(*s == Status::Sanctioned) },
        "reason": match &sc.status { Status::Invalid(why) => Some(why.as_str()), _ => None },
        "listings": sc.listings.iter().map(|l| listing_json(l, at)).collect::<Vec<_>>(),
    })
}

fn result_line(sc: &Screening, at: Option<Date>) -> String {
    let address = sc.address.as_ref().map_or(sc.query.as_str(), |n| n.address.as_str());
    let describe = |l: &Listing| {
        let who = l.entry.as_ref().map_or("(address list, no entry)".to_string(), |e| {
            format!("{} ({}, ent_num {}) [{}]", e.name, e.sdn_type, e.ent_num, e.programs.join(", "))
        });
        let until = l.delisted_on.map_or(String::new(), |d| format!(" until {d}"));
        format!("{} {who} listed {}{until} ({})", l.asset, l.listed_on, l.list_kind.name())
    };
    match &sc.status {
        Status::Invalid(why) => format!("INVALID         {address}  {why}"),
        Status::Sanctioned => {
            let active: Vec<String> = sc.listings.iter().filter(|l| l.active_at(at)).map(describe).collect();
            format!("SANCTIONED      {address}  {}", active.join("; "))
        }
        Status::NotSanctioned if sc.listings.is_empty() => format!("not sanctioned  {address}"),
        Status::NotSanctioned => {
            let history: Vec<String> = sc.listings.iter().map(describe).collect();
            let when = if at.is_some() { "not listed on that date" } else { "delisted" };
            format!("not sanctioned  {address}  ({when}; history: {})", history.join("; "))
        }
    }
}
