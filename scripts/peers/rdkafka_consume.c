/*
 * The librdkafka half of scripts/bench-consume.sh, in C: librdkafka's own consume loop,
 * without the Python binding's per-message cost.
 *
 *   rdkafka_consume HOST:PORT GROUP TOPIC COUNT
 *
 * Joins GROUP from the earliest offset, polls messages (rd_kafka_consumer_poll, one at a
 * time, as a C application does) and counts them and their key + value bytes until COUNT
 * arrived (at most 150 s). Prints one JSON line in the same shape as our `bench_consume`
 * example: assigned_s, span_s (first to last message), msgs_per_s, mb_per_s.
 *
 * Built by scripts/bench-consume.sh against the librdkafka inside the confluent-kafka wheel
 * (2.16), with the header of Debian's librdkafka-dev (2.0.2; librdkafka keeps its C ABI).
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double t0;
static double assigned_s = -1.0;

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque) {
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (assigned_s < 0)
            assigned_s = now_s() - t0;
        rd_kafka_assign(rk, parts);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s=%s: %s\n", k, v, err);
        exit(2);
    }
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s HOST:PORT GROUP TOPIC COUNT\n", argv[0]);
        return 2;
    }
    long count = atol(argv[4]);
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", argv[1]);
    set(conf, "group.id", argv[2]);
    set(conf, "auto.offset.reset", "earliest");
    set(conf, "session.timeout.ms", "6000");
    set(conf, "heartbeat.interval.ms", "1000");
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    t0 = now_s();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", err);
        return 2;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, argv[3], RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(rk, topics) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "subscribe failed\n");
        return 2;
    }
    rd_kafka_topic_partition_list_destroy(topics);
    long n = 0;
    long long bytes = 0;
    double first = -1.0, last = -1.0;
    while (n < count && now_s() - t0 < 150.0) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        if (!m)
            continue;
        if (!m->err) {
            double t = now_s();
            if (first < 0)
                first = t;
            last = t;
            n++;
            bytes += (long long)m->key_len + (long long)m->len;
        }
        rd_kafka_message_destroy(m);
    }
    double span = first >= 0 ? last - first : 0.0;
    printf("{\"client\": \"librdkafka %s (C, rd_kafka_consumer_poll)\", \"messages\": %ld, "
           "\"bytes\": %lld, \"assigned_s\": %.3f, \"span_s\": %.3f, \"msgs_per_s\": %.0f, "
           "\"mb_per_s\": %.2f}\n",
           rd_kafka_version_str(), n, bytes, assigned_s, span,
           span > 0 ? (double)n / span : 0.0, span > 0 ? (double)bytes / span / 1e6 : 0.0);
    fflush(stdout);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n < count ? 1 : 0;
}
