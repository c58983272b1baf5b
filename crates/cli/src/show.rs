//! Read commands: `info`, `block`, `tx`, `address`. Each builds one JSON value (the stable
//! `--json` form) and prints either it or a human rendering of the same fields.

use std::path::Path;

use clap::Args;
use fundtrace_bitcoin::{AddressKey, AddressParseError, Header, Network};
use fundtrace_core::{AddressId, Hash32, InputId, OutputId, TxId};
use fundtrace_store::Ledger;
use serde_json::{json, Value};

use crate::{usage, Failure};

#[derive(Args)]
pub struct JsonFlag {
    /// Print JSON (stable field names, amounts in satoshi)
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct BlockArgs {
    /// Block height or block hash
    pub block: String,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Args)]
pub struct TxArgs {
    /// Transaction id (64 hex digits)
    pub txid: String,
    #[command(flatten)]
    pub out: JsonFlag,
}

#[derive(Args)]
pub struct AddressArgs {
    /// Address (base58check or bech32/bech32m of the store's network)
    pub address: String,
    /// List the address's transactions in chain order
    #[arg(long)]
    pub txs: bool,
    #[command(flatten)]
    pub out: JsonFlag,
}

pub fn open(data_dir: &Path) -> Result<(Ledger, Network), Failure> {
    let ledger = Ledger::open(&crate::btc_store(data_dir))?;
    let network = Network::from_name(&ledger.manifest.network)
        .ok_or_else(|| Failure::from(format!("unknown network {:?} in manifest", ledger.manifest.network)))?;
    Ok((ledger, network))
}

/// Prints `v` as JSON, or as `key: value` lines with nested arrays as indented tables.
pub fn print(v: &Value, json: bool) {
    if json {
        say!("{}", serde_json::to_string_pretty(v).expect("json"));
        return;
    }
    fn scalar(v: &Value) -> String {
        match v {
            Value::Null => "-".into(),
            Value::String(s) => s.clone(),
            Value::Object(o) => o.iter().map(|(k, v)| format!("{k}={}", scalar(v))).collect::<Vec<_>>().join(" "),
            other => other.to_string(),
        }
    }
    let Value::Object(map) = v else { return say!("{}", scalar(v)) };
    let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
    for (k, v) in map {
        match v {
            Value::Array(rows) => {
                say!("{k}:");
                for row in rows {
                    say!("  {}", scalar(row));
                }
            }
            _ => say!("{k:width$}  {}", scalar(v)),
        }
    }
}

#[derive(Args)]
pub struct InfoArgs {
    /// Also compute the SHA-256 of all committed store content (reads the whole store)
    #[arg(long)]
    pub digest: bool,
    #[command(flatten)]
    pub out: JsonFlag,
}

pub fn info(data_dir: &Path, a: InfoArgs) -> Result<(), Failure> {
    let (l, _) = open(data_dir)?;
    let m = &l.manifest;
    let store_bytes: u64 = std::fs::read_dir(&l.dir)
        .map(|d| d.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0);
    let tip = m.height().map(|h| Hash32(l.block(h).unwrap().hash).to_string());
    let mut v = json!({
        "chain": m.chain,
        "network": m.network,
        "height": m.height(),
        "tip": tip,
        "blocks": m.blocks,
        "transactions": m.txs,
        "inputs": m.inputs,
        "outputs": m.outputs,
        "addresses": m.addresses,
        "stale_blocks_skipped": m.stale_blocks_skipped,
        "orphan_blocks_skipped": m.orphan_blocks_skipped,
        "store_bytes": store_bytes,
        "format_version": m.format_version,
        "data_dir": l.dir.parent().unwrap_or(&l.dir).display().to_string(),
    });
    if a.digest {
        v["content_sha256"] = Value::String(fundtrace_core::hex_encode(&l.content_digest().0));
    }
    print(&v, a.out.json);
    Ok(())
}

pub fn block(data_dir: &Path, a: BlockArgs) -> Result<(), Failure> {
    let (l, _) = open(data_dir)?;
    let height = if a.block.len() == 64 {
        let hash = Hash32::from_display_hex(&a.block).ok_or_else(|| usage(format!("malformed block hash {:?}", a.block)))?;
        l.block_height(&hash).ok_or_else(|| Failure::from(format!("unknown block {hash}")))?
    } else {
        let h: u64 = a.block.parse().map_err(|_| usage(format!("{:?} is neither a height nor a 64-hex-digit block hash", a.block)))?;
        if h >= l.block_count() {
            return Err(Failure::from(format!("no block at height {h} (tip is {:?})", l.manifest.height())));
        }
        h
    };
    let b = l.block(height).unwrap();
    let hdr = Header::decode(&b.header);
    let txs = l.block_txs(height);
    let v = json!({
        "height": height,
        "hash": Hash32(b.hash).to_string(),
        "prev_hash": hdr.prev_blockhash.to_string(),
        "next_hash": l.block(height + 1).map(|n| Hash32(n.hash).to_string()),
        "merkle_root": hdr.merkle_root.to_string(),
        "version": hdr.version,
        "time": hdr.time,
        "bits": format!("{:08x}", hdr.bits),
        "nonce": hdr.nonce,
        "size": b.size,
        "weight": b.weight,
        "tx_count": txs.end - txs.start,
    });
    print(&v, a.out.json);
    Ok(())
}

