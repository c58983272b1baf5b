//! Simulated worlds: deterministic, valid by the ledger store's own checks, and with ground
//! truth that agrees with the chain to the satoshi.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use fundtrace_bitcoin::blkfile::BlockFiles;
use fundtrace_bitcoin::chain::meets_target;
use fundtrace_bitcoin::encode::block_bytes;
use fundtrace_bitcoin::{AddressKey, Block, Network};
use fundtrace_core::{Hash32, InputId, OutputId, ScriptType};
use fundtrace_sim::{simulate, Config};
use fundtrace_store::ingest::{ingest_btc, IngestOptions};
use fundtrace_store::Ledger;
use serde_json::Value;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ft-sim-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["blocks", "truth"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let e = e.unwrap();
            out.insert(format!("{sub}/{}", e.file_name().to_string_lossy()), std::fs::read(e.path()).unwrap());
        }
    }
    out
}

fn jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let mut cfg = Config::new(7, 15_000);
    cfg.xor = true;
    let (a, b, c) = (tmp("det-a"), tmp("det-b"), tmp("det-c"));
    simulate(&cfg, &a, &mut |_| {}).unwrap();
    simulate(&cfg, &b, &mut |_| {}).unwrap();
    cfg.seed = 8;
    simulate(&cfg, &c, &mut |_| {}).unwrap();
    let (fa, fb, fc) = (files_of(&a), files_of(&b), files_of(&c));
    assert!(fa.contains_key("blocks/xor.dat") && fa.contains_key("truth/incidents.jsonl"));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(fb[name] == *bytes, "{name} differs between two runs with the same seed");
    }
    assert!(fc["blocks/blk00000.dat"] != fa["blocks/blk00000.dat"]);
    for d in [a, b, c] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

/// The Whirlpool, Wasabi 2 and JoinMarket rules of methods.md §3.2, written out here from the
/// spec (not shared with the simulator) as the oracle.
mod rules {
    pub fn standard_denominations() -> std::collections::BTreeSet<u64> {
        let mut s = std::collections::BTreeSet::new();
        let mut p = 1u64;
        while p <= 134_375_000_000 {
            s.insert(p);
            p *= 2;
        }
        let mut p = 1u64;
        while p <= 134_375_000_000 {
            s.insert(p);
            s.insert(2 * p);
            p *= 3;
        }
        let mut p = 1u64;
        while p <= 134_375_000_000 {
            s.extend([p, 2 * p, 5 * p]);
            p *= 10;
        }
        s.retain(|&x| (5_000..=134_375_000_000).contains(&x));
        s
    }
}

struct TxView {
    inputs: Vec<(u64, ScriptType, Option<u32>)>,
    outputs: Vec<(u64, ScriptType, Option<u32>)>,
}

fn view(l: &Ledger, txid: &str) -> TxView {
    let t = l.find_tx(&Hash32::from_display_hex(txid).unwrap()).unwrap_or_else(|| panic!("{txid} not on chain"));
    let tx = l.tx(t);
    let out = |o: OutputId| {
        let r = l.output(o);
        (r.value, r.script_type, r.address.map(|a| a.0))
    };
    TxView {
        inputs: tx.inputs.clone().map(|i| out(l.input_spent(InputId(i)).unwrap())).collect(),
        outputs: tx.outputs.clone().map(|o| out(OutputId(o))).collect(),
    }
}

fn check_whirlpool_mix(t: &TxView) {
    let p = t.outputs[0].0;
    assert!([100_000, 1_000_000, 5_000_000, 50_000_000].contains(&p));
    assert!((5..=10).contains(&t.inputs.len()) && t.inputs.len() == t.outputs.len());
    assert!(t.inputs.iter().chain(&t.outputs).all(|x| x.1 == ScriptType::P2wpkh));
    assert!(t.outputs.iter().all(|o| o.0 == p));
    assert!(t.inputs.iter().any(|i| i.0 == p));
    assert!(t.inputs.iter().all(|i| i.0 >= p && i.0 <= p + 110_000));
}

