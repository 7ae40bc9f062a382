#!/usr/bin/env python3
"""Check and summarize raw Kafka TCP captures (record_proxy.py output).

    summarize_capture.py [--check] [--markdown] [--json] SCENARIO_DIR...

A scenario directory holds conn-N.c2s.bin (client -> broker) and conn-N.s2c.bin
(broker -> client): 4-byte big-endian size-prefixed Kafka frames back to back.

For every c2s frame the request header prefix is parsed (api_key int16, api_version int16,
correlation_id int32). Every s2c frame starts with a correlation_id int32 and is labelled with
the api key / version of the request on the same connection that carried that correlation id.

Checks (--check makes any failure exit 1):
  * the size prefixes walk each file exactly to its end (no partial trailing frame)
  * every frame is at least 8 (request) / 4 (response) bytes
  * every response correlation id matches an earlier request on the same connection,
    responses come in request order (Kafka guarantees per-connection ordering)
Requests that never got an answer (e.g. a request in flight when the client closed) are
reported, not treated as errors.

--require NAME,NAME,... checks that the union of all given scenario dirs contains every named API
(name or key) in both directions (at least one request and one response); exit 1 otherwise.

--markdown prints a per-scenario table (api name, key, versions seen and frame counts per
direction); --json prints the raw summary.
"""
import argparse
import glob
import json
import os
import re
import struct
import sys

API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 4: "LeaderAndIsr", 5: "StopReplica",
    6: "UpdateMetadata", 7: "ControlledShutdown", 8: "OffsetCommit", 9: "OffsetFetch",
    10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
    15: "DescribeGroups", 16: "ListGroups", 17: "SaslHandshake", 18: "ApiVersions",
    19: "CreateTopics", 20: "DeleteTopics", 21: "DeleteRecords", 22: "InitProducerId",
    23: "OffsetForLeaderEpoch", 24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn", 26: "EndTxn",
    27: "WriteTxnMarkers", 28: "TxnOffsetCommit", 29: "DescribeAcls", 30: "CreateAcls",
    31: "DeleteAcls", 32: "DescribeConfigs", 33: "AlterConfigs", 34: "AlterReplicaLogDirs",
    35: "DescribeLogDirs", 36: "SaslAuthenticate", 37: "CreatePartitions",
    38: "CreateDelegationToken", 39: "RenewDelegationToken", 40: "ExpireDelegationToken",
    41: "DescribeDelegationToken", 42: "DeleteGroups", 43: "ElectLeaders",
    44: "IncrementalAlterConfigs", 45: "AlterPartitionReassignments",
    46: "ListPartitionReassignments", 47: "OffsetDelete", 48: "DescribeClientQuotas",
    49: "AlterClientQuotas", 50: "DescribeUserScramCredentials", 51: "AlterUserScramCredentials",
    60: "DescribeCluster", 61: "DescribeProducers", 64: "UnregisterBroker",
    65: "DescribeTransactions", 66: "ListTransactions", 68: "ConsumerGroupHeartbeat",
    69: "ConsumerGroupDescribe", 71: "GetTelemetrySubscriptions", 72: "PushTelemetry",
    74: "ListClientMetricsResources", 75: "DescribeTopicPartitions", 76: "ShareGroupHeartbeat",
    77: "ShareGroupDescribe", 78: "ShareFetch", 79: "ShareAcknowledge",
}


def api_name(k):
    return API_NAMES.get(k, "Unknown%d" % k)


def frames(data):
    """Split into frames. Returns (list of (offset, body), trailing_bytes)."""
    out, off = [], 0
    while off + 4 <= len(data):
        (n,) = struct.unpack_from(">i", data, off)
        if n < 0 or off + 4 + n > len(data):
            break
        out.append((off, data[off + 4: off + 4 + n]))
        off += 4 + n
    return out, len(data) - off


def conn_key(path):
    m = re.search(r"conn-(\d+)\.", os.path.basename(path))
    return int(m.group(1)) if m else 0


def analyze_conn(c2s_path, s2c_path):
    res = {"conn": conn_key(c2s_path), "problems": [], "requests": [], "responses": [], "unanswered": []}
    c2s = open(c2s_path, "rb").read() if os.path.exists(c2s_path) else b""
    s2c = open(s2c_path, "rb").read() if os.path.exists(s2c_path) else b""
    res["bytes"] = (len(c2s), len(s2c))
    reqf, rtail = frames(c2s)
    rspf, stail = frames(s2c)
    if rtail:
        res["problems"].append("c2s: %d trailing bytes do not form a whole frame" % rtail)
    if stail:
        res["problems"].append("s2c: %d trailing bytes do not form a whole frame" % stail)
    pending = []  # (corr, key, ver) in request order
    for off, body in reqf:
        if len(body) < 8:
            res["problems"].append("c2s frame at %d too short (%d)" % (off, len(body)))
            continue
        key, ver, corr = struct.unpack_from(">hhi", body, 0)
        res["requests"].append((key, ver, corr, len(body)))
        pending.append((corr, key, ver))
    for off, body in rspf:
        if len(body) < 4:
            res["problems"].append("s2c frame at %d too short (%d)" % (off, len(body)))
            continue
        (corr,) = struct.unpack_from(">i", body, 0)
        idx = next((i for i, p in enumerate(pending) if p[0] == corr), None)
        if idx is None:
            res["problems"].append("s2c frame at %d: correlation id %d matches no request" % (off, corr))
            continue
        if idx != 0:
            res["problems"].append("s2c frame at %d: correlation id %d answered out of order" % (off, corr))
        _, key, ver = pending.pop(idx)
        res["responses"].append((key, ver, corr, len(body)))
    res["unanswered"] = [(k, v, c) for c, k, v in pending]
    # a request may legitimately have no response: Produce with acks=0
    return res


