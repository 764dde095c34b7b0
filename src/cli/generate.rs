//! `generate`: write a dataset for a scenario and workload.

use super::profile::ProfileArg;
use super::{GenerateArgs, Outcome, WorkloadArgs};
use crate::emit::{DatasetOptions, Destination, write_dataset};
use crate::engine::{DEFAULT_START_MS, Workload};
use anyhow::Context;
use std::io::Write;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

impl WorkloadArgs {
    /// The workload; without --start it begins at `default_start`.
    pub fn workload(&self, default_start: SystemTime) -> anyhow::Result<Workload> {
        let start_ms = self
            .start
            .unwrap_or(default_start)
            .duration_since(UNIX_EPOCH)
            .context("--start must be after 1970-01-01")?
            .as_millis() as i64;
        let workload = Workload {
            seed: self.seed,
            calls: self.calls,
            duration: self.duration,
            rate: self.rate,
            arrival: self.arrival,
            ramp: self.ramp.clone(),
            profile: self.profile.as_ref().map(ProfileArg::read).transpose()?,
            start_ms,
            shard: self.shard,
        };
        workload.check()?;
        Ok(workload)
    }
}

pub(super) fn run(args: &GenerateArgs) -> anyhow::Result<Outcome> {
    let scenario = crate::scenario::load(&args.scenario).map_err(super::validate::explain)?;
    super::validate::warn(&scenario, &args.scenario, args.quiet);
    // Fixed, so output is reproducible without --start.
    let default_start = UNIX_EPOCH + std::time::Duration::from_millis(DEFAULT_START_MS as u64);
    let workload = args.workload.workload(default_start)?;
    let destination = if args.out.as_os_str() == "-" {
        Destination::Stdout
    } else {
        Destination::Directory(args.out.clone())
    };
    let to_stdout = matches!(destination, Destination::Stdout);
    let opts = DatasetOptions {
        scenario_path: &args.scenario,
        destination,
        format: args.format,
        csv_layout: args.csv_layout,
        naming: args.workload.naming,
        grain: args.workload.grain,
        progress: !args.quiet,
        force: args.force,
        sample_interval: args.sample_interval,
    };
    let started = Instant::now();
    let summary = write_dataset(&scenario, &workload, &opts)?;
    if !args.quiet && !to_stdout {
        let secs = started.elapsed().as_secs_f64();
        let events = summary.requests + summary.callbacks;
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "wrote {} calls, {events} events ({} requests, {} callbacks, {:.1} MiB) to {} in {secs:.2}s ({:.0} events/s)",
            summary.calls,
            summary.requests,
            summary.callbacks,
            summary.bytes as f64 / (1024.0 * 1024.0),
            args.out.display(),
            events as f64 / secs.max(1e-9),
        )?;
    }
    Ok(Outcome::Pass)
}
