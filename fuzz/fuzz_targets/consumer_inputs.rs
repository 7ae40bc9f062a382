//! group-fsm: a KIP-848 member under arbitrary configuration and timed inputs (no panic, no
//! livelock). Shares the corpus layout of `group_inputs`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = group_fsm::fuzzing::consumer_inputs(data);
});
