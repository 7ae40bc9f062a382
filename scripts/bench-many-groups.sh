#!/usr/bin/env bash
# Many consumer groups in one process (a GroupSet) against one client per group, in the
# deterministic simulator (crates/kafka-client/benches/many_groups.rs; see docs/benchmarks.md):
# connections, heap bytes per idle group, and idle groups' heartbeat latency (virtual ms) while
# other groups rebalance, for the GroupSet with held lanes, the GroupSet on one connection
# (the naive way) and the baseline of single-group clients, in one run. Release build.
#
# Usage: scripts/bench-many-groups.sh [--quick] [--groups N] [--rebalance M]
#   default   1,000 groups, 100 of them rebalancing (a few minutes on 2 vCPUs)
#   --quick   100 groups, 10 rebalancing (CI uses this; a few seconds after the build)
# Fails (exit 1) if a setup with held lanes (the GroupSet, the baseline) lets the broker
# remove a member of a live process, has a partition with two live owners, or does not
# converge; the figures themselves are reported, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q --profile release -p kafka-client --bench many_groups -- "$@"
