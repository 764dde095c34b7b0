//! `check`: read expected.json, query the backend, print the report. The
//! exit code follows the report (0 pass, 1 mismatches); anything that kept
//! the comparison from running is an error, exit 2.

use super::{Backend, CheckArgs, Outcome};
use crate::catalog::Naming;
use crate::check::{
    AzureObserved, CheckError, CheckOptions, ExpectedData, InfluxqlObserved, Limits, Mapping,
    PromqlObserved, Report, ReportFormat, Traffic, check, junit_error,
};
use crate::html_report::{self, Checked, Page};
use crate::wire::MetricsResponse;
use anyhow::Context;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn run(args: &CheckArgs) -> anyhow::Result<Outcome> {
    let (expected, report) = match compare(args) {
        Ok(compared) => compared,
        Err(e) => {
            // A CI test publisher shows "no test results" for an empty
            // file: a test case that says why there is no comparison is
            // what the user needs to see there.
            if args.format == ReportFormat::Junit {
                let why = format!(
                    "the check could not be carried out: {}",
                    crate::error_text(e.as_ref())
                );
                let mut out = std::io::stdout().lock();
                if let Err(written) = junit_error(&why, &mut out).and_then(|()| out.flush()) {
                    eprintln!("warning: no JUnit output: {written}");
                }
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
        totals: args.totals,
    };
    // A flag a backend cannot use is refused: ignored, it would let the
    // user believe the check read what the flag says.
    let by_azure_names = match args.backend {
        Backend::Promql => None,
        Backend::Azure => Some("azure"),
        Backend::Influxql => Some("influxql"),
    };
    if let (Some(_), Some(backend)) = (&args.mapping, by_azure_names) {
        anyhow::bail!(
            "--mapping names Prometheus series; it goes with --backend promql, not --backend \
             {backend} (which reads metrics and dimensions by their Azure names)"
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let limits = Limits {
        timeout: args.timeout,
        max_answer: args.max_answer_bytes,
    };
    let token = args.token.as_deref();
    let work = async {
        match args.backend {
            Backend::Azure => {
                let observed = AzureObserved::new(&args.observed, token, limits)?;
                check(&expected, &observed, &options).await
            }
            Backend::Influxql => {
                let observed = InfluxqlObserved::new(&args.observed, token, None, limits)?;
                check(&expected, &observed, &options).await
            }
            Backend::Promql => {
                let mapping = match &args.mapping {
                    Some(path) => Mapping::load(path).map_err(|reason| CheckError::Mapping {
                        path: path.display().to_string(),
                        reason,
                    })?,
                    None => Mapping::default_naming(),
                };
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                let observed = PromqlObserved::new(&args.observed, token, mapping, now, limits)?;
                check(&expected, &observed, &options).await
            }
        }
    };
    let checked = runtime.block_on(async { tokio::time::timeout(args.max_time, work).await });
    let report: Result<Report, CheckError> =
        checked.unwrap_or(Err(CheckError::TimedOut(args.max_time)));
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
                    crate::error_text(&e)
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
    let backend = match args.backend {
        Backend::Azure => "Metrics - List API",
        Backend::Promql => "PromQL",
        Backend::Influxql => "InfluxQL",
    };
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
pub fn merge(files: &[std::path::PathBuf], partial: bool) -> anyhow::Result<Outcome> {
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
