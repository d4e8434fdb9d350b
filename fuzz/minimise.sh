#!/usr/bin/env bash
# Shrinks fuzz/corpus/<target>/ to what is committed: the seed-* and regression-* inputs, plus
# the inputs that add the most coverage per byte, within a byte budget.
# Usage: fuzz/minimise.sh <target> <budget-bytes> [COV|FT]
#   COV (default): edge coverage only (libFuzzer -use_counters=0); FT: features with hit counters,
#   for targets such as cooldown_ops whose behaviour lies in data more than in code paths.
# Needs the target built by `cargo fuzz build -s none <target>`. The old corpus is kept in a
# temporary directory, printed at the end.
set -euo pipefail
cd "$(dirname "$0")"
target="$1" budget="$2" kind="${3:-COV}"
binary="target/x86_64-unknown-linux-gnu/release/$target"
work="$(mktemp -d)"
mv "corpus/$target" "$work/full"
mkdir "$work/merged" "$work/scratch" "corpus/$target"
find "$work/full" -maxdepth 1 -type f \( -name 'seed-*' -o -name 'regression-*' \) \
  -exec cp {} "$work/merged/" \;
counters=()
[ "$kind" = COV ] && counters=(-use_counters=0)
nice -n 19 "$binary" -merge=1 "${counters[@]}" -timeout=10 "$work/merged" "$work/full" >/dev/null 2>&1
nice -n 19 "$binary" -merge=1 "${counters[@]}" -timeout=10 \
  -merge_control_file="$work/control" "$work/scratch" "$work/merged" >/dev/null 2>&1
python3 seeds/select_budget.py "$work/control" "corpus/$target" "$budget" "$kind"
echo "previous corpus: $work/full"