fn address_string(l: &Ledger, network: Network, a: Option<AddressId>) -> Value {
    match a.and_then(|a| AddressKey::from_bytes(l.address_key(a))) {
        Some(k) => Value::String(k.encode(network)),
        None => Value::Null,
    }
}

/// An address id as its string on `network` (`#id` for a key that is not an address).
pub fn address_str(l: &Ledger, network: Network, a: u32) -> String {
    AddressKey::from_bytes(l.address_key(AddressId(a))).map_or_else(|| format!("#{a}"), |k| k.encode(network))
}

/// A txid argument; a malformed one is a usage error.
pub fn txid_arg(s: &str) -> Result<Hash32, Failure> {
    Hash32::from_display_hex(s).ok_or_else(|| usage(format!("malformed txid {s:?}: expected 64 hex digits")))
}

/// The stored transaction with this txid; a well-formed txid not in the store is a failure.
pub fn find_tx(l: &Ledger, txid: &Hash32) -> Result<TxId, Failure> {
    l.find_tx(txid).ok_or_else(|| Failure::from(format!("unknown transaction {txid} (not in the store)")))
}

/// The stored address of a valid address key; one that never appears is a failure.
pub fn find_address(l: &Ledger, network: Network, key: &AddressKey) -> Result<AddressId, Failure> {
    l.find_address(key.as_bytes())
        .ok_or_else(|| Failure::from(format!("address {} is valid but never appears in the store", key.encode(network))))
}

/// An address argument resolved to its id (malformed: usage error; unknown: failure).
pub fn address_id(l: &Ledger, network: Network, s: &str) -> Result<u32, Failure> {
    find_address(l, network, &parse_address(s, network)?).map(|a| a.0)
}

pub fn tx(data_dir: &Path, a: TxArgs) -> Result<(), Failure> {
    let txid = txid_arg(&a.txid)?;
    let (l, network) = open(data_dir)?;
    let id = find_tx(&l, &txid)?;
    let t = l.tx(id);
    let height = l.tx_height(id);
    let header = Header::decode(&l.block(height).unwrap().header);
    let coinbase = t.is_coinbase(&l);
    let mut in_sum = 0u64;
    let inputs: Vec<Value> = (t.inputs.clone())
        .map(|i| {
            let input = InputId(i);
            match l.input_spent(input) {
                None => json!({
                    "prev_txid": Hash32::default().to_string(), "prev_vout": u32::MAX,
                    "address": null, "value": null, "sequence": l.input_sequence(input),
                }),
                Some(o) => {
                    let prev_tx = l.tx_of_output(o);
                    let out = l.output(o);
                    in_sum += out.value;
                    json!({
                        "prev_txid": l.txid(prev_tx).to_string(),
                        "prev_vout": o.0 - l.outputs_of(prev_tx).start,
                        "address": address_string(&l, network, out.address),
                        "script_type": out.script_type.name(),
                        "value": out.value,
                        "sequence": l.input_sequence(input),
                    })
                }
            }
        })
        .collect();
    let mut out_sum = 0u64;
    let outputs: Vec<Value> = (t.outputs.clone())
        .map(|o| {
            let out = l.output(OutputId(o));
            out_sum += out.value;
            let spent_by = out.spent_by.map(|i| {
                let spender = l.tx_of_input(i);
                json!({"txid": l.txid(spender).to_string(), "input": i.0 - l.inputs_of(spender).start})
            });
            json!({
                "n": o - t.outputs.start,
                "script_type": out.script_type.name(),
                "address": address_string(&l, network, out.address),
                "value": out.value,
                "spent_by": spent_by,
            })
        })
        .collect();
    let mut v = json!({
        "txid": t.txid.to_string(),
        "wtxid": t.wtxid.to_string(),
        "block_height": height,
        "block_hash": Hash32(l.block(height).unwrap().hash).to_string(),
        "block_time": header.time,
        "coinbase": coinbase,
        "version": t.version,
        "locktime": t.locktime,
        "size": t.size,
        "vsize": t.weight.div_ceil(4),
        "weight": t.weight,
        "input_value": in_sum,
        "output_value": out_sum,
        "fee": if coinbase { 0 } else { in_sum - out_sum },
        "inputs": inputs,
        "outputs": outputs,
    });
    heuristics_of_tx(&l, id, &mut v, data_dir)?;
    print(&v, a.out.json);
    Ok(())
}

