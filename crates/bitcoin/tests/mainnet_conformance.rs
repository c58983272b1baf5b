//! Conformance against real mainnet data in ../shared/data/btc-mainnet-blocks (PROVENANCE.md
//! there lists every file). Expected values come from outside this code: block hashes
//! published in other implementations' tests (bitcoinj BlockTest.java, bcoin, conduit-db,
//! rust-bitcoin, btcd file names), each block's own merkle root and witness commitment, its
//! proof of work, and three independent copies of the early chain that must agree.

use std::io::Read;
use std::path::{Path, PathBuf};

use fundtrace_bitcoin::blkfile::BlockFiles;
use fundtrace_bitcoin::chain::{best_chain, meets_target, Anchor};
use fundtrace_bitcoin::decode::decode_transaction;
use fundtrace_bitcoin::encode::{block_bytes, write_tx};
use fundtrace_bitcoin::merkle::{check_block, witness_commitment};
use fundtrace_bitcoin::script::classify;
use fundtrace_bitcoin::{Block, Network};
use fundtrace_core::{BlockHash, Hash32};

fn data() -> Option<PathBuf> {
    fundtrace_core::testdata::dir("bitcoin mainnet conformance").map(|d| d.join("btc-mainnet-blocks"))
}

fn bunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    bzip2::read::BzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut out).unwrap();
    out
}

fn hash(s: &str) -> BlockHash {
    Hash32::from_display_hex(s).unwrap()
}

/// (file, height, transactions, published hash if one was found)
const RAW_BLOCKS: &[(&str, u32, usize, Option<&str>)] = &[
    ("bcoin/block1.raw", 1, 1, Some("00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048")),
    ("bitcoinj/block169482.dat", 169482, 0, Some("0000000000000756935f1ee9d5987857b604046f846d3df56d024cdb5f368665")),
    ("bitcoinj/block227835.dat", 227835, 0, Some("00000000000001aa077d7aa84c532a4d69bdbff519609d1da0835261b7a74eb6")),
    ("bitcoinj/block227836.dat", 227836, 0, Some("00000000000000d0dfd4c9d588d325dce4f32c1b31b7c0064cba7025a9b9adcc")),
    ("bcoin/block300025.raw", 300025, 461, Some("0000000000000000821c4e0acc40f88bedbce3b73ba2358b5ade58a9022cc78c")),
    ("bitcoinj/block363703.dat", 363703, 587, Some("0000000000000000011b2a4cb91b63886ffe0d2263fd17ac5a9b902a219e0a14")),
    ("bitcoinj/block370661.dat", 370661, 708, Some("00000000000000001416a613602d73bbe5c79170fd8f39d509896b829cf9021e")),
    ("bitcoinj/block383616.dat", 383616, 1731, Some("00000000000000000aab6a2b34e979b09ca185584bd1aecf204f24d150ff55e9")),
    ("conduit-db/block400000.raw", 400000, 1660, Some("000000000000000004ec466ce4732fe6f1ed1cddc2ed4b328fff5224276e3f6f")),
    ("conduit-db/block413567.raw", 413567, 1557, Some("0000000000000000025aff8be8a55df8f89c77296db6198f272d6577325d4069")),
    ("bcoin/block426884.raw", 426884, 409, None),
    ("bitcoinj/block481815.dat", 481815, 2097, None),
    ("bitcoinj/block481829.dat", 481829, 2020, None),
    ("bcoin/block482683.raw", 482683, 12, None),
    (
        "btcd/block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk",
        540107,
        230,
        Some("00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab"),
    ),
    (
        "btcd/block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk",
        574200,
        3315,
        Some("0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2"),
    ),
    (
        "rust-bitcoin/mainnet_block_000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae.raw",
        702861,
        2500,
        Some("000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae"),
    ),
];

