//! `run`: replay a scenario into a sink, paced or at the maximum rate, then
//! (with the embedded sink, or --check) prove the sink counted it exactly.

use super::{Outcome, RunArgs};
use crate::check::{CheckOptions, check_http};
use crate::emit::http::{HttpSinkConfig, RetryPolicy, replay};
use crate::emit::pacing::Pacing;
use crate::emit::{expected_response, write_expected};
use crate::sink::{RunningSink, SinkConfig};
use anyhow::Context;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Mismatches the report shows after a run (all are counted).
const REPORT_MISMATCHES: usize = 20;

pub fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    let scenario = crate::scenario::load(&args.scenario).map_err(super::validate::explain)?;
    // `run` happens now unless told otherwise (whole milliseconds, as events are).
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    let now = UNIX_EPOCH + std::time::Duration::from_millis(now_ms);
    let workload = args.workload.workload(now)?;
    if !(args.speed.is_finite() && args.speed > 0.0) {
        anyhow::bail!("--speed must be a positive number");
    }
    let pacing = if args.max_rate {
        Pacing::Max
    } else {
        Pacing::Scheduled { speed: args.speed }
    };
    let grain = args.workload.grain;
    let naming = args.workload.naming;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let embedded = match &args.sink {
            Some(_) => None,
            None => Some(
                RunningSink::start(SinkConfig::embedded())
                    .await
                    .context("cannot start the embedded sink")?,
            ),
        };
        let url = match (&args.sink, &embedded) {
            (Some(url), _) => url.trim_end_matches('/').to_string(),
            (None, Some(sink)) => sink.url(),
            (None, None) => unreachable!("an embedded sink exists when --sink is absent"),
        };
        let config = HttpSinkConfig {
            batch_events: args.batch_size,
            batch_window: args.batch_window,
            concurrency: args.concurrency,
            gzip: args.gzip,
            retry: RetryPolicy::new(args.retries),
            token: args.token.clone(),
            naming,
            progress: !args.quiet,
            ..HttpSinkConfig::new(url.clone())
        };
        let outcome = replay(&scenario, &workload, &config, pacing, grain)
            .await
            .context("the replay could not start")?;
        if !args.quiet {
            let mut err = std::io::stderr().lock();
            writeln!(err, "replayed {} calls into {url}", outcome.calls)?;
            outcome.stats.write_summary(&mut err)?;
        }
        let resource = format!("callmetrics/scenarios/{}", scenario.name);
        if let Some(path) = &args.expected_out {
            let mut file = BufWriter::new(
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
            );
            write_expected(&mut file, &outcome.expected, naming, &resource)?;
            file.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        if !outcome.stats.succeeded() {
            // The summary above lists the failed batches and their last replies.
            anyhow::bail!(
                "{} of {} batches ({} events) could not be delivered after {} retries each{}",
                outcome.stats.failed_batches,
                outcome.stats.batches + outcome.stats.failed_batches,
                outcome.stats.failed_events,
                args.retries,
                if outcome.stats.stopped_early {
                    "; sending stopped at the first failure"
                } else {
                    ""
                }
            );
        }
        let mut verdict = Outcome::Pass;
        if embedded.is_some() || args.check {
            let expected = expected_response(&outcome.expected, naming, &resource);
            let options = CheckOptions {
                grains: Vec::new(),
                tolerance: None,
            };
            let report = check_http(&expected, &url, args.token.as_deref(), &options).await?;
            let mut out = BufWriter::new(std::io::stdout().lock());
            report.render(args.format, REPORT_MISMATCHES, &mut out)?;
            out.flush()?;
            if !report.passed() {
                verdict = Outcome::Fail;
            }
        }
        if let Some(sink) = embedded {
            sink.shutdown()
                .await
                .context("the embedded sink stopped with an error")?;
        }
        Ok(verdict)
    })
}
