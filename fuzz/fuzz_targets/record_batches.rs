#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kafka_wire::fuzzing::record_batches(data));
