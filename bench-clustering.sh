#!/usr/bin/env bash
# Clustering accuracy per heuristic set (issue 4): pairwise precision and recall against a
# simulated world's ground truth, for multi-input alone, without CoinJoin exclusion, and with
# each change heuristic (as BlockSci's unique_change) and agreement rules; then each change
# heuristic's own precision. Tags (the world's public TagPack) veto conflicting change merges.
#
#   cargo build --release -p fundtrace
#   ./bench-clustering.sh /path/with/space [TXS] [SEED]
set -euo pipefail
out=${1:?usage: bench-clustering.sh WORKDIR [TXS] [SEED]}
txs=${2:-1000000}
seed=${3:-11}
ft=$(cd "$(dirname "$0")" && pwd)/target/release/fundtrace
w="$out/world-$seed-$txs"
d="$out/data-$seed-$txs"
if [ ! -f "$w/truth/summary.json" ]; then
  "$ft" simulate --out "$w" --seed "$seed" --txs "$txs" > /dev/null
fi
if [ ! -f "$d/btc/MANIFEST" ]; then
  "$ft" --data-dir "$d" ingest btc --blocks-dir "$w/blocks" > /dev/null
  "$ft" --data-dir "$d" tags import "$w/truth/tags.yaml" > /dev/null
fi
echo "| configuration | precision | recall | impure clusters | largest cluster | change merges | vetoed by tags | collapse alarms | seconds |"
echo "|---|---|---|---|---|---|---|---|---|"
run() {
  local label=$1; shift
  "$ft" --data-dir "$d" cluster --rebuild "$@" --json > "$out/cluster.json" 2> /dev/null
  "$ft" --data-dir "$d" cluster evaluate --truth "$w/truth" --json > "$out/eval.json"
  python3 - "$label" "$out/cluster.json" "$out/eval.json" <<'EOF'
import json, sys
c = json.load(open(sys.argv[2])); e = json.load(open(sys.argv[3]))
print("| %s | %.5f | %.4f | %d | %d | %d | %d | %d | %.1f |" % (sys.argv[1], e["precision"], e["recall"], e["impure_clusters"],
      e["largest_cluster"], c["change_merges"], c["change_merges_vetoed"], c["collapse_alarms"], c["seconds"]))
EOF
}
run "multi-input, CoinJoins excluded (default)"
run "multi-input, CoinJoins kept" --keep-coinjoins
for h in address_reuse address_type optimal_change power_of_ten fresh_address legacy locktime peeling_chain fixed_fee meiklejohn; do
  run "+ change unique($h)" --change "unique($h)" --single-heuristic
done
run "+ change agree(2, legacy, optimal_change, address_type)" --change "agree(2, legacy, optimal_change, address_type)"
run "+ change agree(2, meiklejohn, power_of_ten, locktime, address_reuse)" --change "agree(2, meiklejohn, power_of_ten, locktime, address_reuse)"
echo
echo "Each change heuristic alone: how often its unique candidate is truly change"
"$ft" --data-dir "$d" cluster --rebuild > /dev/null
"$ft" --data-dir "$d" cluster evaluate --truth "$w/truth" --heuristics --json | python3 -c '
import json, sys
print("| heuristic | unique candidates | correct | precision | coverage of transactions |")
print("|---|---|---|---|---|")
for h in json.load(sys.stdin)["change_heuristics"]:
    print("| %s | %d | %d | %.4f | %.3f |" % (h["heuristic"], h["named"], h["correct"], h["precision"], h["coverage"]))'
