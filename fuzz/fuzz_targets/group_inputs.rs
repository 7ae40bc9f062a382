//! group-fsm: a member under arbitrary configuration and timed inputs (no panic, no livelock).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = group_fsm::fuzzing::group_inputs(data);
});
