#!/usr/bin/env python3
"""Raw ApiVersions probe: sends ApiVersionsRequest over a plain TCP socket and
decodes the response. Standard library only. Loopback targets only.

Usage:
  apiversions_probe.py HOST:PORT [--version 0|3] [--all] [--json]

v0 request header is v1 (api_key, api_version, correlation_id, client_id);
v3 request is flexible (header v2 with tagged fields, body has
client_software_name/version as compact strings + tagged fields).
The ApiVersions *response* header is always v0 (no tagged fields) so that
clients can parse it before knowing the version.
"""
import argparse
import json
import socket
import struct
import sys

NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 4: "LeaderAndIsr",
    5: "StopReplica", 6: "UpdateMetadata", 7: "ControlledShutdown",
    8: "OffsetCommit", 9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup",
    12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
    15: "DescribeGroups", 16: "ListGroups", 17: "SaslHandshake", 18: "ApiVersions",
    19: "CreateTopics", 20: "DeleteTopics", 21: "DeleteRecords", 22: "InitProducerId",
    23: "OffsetForLeaderEpoch", 24: "AddPartitionsToTxn", 25: "AddOffsetsToTxn",
    26: "EndTxn", 27: "WriteTxnMarkers", 28: "TxnOffsetCommit", 29: "DescribeAcls",
    30: "CreateAcls", 31: "DeleteAcls", 32: "DescribeConfigs", 33: "AlterConfigs",
    34: "AlterReplicaLogDirs", 35: "DescribeLogDirs", 36: "SaslAuthenticate",
    37: "CreatePartitions", 38: "CreateDelegationToken", 39: "RenewDelegationToken",
    40: "ExpireDelegationToken", 41: "DescribeDelegationToken", 42: "DeleteGroups",
    43: "ElectLeaders", 44: "IncrementalAlterConfigs", 45: "AlterPartitionReassignments",
    46: "ListPartitionReassignments", 47: "OffsetDelete", 48: "DescribeClientQuotas",
    49: "AlterClientQuotas", 50: "DescribeUserScramCredentials",
    51: "AlterUserScramCredentials", 55: "DescribeQuorum", 57: "UpdateFeatures",
    60: "DescribeCluster", 61: "DescribeProducers", 64: "UnregisterBroker",
    65: "DescribeTransactions", 66: "ListTransactions", 67: "AllocateProducerIds",
    68: "ConsumerGroupHeartbeat", 69: "ConsumerGroupDescribe",
    71: "GetTelemetrySubscriptions", 72: "PushTelemetry", 74: "ListClientMetricsResources",
    75: "DescribeTopicPartitions", 76: "ShareGroupHeartbeat", 77: "ShareGroupDescribe",
    78: "ShareFetch", 79: "ShareAcknowledge", 80: "AddRaftVoter", 81: "RemoveRaftVoter",
}
INTERESTING = [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 36, 68, 69]


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def uvarint(data, pos):
    shift = result = 0
    for _ in range(5):
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
    raise ValueError("varint too long")


def enc_uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def build_request(version, corr_id=1, client_id="apiv-probe"):
    cid = client_id.encode()
    header = struct.pack(">hhih", 18, version, corr_id, len(cid)) + cid
    if version >= 3:
        header += b"\x00"  # header tagged fields
        name, ver = b"apiv-probe", b"1.0"
        body = enc_uvarint(len(name) + 1) + name + enc_uvarint(len(ver) + 1) + ver + b"\x00"
    else:
        body = b""
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def parse_response(data, version):
    pos = 0
    corr, = struct.unpack_from(">i", data, pos); pos += 4
    err, = struct.unpack_from(">h", data, pos); pos += 2
    apis = {}
    if err == 35 and version > 0:
        return corr, err, apis, {}  # body is v0-encoded; caller retries with v0
    if version >= 3:
        n, pos = uvarint(data, pos); n -= 1
    else:
        n, = struct.unpack_from(">i", data, pos); pos += 4
    for _ in range(max(n, 0)):
        k, lo, hi = struct.unpack_from(">hhh", data, pos); pos += 6
        if version >= 3:
            tags, pos = uvarint(data, pos)
            for _ in range(tags):
                _t, pos = uvarint(data, pos)
                ln, pos = uvarint(data, pos)
                pos += ln
        apis[k] = (lo, hi)
    extra = {}
    if version >= 1 and pos + 4 <= len(data):
        extra["throttle_time_ms"], = struct.unpack_from(">i", data, pos); pos += 4
    if version >= 3 and pos < len(data):
        # top-level tagged fields: 0 SupportedFeatures, 1 FinalizedFeaturesEpoch,
        # 2 FinalizedFeatures, 3 ZkMigrationReady. Just record tags present.
        ntags, pos = uvarint(data, pos)
        extra["tagged_fields"] = []
        for _ in range(ntags):
            t, pos = uvarint(data, pos)
            ln, pos = uvarint(data, pos)
            extra["tagged_fields"].append((t, ln))
            pos += ln
    return corr, err, apis, extra


def probe(host, port, version=3, timeout=5.0):
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(build_request(version))
        size, = struct.unpack(">i", recv_exact(s, 4))
        data = recv_exact(s, size)
    corr, err, apis, extra = parse_response(data, version)
    if err == 35 and version > 0:  # UNSUPPORTED_VERSION: body is v0-encoded; retry with v0
        v, err0, apis0, extra0 = probe(host, port, 0, timeout)
        extra0["note"] = "v%d request answered UNSUPPORTED_VERSION(35); fell back to v0" % version
        return v, err0, apis0, extra0
    return version, err, apis, extra


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr", help="HOST:PORT (loopback)")
    ap.add_argument("--version", type=int, default=3)
    ap.add_argument("--all", action="store_true", help="print every key, not just the interesting ones")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    host, port = a.addr.rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing non-loopback target")
    v, err, apis, extra = probe(host, int(port), a.version)
    if a.json:
        print(json.dumps({"request_version": v, "error_code": err,
                          "apis": {k: list(r) for k, r in sorted(apis.items())}, **extra}))
        return
    print("ApiVersions v%d -> error_code=%d, %d keys, extra=%s" % (v, err, len(apis), extra))
    keys = sorted(apis) if a.all else INTERESTING
    for k in keys:
        r = apis.get(k)
        print("  %3d %-26s %s" % (k, NAMES.get(k, "?"), "%d..%d" % r if r else "-- not advertised"))
    if not a.all:
        others = [k for k in sorted(apis) if k not in INTERESTING]
        print("  other keys: " + ", ".join("%d(%s)%d..%d" % (k, NAMES.get(k, "?"), *apis[k]) for k in others))


if __name__ == "__main__":
    main()
