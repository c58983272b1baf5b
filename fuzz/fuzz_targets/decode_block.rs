//! Any bytes: the block decoder returns an error or a block that re-serializes to exactly the
//! input, whose merkle check and script classification do not panic.
#![no_main]
use fundtrace_bitcoin::encode::block_bytes;
use fundtrace_bitcoin::merkle::check_block;
use fundtrace_bitcoin::script::classify;
use fundtrace_bitcoin::Block;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(block) = Block::decode(data) {
        assert_eq!(block_bytes(&block), data);
        let _ = check_block(&block);
        let _ = block.bip34_height();
        for o in &block.txs.outputs {
            let c = classify(o.script_pubkey);
            if let Some(a) = c.address {
                let _ = a.encode(fundtrace_bitcoin::Network::Main);
            }
        }
    }
});
