#!/usr/bin/env python3
"""One kafka-python (pure Python, 3.0.12) consumer-group member that reports its assignment
and every record it consumes; the kafka-python counterpart of ck_member.py --report-messages.

    kp_member.py --bootstrap 127.0.0.1:PORT --group G --topic T [--strategy S]
                 [--session-ms 6000] [--heartbeat-ms 500] [--client-id ID] [--seconds 120]
                 [--api-version 0.10.2] [--commit-interval 1.0]

S is range, roundrobin, sticky or cooperative-sticky. JSON lines on stdout (flushed), the same
shapes as ck_member.py:

    {"event": "assign"|"revoke", "t": ..., "partitions": [delta], "owned": [...]}
    {"event": "message", "partition": p, "offset": o, "key": "...", "value": "..."}
    {"event": "committed", "offsets": [[partition, offset, error_or_null], ...]}
    {"event": "ready"}, {"event": "error", "error": "..."}, {"event": "closed", "close_s": ...}

Consumed positions are committed synchronously: in on_partitions_revoked, every
--commit-interval seconds and before close(). The member leaves the group (close()) when
stdin reaches end of file, or after --seconds. Only loopback bootstraps are accepted.
"""
import argparse
import json
import sys
import threading
import time
import traceback

T0 = time.monotonic()
OUT_LOCK = threading.Lock()


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
    ap.add_argument("--client-id", default="kp-member")
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--api-version", default="", help="e.g. 0.10.2 (needed against the mocks)")
    ap.add_argument("--commit-interval", type=float, default=1.0)
    a = ap.parse_args()
    for hp in a.bootstrap.split(","):
        if hp.rsplit(":", 1)[0] not in ("127.0.0.1", "localhost"):
            sys.exit("refusing non-loopback bootstrap")

    from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor
    from kafka.structs import OffsetAndMetadata

    strategies = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor,
                  "sticky": StickyPartitionAssignor,
                  "cooperative-sticky": CooperativeStickyAssignor}

    stop = threading.Event()

    def watch_stdin():
        try:
            while sys.stdin.readline():
                pass
        except Exception:
            pass
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()

    kw = dict(bootstrap_servers=a.bootstrap, group_id=a.group, client_id=a.client_id,
              partition_assignment_strategy=[strategies[a.strategy]],
              session_timeout_ms=a.session_ms, heartbeat_interval_ms=a.heartbeat_ms,
              auto_offset_reset="earliest", enable_auto_commit=False)
    if a.api_version:
        kw["api_version"] = tuple(int(x) for x in a.api_version.split("."))
    c = KafkaConsumer(**kw)
    owned = set()
    position = {}
    committed = {}

    def commit(parts):
        todo = {TopicPartition(a.topic, p): OffsetAndMetadata(position[p], "", -1)
                for p in sorted(parts) if p in position and committed.get(p) != position[p]}
        if not todo:
            return
        try:
            c.commit(offsets=todo)
            for tp, om in todo.items():
                committed[tp.partition] = om.offset
            emit({"event": "committed",
                  "offsets": [[tp.partition, om.offset, None] for tp, om in todo.items()]})
        except Exception as e:
            emit({"event": "committed",
                  "offsets": [[tp.partition, om.offset, repr(e)] for tp, om in todo.items()]})

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            delta = sorted(tp.partition for tp in revoked)
            commit(delta)
            owned.difference_update(delta)
            for p in delta:
                position.pop(p, None)
                committed.pop(p, None)
            emit({"event": "revoke", "partitions": delta, "owned": sorted(owned)})

        def on_partitions_assigned(self, assigned):
            delta = sorted(tp.partition for tp in assigned)
            owned.update(delta)
            emit({"event": "assign", "partitions": delta, "owned": sorted(owned)})

    c.subscribe([a.topic], listener=Listener())
    emit({"event": "ready", "client_id": a.client_id})
    deadline = time.monotonic() + a.seconds
    next_commit = time.monotonic() + a.commit_interval
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            batches = c.poll(timeout_ms=100)
            for tp, records in batches.items():
                for m in records:
                    key = m.key.decode("utf-8", "replace") if m.key is not None else None
                    val = m.value.decode("utf-8", "replace") if m.value is not None else None
                    emit({"event": "message", "partition": tp.partition, "offset": m.offset,
                          "key": key, "value": val})
                    position[tp.partition] = m.offset + 1
            if time.monotonic() >= next_commit:
                commit(owned)
                next_commit = time.monotonic() + a.commit_interval
        commit(owned)
    except Exception as e:
        emit({"event": "error", "error": repr(e), "trace": traceback.format_exc()})
    t = time.monotonic()
    c.close()
    emit({"event": "closed", "close_s": round(time.monotonic() - t, 3)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
