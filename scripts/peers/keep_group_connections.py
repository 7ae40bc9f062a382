#!/usr/bin/env python3
"""Reduce a capture directory to its consumer-group coordinator connections.

    keep_group_connections.py SCENARIO_DIR

Keeps the conn-N.{c2s,s2c}.bin pairs whose client-to-broker frames include a group API request
(JoinGroup 11, Heartbeat 12, LeaveGroup 13, SyncGroup 14), deletes the others (bootstrap,
Metadata-only and Fetch connections), and renumbers the kept pairs conn-1..conn-K in the proxy's
accept order: the golden tests walk conn-1, conn-2, ... and stop at the first gap. Prints the
mapping to stderr.
"""
import glob
import os
import re
import struct
import sys

GROUP_APIS = {11, 12, 13, 14}


def num(path):
    return int(re.search(r"conn-(\d+)\.c2s\.bin$", path).group(1))


def request_keys(data):
    keys, off = set(), 0
    while off + 6 <= len(data):
        (n,) = struct.unpack_from(">i", data, off)
        if n < 2:
            break
        keys.add(struct.unpack_from(">h", data, off + 4)[0])
        off += 4 + n
    return keys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    kept = []
    for c2s in sorted(glob.glob(os.path.join(d, "conn-*.c2s.bin")), key=num):
        s2c = c2s[: -len(".c2s.bin")] + ".s2c.bin"
        with open(c2s, "rb") as f:
            keys = request_keys(f.read())
        if keys & GROUP_APIS:
            kept.append((num(c2s), c2s, s2c))
        else:
            for p in (c2s, s2c):
                if os.path.exists(p):
                    os.remove(p)
    for i, (n, c2s, s2c) in enumerate(kept, 1):
        for old, suffix in ((c2s, "c2s"), (s2c, "s2c")):
            new = os.path.join(d, "conn-%d.%s.bin" % (i, suffix))
            if old != new and os.path.exists(old):
                os.rename(old, new)
        print("kept proxy connection %d as conn-%d" % (n, i), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
