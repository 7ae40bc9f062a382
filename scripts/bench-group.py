#!/usr/bin/env python3
"""Group formation benchmark: our members (`kgroup consume`) against librdkafka members
(`scripts/peers/ck_member.py`, confluent-kafka 2.16.1) on the same broker, in the same run.

For each client kind and run: start 3 members at once and measure the time from the start to a
stable group (every partition owned exactly once, every member non-empty, no change for
--quiet seconds; the time reported is when that state was reached); then start a 4th member and
measure the time from its start to the stable 4-member group. Members report assignments as
JSON lines (ours: `kgroup consume --json`, theirs: ck_member.py).

    scripts/bench-group.py --bootstrap 127.0.0.1:PORT --topic T --partitions 12 \
        [--kgroup target/release/kgroup] [--strategy cooperative-sticky|range] [--runs 3] \
        [--session-ms 6000] [--max-versions librdkafka-mock] [--clients ours,ck] \
        [--protocol classic|consumer]

With --protocol consumer every member speaks KIP-848 (the broker assigns; --strategy is then
unused). Besides the stable times, each run reports `first_4th_s`: from the 4th member's start
to its first non-empty assignment.

Prints one JSON line per run and a summary line. Every wait is bounded (--limit seconds).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))


class Member:
    def __init__(self, kind, argv, t0):
        self.kind = kind
        self.owned = set()
        self.changes = []  # (time since t0, frozenset)
        self.lock = threading.Lock()
        self.t0 = t0
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                o = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                if self.kind == "ours":
                    ev = o.get("event")
                    ps = {p for _, p in o.get("partitions", [])}
                    if ev == "assigned":
                        self.owned |= ps
                    elif ev in ("revoked", "lost"):
                        self.owned -= ps
                    else:
                        continue
                else:
                    if o.get("event") not in ("assign", "revoke", "lost"):
                        continue
                    self.owned = set(o.get("owned", []))
                self.changes.append((time.monotonic() - self.t0, frozenset(self.owned)))

    def snapshot(self):
        with self.lock:
            return frozenset(self.owned)

    def stop(self):
        if self.proc.poll() is None:
            if self.kind == "ours":
                self.proc.send_signal(signal.SIGINT)
            else:
                try:
                    self.proc.stdin.close()
                except OSError:
                    pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def argv_for(kind, a, group, i):
    if kind == "ours":
        cmd = [a.kgroup, "consume", "--bootstrap", a.bootstrap, "--group", group, "--topic", a.topic,
               *(["--protocol", "consumer"] if a.protocol == "consumer" else ["--assignor", a.strategy]),
               "--session-timeout-ms", str(a.session_ms),
               "--heartbeat-interval-ms", str(a.heartbeat_ms), "--json", "--client-id", f"ours-{i}",
               "--from", "latest", "--timeout", str(a.limit * 3)]
        if a.max_versions:
            cmd += ["--max-versions", a.max_versions]
        if a.leader_sync_delay_ms is not None:
            cmd += ["--leader-sync-delay-ms", str(a.leader_sync_delay_ms)]
        if a.follower_sync_delay_ms is not None:
            cmd += ["--follower-sync-delay-ms", str(a.follower_sync_delay_ms)]
        return cmd
    return [sys.executable, os.path.join(HERE, "peers", "ck_member.py"), "--bootstrap", a.bootstrap,
            "--group", group, "--topic", a.topic,
            *(["--protocol", "consumer"] if a.protocol == "consumer" else ["--strategy", a.strategy]),
            "--session-ms",
            str(a.session_ms), "--heartbeat-ms", str(a.heartbeat_ms), "--client-id", f"ck-{i}",
            "--seconds", str(a.limit * 3)]


def stable_since(members, partitions, quiet, limit, start):
    """Waits until the members split 0..partitions exactly (all non-empty) with no change for
    `quiet` s; returns when (seconds since t0) that state began, or None after `limit` s."""
    want = frozenset(range(partitions))
    state, since = None, None
    while time.monotonic() - start < limit:
        snap = [m.snapshot() for m in members]
        ok = all(snap) and sum(len(s) for s in snap) == partitions and frozenset().union(*snap) == want
        if ok and snap == state:
            if time.monotonic() - since >= quiet:
                # The moment the last member's set took its final value.
                return max(max((t for t, s in m.changes if s == snap[k]), default=0.0)
                           for k, m in enumerate(members))
        elif ok:
            state, since = snap, time.monotonic()
        else:
            state = None
        time.sleep(0.02)
    return None


def run_once(kind, a):
    group = f"bench-{kind}-{uuid.uuid4().hex[:8]}"
    t0 = time.monotonic()
    members = [Member(kind, argv_for(kind, a, group, i), t0) for i in range(3)]
    try:
        formed = stable_since(members, a.partitions, a.quiet, a.limit, t0)
        if formed is None:
            return {"client": kind, "error": "3 members never stabilised",
                    "owned": [sorted(m.snapshot()) for m in members]}
        joined_at = time.monotonic() - t0
        members.append(Member(kind, argv_for(kind, a, group, 3), t0))
        settled = stable_since(members, a.partitions, a.quiet, a.limit, time.monotonic())
        if settled is None:
            return {"client": kind, "stable_3_s": round(formed, 3),
                    "error": "4 members never stabilised",
                    "owned": [sorted(m.snapshot()) for m in members]}
        first = next((t for t, ps in members[3].changes if ps), None)
        return {"client": kind, "protocol": a.protocol,
                "strategy": a.strategy if a.protocol == "classic" else "broker",
                "stable_3_s": round(formed, 3), "rebalance_4th_s": round(settled - joined_at, 3),
                "first_4th_s": round(first - joined_at, 3) if first is not None else None}
    finally:
        for m in members:
            m.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--kgroup", default=os.path.join(HERE, "..", "target", "release", "kgroup"))
    ap.add_argument("--strategy", default="cooperative-sticky")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--heartbeat-ms", type=int, default=500)
    ap.add_argument("--max-versions", default="")
    ap.add_argument("--leader-sync-delay-ms", type=int, default=None,
                    help="passed to our members (kgroup's default: 50 with the mock preset, else 0)")
    ap.add_argument("--follower-sync-delay-ms", type=int, default=None,
                    help="passed to our members (kgroup's default: 0 with the mock preset, else 50)")
    ap.add_argument("--clients", default="ours,ck")
    ap.add_argument("--protocol", choices=["classic", "consumer"], default="classic")
    ap.add_argument("--quiet", type=float, default=2.0)
    ap.add_argument("--limit", type=float, default=60.0)
    a = ap.parse_args()
    results = {}
    for r in range(a.runs):
        for kind in a.clients.split(","):
            res = run_once(kind, a)
            res["run"] = r
            print(json.dumps(res), flush=True)
            results.setdefault(kind, []).append(res)
    summary = {}
    for kind, rs in results.items():
        ok = [x for x in rs if "error" not in x]
        summary[kind] = {
            "runs_ok": len(ok), "runs": len(rs),
            "stable_3_s": sorted(x["stable_3_s"] for x in ok),
            "rebalance_4th_s": sorted(x["rebalance_4th_s"] for x in ok),
            "first_4th_s": sorted(x["first_4th_s"] for x in ok if x["first_4th_s"] is not None),
        }
    print(json.dumps({"summary": summary, "protocol": a.protocol, "strategy": a.strategy,
                      "bootstrap": a.bootstrap}))
    return 0 if all(v["runs_ok"] == v["runs"] for v in summary.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
