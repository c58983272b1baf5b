//! Any bytes: the transaction decoder returns an error or a transaction that re-serializes
//! to exactly the input; its txid equals its wtxid exactly when it has no witness.
#![no_main]
use fundtrace_bitcoin::decode::decode_transaction;
use fundtrace_bitcoin::encode::write_tx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = decode_transaction(data) {
        let tx = &t.txs[0];
        let mut out = Vec::new();
        write_tx(&mut out, &t, tx);
        assert_eq!(out, data);
        assert_eq!(tx.segwit, tx.txid != tx.wtxid);
        assert!(tx.weight() >= 4 * tx.stripped_size);
    }
});
