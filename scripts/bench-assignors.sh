#!/usr/bin/env bash
# Assignor benchmarks: runs `kgroup assign` (release build) on the workloads of issue 4 and
# prints a table with our time, the target and franz-go's figure measured on this machine kind
# (franz-go commit adb3a18, 2-vCPU x86-64 VM, balancer call alone; see docs/benchmarks.md).
#
# Usage: scripts/bench-assignors.sh [--quick]
#   --quick   3 timed runs per workload instead of 101 (CI uses this); same sizes.
# Fails (exit 1) if an assignment is invalid or a join moves more than the minimum; times
# are reported, never asserted (timing checks do not belong in CI).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=101
if [ "${1:-}" = "--quick" ]; then runs=3; fi

cargo build -q --release -p kgroup
bin=target/release/kgroup

# name | kgroup args | target ms | franz-go ms | expected moved (or -)
workloads=(
  "coop 2000x1M fresh|--assignor cooperative-sticky --members 2000 --partitions 1000000|35|72.6|0"
  "coop 2000x1M +1 joiner|--assignor cooperative-sticky --members 2000 --partitions 1000000 --join 1|20|69.2|499"
  "coop 2000x1M/1000 topics fresh|--assignor cooperative-sticky --members 2000 --partitions 1000000 --topics 1000|35|-|0"
  "coop 2000x1M/1000 topics +1 joiner|--assignor cooperative-sticky --members 2000 --partitions 1000000 --topics 1000 --join 1|20|-|499"
  "coop 10000x100k fresh|--assignor cooperative-sticky --members 10000 --partitions 100000|3|13.3|0"
  "coop 10000x100k +1 joiner|--assignor cooperative-sticky --members 10000 --partitions 100000 --join 1|2|9.0|9"
  "coop 10000x100k/10 topics random 3-10 fresh|--assignor cooperative-sticky --members 10000 --partitions 100000 --topics 10 --subscriptions random|10|2932|0"
  "coop 10000x100k/10 topics random +1 joiner|--assignor cooperative-sticky --members 10000 --partitions 100000 --topics 10 --subscriptions random --join 1|-|38.0|-"
  "coop 1800x3600 +1 joiner|--assignor cooperative-sticky --members 1800 --partitions 3600 --join 1|0.5|0.90|1"
  "sticky 2000x1M +1 joiner|--assignor sticky --members 2000 --partitions 1000000 --join 1|-|-|499"
  "range 2000x1M/1000 topics fresh|--assignor range --members 2000 --partitions 1000000 --topics 1000|-|-|0"
  "roundrobin 2000x1M/1000 topics fresh|--assignor roundrobin --members 2000 --partitions 1000000 --topics 1000|-|-|0"
)

printf '| workload | ours median ms (fastest) | target ms | franz-go ms | franz-go / ours | moved | spread | peak RSS MiB | valid |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|---|\n'
status=0
for w in "${workloads[@]}"; do
  IFS='|' read -r name args target franz expect <<<"$w"
  # shellcheck disable=SC2086
  if ! json=$($bin assign $args --runs "$runs" --json); then
    echo "FAILED: $name: kgroup assign exited non-zero: $json" >&2
    status=1
    continue
  fi
  line=$(python3 - "$name" "$target" "$franz" "$expect" "$json" <<'EOF'
import json, sys
name, target, franz, expect, raw = sys.argv[1:]
r = json.loads(raw)
ratio = "-" if franz == "-" else f"{float(franz) / r['elapsed_ms']:.1f}x"
rss = "-" if r["peak_rss_bytes"] is None else f"{r['peak_rss_bytes'] / 1048576:.1f}"
ok = r["valid"] and (expect == "-" or r["moved"] == int(expect))
print(f"| {name} | {r['elapsed_ms']:.3f} ({r['min_ms']:.3f}) | {target} | {franz} | {ratio} | "
      f"{r['moved']} | {r['spread']} | {rss} | {'yes' if r['valid'] else 'NO'} |")
print("ok" if ok else f"BAD moved={r['moved']} expected={expect} valid={r['valid']}")
EOF
)
  echo "${line%$'\n'*}"
  verdict="${line##*$'\n'}"
  if [ "$verdict" != "ok" ]; then
    echo "FAILED: $name: $verdict" >&2
    status=1
  fi
done
exit $status
