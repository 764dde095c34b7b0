//! The command line: one clap definition for every command and flag, and the
//! code that turns parsed arguments into calls on the library.

mod catalog;
mod generate;
mod validate;

use crate::catalog::{CatalogFormat, Naming};
use crate::emit::DatasetFormat;
use crate::engine::{Arrival, Grain, RampStage, Rate};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// What a command concluded; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Pass,
    /// Exit 1: the input was checked and found wrong.
    Fail,
}

const EXIT_CODES: &str = "\
Exit codes:
  0  success (valid scenario, dataset written)
  1  a check failed (invalid scenario)
  2  usage error, unreadable input or runtime error";

#[derive(Debug, Parser)]
#[command(
    name = "callmetrics",
    version,
    about = "Load-test and conformance-test metric pipelines for Azure Communication Services Call Automation",
    long_about = "callmetrics turns scenario files (call flows) into realistic Call Automation API \
requests and callback events, replays them into a metrics sink and proves that the sink's \
aggregates equal the expected counts.\n\n\
Start with `callmetrics catalog` to see the metrics and dimension values, \
`callmetrics validate scenarios/*.json` to check scenarios and \
`callmetrics generate SCENARIO --out DIR` to write a dataset.",
    after_help = EXIT_CODES,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the metrics, operations, callback event types, codes and api versions.
    Catalog(CatalogArgs),
    /// Print the JSON Schema of scenario files.
    Schema,
    /// Check scenario files and report every problem with file, line:column and a fix.
    #[command(
        after_help = "Exit codes:\n  0  all files valid\n  1  at least one file is invalid\n  2  a file could not be read"
    )]
    Validate(ValidateArgs),
    /// Generate a dataset: events, the expected aggregates and a manifest.
    #[command(
        after_help = "Examples:\n  callmetrics generate scenarios/outbound-notification.json --calls 100000 --out out\n  callmetrics generate scenarios/inbound-ivr.json --duration 10m --rate 20 --ramp 1m:100,5m:100 --out out\n  callmetrics generate scenarios/inbound-ivr.json --calls 10 --out - | head"
    )]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: CatalogFormat,
    /// Dimension naming: Azure Monitor's (StatusCodeClass) or the metrics overview's (StatusSubClass).
    #[arg(long, value_enum, default_value_t)]
    pub naming: Naming,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario files to check.
    /// Files named *.schema.json are skipped, so `validate scenarios/*.json` works.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WorkloadArgs {
    /// Seed of every random choice; the same scenario and seed give byte-identical output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of calls to generate [default: 1000 when --duration is not given].
    #[arg(long, conflicts_with = "duration")]
    pub calls: Option<u64>,
    /// Generate calls arriving during this long, e.g. 10m or 1h30m.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Call arrival rate in calls per second, e.g. 50 or 50/s.
    #[arg(long, default_value = "50/s")]
    pub rate: Rate,
    /// Arrival process: poisson (random gaps) or uniform (even spacing).
    #[arg(long, value_enum, default_value_t)]
    pub arrival: Arrival,
    /// Ramp stages DURATION:RATE,...: the rate moves linearly from --rate to each stage's
    /// rate over its duration, then holds the last one (e.g. 1m:200,5m:200,1m:0).
    #[arg(long, value_delimiter = ',', value_name = "STAGES")]
    pub ramp: Vec<RampStage>,
    /// Time of the first possible arrival (RFC 3339, UTC), e.g. 2026-03-12T10:00:00Z.
    #[arg(long, default_value = "2026-01-01T00:00:00Z", value_parser = humantime::parse_rfc3339)]
    pub start: std::time::SystemTime,
    /// Base time grain of the expected aggregates (PT1S..PT1M; coarser grains derive from it).
    #[arg(long, default_value = "PT1M")]
    pub grain: Grain,
    /// Dimension naming in the output.
    #[arg(long, value_enum, default_value_t)]
    pub naming: Naming,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Scenario file (see `callmetrics schema` and scenarios/).
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Output directory (created if missing), or - to stream events to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Event file format.
    #[arg(long, value_enum, default_value_t)]
    pub format: DatasetFormat,
    /// No progress bar and no summary line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Catalog(args) => catalog::run(&args),
        Command::Schema => catalog::schema(),
        Command::Validate(args) => validate::run(&args),
        Command::Generate(args) => generate::run(&args),
    }
}
