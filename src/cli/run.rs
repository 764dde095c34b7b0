//! `run`: replay a scenario to a target (a sink's ingest, or an app's
//! callback URL), paced or at the maximum rate, then (with the embedded
//! sink, or --check) prove the sink counted it exactly.

use super::{Outcome, RunArgs};
use crate::catalog::Naming;
use crate::check::{
    CheckOptions, ExpectedData, JunitCase, JunitSuite, Limits, Reading, ReportFormat, Traffic,
    junit_document,
};
use crate::client::RetryPolicy;
use crate::client::tls::ClientTls;
use crate::emit::deliver::{
    Cancel, Compression, DeliveryConfig, MaxFailed, Pacing, ReplayOutcome, Stats, replay,
};
use crate::emit::targets::{Deliver, Signing, Target, TargetDefaults, TargetOptions};
use crate::engine::Workload;
use crate::html_report::{self, Checked, Page};
use crate::model::Grain;
use crate::scenario::Scenario;
use crate::sink::{RunningSink, SinkConfig};
use crate::wire::CUSTOM_METRICS_NAMESPACE;
use crate::wire::metrics_response::time_stamp;
use crate::wire::resource_id::is_resource_id;
use crate::wire::{expected_response, write_expected};
use anyhow::Context;
use std::io::{BufWriter, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest one check after a run may take (as `check --max-time`).
const CHECK_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(600);

/// Mismatches the report shows after a run (all are counted).
const REPORT_MISMATCHES: usize = 20;

pub(super) fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    let rendered = std::cell::Cell::new(false);
    let outcome = replay_and_check(args, &rendered);
    if let Err(e) = &outcome
        && args.format == ReportFormat::Junit
        && !rendered.get()
    {
        super::output::junit_failure("the run could not be checked", e);
    }
    outcome
}

/// The run, and its check when there is one; `rendered` is set once the
/// check's report is on stdout.
fn replay_and_check(args: &RunArgs, rendered: &std::cell::Cell<bool>) -> anyhow::Result<Outcome> {
    let scenario = crate::scenario::load(&args.scenario).map_err(super::validate::explain)?;
    super::validate::warn(&scenario, &args.scenario, args.quiet);
    // `run` happens now unless told otherwise (whole milliseconds, as events are).
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    let now = UNIX_EPOCH + std::time::Duration::from_millis(now_ms);
    let workload = args.workload.workload(now)?;
    thresholds_fit(args)?;
    for (flag, path) in [
        ("--expected-out", &args.expected_out),
        ("--summary-out", &args.summary_out),
        ("--report", &args.report),
    ] {
        if let Some(path) = path {
            super::output::check_writable(flag, path)?;
        }
    }
    let pacing = if args.max_rate {
        Pacing::Max
    } else {
        Pacing::Scheduled { speed: args.speed }
    };
    let tls = args.tls.client()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let planned = Planned {
        args,
        scenario: &scenario,
        workload: &workload,
        pacing,
        tls: &tls,
    };
    runtime.block_on(planned.replay_and_check(rendered))
}

/// A run whose flags were read and found usable: what it replays, how
/// fast, and how it speaks TLS.
struct Planned<'a> {
    args: &'a RunArgs,
    scenario: &'a Scenario,
    workload: &'a Workload,
    pacing: Pacing,
    tls: &'a ClientTls,
}

