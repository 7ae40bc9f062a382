//! Allocation bound of the model broker's Fetch: what a Fetch allocates follows the data it
//! returns, not the byte limits or wait it asks for. Its own test binary, so the counting
//! allocator sees only this test.

use std::alloc::System;

use bytes::{Bytes, BytesMut};
use kafka_wire::generated::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_wire::{AnyResponse, ClientCodec, frame};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use testkit::{BrokerConfig, ModelBroker};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn allocated_by<F: FnOnce()>(f: F) -> usize {
    let region = Region::new(GLOBAL);
    f();
    let c = region.change();
    c.bytes_allocated + usize::try_from(c.bytes_reallocated.max(0)).unwrap_or(0)
}

/// A Fetch of `partitions` partitions of `orders`, every limit at `i32::MAX`.
fn greedy_fetch(partitions: i32) -> FetchRequest {
    FetchRequest {
        replica_id: -1,
        max_wait_ms: i32::MAX,
        min_bytes: i32::MAX,
        max_bytes: i32::MAX,
        topics: vec![FetchTopic {
            topic: "orders".into(),
            partitions: (0..partitions)
                .map(|p| FetchPartition {
                    partition: p,
                    fetch_offset: 0,
                    partition_max_bytes: i32::MAX,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn fetch_allocation_follows_the_data_not_the_limits() {
    let mut broker = ModelBroker::new(BrokerConfig {
        serve_fetch: true,
        ..BrokerConfig::default()
    });
    broker.create_topic("orders", 2);
    let value = Bytes::from(vec![7u8; 1_000]);
    for _ in 0..4 {
        broker
            .append(0, "orders", 0, &[(None, Some(value.clone()))])
            .unwrap();
    }
    let mut client = ClientCodec::new(None);
    let mut wire = BytesMut::new();
    client
        .encode_request(&greedy_fetch(2), 12, &mut wire)
        .unwrap();
    let request = frame::split(&mut wire, frame::DEFAULT_MAX_FRAME)
        .unwrap()
        .unwrap();

    // Parked (4 KB of records is less than min_bytes), then answered at a 24-day deadline.
    let parked = allocated_by(|| broker.handle_frame(1, 1, request.clone()));
    assert!(broker.is_busy(1));
    let deadline = broker.poll_timeout().expect("the fetch waits");
    assert_eq!(deadline, 1 + u64::try_from(i32::MAX).unwrap());
    let answered = allocated_by(|| broker.handle_timeout(deadline));
    let (_, frame) = broker.poll_output().expect("answered at the deadline");
    let (_, _, _, body) = client.decode_response(frame.clone()).unwrap();
    let AnyResponse::Fetch(r) = body else {
        panic!("{body:?}");
    };
    let records: usize = r.responses[0]
        .partitions
        .iter()
        .map(|p| p.records.as_ref().map_or(0, Bytes::len))
        .sum();
    assert!(records > 4_000, "every batch came back: {records}");
    // The four batches are copied into one buffer, and the frame is encoded once: a few
    // times the data, far from the 2 GiB asked for.
    let bound = 8 * frame.len() + 16 * 1024;
    assert!(parked < bound, "parking allocated {parked} bytes");
    assert!(answered < bound, "answering allocated {answered} bytes");
}
