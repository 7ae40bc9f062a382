#!/usr/bin/env python3
"""Producer and consumer halves of scripts/bench-consume.sh (confluent-kafka 2.16.1).

    bench_consume.py produce HOST:PORT TOPIC COUNT
    bench_consume.py consume HOST:PORT GROUP TOPIC COUNT

`consume` joins GROUP from the earliest offset, counts messages and key + value bytes until
COUNT arrived (at most 150 s), and prints one JSON line in the same shape as our
`bench_consume` example: assigned_s, span_s (first to last message), msgs_per_s, mb_per_s.
Messages are taken with Consumer.consume(num_messages=10000), the binding's batch call, so
the Python cost per message is one loop iteration and two len() calls.
"""
import json
import sys
import time


def produce(bootstrap, topic, count):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i in range(count):
        while True:
            try:
                p.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode())
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    left = p.flush(60)
    if left:
        sys.exit(f"{left} messages not delivered")


def consume(bootstrap, group, topic, count):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                  "heartbeat.interval.ms": 1000})
    t0 = time.monotonic()
    assigned = [None]

    def on_assign(_c, _ps):
        if assigned[0] is None:
            assigned[0] = time.monotonic() - t0

    c.subscribe([topic], on_assign=on_assign)
    n = b = 0
    first = last = None
    while n < count and time.monotonic() - t0 < 150:
        for m in c.consume(num_messages=10000, timeout=0.5):
            if m.error():
                continue
            if first is None:
                first = time.monotonic()
            n += 1
            b += len(m.key() or b"") + len(m.value() or b"")
            last = time.monotonic()
    span = (last - first) if first else 0.0
    print(json.dumps({"client": "librdkafka 2.16.0 (confluent-kafka 2.16.1)", "messages": n,
                      "bytes": b, "assigned_s": round(assigned[0] or -1.0, 3),
                      "span_s": round(span, 3), "msgs_per_s": round(n / max(span, 1e-9)),
                      "mb_per_s": round(b / max(span, 1e-9) / 1e6, 2)}), flush=True)
    c.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["produce"]:
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1:2] == ["consume"]:
        consume(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(__doc__)