impl Planned<'_> {
    /// Inside the runtime: the sink, the replay, the files, the check and
    /// the report, then the run's verdict or error.
    async fn replay_and_check(self, rendered: &std::cell::Cell<bool>) -> anyhow::Result<Outcome> {
        let Planned {
            args,
            scenario,
            workload,
            pacing,
            tls,
        } = self;
        let cancel = ctrl_c_stops();
        let session = Session {
            tls,
            cancel: &cancel,
        };
        let embedded = match &args.sink {
            Some(_) => None,
            None => Some(
                RunningSink::start(embedded_config(args.workload.grain))
                    .await
                    .context("cannot start the embedded sink")?,
            ),
        };
        // The sink's root: where ingest batches and check queries go.
        let root = match (&args.sink, &embedded) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(sink)) => sink.url(),
            (None, None) => unreachable!("an embedded sink exists when --sink is absent"),
        };
        // The check's reader, built (and its flags refused) before the run.
        let reading = reading_for(args, &root, tls)?;
        let outcome = deliver_to_target(args, scenario, workload, &root, pacing, session).await?;
        let run = Finished {
            args,
            scenario,
            workload,
            outcome: &outcome,
            resource: format!("callmetrics/scenarios/{}", scenario.name),
        };
        run.write_files()?;
        let failure = undelivered(&outcome.stats, args.expected_out.is_some(), args.max_failed);
        let checked = if failure.is_none() && (embedded.is_some() || args.check) {
            run.check(&reading, &cancel, rendered).await?
        } else {
            if failure.is_none() {
                print_threshold_suite(args, &outcome.stats, rendered)?;
            }
            Ok(None)
        };
        let verdict = match &checked {
            Ok(Some(report)) if !report.passed() => Outcome::Fail,
            _ if outcome.stats.failed_thresholds().next().is_some() => Outcome::Fail,
            _ => Outcome::Pass,
        };
        let (report, check_error) = match checked {
            Ok(report) => (report, None),
            Err(e) => (None, Some(e)),
        };
        let (why, error) = why_unchecked(args, failure, check_error);
        run.write_report_if_asked(report.as_ref(), why, error.is_some())?;
        if let Some(e) = error {
            return Err(e);
        }
        if let Some(sink) = embedded {
            sink.shutdown()
                .await
                .context("the embedded sink stopped with an error")?;
        }
        Ok(verdict)
    }
}

/// A run not checked still prints its thresholds' suite, for JUnit.
fn print_threshold_suite(
    args: &RunArgs,
    stats: &Stats,
    rendered: &std::cell::Cell<bool>,
) -> anyhow::Result<()> {
    if let Some(suite) = threshold_suite(args, stats) {
        let mut out = BufWriter::new(std::io::stdout().lock());
        junit_document(None, REPORT_MISMATCHES, &[suite], &mut out)?;
        rendered.set(true);
        out.flush()?;
    }
    Ok(())
}

/// What the report says instead of a check, and what ends the run in an
/// error: undelivered requests first, then a check that could not be
/// carried out.
fn why_unchecked(
    args: &RunArgs,
    failure: Option<anyhow::Error>,
    check_error: Option<anyhow::Error>,
) -> (String, Option<anyhow::Error>) {
    match (failure, check_error) {
        (Some(e), _) => (format!("not checked: {e}"), Some(e)),
        (None, Some(e)) => (
            format!("the check could not be carried out: {e:#}"),
            Some(e),
        ),
        (None, None) if args.target.posts_to_apps() => (
            "not checked: the callbacks went to an app; --check --backend promql \
             --observed PROMETHEUS_URL checks what it counted"
                .to_string(),
            None,
        ),
        (None, None) => (
            "not checked: the sink is external (--sink); --check checks it".to_string(),
            None,
        ),
    }
}
/// The command's one Ctrl-C token: the first Ctrl-C stops the run
/// wherever it is (the pre-pass, the schedule, the check; the summary and
/// --expected-out then describe what was delivered); a second one ends the
/// process at once.
///
/// The handler is in place when this returns: `tokio::signal::ctrl_c()`
/// registers only when its task first runs, and a Ctrl-C before that (the
/// pre-pass keeps the runtime busy) killed the process with no summary.
fn ctrl_c_stops() -> Cancel {
    let cancel = Cancel::new();
    let mut interrupts = Interrupts::listen();
    tokio::spawn({
        let cancel = cancel.clone();
        async move {
            if interrupts.next().await {
                eprintln!("\nstopping: Ctrl-C again to quit at once");
                cancel.cancel();
                if interrupts.next().await {
                    std::process::exit(130);
                }
            }
        }
    });
    cancel
}

