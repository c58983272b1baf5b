//! `fundtrace tags import|show|actor`: GraphSense TagPacks and ActorPacks in the intel database.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand};
use fundtrace_intel::tagpack::{self, Taxonomy};
use fundtrace_intel::Intel;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::show::{print, JsonFlag};
use crate::{usage, Failure};

#[derive(Subcommand)]
pub enum TagsCommand {
    /// Import TagPacks and ActorPacks: YAML files, folders (recursively) or .tar.xz archives
    Import(ImportArgs),
    /// Tags on an address, with their provenance, the best label and conflicts
    Show(ShowArgs),
    /// An actor of the imported ActorPacks
    Actor(ActorArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    /// Pack files, folders or archives
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Folder with a newer graphsense-tagpack-tool taxonomy (concepts.yaml, confidence.csv,
    /// countries.csv, tag_types.csv) instead of the built-in one
    #[arg(long)]
    taxonomy: Option<PathBuf>,
    /// Warnings to print (all are counted)
    #[arg(long, default_value_t = 20)]
    max_warnings: usize,
    #[command(flatten)]
    out: JsonFlag,
}

#[derive(Args)]
pub struct ShowArgs {
    /// Address (any case for Ethereum, base58 or bech32 for Bitcoin)
    address: String,
    /// Only tags of this currency (btc, eth, ...)
    #[arg(long)]
    currency: Option<String>,
    #[command(flatten)]
    out: JsonFlag,
}

#[derive(Args)]
pub struct ActorArgs {
    /// Actor id, e.g. lazarusgroup
    id: String,
    #[command(flatten)]
    out: JsonFlag,
}

pub fn run(data_dir: &Path, cmd: TagsCommand) -> Result<(), Failure> {
    match cmd {
        TagsCommand::Import(a) => import(data_dir, a),
        TagsCommand::Show(a) => show(data_dir, a),
        TagsCommand::Actor(a) => actor(data_dir, a),
    }
}

fn import(data_dir: &Path, a: ImportArgs) -> Result<(), Failure> {
    let taxonomy = match &a.taxonomy {
        Some(dir) if !dir.is_dir() => return Err(usage(format!("--taxonomy {}: not a folder", dir.display()))),
        Some(dir) => Taxonomy::from_dir(dir)?,
        None => Taxonomy::builtin().clone(),
    };
    let mut intel = Intel::open(data_dir)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {msg}")
            .expect("valid template"),
    );
    let start = Instant::now();
    let summary = tagpack::import(&mut intel, &a.paths, &taxonomy, &mut |p| {
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        bar.set_message(format!("{}/{} files, {} tags, {} actors", p.files_done, p.files_total, p.tags, p.actors));
    });
    bar.finish_and_clear();
    let s = summary?;
    let warnings: Vec<Value> = s.warnings.iter().take(a.max_warnings).map(|w| Value::String(w.to_string())).collect();
    let v = json!({
        "files": s.files,
        "packs_added": s.packs_added,
        "packs_replaced": s.packs_replaced,
        "packs_unchanged": s.packs_unchanged,
        "tags_written": s.tags_written,
        "actors_written": s.actors_written,
        "tags_total": s.tags_total,
        "actors_total": s.actors_total,
        "seconds": (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "warning_count": s.warnings.len(),
        "warnings": warnings,
        "database": intel.path.display().to_string(),
    });
    print(&v, a.out.json);
    Ok(())
}

fn show(data_dir: &Path, a: ShowArgs) -> Result<(), Failure> {
    let intel = Intel::open(data_dir)?;
    let stored = intel.tags_of(&a.address, a.currency.as_deref())?;
    let refs: Vec<tagpack::TagRef> = stored.iter().map(|s| tagpack::TagRef::of(&s.tag, s.pack.id)).collect();
    let tags: Vec<Value> = stored
        .iter()
        .map(|s| {
            let t = &s.tag;
            json!({
                "label": t.label,
                "actor": t.actor,
                "category": t.category,
                "abuse": t.abuse,
                "confidence": t.confidence.level,
                "confidence_score": t.confidence.score,
                "currency": t.currency,
                "network": t.network,
                "source": t.source,
                "lastmod": t.lastmod,
                "is_cluster_definer": t.is_cluster_definer,
                "concepts": t.concepts,
                "tag_type": t.tag_type,
                "context": t.context,
                "pack": pack_json(&s.pack, t.line),
            })
        })
        .collect();
    let v = json!({
        "address": stored.first().and_then(|s| s.tag.address.clone()).unwrap_or_else(|| a.address.trim().to_string()),
        "best_label": tagpack::best_label(&refs, Taxonomy::builtin()),
        "conflicts": tagpack::conflicts(&refs),
        "tags": tags.clone(),
    });
    // No tags is an answer (the address is not attributed), not a failure.
    if a.out.json {
        print(&v, true);
    } else {
        // One short row per tag; the JSON form carries the full provenance.
        let mut human = v.clone();
        human["tags"] = tags
            .iter()
            .map(|t| {
                let mut row = serde_json::Map::new();
                for k in ["label", "actor", "category", "abuse"] {
                    row.insert(k.into(), t[k].clone());
                }
                row.insert("confidence".into(), json!(format!("{} ({})", t["confidence"].as_str().unwrap_or("-"), t["confidence_score"])));
                row.insert("currency".into(), t["currency"].clone());
                row.insert("pack".into(), json!(format!("{}:{}", t["pack"]["uri"].as_str().unwrap_or("-"), t["pack"]["line"])));
                Value::Object(row)
            })
            .collect();
        print(&human, false);
    }
    Ok(())
}

fn actor(data_dir: &Path, a: ActorArgs) -> Result<(), Failure> {
    let intel = Intel::open(data_dir)?;
    let Some(s) = intel.actor(&a.id)? else {
        return Err(Failure::from(format!("no actor `{}` in the imported ActorPacks", a.id)));
    };
    let x = &s.actor;
    let v = json!({
        "id": x.id,
        "label": x.label,
        "uri": x.uri,
        "categories": x.categories,
        "jurisdictions": x.jurisdictions,
        "aliases": x.aliases,
        "lastmod": x.lastmod,
        "context": x.context,
        "tags": intel.actor_tag_count(&x.id)?,
        "pack": pack_json(&s.pack, x.line),
    });
    print(&v, a.out.json);
    Ok(())
}

/// Where a tag or actor came from: its pack and the line of its entry.
fn pack_json(p: &tagpack::PackInfo, line: u64) -> Value {
    json!({ "uri": p.uri, "line": line, "title": p.title, "creator": p.creator, "sha256": p.sha256, "file": p.file })
}
