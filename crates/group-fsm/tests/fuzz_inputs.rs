//! Replays the group-fsm fuzz functions over many seeded inputs on stable (the cargo-fuzz
//! targets `group_inputs` and `consumer_inputs` run the same functions).
#![cfg(feature = "fuzzing")]

/// Runs `target` on `cases` xorshift-generated inputs of 16 to 715 bytes from `seed`; returns
/// how many cases reached each state (bit `k` of the target's mask: `StateKind` number `k`).
fn replay(seed: u64, cases: usize, target: fn(&[u8]) -> u32) -> [usize; 8] {
    let mut seen = [0usize; 8];
    let mut state = seed;
    for len in (0..cases).map(|i| 16 + (i % 700)) {
        let data: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let mask = target(&data);
        for (bit, n) in seen.iter_mut().enumerate() {
            if mask & (1 << bit) != 0 {
                *n += 1;
            }
        }
    }
    seen
}

#[test]
fn random_configs_and_inputs_never_panic_or_livelock() {
    let seen = replay(
        0x1234_5678_9abc_def0,
        4000,
        group_fsm::fuzzing::group_inputs,
    );
    eprintln!(
        "cases reaching each state (Unjoined, Joining, Syncing, Stable, Leaving, Closed, Failed): {seen:?}"
    );
    // The inputs must get past the join barrier in a meaningful share of cases.
    assert!(seen[group_fsm::StateKind::Stable as usize] > 50, "{seen:?}");
    assert!(
        seen[group_fsm::StateKind::Closed as usize] > 100,
        "{seen:?}"
    );
}

#[test]
fn random_consumer_protocol_inputs_never_panic_or_livelock() {
    let seen = replay(
        0x0fed_cba9_8765_4321,
        3000,
        group_fsm::fuzzing::consumer_inputs,
    );
    eprintln!("KIP-848 cases reaching each state: {seen:?}");
    assert!(seen[group_fsm::StateKind::Stable as usize] > 50, "{seen:?}");
    assert!(seen[group_fsm::StateKind::Closed as usize] > 50, "{seen:?}");
}

/// Replays the committed cargo-fuzz corpus of the `group_inputs` target.
#[test]
fn committed_fuzz_corpus_replays() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/group_inputs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/group_inputs exists") {
        let data = std::fs::read(entry.expect("entry").path()).expect("readable");
        let _ = group_fsm::fuzzing::group_inputs(&data);
        let _ = group_fsm::fuzzing::consumer_inputs(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus");
}
