#!/usr/bin/env python3
"""One confluent-kafka (librdkafka) consumer-group member that reports its assignment.

    ck_member.py --bootstrap 127.0.0.1:PORT --group G --topic T [--strategy S]
                 [--session-ms 6000] [--heartbeat-ms 500] [--client-id ID] [--seconds 120]
                 [--protocol classic|consumer] [--remote-assignor uniform|range]

Subscribes to TOPIC in GROUP with partition.assignment.strategy=S (classic protocol) and polls.
With --protocol consumer it uses KIP-848 (group.protocol=consumer): the broker assigns (with
--remote-assignor if given), the session and heartbeat settings are the broker's, callbacks
are incremental and `protocol` is reported as "CONSUMER".
Every rebalance callback prints one JSON line to stdout (flushed):

    {"event": "assign"|"revoke"|"lost", "t": seconds since start, "member_id": "...",
     "protocol": "EAGER"|"COOPERATIVE", "partitions": [delta], "owned": [all owned]}

`partitions` is what the callback got (for the cooperative protocol an increment, for eager
the whole assignment); `owned` is the member's resulting partition set, sorted. Other lines:
{"event": "ready"} once subscribed, {"event": "error", "error": "..."} for error callbacks,
{"event": "closed", "close_s": ...} after close().

With --report-messages every consumed record is printed as
{"event": "message", "partition": p, "offset": o, "key": "...", "value": "..."}, and the
member commits what it consumed (synchronously): the revoked partitions in on_revoke, all
owned partitions every --commit-interval seconds, and once more before close(). Each commit
prints {"event": "committed", "offsets": [[partition, offset, error_or_null], ...]}.

The member leaves the group (close(), so LeaveGroup) when stdin reaches end of file (the
parent closes the pipe or exits), or after --seconds. Only loopback bootstraps are accepted.
"""
import argparse
import json
import sys
import threading
import time

T0 = time.monotonic()
OUT_LOCK = threading.Lock()
PROTOCOL = "EAGER"


def emit(obj):
    obj["t"] = round(time.monotonic() - T0, 3)
    with OUT_LOCK:
        sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--strategy", default="range")
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--heartbeat-ms", type=int, default=500)
    ap.add_argument("--client-id", default="ck-member")
    ap.add_argument("--protocol", choices=["classic", "consumer"], default="classic")
    ap.add_argument("--remote-assignor", default=None)
    ap.add_argument("--seconds", type=float, default=120.0, help="leave after this long at most")
    ap.add_argument("--debug", default="", help="librdkafka debug contexts, logged to stderr")
    ap.add_argument("--report-messages", action="store_true",
                    help="print every record and commit what was consumed (see above)")
    ap.add_argument("--commit-interval", type=float, default=1.0,
                    help="with --report-messages: commit owned positions this often (s)")
    a = ap.parse_args()
    for hp in a.bootstrap.split(","):
        if hp.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost"):
            sys.exit("refusing non-loopback bootstrap")

    from confluent_kafka import Consumer, TopicPartition

    stop = threading.Event()

    def watch_stdin():
        try:
            while sys.stdin.readline():
                pass
        except Exception:
            pass
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    conf = {
        "bootstrap.servers": a.bootstrap,
        "group.id": a.group,
        "client.id": a.client_id,
        "partition.assignment.strategy": a.strategy,
        "session.timeout.ms": a.session_ms,
        "heartbeat.interval.ms": a.heartbeat_ms,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "error_cb": lambda e: emit({"event": "error", "error": str(e)}),
    }
    if a.protocol == "consumer":
        # KIP-848: these are broker-side settings; librdkafka rejects them on the client.
        for k in ("partition.assignment.strategy", "session.timeout.ms", "heartbeat.interval.ms"):
            del conf[k]
        conf["group.protocol"] = "consumer"
        if a.remote_assignor:
            conf["group.remote.assignor"] = a.remote_assignor
    if a.debug:
        conf["debug"] = a.debug
    c = Consumer(conf)
    owned = set()
    # next offset to commit per partition (last consumed + 1), and what was last committed
    position = {}
    committed = {}

    def commit(consumer, parts):
        """Synchronously commits the consumed positions of `parts` (partition numbers)."""
        todo = [TopicPartition(a.topic, p, position[p]) for p in sorted(parts)
                if p in position and committed.get(p) != position[p]]
        if not todo:
            return
        try:
            res = consumer.commit(offsets=todo, asynchronous=False)
            out = []
            for tp in res or todo:
                err = str(tp.error) if tp.error is not None else None
                if err is None:
                    committed[tp.partition] = tp.offset
                out.append([tp.partition, tp.offset, err])
            emit({"event": "committed", "offsets": out})
        except Exception as e:  # KafkaException: the whole commit failed
            emit({"event": "committed", "offsets": [[tp.partition, tp.offset, str(e)] for tp in todo]})
    # The Python binding does not expose rd_kafka_rebalance_protocol(); librdkafka uses the
    # cooperative protocol exactly when every configured assignor is cooperative.
    global PROTOCOL
    if a.protocol == "consumer":
        PROTOCOL = "CONSUMER"
    else:
        PROTOCOL = "COOPERATIVE" if a.strategy == "cooperative-sticky" else "EAGER"

    def report(event, consumer, parts):
        delta = sorted(p.partition for p in parts)
        proto = PROTOCOL
        if a.report_messages and event == "revoke":
            commit(consumer, delta)
        if event in ("revoke", "lost"):
            for p in delta:
                position.pop(p, None)
                committed.pop(p, None)
        if event == "assign":
            if proto in ("COOPERATIVE", "CONSUMER"):
                owned.update(delta)
            else:
                owned.clear()
                owned.update(delta)
        elif proto in ("COOPERATIVE", "CONSUMER") and event == "revoke":
            owned.difference_update(delta)
        else:
            owned.clear()
        try:
            mid = consumer.memberid()
        except Exception:
            mid = None
        emit({"event": event, "member_id": mid, "protocol": proto, "partitions": delta,
              "owned": sorted(owned)})

    c.subscribe([a.topic],
                on_assign=lambda cons, ps: report("assign", cons, ps),
                on_revoke=lambda cons, ps: report("revoke", cons, ps),
                on_lost=lambda cons, ps: report("lost", cons, ps))
    emit({"event": "ready", "client_id": a.client_id})
    deadline = time.monotonic() + a.seconds
    next_commit = time.monotonic() + a.commit_interval
    while not stop.is_set() and time.monotonic() < deadline:
        m = c.poll(0.1)
        if m is not None and m.error():
            emit({"event": "error", "error": str(m.error())})
        elif m is not None and a.report_messages:
            key = m.key().decode("utf-8", "replace") if m.key() is not None else None
            val = m.value().decode("utf-8", "replace") if m.value() is not None else None
            emit({"event": "message", "partition": m.partition(), "offset": m.offset(),
                  "key": key, "value": val})
            position[m.partition()] = m.offset() + 1
        if a.report_messages and time.monotonic() >= next_commit:
            commit(c, owned)
            next_commit = time.monotonic() + a.commit_interval
    t = time.monotonic()
    if a.report_messages:
        commit(c, owned)
    c.close()
    emit({"event": "closed", "close_s": round(time.monotonic() - t, 3)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
