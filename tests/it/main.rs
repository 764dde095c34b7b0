//! The integration tests, one binary (as cargo's and ripgrep's are): each
//! module was a test file of its own, and cargo linked 27 binaries against
//! the crate and its dependencies; now it links one.
//!
//! The tests that need a real third-party server (Prometheus,
//! VictoriaMetrics, InfluxDB, the Node.js callback app and official SDK,
//! headless Chromium, `ip netns` and socat) are under [`servers`], so
//! `cargo test -- --skip servers::` is the fast tier; `cargo test` runs
//! everything. A missing server skips its test on a developer machine and
//! fails it in CI (`CI=true`): see `common/servers.rs`.

mod common;

mod architecture;
mod azure_monitor;
mod azure_monitor_api;
mod callback_shape;
mod check_e2e;
mod cli;
mod dashboard;
mod dataset;
mod emulate;
mod flags;
mod hostile_peers;
mod output;
mod profile;
mod properties;
mod realism;
mod run;
mod run_ends;
mod scenarios;
mod servers;
mod shard;
mod sink;
mod sink_durability;
mod sink_limits;
mod thresholds;
mod timelines;
mod tls;
mod webhook;
