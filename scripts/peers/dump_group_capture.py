#!/usr/bin/env python3
"""Print the consumer-group embedded protocol found in a capture directory.

    dump_group_capture.py [--json] SCENARIO_DIR

For every JoinGroup request, JoinGroup response, SyncGroup request and SyncGroup response in
the conn-N.{c2s,s2c}.bin files (record_proxy.py output) prints one line: the connection, the
API version, member ids, generation, chosen protocol, and the decoded
ConsumerProtocolSubscription (version, topics, user_data hex, owned partitions, generation,
rack) or ConsumerProtocolAssignment (version, partitions, user_data hex).

Only the non-flexible versions are decoded (JoinGroup v0-v5, SyncGroup v0-v3: what librdkafka
2.16 sends); other versions are listed without their body. A stdlib-only tool for writing
MANIFEST.md; the Rust tests decode the same bytes with kafka-wire.
"""
import glob
import json
import os
import re
import struct
import sys


class R:
    def __init__(self, b):
        self.b, self.o = b, 0

    def i8(self):
        v = struct.unpack_from(">b", self.b, self.o)[0]; self.o += 1; return v

    def i16(self):
        v = struct.unpack_from(">h", self.b, self.o)[0]; self.o += 2; return v

    def i32(self):
        v = struct.unpack_from(">i", self.b, self.o)[0]; self.o += 4; return v

    def string(self):
        n = self.i16()
        if n < 0:
            return None
        v = self.b[self.o:self.o + n].decode(); self.o += n; return v

    def bytes_(self):
        n = self.i32()
        if n < 0:
            return None
        v = self.b[self.o:self.o + n]; self.o += n; return v

    def array(self, f):
        n = self.i32()
        return None if n < 0 else [f() for _ in range(n)]

    def left(self):
        return len(self.b) - self.o


def subscription(b):
    if b is None:
        return None
    r = R(b)
    v = r.i16()
    out = {"version": v, "len": len(b), "topics": r.array(r.string)}
    ud = r.bytes_() if r.left() else None
    out["user_data"] = None if ud is None else ud.hex()
    if v >= 1 and r.left():
        out["owned"] = r.array(lambda: [r.string(), r.array(r.i32)])
    if v >= 2 and r.left():
        out["generation"] = r.i32()
    if v >= 3 and r.left():
        out["rack"] = r.string()
    if r.left():
        out["trailing"] = b[r.o:].hex()
    return out


def assignment(b):
    if b is None or len(b) == 0:
        return {"len": 0 if b is not None else None}
    r = R(b)
    v = r.i16()
    out = {"version": v, "len": len(b), "partitions": r.array(lambda: [r.string(), r.array(r.i32)])}
    ud = r.bytes_() if r.left() else None
    out["user_data"] = None if ud is None else ud.hex()
    if r.left():
        out["trailing"] = b[r.o:].hex()
    return out


def frames(data):
    off = 0
    while off + 4 <= len(data):
        (n,) = struct.unpack_from(">i", data, off)
        yield data[off + 4: off + 4 + n]
        off += 4 + n


def conn_events(d, n):
    c2s = open(os.path.join(d, "conn-%d.c2s.bin" % n), "rb").read()
    s2c = open(os.path.join(d, "conn-%d.s2c.bin" % n), "rb").read()
    reqs, out = {}, []
    for f in frames(c2s):
        r = R(f)
        key, ver, corr = r.i16(), r.i16(), r.i32()
        r.string()  # client id (header v1; group APIs here are non-flexible)
        reqs[corr] = (key, ver)
        if key == 11:
            ev = {"conn": n, "api": "JoinGroup", "dir": "req", "v": ver, "corr": corr}
            if ver <= 5:
                ev["group"] = r.string()
                ev["session_ms"] = r.i32()
                if ver >= 1:
                    ev["rebalance_ms"] = r.i32()
                ev["member_id"] = r.string()
                if ver >= 5:
                    ev["instance_id"] = r.string()
                ev["protocol_type"] = r.string()
                ev["protocols"] = r.array(lambda: {"name": r.string(), "subscription": subscription(r.bytes_())})
            out.append(ev)
        elif key == 14:
            ev = {"conn": n, "api": "SyncGroup", "dir": "req", "v": ver, "corr": corr}
            if ver <= 3:
                ev["group"] = r.string()
                ev["generation"] = r.i32()
                ev["member_id"] = r.string()
                if ver >= 3:
                    ev["instance_id"] = r.string()
                ev["assignments"] = r.array(lambda: {"member_id": r.string(), "assignment": assignment(r.bytes_())})
            out.append(ev)
    for f in frames(s2c):
        r = R(f)
        corr = r.i32()
        key, ver = reqs.get(corr, (None, None))
        if key == 11:
            ev = {"conn": n, "api": "JoinGroup", "dir": "resp", "v": ver, "corr": corr}
            if ver <= 5:
                if ver >= 2:
                    ev["throttle_ms"] = r.i32()
                ev["error"] = r.i16()
                ev["generation"] = r.i32()
                ev["protocol"] = r.string()
                ev["leader"] = r.string()
                ev["member_id"] = r.string()
                ev["members"] = r.array(lambda: dict(
                    [("member_id", r.string())] + ([("instance_id", r.string())] if ver >= 5 else [])
                    + [("subscription", subscription(r.bytes_()))]))
            out.append(ev)
        elif key == 14:
            ev = {"conn": n, "api": "SyncGroup", "dir": "resp", "v": ver, "corr": corr}
            if ver <= 3:
                if ver >= 1:
                    ev["throttle_ms"] = r.i32()
                ev["error"] = r.i16()
                ev["assignment"] = assignment(r.bytes_())
            out.append(ev)
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    as_json = "--json" in sys.argv
    if len(args) != 1:
        sys.exit(__doc__)
    d = args[0]
    conns = sorted({int(re.search(r"conn-(\d+)\.", p).group(1)) for p in glob.glob(os.path.join(d, "conn-*.bin"))})
    for n in conns:
        for ev in conn_events(d, n):
            print(json.dumps(ev) if as_json else "conn-%d %s %s v%s corr %d: %s" % (
                ev["conn"], ev["api"], ev["dir"], ev["v"], ev["corr"],
                json.dumps({k: v for k, v in ev.items() if k not in ("conn", "api", "dir", "v", "corr")})))


if __name__ == "__main__":
    main()