/// Every check a single block must pass; returns whether it carried witness data.
fn check_raw_block(raw: &[u8], name: &str, height: u32, n_txs: usize, known: Option<&str>) -> bool {
    let block = Block::decode(raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    if let Some(h) = known {
        assert_eq!(block.hash, hash(h), "{name}: block hash");
    }
    assert!(meets_target(&block.hash, block.header.bits), "{name}: hash above its target");
    if n_txs > 0 {
        assert_eq!(block.txs.txs.len(), n_txs, "{name}: tx count");
    }
    check_block(&block).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(block_bytes(&block), raw, "{name}: re-serialization differs");
    // BIP34 heights are in coinbases from block 227836 on (version 2 blocks); not before.
    if height >= 227836 {
        assert_eq!(block.bip34_height(), Some(height), "{name}: BIP34 height");
    } else if height > 1 {
        assert_ne!(block.bip34_height(), Some(height), "{name}: pre-BIP34 block claims its height");
    }
    let segwit = block.txs.txs.iter().any(|t| t.segwit);
    if segwit {
        assert!(witness_commitment(&block).is_some(), "{name}: segwit without commitment");
        assert!(block.txs.txs.iter().any(|t| t.segwit && t.txid != t.wtxid));
    } else {
        assert!(block.txs.txs.iter().all(|t| t.txid == t.wtxid));
    }
    segwit
}

#[test]
fn every_raw_block_hashes_merkles_and_round_trips() {
    let Some(d) = data() else { return };
    let mut segwit_blocks = 0;
    for &(file, height, n, known) in RAW_BLOCKS {
        let raw = std::fs::read(d.join(file)).unwrap();
        segwit_blocks += check_raw_block(&raw, file, height, n, known) as usize;
    }
    // 481829, 482683, 540107, 574200 and 702861 carry witnesses (481815 is before activation).
    assert_eq!(segwit_blocks, 5);

    // 277647 comes framed and bzip2-compressed.
    let framed = bunzip(&d.join("btcd/277647.dat.bz2"));
    assert_eq!(framed[..4], Network::Main.magic());
    let size = u32::from_le_bytes(framed[4..8].try_into().unwrap()) as usize;
    assert_eq!(framed.len(), 8 + size);
    check_raw_block(&framed[8..], "btcd/277647.dat.bz2", 277647, 213, None);
}

#[test]
fn the_one_megabyte_transaction() {
    let Some(d) = data() else { return };
    let raw = bunzip(&d.join("btcd/megatx.bin.bz2"));
    assert_eq!(raw.len(), 999_657);
    let t = decode_transaction(&raw).unwrap();
    let tx = &t.txs[0];
    assert_eq!(tx.txid.to_string(), "bb41a757f405890fb0f5856228e23b715702d714d59bf2b1feb70d8b2b4e3e08");
    let mut out = Vec::new();
    write_tx(&mut out, &t, tx);
    assert_eq!(out, raw);
}

fn chain_hashes(files: &BlockFiles) -> Vec<BlockHash> {
    let (network, scanned, warnings) = files.scan().unwrap();
    assert_eq!(network, Network::Main);
    assert!(warnings.is_empty(), "{warnings:?}");
    let chain = best_chain(&scanned, Anchor::Genesis(Network::Main.genesis_hash()), |_| false);
    assert_eq!((chain.stale, chain.orphans), (0, 0));
    chain.path.iter().map(|&i| scanned[i].hash).collect()
}

#[test]
fn first_600_blocks_form_the_mainnet_chain_and_agree_with_other_copies() {
    let Some(d) = data() else { return };
    let nbitcoin = BlockFiles::open_dir(&d.join("nbitcoin")).unwrap();
    let hashes = chain_hashes(&nbitcoin);
    assert_eq!(hashes.len(), 600, "heights 0..=599");
    assert_eq!(hashes[0], Network::Main.genesis_hash());
    assert_eq!(hashes[1], hash("00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048"));
    assert_eq!(hashes[100], hash("000000007bc154e0fa7ea32218a72fe2c1bb9f86cf8c9ebf9a715ed27fdb229a"));
    let (_, scanned, _) = nbitcoin.scan().unwrap();
    for (h, b) in scanned.iter().enumerate() {
        assert!(meets_target(&b.hash, b.header.bits), "height {h}");
        let raw = nbitcoin.block(b.location);
        let block = Block::decode(&raw).unwrap();
        check_block(&block).unwrap_or_else(|e| panic!("height {h}: {e}"));
        assert_eq!(block_bytes(&block), raw.as_ref(), "height {h}: re-serialization");
        if h == 0 {
            let genesis_out = block.txs.outputs[0].script_pubkey;
            let addr = classify(genesis_out).address.unwrap().encode(Network::Main);
            assert_eq!(addr, "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa");
        }
    }

    // btcd's headers of heights 1-11, hashed here, must be those blocks.
    let headers = std::fs::read_to_string(d.join("btcd/blockheaders-mainnet-1-11.txt")).unwrap();
    for (i, line) in headers.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let bytes = fundtrace_core::hex_decode(line.trim()).unwrap();
        assert_eq!(fundtrace_bitcoin::hash::sha256d(&bytes), hashes[i + 1], "height {}", i + 1);
    }

    // bitcoinj's copy of Core's blk00000.dat (heights 0-438) and btcd's blocks 1-255.
    let bitcoinj = BlockFiles::open_files(vec![d.join("bitcoinj/first-100k-blocks.dat")], None).unwrap();
    let (_, scanned, warnings) = bitcoinj.scan().unwrap();
    assert_eq!(warnings.len(), 0);
    let bj: Vec<BlockHash> = scanned.iter().map(|b| b.hash).collect();
    assert_eq!(bj.len(), 439);
    assert_eq!(bj[..], hashes[..439]);

    let tmp = std::env::temp_dir().join(format!("ft-btcd-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("blk00000.dat"), bunzip(&d.join("btcd/blocks1-256.bz2"))).unwrap();
    let btcd = BlockFiles::open_dir(&tmp).unwrap();
    let (_, scanned, _) = btcd.scan().unwrap();
    let bd: Vec<BlockHash> = scanned.iter().map(|b| b.hash).collect();
    assert_eq!(bd.len(), 255);
    assert_eq!(bd[..], hashes[1..256]);
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn incomplete_block_file_keeps_complete_blocks_and_warns_with_offset() {
    let Some(d) = data() else { return };
    let files = BlockFiles::open_files(
        vec![d.join("nbitcoin/blk00000.dat"), d.join("nbitcoin/incompleteblk.dat")],
        None,
    )
    .unwrap();
    let (_, scanned, warnings) = files.scan().unwrap();
    assert_eq!(scanned.len(), 600);
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].file.ends_with("incompleteblk.dat"));
    assert_eq!(warnings[0].offset, 70449);
    let chain = best_chain(&scanned, Anchor::Genesis(Network::Main.genesis_hash()), |_| false);
    assert_eq!(chain.path.len(), 600);
}

#[test]
fn regtest_chain_scans_with_its_magic_despite_zero_padding() {
    let Some(d) = fundtrace_core::testdata::dir("regtest chain") else { return };
    let files = BlockFiles::open_dir(&d.join("btc-regtest-blocksci/regtest/blocks")).unwrap();
    let (network, scanned, warnings) = files.scan().unwrap();
    assert_eq!(network, Network::Regtest);
    assert!(warnings.is_empty(), "zero padding is not damage: {warnings:?}");
    let chain = best_chain(&scanned, Anchor::Genesis(Network::Regtest.genesis_hash()), |_| false);
    assert_eq!(chain.path.len(), 202);
    for &i in &chain.path {
        let raw = files.block(scanned[i].location);
        let block = Block::decode(&raw).unwrap();
        check_block(&block).unwrap();
        assert_eq!(block_bytes(&block), raw.as_ref());
    }
}

#[test]
fn xor_obfuscated_files_read_like_plain_ones() {
    let Some(d) = data() else { return };
    let plain = std::fs::read(d.join("nbitcoin/blk00000.dat")).unwrap();
    let key = [0x5a, 0x01, 0xff, 0x10, 0x00, 0x80, 0x7e, 0x33];
    let tmp = std::env::temp_dir().join(format!("ft-xor-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut obf: Vec<u8> = plain.iter().enumerate().map(|(i, b)| b ^ key[i % 8]).collect();
    obf.extend_from_slice(&[0; 4096]); // preallocated space stays raw zeros
    std::fs::write(tmp.join("blk00000.dat"), obf).unwrap();
    std::fs::write(tmp.join("xor.dat"), key).unwrap();
    let files = BlockFiles::open_dir(&tmp).unwrap();
    assert_eq!(files.xor_key(), Some(key));
    let (_, scanned, warnings) = files.scan().unwrap();
    assert!(warnings.is_empty());
    assert_eq!(scanned.len(), 300);
    let nb = BlockFiles::open_files(vec![d.join("nbitcoin/blk00000.dat")], None).unwrap();
    let (_, plain_scan, _) = nb.scan().unwrap();
    for (a, b) in scanned.iter().zip(&plain_scan) {
        assert_eq!(a.hash, b.hash);
        assert_eq!(files.block(a.location), nb.block(b.location));
    }
    // An all-zero key means "not obfuscated".
    std::fs::write(tmp.join("xor.dat"), [0u8; 8]).unwrap();
    assert_eq!(BlockFiles::open_dir(&tmp).unwrap().xor_key(), None);
    std::fs::remove_dir_all(&tmp).unwrap();
}