/// Ctrl-C, listened for from the moment it is made.
struct Interrupts {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn listen() -> Interrupts {
        Interrupts {
            #[cfg(unix)]
            signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok(),
        }
    }

    /// The next Ctrl-C; false if none can be received.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        {
            match &mut self.signal {
                Some(signal) => signal.recv().await.is_some(),
                None => false,
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.is_ok()
        }
    }
}

/// How the run's check reads what was counted: `--observed`, or the sink
/// at `root` (refused for an app, which answers no queries).
fn reading_for(args: &RunArgs, root: &str, tls: &ClientTls) -> anyhow::Result<Reading> {
    Ok(match &args.observed {
        Some(url) => Reading::new(&args.reading, url, None, tls.clone(), Limits::default())?,
        // A callmetrics sink takes callbacks at its root's /callbacks and
        // answers queries; an app does neither.
        None if args.check
            && args.target.posts_to_apps()
            && args
                .sink
                .as_deref()
                .and_then(|url| reqwest::Url::parse(url).ok())
                .is_none_or(|url| url.path().trim_end_matches('/') != "/callbacks") =>
        {
            anyhow::bail!(
                "--check after --target webhook reads what the app counted: add --observed \
                 with the Prometheus that scrapes it (and --backend promql, --mapping, --wait)"
            )
        }
        None if !args.reading.backend.reads_the_sink() => anyhow::bail!(
            "--backend {} reads --observed: add --observed URL",
            args.reading.backend.name()
        ),
        None => {
            let root = origin(root);
            // Custom metrics posted to a sink's {resourceUri}/metrics are
            // that resource's: read them at Azure's paths, in the custom
            // namespace, unless --resource-id says otherwise.
            let mut reading = args.reading.clone();
            let url = match resource_of(&root) {
                Some((base, resource)) if reading.resource_id.is_none() => {
                    reading.resource_id = Some(resource);
                    reading.metric_namespace = Some(CUSTOM_METRICS_NAMESPACE.to_string());
                    base
                }
                _ => root,
            };
            Reading::new(
                &reading,
                &url,
                args.token.as_deref(),
                tls.clone(),
                Limits::default(),
            )?
        }
    })
}

/// `scheme://host:port` and the resource id of a URL whose path is an
/// Azure resource id.
fn resource_of(url: &str) -> Option<(String, String)> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let path = parsed.path().trim_end_matches('/');
    is_resource_id(path).then(|| {
        let base = url.trim_end_matches('/');
        (
            base[..base.len() - path.len()].to_string(),
            path.to_string(),
        )
    })
}

/// Builds the `--target` (which refuses flags it cannot use) and replays
/// to it.
async fn deliver_to_target(
    args: &RunArgs,
    scenario: &Scenario,
    workload: &Workload,
    root: &str,
    pacing: Pacing,
    session: Session<'_>,
) -> anyhow::Result<ReplayOutcome> {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as i64;
    let options = TargetOptions {
        root,
        sink: args.sink.as_deref(),
        token: args.token.as_deref(),
        naming: args.workload.naming,
        sample_interval: args.sample_interval,
        grain: args.workload.grain,
        no_stale_markers: args.no_stale_markers,
        concurrency: args.concurrency,
        sharded: !workload.shard.is_whole(),
        sign: args
            .acs_resource_id
            .as_deref()
            .filter(|_| args.sign)
            .map(|audience| Signing {
                audience,
                oidc_listen: args.oidc_listen,
            }),
        scenario,
        workload,
        pacing,
        now_ms,
    };
    let delivering = Delivering {
        args,
        scenario,
        workload,
        pacing,
        session,
    };
    args.target.deliver(&options, delivering).await?
}

/// A run's delivery to whichever target `--target` built.
struct Delivering<'a> {
    args: &'a RunArgs,
    scenario: &'a Scenario,
    workload: &'a Workload,
    pacing: Pacing,
    session: Session<'a>,
}

