//! Code shared by the integration tests (and, through `#[path]`, by the benches).

#[allow(
    dead_code,
    reason = "shared with benches/many_groups.rs: each target uses a different part"
)]
pub(crate) mod harness;
