#!/usr/bin/env bash
# Analysis benchmarks (issues 4 and 5) on the simulated world of bench.sh (WORKDIR/world,
# ingested into WORKDIR/data; both made here if missing): clustering throughput and accuracy,
# trace accuracy per taint model, the 20-hop haircut trace of each planted theft (warm), and
# risk scoring throughput.
#
#   cargo build --release -p fundtrace
#   ./bench-analysis.sh /path/with/space [TXS]
set -euo pipefail
out=${1:?usage: bench-analysis.sh WORKDIR [TXS]}
txs=${2:-11000000}
ft=$(cd "$(dirname "$0")" && pwd)/target/release/fundtrace
d="$out/data"
t() { /usr/bin/time -f "%e s wall, %U s user, %S s sys, %M KB peak RSS" "$@"; }
mkdir -p "$out"
if [ ! -f "$out/world/truth/summary.json" ]; then
  "$ft" simulate --out "$out/world" --seed 42 --txs "$txs"
fi
if [ ! -f "$d/btc/MANIFEST" ]; then
  "$ft" --data-dir "$d" ingest btc --blocks-dir "$out/world/blocks"
fi
"$ft" --data-dir "$d" info

echo "== clustering: multi-input with CoinJoin exclusion (one thread)"
t "$ft" --data-dir "$d" cluster --rebuild
"$ft" --data-dir "$d" cluster evaluate --truth "$out/world/truth"

echo "== attribution: the world's public tags"
"$ft" --data-dir "$d" tags import "$out/world/truth/tags.yaml" | grep -E 'tags_total|seconds' || true

echo "== trace accuracy per model (all incidents together)"
"$ft" --data-dir "$d" trace evaluate --truth "$out/world/truth"

echo "== 20-hop haircut forward trace of each theft, warm (second run), seconds of the trace itself"
python3 - "$out/world/truth/incidents.jsonl" > "$out/thefts.txt" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    print(json.loads(line)["theft_txid"])
EOF
while read -r theft; do
  "$ft" --data-dir "$d" trace forward --seed "$theft" --max-hops 20 --json > /dev/null
  "$ft" --data-dir "$d" trace forward --seed "$theft" --max-hops 20 --json |
    python3 -c 'import json,sys; v=json.load(sys.stdin); print("%s %.1f ms, %d txs, %d endpoints" % (sys.argv[1][:16], 1000*v["seconds"], v["transactions"], len(v["endpoints"])))' "$theft"
done < "$out/thefts.txt"

echo "== risk scoring throughput: 10,000 addresses sampled from the ground truth, one thread"
python3 - "$out/world/truth" > "$out/risk-targets.txt" <<'EOF'
import json, random, sys
truth = sys.argv[1]
random.seed(7)
addresses = [json.loads(l)["address"] for l in open(truth + "/addresses.jsonl")]
for a in random.sample(addresses, 10000):
    print(a)
EOF
head -1 "$out/risk-targets.txt" > "$out/risk-one.txt"
rm -rf "$d/btc-exposure"
echo "-- per address (a backward trace each; no index)"
t "$ft" --data-dir "$d" risk - --brief < "$out/risk-one.txt" > /dev/null
t "$ft" --data-dir "$d" risk - --brief < "$out/risk-targets.txt" > "$out/risk-traced.txt"
echo "-- one-pass exposure index, then lookups"
t "$ft" --data-dir "$d" exposure
t "$ft" --data-dir "$d" risk - --brief < "$out/risk-one.txt" > /dev/null
t "$ft" --data-dir "$d" risk - --brief < "$out/risk-targets.txt" > "$out/risk-indexed.txt"
awk -F'\t' '$2 > 0 {n++} END {print n " of " NR " addresses score above 0"}' "$out/risk-indexed.txt"
paste "$out/risk-traced.txt" "$out/risk-indexed.txt" | awk -F'\t' '{d=$2-$5; if (d<0) d=-d; if (d>1) n++} END {print n+0 " of " NR " scores differ by more than 1 point between traced (dust 1000 sat) and indexed"}'