impl Deliver for Delivering<'_> {
    type Output = anyhow::Result<ReplayOutcome>;

    async fn deliver<T: Target>(self, target: T, defaults: TargetDefaults) -> Self::Output {
        let Delivering {
            args,
            scenario,
            workload,
            pacing,
            session,
        } = self;
        deliver(args, scenario, workload, target, defaults, pacing, session).await
    }
}

/// A replay that ended: what it writes, checks and reports.
struct Finished<'a> {
    args: &'a RunArgs,
    scenario: &'a Scenario,
    workload: &'a Workload,
    outcome: &'a ReplayOutcome,
    /// The resource id of the expected file and the report.
    resource: String,
}

impl Finished<'_> {
    /// `--expected-out` and `--summary-out`.
    fn write_files(&self) -> anyhow::Result<()> {
        let (args, outcome) = (self.args, self.outcome);
        if let Some(path) = &args.expected_out {
            super::output::write_file(path, |out| {
                let provenance = crate::emit::provenance(self.scenario, self.workload);
                write_expected(
                    out,
                    &outcome.expected,
                    args.workload.naming,
                    &self.resource,
                    provenance,
                )
            })?;
        }
        if let Some(path) = &args.summary_out {
            super::output::write_file(path, |out| {
                serde_json::to_writer_pretty(&mut *out, &outcome.stats.to_json())?;
                out.write_all(b"\n")
            })?;
        }
        Ok(())
    }

    /// Checks what was delivered and prints the report (with the
    /// thresholds' suite, for JUnit); `Err` when the check could not be
    /// carried out (a Ctrl-C included); an `Err` of the outer result only
    /// when the report cannot be written.
    async fn check(
        &self,
        reading: &Reading,
        cancel: &Cancel,
        rendered: &std::cell::Cell<bool>,
    ) -> anyhow::Result<Result<Option<crate::check::Report>, anyhow::Error>> {
        let (args, stats) = (self.args, &self.outcome.stats);
        let expected =
            expected_response(&self.outcome.expected, args.workload.naming, &self.resource);
        let options = CheckOptions {
            totals: args.reading.totals,
            ..CheckOptions::default()
        };
        let checked = tokio::select! {
            checked = reading.check(&expected, &options, CHECK_MAX_TIME) => checked,
            () = cancel.cancelled() => {
                return Ok(Err(anyhow::anyhow!(
                    "interrupted during the check: all {} events in {} requests were \
                     delivered{}",
                    stats.events,
                    stats.requests,
                    if args.expected_out.is_some() {
                        " and --expected-out describes them"
                    } else {
                        ""
                    }
                )));
            }
        };
        let checked = match checked {
            Ok(checked) => checked,
            Err(e) => return Ok(Err(anyhow::Error::from(e))),
        };
        let mut out = BufWriter::new(std::io::stdout().lock());
        match threshold_suite(args, stats) {
            Some(suite) => junit_document(Some(&checked), REPORT_MISMATCHES, &[suite], &mut out)?,
            None => checked.render(args.format, REPORT_MISMATCHES, &mut out)?,
        }
        rendered.set(true);
        out.flush()?;
        Ok(Ok(Some(checked)))
    }

    /// `--report`: the run's page, with its check or `why` there is none.
    fn write_report(
        &self,
        path: &std::path::Path,
        report: Option<&crate::check::Report>,
        why: String,
    ) -> anyhow::Result<()> {
        let naming = self.args.workload.naming;
        let checked = match report {
            Some(report) => Checked::Report(report),
            None => Checked::Skipped {
                why,
                traffic: sent_traffic(
                    self.outcome,
                    naming,
                    &self.resource,
                    self.args.workload.grain,
                )?,
            },
        };
        let page = Page {
            title: format!("callmetrics run: {}", self.scenario.name),
            meta: run_meta(self.scenario, self.workload, self.outcome),
            naming,
            run: Some(html_report::Run {
                stats: &self.outcome.stats,
                timeline: self.outcome.timeline.as_ref(),
            }),
            check: checked,
        };
        super::output::write_file(path, |out| html_report::write(&page, out))
    }

    /// `--report`, when asked for. A report that cannot be written ends
    /// the run in an error only when the run has none of its own
    /// (`run_failed`): that one is the error to exit with.
    fn write_report_if_asked(
        &self,
        report: Option<&crate::check::Report>,
        why: String,
        run_failed: bool,
    ) -> anyhow::Result<()> {
        let Some(path) = &self.args.report else {
            return Ok(());
        };
        match self.write_report(path, report, why) {
            Ok(()) if !self.args.quiet => eprintln!("report: {}", path.display()),
            Ok(()) => {}
            Err(e) if run_failed => eprintln!("warning: no report: {e:#}"),
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// Why the delivered events are not all of them, if they are not: a
/// Ctrl-C, or requests that failed for good (the summary lists them) and
/// more of them than `max_failed` accepts.
fn undelivered(
    stats: &Stats,
    expected_out: bool,
    max_failed: Option<MaxFailed>,
) -> Option<anyhow::Error> {
    if stats.interrupted {
        return Some(anyhow::anyhow!(
            "interrupted: {} events in {} requests were delivered{}; the check was skipped",
            stats.events,
            stats.requests,
            if expected_out {
                " and --expected-out describes exactly those"
            } else {
                ""
            }
        ));
    }
    let accepted = max_failed.is_some_and(|m| !stats.stopped_early && m.allows(stats));
    if stats.succeeded() || accepted {
        return None;
    }
    let first = stats.failures.first().map_or(String::new(), |f| {
        format!(
            "; the first, request {} ({}): {}",
            f.id,
            f.attempts_text(),
            f.reason
        )
    });
    Some(anyhow::anyhow!(
        "{} of {} requests ({} events) could not be delivered{}{}{first}",
        stats.failed_requests,
        stats.requests + stats.failed_requests,
        stats.failed_events,
        max_failed.map_or(String::new(), |m| format!(", more than --max-failed {m}")),
        if stats.stopped_early {
            "; sending stopped at the first failure"
        } else {
            ""
        }
    ))
}

/// The sent side of the report's charts, for a run that was not checked.
fn sent_traffic(
    outcome: &ReplayOutcome,
    naming: Naming,
    resource: &str,
    grain: Grain,
) -> anyhow::Result<Vec<Traffic>> {
    let expected = expected_response(&outcome.expected, naming, resource);
    let data = ExpectedData::from_response(&expected)?;
    Ok(Traffic::expected(&data, grain))
}

/// The lines under the report's title.
fn run_meta(scenario: &Scenario, workload: &Workload, outcome: &ReplayOutcome) -> Vec<String> {
    let stats = &outcome.stats;
    let pacing = match stats.pacing {
        Pacing::Max => "at the maximum rate".to_string(),
        Pacing::Scheduled { speed } => format!("scheduled at x{speed}"),
    };
    let mut meta = vec![
        format!(
            "scenario {} (sha256 {}), seed {}, {} calls from {}",
            scenario.name,
            super::short_digest(&scenario.sha256),
            workload.seed,
            outcome.calls,
            time_stamp(workload.start_ms)
        ),
        format!("{} target {}, {pacing}", stats.target, outcome.url),
    ];
    if !workload.shard.is_whole() {
        meta.push(format!("shard {} of the workload", workload.shard));
    }
    meta
}

/// Replays callbacks to an app; with `--sign`, every request signed and the
/// OpenID configuration served for as long as the run lasts.
/// What every request of a run shares beyond its target: how it speaks
/// TLS, and the Ctrl-C that stops it.
#[derive(Clone, Copy)]
struct Session<'a> {
    tls: &'a ClientTls,
    cancel: &'a Cancel,
}

/// Replays to `target` with the flags, or the target's `defaults` where a
/// flag is not given; prints the summary.
async fn deliver<T: Target>(
    args: &RunArgs,
    scenario: &Scenario,
    workload: &Workload,
    target: T,
    defaults: TargetDefaults,
    pacing: Pacing,
    session: Session<'_>,
) -> anyhow::Result<ReplayOutcome> {
    if !args.quiet
        && let Some(warning) = ahead_of_clock(scenario, workload, &target, pacing)
    {
        eprintln!("{warning}");
    }
    let schedule = if !args.max_rate && (!args.quiet || args.control.is_some()) {
        if !args.quiet {
            // A million calls take seconds to size: say what the wait is.
            eprintln!("sizing the schedule (every call simulated once; Ctrl-C stops)");
        }
        let sized = pre_pass(scenario, workload, args.speed, session.cancel).await;
        if let Some((note, _)) = &sized
            && !args.quiet
        {
            eprintln!("{note}");
        }
        sized.map(|(_, length)| length)
    } else {
        None
    };
    let mut config = DeliveryConfig {
        batch_events: args.batch_size.unwrap_or(defaults.batch_events),
        batch_window: args.batch_window,
        concurrency: args.concurrency.unwrap_or(defaults.concurrency),
        compression: match (args.gzip, defaults.compression) {
            (false, compression) => compression,
            (true, Compression::None) => Compression::Gzip,
            (true, other) => anyhow::bail!(
                "--gzip: the {} target compresses with {other:?} as its protocol requires",
                T::NAME
            ),
        },
        retry: RetryPolicy {
            retryable: defaults.retryable,
            ..RetryPolicy::new(args.retries.unwrap_or(defaults.retries))
        },
        timeout: args.timeout,
        progress: !args.quiet,
        schedule,
        control: args.control,
        timeline: args.report.is_some(),
        cancel: session.cancel.clone(),
        ..DeliveryConfig::new(defaults)
    };
    // A failure budget is only worth having if sending goes on.
    config.stop_on_failure &= args.max_failed.is_none();
    let grain: Grain = args.workload.grain;
    let mut outcome = replay(
        scenario,
        workload,
        target,
        &config,
        pacing,
        grain,
        session.tls,
    )
    .await?;
    let stats = &mut outcome.stats;
    stats.thresholds = args.thresholds.iter().map(|t| t.judge(stats)).collect();
    let mut err = std::io::stderr().lock();
    if args.quiet {
        // What decides exit 1 is said even when nothing else is.
        stats.write_thresholds(&mut err, true)?;
    } else {
        writeln!(err, "replayed {} calls to {}", outcome.calls, outcome.url)?;
        stats.write_summary(&mut err)?;
    }
    Ok(outcome)
}

/// [`schedule`] on a thread of its own: off the async workers (which the
/// embedded sink shares), and left behind on Ctrl-C rather than waited for
/// (it takes seconds for a million calls; the process ends soon after).
/// `None` after a Ctrl-C: the run then stops before its first batch.
async fn pre_pass(
    scenario: &Scenario,
    workload: &Workload,
    speed: f64,
    cancel: &Cancel,
) -> Option<(String, std::time::Duration)> {
    let (done, sized) = tokio::sync::oneshot::channel();
    let pass = {
        let (scenario, workload) = (scenario.clone(), workload.clone());
        std::thread::spawn(move || {
            let _ = done.send(schedule(&scenario, &workload, speed));
        })
    };
    tokio::select! {
        sized = sized => match sized {
            Ok(sized) => Some(sized),
            // The sender is gone without a value: the pass panicked.
            Err(_) => match pass.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the pre-pass sends its result before it ends"),
            },
        },
        () = cancel.cancelled() => None,
    }
}

