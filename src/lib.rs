//! callmetrics: realistic Call Automation metric traffic and exact checks.
//!
//! The data flows one way: `scenario` (parse, validate) -> `catalog` (the
//! fixed dimension values) -> `engine` (deterministic event stream and the
//! expected aggregates) -> `emit` (datasets, and delivery to targets over
//! HTTP) -> `sink` (the embedded receiver) -> `check` (expected vs
//! observed). `wire` holds the formats several sides speak, `client` the
//! HTTP client rules they share, `serve` the accept loop of every server.
//! `cli` wires commands to them.

pub mod catalog;
pub mod check;
pub mod cli;
pub mod client;
pub mod emit;
pub mod engine;
pub mod html_report;
pub mod scenario;
pub mod serve;
pub mod sink;
pub mod wire;

pub use cli::{Cli, Outcome, run};

/// The error and its causes as one line, each cause once: library errors
/// often spell their source out already ("cannot read F: No such file"), and
/// printing the chain after it would say it twice. (For an `anyhow::Error`,
/// pass `err.as_ref()`.)
pub fn error_text(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// True when the error chain ends in a closed stdout (`callmetrics ... | head`),
/// which is a normal way for a reader to stop and not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    #[error("cannot read f.json: {source}")]
    struct Unreadable {
        source: std::io::Error,
    }

    // A new user saw "No such file or directory (os error 2): No such file
    // or directory (os error 2)" (issue #11).
    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = anyhow::Error::new(Unreadable { source: io() });
        assert_eq!(
            super::error_text(err.as_ref()),
            "cannot read f.json: no such file"
        );
        let err = anyhow::Error::new(io()).context("cannot open the log");
        assert_eq!(
            super::error_text(err.as_ref()),
            "cannot open the log: no such file"
        );
    }
}
