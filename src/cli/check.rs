//! `check`: read expected.json, query the sink, print the report. The
//! exit code follows the report (0 pass, 1 mismatches); anything that kept
//! the comparison from running is an error, exit 2.

use super::{CheckArgs, Outcome};
use crate::check::{CheckOptions, check_http};
use crate::emit::MetricsResponse;
use anyhow::Context;
use std::io::{BufWriter, Write};
use std::path::Path;

pub fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let expected = read_expected(&args.expected)?;
    let options = CheckOptions {
        grains: args.grain.clone(),
        tolerance: args.tolerance,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = runtime.block_on(check_http(
        &expected,
        &args.observed,
        args.token.as_deref(),
        &options,
    ))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    report.render(args.format, args.max_mismatches, &mut out)?;
    out.flush()?;
    Ok(if report.passed() {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

/// Parses an expected.json (a Metrics - List response).
fn read_expected(path: &Path) -> anyhow::Result<MetricsResponse> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not an expected.json (an Azure Monitor Metrics - List response, as \
             `callmetrics generate` writes it)",
            path.display()
        )
    })
}
