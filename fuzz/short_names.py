#!/usr/bin/env python3
"""Renames every file under fuzz/corpus/<target>/ and fuzz/regressions/<target>/ to the
CRC-64/XZ of its content (16 hex digits), the names `make_seeds` in
crates/kafka-wire/tests/corpus.rs writes. Run it after merging fuzzer output (libFuzzer names
files by SHA-1); duplicates disappear.

Usage: python3 short_names.py [TARGET...]   (default: the four kafka-wire targets)"""

import pathlib
import sys

POLY = 0xC96C5795D7870F42  # CRC-64/XZ (ECMA-182, reflected)
TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ POLY if c & 1 else c >> 1
    TABLE.append(c)


def crc64_xz(data: bytes) -> int:
    crc = 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc = TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


assert crc64_xz(b"123456789") == 0x995DC9BBDF1939FA


KAFKA_WIRE_TARGETS = ("decode_request", "decode_response", "frame_split", "record_batches")


def main() -> None:
    root = pathlib.Path(__file__).resolve().parent
    targets = sys.argv[1:] or KAFKA_WIRE_TARGETS
    for kind in ("corpus", "regressions"):
        for d in (root / kind / t for t in targets):
            if not d.is_dir():
                continue
            for f in sorted(p for p in d.iterdir() if p.is_file()):
                name = f"{crc64_xz(f.read_bytes()):016x}"
                if f.name != name:
                    target = d / name
                    if target.exists():
                        f.unlink()
                    else:
                        f.rename(target)
    sys.exit(0)


if __name__ == "__main__":
    main()
