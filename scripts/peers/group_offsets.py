#!/usr/bin/env python3
"""A group's committed offsets next to the log's watermarks (confluent-kafka / librdkafka).

    group_offsets.py --bootstrap 127.0.0.1:PORT --group G --topic T --partitions P [--timeout 20]
    group_offsets.py --bootstrap 127.0.0.1:PORT --groups G1,G2,... --topic T --partitions P

Does not join the group: Consumer.committed() is an OffsetFetch to the coordinator, and
get_watermark_offsets() a ListOffsets to each leader. Prints one JSON line
{"partitions": [{"partition": p, "committed": c (-1001 = none), "low": l, "high": h}, ...]}.
With --groups (several groups in one run, one Consumer per group) it prints one line
{"groups": {"G1": [partitions as above], ...}} instead.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    who = ap.add_mutually_exclusive_group(required=True)
    who.add_argument("--group")
    who.add_argument("--groups", help="comma-separated group ids")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=20.0)
    a = ap.parse_args()
    for hp in a.bootstrap.split(","):
        if hp.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost"):
            sys.exit("refusing non-loopback bootstrap")
    from confluent_kafka import Consumer, TopicPartition

    def read(group):
        c = Consumer({"bootstrap.servers": a.bootstrap, "group.id": group,
                      "enable.auto.commit": False})
        tps = [TopicPartition(a.topic, p) for p in range(a.partitions)]
        out = []
        for tp in c.committed(tps, timeout=a.timeout):
            low, high = c.get_watermark_offsets(TopicPartition(a.topic, tp.partition),
                                                timeout=a.timeout)
            out.append({"partition": tp.partition, "committed": tp.offset, "low": low,
                        "high": high, "error": str(tp.error) if tp.error else None})
        c.close()
        return out

    if a.group is not None:
        print(json.dumps({"partitions": read(a.group)}), flush=True)
    else:
        groups = [g for g in a.groups.split(",") if g]
        print(json.dumps({"groups": {g: read(g) for g in groups}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