fn check_wasabi2(t: &TxView, denoms: &std::collections::BTreeSet<u64>) {
    assert!(t.inputs.len() >= 50);
    assert!(t.inputs.iter().all(|i| matches!(i.1, ScriptType::P2wpkh | ScriptType::P2tr)));
    assert!(t.inputs.windows(2).all(|w| w[0].0 >= w[1].0), "inputs sorted descending");
    assert!(t.outputs.windows(2).all(|w| w[0].0 >= w[1].0), "outputs sorted descending");
    let standard = t.outputs.iter().filter(|o| denoms.contains(&o.0)).count();
    assert!(standard * 10 > t.outputs.len() * 8, "more than 80% standard denominations");
}

fn check_joinmarket(t: &TxView) {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for o in &t.outputs {
        *counts.entry(o.0).or_default() += 1;
    }
    let groups: Vec<(u64, usize)> = counts.iter().filter(|(_, &c)| c >= 2).map(|(&v, &c)| (v, c)).collect();
    assert_eq!(groups.len(), 1, "exactly one equal-value group");
    let (v, n) = groups[0];
    let others: Vec<u64> = t.outputs.iter().map(|o| o.0).filter(|&x| x != v).collect();
    assert_eq!(others.len(), n, "one change output per participant");
    let distinct = |xs: &[(u64, ScriptType, Option<u32>)]| xs.iter().map(|x| x.2).collect::<std::collections::HashSet<_>>().len();
    assert!(distinct(&t.outputs) >= n && distinct(&t.inputs) >= n);
    let max_in = t.inputs.iter().map(|i| i.0).max().unwrap();
    assert!(max_in + 10_000 <= v + others.iter().max().unwrap());
    // BlockSci's isCoinjoin holds as well.
    let participants = t.outputs.len().div_ceil(2);
    assert!(t.inputs.len() >= 2 && t.outputs.len() >= 3 && participants <= t.inputs.len() && n == participants);
}

