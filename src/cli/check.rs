//! `check`: read expected.json, query the backend, print the report. The
//! exit code follows the report (0 pass, 1 mismatches); anything that kept
//! the comparison from running is an error, exit 2.

use super::{CheckArgs, Outcome};
use crate::catalog::Naming;
use crate::check::{CheckOptions, ExpectedData, Limits, Reading, Report, ReportFormat, Traffic};
use crate::html_report::{self, Checked, Page};
use crate::wire::MetricsResponse;
use anyhow::Context;
use std::io::{BufWriter, Write};
use std::path::Path;

pub(super) fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let (expected, report) = match compare(args) {
        Ok(compared) => compared,
        Err(e) => {
            if args.format == ReportFormat::Junit {
                super::output::junit_failure("the check could not be carried out", &e);
            }
            return Err(e);
        }
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    report.render(args.format, args.max_mismatches, &mut out)?;
    out.flush()?;
    if args.report.is_some() {
        write_page(args, &expected, report.naming, Checked::Report(&report))?;
    }
    Ok(if report.passed() {
        Outcome::Pass
    } else {
        Outcome::Fail
    })
}

/// The expected file and the report of comparing it with the backend.
fn compare(args: &CheckArgs) -> anyhow::Result<(MetricsResponse, Report)> {
    let expected = read_expected(&args.expected)?;
    let options = CheckOptions {
        grains: args.grain.clone(),
        tolerance: args.tolerance,
        totals: args.reading.totals,
    };
    let limits = Limits {
        timeout: args.timeout,
        max_answer: args.max_answer_bytes,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let tls = args.tls.client()?;
    let report = Reading::new(
        &args.reading,
        &args.observed,
        args.token.as_deref(),
        tls,
        limits,
    )
    .and_then(|reading| runtime.block_on(reading.check(&expected, &options, args.max_time)));
    match report {
        Ok(report) => Ok((expected, report)),
        Err(e) => {
            // A page that says why there is no comparison, for CI
            // artifacts; the error is what the command ends with.
            if args.report.is_some() {
                let data = ExpectedData::from_response(&expected).ok();
                let traffic = data
                    .as_ref()
                    .map(|data| Traffic::expected(data, data.grain()))
                    .unwrap_or_default();
                let naming = data.map_or(Naming::Azure, |data| data.naming());
                let why = format!(
                    "the check could not be carried out: {}",
                    crate::error_text::error_text(&e)
                );
                let checked = Checked::Skipped { why, traffic };
                if let Err(written) = write_page(args, &expected, naming, checked) {
                    eprintln!("warning: no report: {written:#}");
                }
            }
            Err(e.into())
        }
    }
}

/// `--report`'s page, when asked for.
fn write_page(
    args: &CheckArgs,
    expected: &MetricsResponse,
    naming: Naming,
    check: Checked,
) -> anyhow::Result<()> {
    let Some(path) = &args.report else {
        return Ok(());
    };
    let page = Page {
        title: format!(
            "callmetrics check: {}",
            expected.callmetrics.as_ref().map_or_else(
                || args.expected.display().to_string(),
                |p| p.scenario.clone()
            )
        ),
        meta: check_meta(args, expected),
        naming,
        run: None,
        check,
    };
    super::output::write_file(path, |out| html_report::write(&page, out))?;
    eprintln!("report: {}", path.display());
    Ok(())
}

/// The lines under the report's title: what was compared with what.
fn check_meta(args: &CheckArgs, expected: &MetricsResponse) -> Vec<String> {
    let backend = args.reading.backend.api_name();
    let mut meta = vec![
        format!(
            "expected {} (timespan {})",
            args.expected.display(),
            expected.timespan
        ),
        format!("observed {} ({backend})", args.observed),
    ];
    if let Some(p) = &expected.callmetrics {
        meta.push(format!(
            "scenario {} (sha256 {}), seed {}, shard {}",
            p.scenario,
            super::short_digest(&p.scenario_sha256),
            p.seed,
            p.shard
        ));
    }
    meta
}

/// Parses an expected.json (a Metrics - List response).
fn read_expected(path: &Path) -> anyhow::Result<MetricsResponse> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    // A byte order mark, as Windows editors write, is not JSON.
    let json = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    serde_json::from_slice(json).with_context(|| {
        format!(
            "{} is not an expected.json (an Azure Monitor Metrics - List response, as \
             `callmetrics generate` writes it)",
            path.display()
        )
    })
}

/// `merge`: the shards' expected files summed, on stdout.
pub(super) fn merge(files: &[std::path::PathBuf], partial: bool) -> anyhow::Result<Outcome> {
    let read: Vec<(std::path::PathBuf, crate::wire::MetricsResponse)> = files
        .iter()
        .map(|path| Ok((path.clone(), read_expected(path)?)))
        .collect::<anyhow::Result<_>>()?;
    let (merged, missing) = crate::check::merge(&read, partial)?;
    if !missing.is_empty() {
        eprintln!(
            "note: shard {} of the workload {} not among the files: the merged file covers the \
             others only",
            missing.join(", "),
            if missing.len() == 1 { "is" } else { "are" }
        );
    }
    let mut out = std::io::stdout().lock();
    merged.write(&mut out)?;
    out.flush()?;
    Ok(Outcome::Pass)
}
