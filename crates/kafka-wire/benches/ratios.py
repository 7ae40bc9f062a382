#!/usr/bin/env python3
"""Summarise `cargo bench -p kafka-wire --bench vs_kafka_protocol` as a markdown table.

Reads criterion's `<target>/criterion/<case>/<op>/<crate>/new/estimates.json` and prints, for
every case and operation, the median time of kafka-wire and kafka-protocol, the speed-up
(kafka-protocol time / kafka-wire time) and whether the target is met (decode >= 3x,
encode >= 1.5x). An extra row per case compares kafka-wire's vectored encode (byte fields of
4 KiB or more referenced, not copied) with kafka-protocol's contiguous encode; it is not a
like-for-like comparison and carries no target. Another row per case times kafka-wire's
borrowed view (`FooRef::decode_ref`, strings and byte fields as slices of `&[u8]`) against
kafka-protocol's decode, with the decode target.

Usage: python3 crates/kafka-wire/benches/ratios.py [TARGET_DIR]
TARGET_DIR defaults to $CARGO_TARGET_DIR, else the workspace's `target/`.
"""

import json
import os
import sys
from pathlib import Path

TARGETS = {"decode": 3.0, "encode": 1.5}
CRATES = ("kafka-wire", "kafka-protocol")


def fmt_time(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def median_ns(path: Path) -> float:
    with path.open() as f:
        return json.load(f)["median"]["point_estimate"]


def main() -> int:
    if len(sys.argv) > 1:
        target = Path(sys.argv[1])
    elif os.environ.get("CARGO_TARGET_DIR"):
        target = Path(os.environ["CARGO_TARGET_DIR"])
    else:
        target = Path(__file__).resolve().parents[3] / "target"
    root = target / "criterion"
    if not root.is_dir():
        print(f"no criterion results under {root}: run the benchmark first", file=sys.stderr)
        return 1

    rows = []
    for case in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "report"):
        for op in ("decode", "encode"):
            est = [case / op / c / "new" / "estimates.json" for c in CRATES]
            if not all(p.is_file() for p in est):
                continue
            kw, kp = (median_ns(p) for p in est)
            ratio = kp / kw
            met = "yes" if ratio >= TARGETS[op] else "**no**"
            rows.append(
                f"| {case.name} | {op} | {fmt_time(kw)} | {fmt_time(kp)} | "
                f"{ratio:.2f}x | {TARGETS[op]:g}x | {met} |"
            )
            if op == "decode":
                view = case / "decode_view" / "kafka-wire" / "new" / "estimates.json"
                if view.is_file():
                    kw = median_ns(view)
                    ratio = kp / kw
                    met = "yes" if ratio >= TARGETS[op] else "**no**"
                    rows.append(
                        f"| {case.name} | decode (kw borrowed view) | {fmt_time(kw)} | "
                        f"{fmt_time(kp)} | {ratio:.2f}x | {TARGETS[op]:g}x | {met} |"
                    )
        # kafka-wire's vectored encode (large byte fields referenced, not copied) against
        # kafka-protocol's contiguous encode: a different output form, labelled as such.
        vec = case / "encode_vectored" / "kafka-wire" / "new" / "estimates.json"
        kp_enc = case / "encode" / "kafka-protocol" / "new" / "estimates.json"
        if vec.is_file() and kp_enc.is_file():
            kw, kp = median_ns(vec), median_ns(kp_enc)
            rows.append(
                f"| {case.name} | encode (kw vectored) | {fmt_time(kw)} | {fmt_time(kp)} | "
                f"{kp / kw:.2f}x | - | not like for like |"
            )
    if not rows:
        print(f"no kafka-wire/kafka-protocol pairs under {root}", file=sys.stderr)
        return 1
    print("| case | op | kafka-wire (median) | kafka-protocol (median) "
          "| speed-up | target | met |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
