//! The `callmetrics` binary: parse the command line, run, map to an exit code.

use clap::Parser;
use std::process::ExitCode;

// glibc's malloc serialises tokio's worker threads on its arena locks
// when one frees what another allocated (every request and callback
// does); mimalloc frees to the owning thread without them (docs/perf.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = callmetrics::Cli::parse();
    match callmetrics::run(cli) {
        Ok(callmetrics::Outcome::Pass) => ExitCode::SUCCESS,
        Ok(callmetrics::Outcome::Fail) => ExitCode::from(1),
        Err(err) if callmetrics::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!(
                "callmetrics: error: {}",
                callmetrics::error_text(err.as_ref())
            );
            ExitCode::from(2)
        }
    }
}