/// Said before a run into a time-series database whose timestamps would
/// run far ahead of the clock (a `--max-rate` run wrote 53 minutes ahead,
/// which Mimir refuses). The calls are simulated once for it, as for
/// [`schedule`].
fn ahead_of_clock<T: Target>(
    scenario: &Scenario,
    workload: &Workload,
    target: &T,
    pacing: Pacing,
) -> Option<String> {
    target.last_stamp(workload.start_ms)?;
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as i64;
    let speed = match pacing {
        Pacing::Max => None,
        Pacing::Scheduled { speed } => Some(speed),
    };
    let expected = tokio::task::block_in_place(|| {
        crate::engine::expected_only(scenario, workload, Grain::SECOND, 2)
    });
    let (first, last) = expected.time_range()?;
    let last = last + Grain::SECOND.millis() - 1;
    crate::emit::targets::ahead_of_clock(
        (first, last),
        target.last_stamp(last)?,
        workload.start_ms,
        now_ms,
        speed,
    )
}

/// How long a scheduled run takes, said before it starts: the README's
/// first replay lasts 25 minutes, which nobody expects from a load tool.
/// The calls are simulated once for it (a pass at millions of events a
/// second, before a run that lasts their real time).
fn schedule(
    scenario: &crate::scenario::Scenario,
    workload: &crate::engine::Workload,
    speed: f64,
) -> (String, std::time::Duration) {
    let calls = workload
        .arrivals()
        .enumerate()
        .filter(|&(i, _)| workload.shard.owns(i as u64))
        .count();
    let expected = crate::engine::expected_only(scenario, workload, Grain::SECOND, 2);
    let last_ms = expected
        .time_range()
        .map_or(0, |(_, last)| last + 1000 - workload.start_ms);
    let span = std::time::Duration::from_secs((last_ms as f64 / 1000.0 / speed).ceil() as u64);
    let note = format!(
        "schedule: {calls} calls, the last event {} from the start{}; --speed N runs it N times \
         faster, --max-rate as fast as the sink takes it",
        humantime::format_duration(span),
        if speed == 1.0 {
            String::new()
        } else {
            format!(" at --speed {speed}")
        }
    );
    (note, span)
}

