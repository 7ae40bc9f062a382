#!/usr/bin/env python3
"""Grow a consumer group of librdkafka members one at a time, for assignor captures.

    assignor_group.py --bootstrap 127.0.0.1:PORT --topic T --group G --strategy S
                      [--client ck|kcat] [--members 3] [--partitions 6] [--session-ms 6000]
                      [--settle 1.5] [--timeout 60]

Starts members one after another: ck_member.py processes (confluent-kafka 2.16.1, librdkafka
2.16.0), or with --client kcat, `kcat -G` balanced consumers (Debian kcat 1.7.1, librdkafka
2.0.2; their rebalance lines on stderr give the assignment; they leave on SIGTERM). After starting each
member it waits until the group is stable: every partition of TOPIC (0..PARTITIONS-1) is owned
by exactly one running member, every running member owns at least one partition (when there
are enough partitions), and nothing changed for --settle seconds. Then the next member starts.
So member 1 first gets every partition, and the JoinGroup of each later rebalance carries the
owned partitions (and, for cooperative-sticky, the generation) of the earlier members.

At the end every member leaves (its stdin is closed, so it calls close(): LeaveGroup), in
reverse start order. Prints one JSON summary line (the stable assignment after each step, with
times) and exits 0 when every step became stable before --timeout. Loopback only.
"""
import argparse
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = time.monotonic()


def log(*a):
    print("[%7.3f]" % (time.monotonic() - T0), *a, file=sys.stderr, flush=True)


KCAT_LINE = re.compile(
    r"^% Group \S+ rebalanced(?: \(memberid (?P<m1>[^)]*)\))?: "
    r"(?P<what>incremental assignment|incremental revoke|assigned|revoked)"
    r"(?: of \d+ partition\(s\) \(memberid (?P<m2>[^,]*),[^)]*\))?: ?(?P<parts>.*)$")


def kcat_reader(idx, proc, q):
    """Turns kcat's rebalance lines (stderr) into ck_member.py-style events."""
    owned = set()
    for line in proc.stderr:
        m = KCAT_LINE.match(line.rstrip("\n"))
        if not m:
            continue
        parts = sorted(int(p) for p in re.findall(r"\[(\d+)\]", m.group("parts")))
        what = m.group("what")
        if what == "incremental assignment":
            owned.update(parts)
        elif what == "incremental revoke":
            owned.difference_update(parts)
        elif what == "assigned":
            owned = set(parts)
        else:
            owned = set()
        event = "assign" if what in ("incremental assignment", "assigned") else "revoke"
        q.put((idx, {"event": event, "member_id": m.group("m1") or m.group("m2"),
                     "partitions": parts, "owned": sorted(owned)}))
    q.put((idx, {"event": "eof"}))


def reader(idx, proc, q):
    for line in proc.stdout:
        try:
            q.put((idx, json.loads(line)))
        except ValueError:
            log("member", idx, "non-JSON line:", line.rstrip())
    q.put((idx, {"event": "eof"}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--strategy", required=True)
    ap.add_argument("--client", choices=["ck", "kcat"], default="ck")
    ap.add_argument("--members", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--heartbeat-ms", type=int, default=500)
    ap.add_argument("--settle", type=float, default=1.5)
    ap.add_argument("--timeout", type=float, default=60.0, help="per step")
    a = ap.parse_args()
    for hp in a.bootstrap.split(","):
        if hp.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost"):
            sys.exit("refusing non-loopback bootstrap")

    q = queue.Queue()
    procs, owned, member_ids = [], {}, {}
    steps, ok = [], True
    try:
        for i in range(a.members):
            client_id = "m%d-%s" % (i + 1, a.strategy)
            if a.client == "kcat":
                kcat = shutil.which("kcat")
                if not kcat:
                    sys.exit("kcat not found (apt-get install kcat)")
                cmd = [kcat, "-b", a.bootstrap, "-G", a.group, a.topic, "-o", "end",
                       "-X", "client.id=" + client_id,
                       "-X", "partition.assignment.strategy=" + a.strategy,
                       "-X", "session.timeout.ms=%d" % a.session_ms,
                       "-X", "heartbeat.interval.ms=%d" % a.heartbeat_ms]
                p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
                threading.Thread(target=kcat_reader, args=(i, p, q), daemon=True).start()
            else:
                cmd = [sys.executable, os.path.join(HERE, "ck_member.py"), "--bootstrap", a.bootstrap,
                       "--group", a.group, "--topic", a.topic, "--strategy", a.strategy,
                       "--session-ms", str(a.session_ms), "--heartbeat-ms", str(a.heartbeat_ms),
                       "--client-id", client_id, "--seconds", str(a.timeout * (a.members + 1))]
                p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                threading.Thread(target=reader, args=(i, p, q), daemon=True).start()
            procs.append(p)
            owned[i] = []
            log("started member", i + 1)
            started = time.monotonic()
            deadline = started + a.timeout
            stable_since, last = None, None
            while time.monotonic() < deadline:
                try:
                    idx, ev = q.get(timeout=0.1)
                    if "owned" in ev:
                        owned[idx] = ev["owned"]
                        member_ids[idx] = ev.get("member_id")
                        log("member", idx + 1, ev["event"], ev["partitions"], "->", ev["owned"])
                    elif ev["event"] in ("error", "eof"):
                        log("member", idx + 1, ev)
                except queue.Empty:
                    pass
                snap = {k: list(v) for k, v in owned.items()}
                allp = sorted(p for v in snap.values() for p in v)
                good = allp == list(range(a.partitions)) and (
                    a.partitions < len(snap) or all(snap.values()))
                if not good or snap != last:
                    stable_since, last = (time.monotonic() if good else None), snap
                elif time.monotonic() - stable_since >= a.settle:
                    break
            else:
                ok = False
                log("step", i + 1, "did not become stable:", owned)
                break
            t = round(stable_since - started, 3)
            steps.append({"members": i + 1, "stable_after_s": t,
                          "owned": {str(k + 1): v for k, v in sorted(owned.items())}})
            log("stable with", i + 1, "members after", t, "s:", owned)
    finally:
        for p in reversed(procs):
            try:
                if p.stdin is not None:
                    p.stdin.close()       # ck_member.py leaves on end of stdin
                else:
                    p.send_signal(signal.SIGTERM)  # kcat leaves on SIGTERM (its own pid)
            except Exception:
                pass
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                log("member pid", p.pid, "did not exit; killing it")
                p.kill()
                p.wait(timeout=5)
    print(json.dumps({"client": a.client, "strategy": a.strategy, "ok": ok, "steps": steps,
                      "member_ids": {str(k + 1): v for k, v in sorted(member_ids.items())}}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
