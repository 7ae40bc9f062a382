#!/usr/bin/env python3
"""Produce keyed messages with confluent-kafka (librdkafka) and report where they landed.

    produce.py --bootstrap 127.0.0.1:PORT --topic T --count N [--start S] [--rate R]
               [--partitions P] [--timeout 60]

Message i (S <= i < S+N) has key "k{i}" and value "v{i}". With --partitions P message i goes
to partition i % P (otherwise librdkafka's partitioner picks by key). With --rate R (messages
per second) the messages are spread over N/R seconds. Every delivery prints a line
{"event": "delivered", "i": i, "partition": p, "offset": o, "t": s}. The last line is always
{"event": "done", "produced": n, "failed": f, "next_offsets": {"p": last offset + 1, ...}}.
Exit code 0 when every message was delivered within --timeout seconds.
"""
import argparse
import json
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.0)
    ap.add_argument("--partitions", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0)
    a = ap.parse_args()
    for hp in a.bootstrap.split(","):
        if hp.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost"):
            sys.exit("refusing non-loopback bootstrap")
    from confluent_kafka import Producer

    t0 = time.monotonic()
    p = Producer({"bootstrap.servers": a.bootstrap, "acks": "all", "linger.ms": 5,
                  "enable.idempotence": False, "message.timeout.ms": int(a.timeout * 1000)})
    nxt = {}
    state = {"ok": 0, "failed": 0}

    def delivered(err, msg, i):
        if err is not None:
            state["failed"] += 1
            print(json.dumps({"event": "failed", "i": i, "error": str(err)}), flush=True)
            return
        state["ok"] += 1
        nxt[msg.partition()] = max(nxt.get(msg.partition(), 0), msg.offset() + 1)
        print(json.dumps({"event": "delivered", "i": i, "partition": msg.partition(),
                          "offset": msg.offset(), "t": round(time.monotonic() - t0, 3)}),
              flush=True)

    deadline = t0 + a.timeout
    for n, i in enumerate(range(a.start, a.start + a.count)):
        if a.rate > 0:
            due = t0 + n / a.rate
            while time.monotonic() < due:
                p.poll(min(0.05, max(0.0, due - time.monotonic())))
        kw = {}
        if a.partitions > 0:
            kw["partition"] = i % a.partitions
        p.produce(a.topic, key=f"k{i}", value=f"v{i}",
                  on_delivery=lambda err, msg, i=i: delivered(err, msg, i), **kw)
        p.poll(0)
    while state["ok"] + state["failed"] < a.count and time.monotonic() < deadline:
        p.flush(0.2)
    print(json.dumps({"event": "done", "produced": state["ok"], "failed": state["failed"],
                      "next_offsets": {str(k): v for k, v in sorted(nxt.items())}}), flush=True)
    return 0 if state["ok"] == a.count else 1


if __name__ == "__main__":
    sys.exit(main())