def analyze_dir(d):
    conns = sorted({conn_key(p) for p in glob.glob(os.path.join(d, "conn-*.bin"))})
    out = {"dir": d, "conns": []}
    for n in conns:
        out["conns"].append(analyze_conn(os.path.join(d, "conn-%d.c2s.bin" % n),
                                         os.path.join(d, "conn-%d.s2c.bin" % n)))
    return out


def table(summary):
    agg = {}
    for c in summary["conns"]:
        for direction, items in (("c2s", c["requests"]), ("s2c", c["responses"])):
            for key, ver, _corr, _n in items:
                e = agg.setdefault(key, {"c2s": {}, "s2c": {}})
                e[direction][ver] = e[direction].get(ver, 0) + 1
    return agg


def fmt_versions(d):
    if not d:
        return "—"
    return ", ".join("v%d×%d" % (v, n) for v, n in sorted(d.items()))


def markdown(summary):
    lines = []
    agg = table(summary)
    lines.append("| API | key | c2s requests (version×count) | s2c responses (version×count) |")
    lines.append("|---|---:|---|---|")
    for key in sorted(agg):
        e = agg[key]
        lines.append("| %s | %d | %s | %s |" % (api_name(key), key, fmt_versions(e["c2s"]), fmt_versions(e["s2c"])))
    lines.append("")
    lines.append("| connection | c2s bytes | s2c bytes | requests | responses | APIs (in order of first use) |")
    lines.append("|---|---:|---:|---:|---:|---|")
    for c in summary["conns"]:
        seen = []
        for key, _v, _c, _n in c["requests"]:
            if api_name(key) not in seen:
                seen.append(api_name(key))
        lines.append("| conn-%d | %d | %d | %d | %d | %s |" % (
            c["conn"], c["bytes"][0], c["bytes"][1], len(c["requests"]), len(c["responses"]), ", ".join(seen)))
    notes = []
    for c in summary["conns"]:
        for p in c["problems"]:
            notes.append("conn-%d: PROBLEM %s" % (c["conn"], p))
        for k, v, corr in c["unanswered"]:
            notes.append("conn-%d: %s v%d (correlation id %d) has no response in the capture"
                         % (c["conn"], api_name(k), v, corr))
    if notes:
        lines.append("")
        lines.extend("- " + n for n in notes)
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--require", default="", help="comma list of API names/keys that must appear in both directions")
    a = ap.parse_args()
    bad = 0
    union = {}
    for d in a.dirs:
        s = analyze_dir(d)
        probs = [(c["conn"], p) for c in s["conns"] for p in c["problems"]]
        for key, e in table(s).items():
            u = union.setdefault(key, {"c2s": 0, "s2c": 0})
            u["c2s"] += sum(e["c2s"].values())
            u["s2c"] += sum(e["s2c"].values())
        bad += len(probs)
        if a.json:
            print(json.dumps(s))
        elif a.markdown:
            print("### %s\n" % os.path.basename(os.path.normpath(d)))
            print(markdown(s))
            print()
        else:
            agg = table(s)
            print("%s: %d connections, %d problems" % (d, len(s["conns"]), len(probs)))
            for key in sorted(agg):
                print("  %-24s %3d  c2s %-28s s2c %s" % (api_name(key), key, fmt_versions(agg[key]["c2s"]),
                                                         fmt_versions(agg[key]["s2c"])))
            for n, p in probs:
                print("  PROBLEM conn-%d: %s" % (n, p))
    if a.require:
        by_name = {v.lower(): k for k, v in API_NAMES.items()}
        missing = []
        for want in filter(None, (w.strip() for w in a.require.split(","))):
            key = int(want) if want.isdigit() else by_name.get(want.lower())
            u = union.get(key, {"c2s": 0, "s2c": 0})
            if key is None or not u["c2s"] or not u["s2c"]:
                missing.append("%s (c2s %d, s2c %d)" % (want, u["c2s"], u["s2c"]))
        if missing:
            print("MISSING in %s: %s" % (" + ".join(a.dirs), ", ".join(missing)), file=sys.stderr)
            return 1
        print("require OK: all of [%s] present in both directions" % a.require, file=sys.stderr)
    if a.check and bad:
        print("%d problem(s)" % bad, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