#[test]
fn small_world_is_valid_and_its_ground_truth_matches_the_chain() {
    let mut cfg = Config::new(3, 80_000);
    cfg.incidents = Some(2);
    let out = tmp("world");
    let summary = simulate(&cfg, &out, &mut |_| {}).unwrap();
    assert!(summary.transactions >= 80_000);

    // Every block: decodes, re-serializes, proof of work on regtest, BIP34 height.
    let files = BlockFiles::open_dir(&out.join("blocks")).unwrap();
    let (network, scanned, warnings) = files.scan().unwrap();
    assert_eq!(network, Network::Regtest);
    assert!(warnings.is_empty());
    assert_eq!(scanned.len() as u64, summary.blocks);
    for (h, b) in scanned.iter().enumerate() {
        assert!(meets_target(&b.hash, b.header.bits), "height {h}");
        let raw = files.block(b.location);
        let block = Block::decode(&raw).unwrap();
        assert_eq!(block_bytes(&block), raw.as_ref());
        if h > 0 {
            assert_eq!(block.bip34_height(), Some(h as u32));
        }
    }

    // The store's own checks: merkle roots, witness commitments, every input resolves to an
    // unspent output, no value created, coinbase within subsidy + fees.
    let store = out.join("store");
    let s = ingest_btc(&store, &files, &IngestOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(s.blocks_added, summary.blocks);
    let l = Ledger::open(&store).unwrap();
    assert_eq!(l.tx_count(), summary.transactions);

    // No satoshi created or lost: the UTXO set holds exactly the subsidies ever paid.
    let utxo_value: u64 = (0..l.output_count()).map(OutputId).filter(|&o| l.output_spent_by(o).is_none()).map(|o| l.output_value(o)).sum();
    let subsidies: u64 = (0..l.block_count()).map(|h| Network::Regtest.subsidy(h)).sum();
    assert_eq!(utxo_value, subsidies);

    // Every ground-truth address is on chain; the only address not in the truth is genesis'.
    let truth = out.join("truth");
    let addresses = jsonl(&truth.join("addresses.jsonl"));
    let mut owner: HashMap<u32, u64> = HashMap::new();
    for a in &addresses {
        let key = AddressKey::parse(a["address"].as_str().unwrap(), Network::Regtest).unwrap();
        let id = l.find_address(key.as_bytes()).unwrap_or_else(|| panic!("{} not on chain", a["address"]));
        assert!(owner.insert(id.0, a["entity"].as_u64().unwrap()).is_none(), "address listed twice");
    }
    assert_eq!(addresses.len() as u64 + 1, l.address_count());
    let entities = jsonl(&truth.join("entities.jsonl"));
    assert_eq!(entities.len() as u64, summary.entities);

    // Incidents: amounts add up, and agree with the chain.
    let incidents = jsonl(&truth.join("incidents.jsonl"));
    assert_eq!(incidents.len(), 2);
    for inc in &incidents {
        let n = |k: &str| inc[k].as_u64().unwrap();
        let endpoints: u64 = inc["endpoints"].as_array().unwrap().iter().map(|e| e["amount"].as_u64().unwrap()).sum();
        assert!(n("stolen_value") > 0, "incident {} stole nothing", inc["id"]);
        assert_eq!(n("stolen_value") + n("mixer_payouts"), endpoints + n("fees_paid") + n("unspent_at_end"));
        let theft = view(&l, inc["theft_txid"].as_str().unwrap());
        let victim = n("victim");
        assert!(theft.inputs.iter().all(|i| owner[&i.2.unwrap()] == victim), "theft spends the victim's coins");
        for so in inc["stolen_outputs"].as_array().unwrap() {
            let t = view(&l, so["txid"].as_str().unwrap());
            assert_eq!(t.outputs[so["vout"].as_u64().unwrap() as usize].0, so["value"].as_u64().unwrap());
        }
        for e in inc["endpoints"].as_array().unwrap() {
            let t = view(&l, e["txid"].as_str().unwrap());
            let o = &t.outputs[e["vout"].as_u64().unwrap() as usize];
            assert_eq!(o.0, e["amount"].as_u64().unwrap());
            assert_eq!(owner[&o.2.unwrap()], e["entity"].as_u64().unwrap(), "endpoint address belongs to its entity");
        }
        for t in inc["laundering_txs"].as_array().unwrap() {
            view(&l, t["txid"].as_str().unwrap());
        }
        let roles: std::collections::HashSet<&str> =
            inc["laundering_txs"].as_array().unwrap().iter().map(|t| t["role"].as_str().unwrap()).collect();
        for r in ["theft", "dispersion", "peel_step", "cash_out"] {
            assert!(roles.contains(r), "incident {} has no {r}", inc["id"]);
        }
        // What the thief still holds on chain is what the truth says it holds.
        let thief = n("thief");
        let held: u64 = owner
            .iter()
            .filter(|(_, &e)| e == thief)
            .flat_map(|(&a, _)| l.address_outputs(fundtrace_core::AddressId(a)).collect::<Vec<_>>())
            .filter(|&o| l.output_spent_by(o).is_none())
            .map(|o| l.output_value(o))
            .sum();
        assert_eq!(held, n("unspent_at_end"), "incident {}", inc["id"]);
    }

    // CoinJoin rounds satisfy the published detection rules.
    let denoms = rules::standard_denominations();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for cj in jsonl(&truth.join("coinjoins.jsonl")) {
        let kind = cj["kind"].as_str().unwrap().to_string();
        let t = view(&l, cj["txid"].as_str().unwrap());
        match kind.as_str() {
            "whirlpool_mix" => check_whirlpool_mix(&t),
            "wasabi2" => check_wasabi2(&t, &denoms),
            "joinmarket" => check_joinmarket(&t),
            "whirlpool_tx0" => assert!(t.outputs.iter().filter(|o| o.0 > 1_000_000 && o.0 <= 1_020_000 || o.0 == 1_000_000).count() >= 1),
            other => panic!("unknown coinjoin kind {other}"),
        }
        *kinds.entry(kind).or_default() += 1;
    }
    for k in ["whirlpool_tx0", "whirlpool_mix", "joinmarket", "wasabi2"] {
        assert!(kinds.get(k).copied().unwrap_or(0) > 0, "no {k} rounds: {kinds:?}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}
