#!/usr/bin/env python3
"""Drive real Kafka clients through one consumer-group life cycle, for wire captures.

    capture_clients.py ck    --bootstrap 127.0.0.1:PORT [--create] [--protocol classic|consumer]
    capture_clients.py kp    --bootstrap 127.0.0.1:PORT [--create]

ck = confluent-kafka (librdkafka), kp = kafka-python. Steps, all in this process:
  1. (--create) create TOPIC with PARTITIONS partitions through the library's admin client
  2. produce MESSAGES small records (key "kNN", ~50-byte value), partition = i % PARTITIONS
  3. a consumer in GROUP subscribes (auto.offset.reset=earliest, manual commit) and polls
     until it has every record
  4. explicit synchronous commit, committed() (OffsetFetch) and watermark / end offsets
     (ListOffsets)
  5. keeps polling STAY seconds with heartbeat interval 500 ms so Heartbeats hit the wire
  6. close() (LeaveGroup / KIP-848 leave heartbeat)

Every wait is bounded (--timeout). Only loopback bootstraps are accepted. Exit 0 when every
record was consumed, 1 otherwise. A JSON summary goes to stdout.
"""
import argparse
import json
import sys
import time

T0 = time.monotonic()


def log(*a):
    print("[%7.3f]" % (time.monotonic() - T0), *a, file=sys.stderr, flush=True)


def payload(i):
    # ~50 bytes, deterministic
    return ("capture message %02d: the quick brown fox jumps" % i).encode()


def run_ck(a):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    log("confluent-kafka", __import__("confluent_kafka").version(), "librdkafka",
        __import__("confluent_kafka").libversion())
    if a.create:
        adm = AdminClient({"bootstrap.servers": a.bootstrap, "client.id": "cap-admin"})
        fs = adm.create_topics([NewTopic(a.topic, num_partitions=a.partitions, replication_factor=1)],
                               operation_timeout=10, request_timeout=10)
        for t, f in fs.items():
            try:
                f.result(timeout=15)
                log("created", t)
            except Exception as e:  # already exists etc.
                log("create", t, "->", e)
        del adm

    p = Producer({"bootstrap.servers": a.bootstrap, "client.id": "cap-producer", "linger.ms": 5})
    errs = []

    def dr(err, _m):
        if err:
            errs.append(str(err))
    for i in range(a.messages):
        p.produce(a.topic, key=b"k%02d" % i, value=payload(i), partition=i % a.partitions, on_delivery=dr)
        p.poll(0)
    left = p.flush(20)
    log("produced", a.messages - left - len(errs), "errors", errs[:3])
    del p

    conf = {
        "bootstrap.servers": a.bootstrap,
        "client.id": "cap-consumer",
        "group.id": a.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 500,
    }
    if a.protocol == "consumer":
        conf["group.protocol"] = "consumer"
    else:
        conf["session.timeout.ms"] = a.session_ms
        conf["heartbeat.interval.ms"] = 500
    errors = []
    conf["error_cb"] = lambda e: errors.append(str(e))
    c = Consumer(conf)
    c.subscribe([a.topic])
    got = {}
    deadline = time.monotonic() + a.timeout
    while len(got) < a.messages and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            log("consumer error", m.error())
            continue
        got[(m.partition(), m.offset())] = m.value()
    log("consumed", len(got), "assignment", [tp.partition for tp in c.assignment()])
    committed = []
    if got:
        try:
            c.commit(asynchronous=False)
        except Exception as e:
            log("commit ->", e)
        try:
            committed = [(tp.partition, tp.offset) for tp in
                         c.committed([TopicPartition(a.topic, i) for i in range(a.partitions)], timeout=10)]
        except Exception as e:
            log("committed ->", e)
    wm = []
    for i in range(a.partitions):
        try:
            wm.append(c.get_watermark_offsets(TopicPartition(a.topic, i), timeout=5, cached=False))
        except Exception as e:
            log("watermarks ->", e)
    stay_end = time.monotonic() + a.stay
    while time.monotonic() < stay_end:
        c.poll(0.2)
    t = time.monotonic()
    c.close()
    log("closed in %.3f s" % (time.monotonic() - t))
    return got, committed, wm, errors


def run_kp(a):
    import kafka
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic

    log("kafka-python", kafka.__version__)
    if a.create:
        adm = KafkaAdminClient(bootstrap_servers=a.bootstrap, client_id="cap-admin", request_timeout_ms=10000)
        try:
            adm.create_topics([NewTopic(a.topic, a.partitions, 1)], timeout_ms=10000)
            log("created", a.topic)
        except Exception as e:
            log("create ->", e)
        adm.close()

    p = KafkaProducer(bootstrap_servers=a.bootstrap, client_id="cap-producer", linger_ms=5)
    futs = [p.send(a.topic, key=b"k%02d" % i, value=payload(i), partition=i % a.partitions)
            for i in range(a.messages)]
    p.flush(timeout=20)
    ok = 0
    for f in futs:
        try:
            f.get(timeout=5)
            ok += 1
        except Exception as e:
            log("produce ->", e)
    log("produced", ok)
    p.close(timeout=5)

    c = KafkaConsumer(bootstrap_servers=a.bootstrap, client_id="cap-consumer", group_id=a.group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      session_timeout_ms=a.session_ms, heartbeat_interval_ms=500,
                      fetch_max_wait_ms=500)
    c.subscribe([a.topic])
    got = {}
    deadline = time.monotonic() + a.timeout
    while len(got) < a.messages and time.monotonic() < deadline:
        for tp, ms in c.poll(timeout_ms=200).items():
            for m in ms:
                got[(tp.partition, m.offset)] = m.value
    log("consumed", len(got), "assignment", sorted(tp.partition for tp in c.assignment()))
    tps = [TopicPartition(a.topic, i) for i in range(a.partitions)]
    committed = []
    if got:
        try:
            c.commit()
        except Exception as e:
            log("commit ->", e)
        for tp in tps:
            try:
                committed.append((tp.partition, c.committed(tp)))
            except Exception as e:
                log("committed ->", e)
    wm = []
    try:
        b = c.beginning_offsets(tps)
        e = c.end_offsets(tps)
        wm = [(b[tp], e[tp]) for tp in tps]
    except Exception as ex:
        log("offsets ->", ex)
    stay_end = time.monotonic() + a.stay
    while time.monotonic() < stay_end:
        c.poll(timeout_ms=200)
    t = time.monotonic()
    c.close()
    log("closed in %.3f s" % (time.monotonic() - t))
    return got, committed, wm, []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("client", choices=["ck", "kp"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", default="cap-topic")
    ap.add_argument("--group", default="cap-group")
    ap.add_argument("--partitions", type=int, default=3)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--create", action="store_true", help="create the topic with the admin client")
    ap.add_argument("--protocol", choices=["classic", "consumer"], default="classic")
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--stay", type=float, default=4.0, help="seconds to stay in the group after commit")
    ap.add_argument("--timeout", type=float, default=40.0, help="max seconds to wait for all records")
    a = ap.parse_args()
    for hp in a.bootstrap.split(","):
        if hp.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost"):
            sys.exit("refusing non-loopback bootstrap")
    if a.client == "kp" and a.protocol != "classic":
        sys.exit("kafka-python supports only the classic group protocol")
    got, committed, wm, errors = (run_ck if a.client == "ck" else run_kp)(a)
    ok = len(got) == a.messages
    print(json.dumps({"client": a.client, "protocol": a.protocol, "consumed": len(got),
                      "expected": a.messages, "committed": committed, "watermarks": wm,
                      "errors": errors[:5], "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
