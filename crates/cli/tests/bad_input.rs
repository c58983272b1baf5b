//! Bad input gets an error naming the file and byte offset (or block and transaction),
//! exit code 1, and leaves the store exactly as it was.

mod common;
use std::path::Path;

use common::*;
use fundtrace_bitcoin::blkfile::BlockFiles;
use fundtrace_bitcoin::merkle::merkle_root;
use fundtrace_bitcoin::Block;

/// The first `n` mainnet blocks, raw.
fn mainnet_blocks(data: &Path, n: usize) -> Vec<Vec<u8>> {
    let files = BlockFiles::open_dir(&data.join("btc-mainnet-blocks/nbitcoin")).unwrap();
    let (_, scanned, _) = files.scan().unwrap();
    scanned[..n].iter().map(|b| files.block(b.location).into_owned()).collect()
}

/// Ingests `bytes` as a block file on top of a store holding heights 0-3 and checks the
/// failure: exit code 1, every `expect` fragment in the message, store unchanged.
fn check_rejected(name: &str, bytes: &[u8], expect: &[&str]) {
    let data = fundtrace_core::testdata::dir("bad input").unwrap();
    let dir = tmp(name);
    let o = run(&dir, &["ingest", "btc", "--max-height", "3", "--blocks-dir", &nbitcoin(&data)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = digest(&dir);
    let file = dir.join(format!("{name}.dat"));
    std::fs::write(&file, bytes).unwrap();
    let o = run(&dir, &["ingest", "btc", "--file", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains(&format!("{name}.dat")), "{name}: error does not name the file: {msg}");
    for e in expect {
        assert!(msg.contains(e), "{name}: error lacks {e:?}: {msg}");
    }
    assert_eq!(digest(&dir), before, "{name}: store changed");
    assert_eq!(json(&run(&dir, &["info", "--json"]))["height"], 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_magic() {
    if fundtrace_core::testdata::dir("bad input").is_none() {
        return;
    }
    let mut b = vec![0xde, 0xad, 0xbe, 0xef, 0x10, 0, 0, 0];
    b.extend_from_slice(&[7; 16]);
    check_rejected("wrongmagic", &b, &["at byte 0", "wrong magic deadbeef"]);
}

#[test]
fn size_field_larger_than_the_file() {
    let Some(data) = fundtrace_core::testdata::dir("bad input") else { return };
    let mut b = frame(&mainnet_blocks(&data, 1));
    b[4..8].copy_from_slice(&100_000u32.to_le_bytes());
    check_rejected("oversize", &b, &["at byte 4", "block size field 100000 runs past the end of the file"]);
}

#[test]
fn random_bytes() {
    if fundtrace_core::testdata::dir("bad input").is_none() {
        return;
    }
    let b = fundtrace_core::testdata::XorShift(0x2545_f491_4f6c_dd1d).bytes(4096);
    check_rejected("random", &b, &["at byte 0", "wrong magic"]);
}

#[test]
fn merkle_root_mismatch() {
    let Some(data) = fundtrace_core::testdata::dir("bad input") else { return };
    let mut blocks = mainnet_blocks(&data, 11);
    // First byte of block 5's coinbase scriptSig: header 80, tx count 1, version 4, input
    // count 1, outpoint 36, script length 1.
    blocks[5][123] ^= 0x01;
    let framed = frame(&blocks);
    let offset: usize = blocks[..5].iter().map(|b| b.len() + 8).sum::<usize>() + 8;
    check_rejected(
        "badmerkle",
        &framed,
        &[&format!("at byte {offset}"), "height 5", "merkle root mismatch", "000000009b7262315dbf071787ad3656097b892abffd1f95a1a022f896f533fc"],
    );
}

#[test]
fn input_spending_an_unknown_output() {
    let Some(data) = fundtrace_core::testdata::dir("bad input") else { return };
    let mut blocks = mainnet_blocks(&data, 171);
    // Block 170's second transaction spends block 9's coinbase; point it elsewhere and fix
    // the merkle root so only the spend is wrong.
    let tx_offset = {
        let b = Block::decode(&blocks[170]).unwrap();
        b.txs.txs[1].raw.as_ptr() as usize - blocks[170].as_ptr() as usize
    };
    blocks[170][tx_offset + 5] ^= 0xff; // first byte of the outpoint txid
    let root = {
        let b = Block::decode(&blocks[170]).unwrap();
        merkle_root(b.txs.txs.iter().map(|t| t.txid))
    };
    blocks[170][36..68].copy_from_slice(&root.0);
    let framed = frame(&blocks);
    let offset: usize = blocks[..170].iter().map(|b| b.len() + 8).sum::<usize>() + 8 + tx_offset;
    check_rejected(
        "unknownspend",
        &framed,
        &[&format!("at byte {offset}"), "height 170", "tx 1", "input 0 spends unknown output"],
    );
}