/// `scheme://host:port` of a sink URL given with a path (a webhook URL on
/// the sink's /callbacks, an azure-monitor URL on its /metrics): where its
/// query API is.
fn origin(url: &str) -> String {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return url.to_string();
    };
    ["/callbacks", "/metrics"]
        .into_iter()
        .filter(|endpoint| parsed.path() != "/" && parsed.path().ends_with(endpoint))
        .find_map(|endpoint| url.trim_end_matches('/').strip_suffix(endpoint))
        .unwrap_or(url)
        .to_string()
}

/// The in-process sink. Its check asks at the run's grain: a sub-minute
/// grain needs every second kept, however much data time the run covers.
fn embedded_config(grain: Grain) -> SinkConfig {
    let mut config = SinkConfig::embedded();
    if !Grain::MINUTE.divides(grain) {
        config.store.per_second_retention = config.store.time_window * 2;
    }
    config
}

/// Thresholds that cannot be judged are refused before the run, and one
/// that a failed request would pre-empt is pointed out.
fn thresholds_fit(args: &RunArgs) -> anyhow::Result<()> {
    if args.max_rate
        && let Some(t) = args.thresholds.iter().find(|t| t.needs_schedule())
    {
        anyhow::bail!(
            "--threshold {t}: a --max-rate run has no schedule, so no lag to judge; drop it or \
             run paced (--speed)"
        );
    }
    if args.max_failed.is_none()
        && let Some(t) = args.thresholds.iter().find(|t| t.judges_failures())
    {
        eprintln!(
            "warning: --threshold {t}: without --max-failed, any failed request ends the run \
             with exit 2 whatever the threshold says; add --max-failed 100% to let it decide"
        );
    }
    Ok(())
}

/// The thresholds as one JUnit test suite, when `--format junit` asks for
/// one and there are thresholds.
fn threshold_suite(args: &RunArgs, stats: &Stats) -> Option<JunitSuite> {
    if args.format != ReportFormat::Junit || stats.thresholds.is_empty() {
        return None;
    }
    Some(JunitSuite {
        name: "callmetrics run thresholds".to_string(),
        cases: stats
            .thresholds
            .iter()
            .map(|j| JunitCase {
                classname: "callmetrics.run.threshold".to_string(),
                name: j.threshold.to_string(),
                failure: (!j.passed).then(|| format!("observed {}", j.observed_text())),
            })
            .collect(),
    })
}
