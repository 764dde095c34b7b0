//! `check`: read expected.json, query the backend, print the report. The
//! exit code follows the report (0 pass, 1 mismatches); anything that kept
//! the comparison from running is an error, exit 2.

use super::{Backend, CheckArgs, Outcome, ReadingArgs};
use crate::catalog::Naming;
use crate::check::wait::{Attempt, Wait, check_until_pass};
use crate::check::{
    AnyObserved, AzureObserved, CheckError, CheckOptions, ExpectedData, InfluxqlObserved, Limits,
    Mapping, PromqlObserved, Report, ReportFormat, Selector, Traffic,
};
use crate::client::tls::ClientTls;
use crate::html_report::{self, Checked, Page};
use crate::wire::MetricsResponse;
use anyhow::Context;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// The observed side as the flags name it: which backend, where, and how
/// long to wait for it. Flags the backend cannot use are refused here,
/// before anything is asked.
pub(super) struct Reading {
    backend: Backend,
    url: String,
    token: Option<String>,
    tls: ClientTls,
    mapping: Mapping,
    /// Where the mapping came from, for messages.
    mapping_path: String,
    selector: Option<Selector>,
    wait: Option<Wait>,
    limits: Limits,
}

impl Reading {
    pub(super) fn new(
        args: &ReadingArgs,
        url: &str,
        token: Option<&str>,
        tls: ClientTls,
        limits: Limits,
    ) -> Result<Reading, CheckError> {
        // A flag a backend cannot use is refused: ignored, it would let the
        // user believe the check read what the flag says.
        let by_azure_names = match args.backend {
            Backend::Promql => None,
            Backend::Azure => Some("azure"),
            Backend::Influxql => Some("influxql"),
        };
        if let (Some(_), Some(backend)) = (&args.mapping, by_azure_names) {
            return Err(CheckError::Usage(format!(
                "--mapping names Prometheus series; it goes with --backend promql, not --backend \
                 {backend} (which reads metrics and dimensions by their Azure names)"
            )));
        }
        if args.backend == Backend::Azure && args.selector.is_some() {
            return Err(CheckError::Usage(
                "--match selects Prometheus series by label (or InfluxDB series by tag); the \
                 sink's query API has no labels to match"
                    .into(),
            ));
        }
        let mapping = match &args.mapping {
            Some(path) => Mapping::load(path).map_err(|reason| CheckError::Mapping {
                path: path.display().to_string(),
                reason,
            })?,
            None => Mapping::default_naming(),
        };
        let selector = args
            .selector
            .as_deref()
            .map(Selector::parse)
            .transpose()
            .map_err(CheckError::Usage)?;
        let wait = args
            .wait
            .map(|limit| Wait::new(limit, args.poll_interval))
            .transpose()?;
        Ok(Reading {
            backend: args.backend,
            url: url.to_string(),
            token: token.map(str::to_string),
            tls,
            mapping,
            mapping_path: args.mapping.as_ref().map_or_else(
                || "mappings/default.json".to_string(),
                |p| p.display().to_string(),
            ),
            selector,
            wait,
            limits,
        })
    }

    /// A fresh reader of the backend, reading up to now; `mapping` knows
    /// the expected file's values.
    fn reader(&self, mapping: &Mapping) -> Result<AnyObserved, CheckError> {
        let token = self.token.as_deref();
        Ok(match self.backend {
            Backend::Azure => AnyObserved::Azure(AzureObserved::new(
                &self.url,
                token,
                &self.tls,
                self.limits,
            )?),
            Backend::Influxql => AnyObserved::Influxql(InfluxqlObserved::new(
                &self.url,
                token,
                &self.tls,
                self.selector.clone(),
                self.limits,
            )?),
            Backend::Promql => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                AnyObserved::Promql(PromqlObserved::new(
                    &self.url,
                    token,
                    &self.tls,
                    mapping.clone(),
                    &self
                        .selector
                        .as_ref()
                        .map_or(String::new(), Selector::promql),
                    now,
                    self.limits,
                )?)
            }
        })
    }

    /// The check, each attempt within `per_check`, waited for as asked;
    /// while waiting, a line on stderr per failed attempt.
    pub(super) async fn check(
        &self,
        expected: &MetricsResponse,
        options: &CheckOptions,
        per_check: Duration,
    ) -> Result<Report, CheckError> {
        let every = self.wait.map_or(Duration::ZERO, |w| w.every);
        // Value rewrites are turned back over every value the check
        // compares, so the expected file's codes and versions join the
        // catalog's (and a rewrite lossy over them is refused).
        let mut mapping = self.mapping.clone();
        if self.backend == Backend::Promql {
            let data = ExpectedData::from_response(expected)?;
            mapping
                .extend_domain_from(&data)
                .map_err(|reason| CheckError::Mapping {
                    path: self.mapping_path.clone(),
                    reason,
                })?;
        }
        check_until_pass(
            expected,
            || self.reader(&mapping),
            options,
            self.wait,
            per_check,
            |attempt, left| {
                let what = match attempt {
                    Attempt::Failed(report) => format!("{} mismatches", report.mismatches.len()),
                    Attempt::Error(e) => crate::error_text::error_text(e),
                };
                if left >= every {
                    eprintln!(
                        "check: {what}; checking again in {} ({} left of --wait)",
                        humantime::format_duration(every),
                        humantime::format_duration(Duration::from_secs(left.as_secs()))
                    );
                }
            },
        )
        .await
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
    let backend = match args.reading.backend {
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
