//! callmetrics: realistic Call Automation metric traffic and exact checks.
//!
//! The data flows one way: `scenario` (parse, validate) -> `catalog` (the
//! fixed dimension values) -> `engine` (deterministic event stream and the
//! expected aggregates) -> `emit` (datasets, and delivery to targets over
//! HTTP) -> `sink` (the embedded receiver) -> `check` (expected vs
//! observed). `wire` holds the formats several sides speak, `client` the
//! HTTP client rules they share, `serve` the accept loop of every server,
//! `error_text` how an error and its causes read as one line.
//! `cli` wires commands to them.

// The compiler reports what no caller outside the crate can reach, so dead
// code cannot hide behind a `pub` (tests reach in through `testing`).
#![warn(unreachable_pub)]

mod catalog;
mod check;
mod cli;
mod client;
mod emit;
mod emulate;
mod engine;
mod error_text;
mod html_report;
mod model;
mod scenario;
mod serve;
mod sink;
mod wire;

#[doc(hidden)]
pub mod testing;

pub use cli::{Cli, Outcome, run};
pub use error_text::error_text;

/// True when the error chain ends in a closed stdout (`callmetrics ... | head`),
/// which is a normal way for a reader to stop and not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
