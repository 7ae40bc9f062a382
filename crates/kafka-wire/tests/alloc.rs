//! Allocation bound: decoding hostile or valid input allocates at most a constant factor of
//! the input size. Its own test binary, so the counting allocator sees only this test.
#![cfg(feature = "testing")]

use std::alloc::System;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_wire::testing::Gen;
use kafka_wire::{AnyRequest, AnyResponse, ApiKey};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes of memory a decode may allocate per input byte (in-memory structs are larger than
/// their wire form: an element of 1 wire byte can be a struct of a few hundred bytes).
const FACTOR: usize = 256;

fn allocated_by<F: FnOnce()>(f: F) -> usize {
    let region = Region::new(GLOBAL);
    f();
    let c = region.change();
    c.bytes_allocated + c.bytes_reallocated.max(0) as usize
}

#[test]
fn decode_allocation_is_bounded_by_input_size() {
    let mut worst: (f64, String) = (0.0, String::new());
    let mut g = Gen::new(3).with_max_len(4);
    let mut inputs: Vec<(ApiKey, i16, bool, Bytes)> = Vec::new();
    for &k in ApiKey::ALL {
        let r = k.versions();
        for v in r.min..=r.max {
            // hostile: huge array counts and lengths at every position of a valid message
            let x = AnyRequest::random(k, v, &mut g);
            let mut o = BytesMut::new();
            x.encode(v, &mut o).unwrap();
            let valid = o.freeze();
            inputs.push((k, v, true, valid.clone()));
            for pos in 0..valid.len().min(24) {
                let mut h = valid.to_vec();
                let end = (pos + 4).min(h.len());
                h[pos..end].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff][..end - pos]);
                inputs.push((k, v, true, Bytes::from(h)));
            }
            let y = AnyResponse::random(k, v, &mut g);
            let mut o = BytesMut::new();
            y.encode(v, &mut o).unwrap();
            inputs.push((k, v, false, o.freeze()));
        }
    }
    let mut b = BytesMut::new();
    b.put_i32(i32::MAX);
    b.put_slice(&[0; 6]);
    for &k in ApiKey::ALL {
        inputs.push((k, k.versions().max, true, b.clone().freeze()));
        inputs.push((k, k.versions().min, false, b.clone().freeze()));
    }
    // Both decode APIs: the owned one, and the borrowed view (`decode_via_ref` decodes the
    // view and then copies it into the owned type; hostile inputs fail in the view decode).
    for (k, v, is_req, input) in &inputs {
        for view in [false, true] {
            let n = allocated_by(|| match (*is_req, view) {
                (true, false) => drop(core::hint::black_box(AnyRequest::decode(*k, *v, input))),
                (false, false) => {
                    drop(core::hint::black_box(AnyResponse::decode(*k, *v, input)));
                }
                (true, true) => drop(core::hint::black_box(AnyRequest::decode_via_ref(
                    *k, *v, input,
                ))),
                (false, true) => drop(core::hint::black_box(AnyResponse::decode_via_ref(
                    *k, *v, input,
                ))),
            });
            let ratio = n as f64 / input.len().max(1) as f64;
            if ratio > worst.0 {
                worst = (
                    ratio,
                    format!("{k:?} v{v} req={is_req} view={view} len={}", input.len()),
                );
            }
            assert!(
                n <= FACTOR * input.len() + 1024,
                "{k:?} v{v} (view: {view}): {n} bytes allocated for {} input bytes",
                input.len()
            );
        }
    }
    eprintln!(
        "{} inputs; worst allocation ratio {:.1} bytes per input byte ({})",
        inputs.len(),
        worst.0,
        worst.1
    );
}
