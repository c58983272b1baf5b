#!/usr/bin/env bash
# GB-scale ingest benchmark (issue 3): simulate >= 5 GB of blocks, then in one run ingest them
# with fundtrace and parse them with bitcoin-block-parser (its `parse` and UTXO-tracking modes),
# reporting wall and CPU time, peak RSS, and a digest of all txids from each tool.
#
#   cargo install --locked bitcoin-block-parser     # the peer, version 0.5.3
#   cargo build --release -p fundtrace -p fundtrace-bench
#   ./bench.sh /path/with/space [TXS]
set -euo pipefail
out=${1:?usage: bench.sh WORKDIR [TXS]}
txs=${2:-11000000}
bin=$(cd "$(dirname "$0")" && pwd)/target/release
mkdir -p "$out"
t() { /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KB peak RSS" "$@"; }
nproc; lscpu | grep 'Model name' || true
rm -rf "$out/world" "$out/data" "$out/filter.bin"
echo "== simulate $txs transactions"
t "$bin/fundtrace" simulate --out "$out/world" --seed 42 --txs "$txs"
du -sb "$out/world/blocks"
echo "== fundtrace ingest btc"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
t "$bin/fundtrace" --data-dir "$out/data" ingest btc --blocks-dir "$out/world/blocks"
du -sb "$out/data/btc"
echo "== bitcoin-block-parser parse"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
t bitcoin-block-parser --blocks-dir "$out/world/blocks" --run parse
echo "== bitcoin-block-parser utxo-create (pass 1: spent-output filter)"
t bitcoin-block-parser --blocks-dir "$out/world/blocks" --run utxo-create --filter-file "$out/filter.bin"
echo "== bitcoin-block-parser utxo-parse (pass 2: input amounts and output status)"
t bitcoin-block-parser --blocks-dir "$out/world/blocks" --run utxo-parse --filter-file "$out/filter.bin"
echo "== txids: fundtrace's store vs bitcoin-block-parser's ordered parse"
"$bin/fundtrace-bench" txids "$out/data/btc"
"$bin/fundtrace-bench" peer-txids "$out/world/blocks"
"$bin/fundtrace-bench" store "$out/data/btc"
