//! Tests against real third-party servers and programs, each started by
//! the test on a free loopback port (see `common/servers.rs`): skipped with
//! `cargo test -- --skip servers::`, the fast tier.

mod analyst_datasets;
mod azure_clients;
mod emulator_apps;
mod grafana_dashboard;
mod influx;
mod netns;
mod promql;
mod promtool_tests;
mod remote_write;
mod report;
mod sdk_parse;
mod signing;
mod tls;