/// Adds what the analysis says of a transaction: CoinJoin detectors that fire (and the one
/// clustering acts on), whether it is a peeling-chain step, the change heuristics naming each
/// output, and the cluster of every address when clusters exist.
fn heuristics_of_tx(l: &Ledger, id: TxId, v: &mut Value, data_dir: &Path) -> Result<(), Failure> {
    use fundtrace_analysis::{change, cluster, coinjoin, TxView};
    let view = TxView::of(l, id.0);
    let rules = cluster::build::rules_for(l);
    let clustering_verdict = coinjoin::multi_party(&view, &rules);
    v["coinjoin"] = json!({
        "kind": clustering_verdict.map(|k| k.name()),
        "detectors": coinjoin::detect_all(&view, &rules).iter().map(|k| k.name()).collect::<Vec<_>>(),
    });
    v["peeling_chain"] = json!(change::is_peeling_chain(&l.columns(), view.tx));
    let ctx = change::Context::for_tx(l, &view, clustering_verdict.is_some());
    let sets: Vec<(change::Heuristic, change::OutSet)> =
        change::Heuristic::ALL.iter().map(|&h| (h, change::candidates(h, &view, &ctx))).collect();
    let named: Vec<Vec<&str>> =
        (0..view.outputs.len()).map(|i| sets.iter().filter(|(_, s)| s.contains(i)).map(|(h, _)| h.name()).collect()).collect();
    // Heuristics that single out one output as the change, with their measured confidence.
    v["change"] = sets
        .iter()
        .filter_map(|(h, s)| s.single().map(|o| (h.name().to_string(), json!({"output": o, "confidence": h.confidence()}))))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let clusters = cluster::Clusters::open(&crate::btc_clusters(data_dir))?;
    let cluster_of = |a: Option<u32>| clusters.as_ref().and_then(|c| a.and_then(|a| c.cluster_of(a)));
    if let Some(outputs) = v["outputs"].as_array_mut() {
        for (i, o) in outputs.iter_mut().enumerate() {
            o["change_heuristics"] = json!(named[i]);
            o["cluster"] = json!(cluster_of(view.outputs[i].address));
        }
    }
    if let Some(inputs) = v["inputs"].as_array_mut() {
        if !view.coinbase {
            for (i, input) in inputs.iter_mut().enumerate() {
                input["cluster"] = json!(cluster_of(view.inputs[i].address));
            }
        }
    }
    Ok(())
}

/// An address argument of the store's network; malformed or foreign ones are usage errors.
pub fn parse_address(s: &str, network: Network) -> Result<AddressKey, Failure> {
    AddressKey::parse(s.trim(), network).map_err(|e| match e {
        AddressParseError::WrongNetwork => usage(format!("{s}: {e} (the store is {network})")),
        AddressParseError::Invalid(_) => usage(format!("{s}: {e}")),
    })
}

pub fn address(data_dir: &Path, a: AddressArgs) -> Result<(), Failure> {
    let (l, network) = open(data_dir)?;
    let key = parse_address(&a.address, network)?;
    let canonical = key.encode(network);
    let id = find_address(&l, network, &key)?;
    // Per transaction: (received, sent), keyed by tx id so the list comes out in chain order.
    let mut per_tx: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
    let (mut received, mut sent, mut outputs) = (0u64, 0u64, 0u64);
    for o in l.address_outputs(id) {
        let out = l.output(o);
        outputs += 1;
        received += out.value;
        per_tx.entry(l.tx_of_output(o).0).or_default().0 += out.value;
        if let Some(i) = out.spent_by {
            sent += out.value;
            per_tx.entry(l.tx_of_input(i).0).or_default().1 += out.value;
        }
    }
    let height_of = |tx: &u64| l.tx_height(TxId(*tx));
    let mut v = json!({
        "address": canonical,
        "script_type": key.kind().name(),
        "received": received,
        "sent": sent,
        "balance": received - sent,
        "tx_count": per_tx.len(),
        "output_count": outputs,
        "first_seen_height": per_tx.keys().next().map(height_of),
        "last_seen_height": per_tx.keys().next_back().map(height_of),
        "pubkey": l.pubkey(id).map(fundtrace_core::hex_encode),
    });
    if let Some(c) = fundtrace_analysis::cluster::Clusters::open(&crate::btc_clusters(data_dir))? {
        let cluster = c.cluster_of(id.0);
        v["cluster"] = json!(cluster);
        v["cluster_size"] = json!(cluster.map(|k| c.size(k)));
    }
    if a.txs {
        v["txs"] = per_tx
            .iter()
            .map(|(&tx, &(r, s))| {
                json!({
                    "txid": l.txid(TxId(tx)).to_string(),
                    "block_height": l.tx_height(TxId(tx)),
                    "received": r,
                    "sent": s,
                    "delta": r as i64 - s as i64,
                })
            })
            .collect();
    }
    print(&v, a.out.json);
    Ok(())
}
