#!/usr/bin/env bash
# Fuzzes every target in turn on a stable toolchain (no sanitizer), niced, one at a time, then
# prints libFuzzer's closing figures per target. Usage: fuzz/run-all.sh [seconds] [target...]
# New inputs land in fuzz/corpus/<target>/; minimise with `cargo fuzz cmin -s none <target>`.
set -uo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(wsman_response wsman_request digest_challenge digest_authorization trust_pem
    trust_der_leaf power_parse cooldown_ops)
fi
mkdir -p logs
for target in "${targets[@]}"; do
  log="logs/$target.log"
  echo "==> $target for ${seconds}s ($(date -u +%FT%TZ))"
  nice -n 19 cargo fuzz run -s none "$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1
  echo "    exit $?"
  grep -E '^#[0-9]+[[:space:]]+DONE|^Done [0-9]+ runs|stat::number_of_executed_units|^==[0-9]+== ERROR|panicked at|^SUMMARY|Test unit written' "$log" | sed 's/^/    /'
done
