//! The command line: one clap definition for every command and flag, and the
//! code that turns parsed arguments into calls on the library.

mod catalog;
mod check;
mod docs;
mod emulate;
mod generate;
mod output;
mod profile;
mod run;
mod sink;
mod validate;
mod variants;

pub(crate) use crate::check::{Backend, ReadingFlags as ReadingArgs};
pub(crate) use crate::emit::targets::Kind as TargetKind;

use crate::catalog::{CatalogFormat, Naming};
pub(crate) use crate::check::ReportFormat;
use crate::emit::deliver::{MaxFailed, Threshold};
use crate::emit::{CsvLayout, DatasetFormat};
use crate::engine::{Arrival, RampStage, Rate};
use crate::model::Grain;
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
        after_help = "Examples:\n  callmetrics generate scenarios/outbound-notification.json \\\n      --calls 100000 --out out\n  callmetrics generate scenarios/inbound-ivr.json --duration 10m \\\n      --rate 20 --ramp 1m:100,5m:100 --out out\n  callmetrics generate scenarios/contact-center.json --profile week \\\n      --duration 7d --rate 5/s --out out\n  callmetrics generate scenarios/inbound-ivr.json --calls 10 --out - | head"
    )]
    Generate(GenerateArgs),
    /// Serve the embedded metrics sink: ingest, aggregation, query API.
    #[command(after_help = SINK_HELP)]
    Sink(SinkArgs),
    /// Replay a scenario into a sink at its scheduled times (or as fast as possible).
    #[command(after_help = variants::section::<TargetKind>("Targets (--target)", RUN_HELP))]
    Run(Box<RunArgs>),
    /// Serve a local Call Automation service that answers an app's SDK calls from a scenario.
    #[command(after_help = EMULATE_HELP)]
    Emulate(EmulateArgs),
    /// Prove that a sink's aggregates equal the expected ones.
    #[command(after_help = variants::section::<Backend>("Backends (--backend)", CHECK_HELP))]
    Check(CheckArgs),
    /// Sum the expected files of --shard I/N runs into the whole workload's, exactly.
    #[command(
        after_help = "Refuses files of other scenarios, seeds, workloads or grains, a shard given\ntwice, and (without --partial) a missing shard.\n\nExample:\n  callmetrics merge shard-0.json shard-1.json shard-2.json > expected.json"
    )]
    Merge {
        /// The shards' expected files (generate's DIR/expected.json, run --expected-out).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Merge even when some shards' files are missing (the result is marked as those
        /// shards only).
        #[arg(long)]
        partial: bool,
    },
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  callmetrics completions bash \\\n      > ~/.local/share/bash-completion/completions/callmetrics\n  callmetrics completions zsh > ~/.zfunc/_callmetrics\n  callmetrics completions fish \\\n      > ~/.config/fish/completions/callmetrics.fish"
    )]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages: callmetrics.1 and one per command (callmetrics-run.1, ...).
    #[command(after_help = "Example:\n  callmetrics man --out man && man -l man/callmetrics-run.1")]
    Man {
        /// Directory to write the pages into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

const SINK_HELP: &str = "\
Endpoints:
  POST /ingest      NDJSON samples (events.jsonl lines), optionally gzip;
                    header Idempotency-Key
  POST /callbacks   CloudEvents JSON arrays as ACS posts them to a callback
                    URL
  POST /metrics     Azure Monitor custom-metrics documents
                    (generate --format azure-monitor)
  GET  /metrics     Azure Monitor Metrics - List: metricnames, timespan,
                    interval, aggregation, $filter (eq, ne, and, or, '*' to
                    split), top, orderby
  GET  /prometheus  Prometheus text exposition
  GET  /stats       series and cells held against --max-series and
                    --max-cells, batches and samples taken (JSON)
  GET  /healthz

Examples:
  callmetrics sink
  callmetrics sink --listen 127.0.0.1:8650 --data-dir sink-data \\
      --token s3cret";

const RUN_HELP: &str = "\
Without --sink, run starts the embedded sink on a free loopback port
(webhook: its /callbacks; azure-monitor: its /metrics), replays, then
checks every aggregate at the run's grain and prints the report. A
scheduled run says how long it lasts before it starts; Ctrl-C stops it
and still writes --expected-out for what was delivered. --report FILE
writes an HTML page of the run and its check. Of a reply's body, the
first 4 KiB are read (for its error message); a body longer than 64 KiB
closes the connection.

Thresholds (--threshold NAME OP VALUE, OP one of < <= > >= ==):
  failed, delivered  requests: a count, or X% of the requests sent
  failed.events, delivered.events
                     their events: a count, or X% of the events sent
  retries            attempts after the first: a count, or X% of requests
  latency.p50 (p90, p99, p99.9, any pN, max)
                     request latency: a duration (us, ms, s)
  lag.p50 (...)      dispatch lag behind the schedule (not --max-rate)
  events/s, requests/s
                     delivered per second of the run
Judged at the end, in the summary, --summary-out, --report and (with
--format junit) one test case each. Without --max-failed a failed request
still exits 2, whatever the thresholds say.

Examples:
  callmetrics run scenarios/outbound-notification.json
  callmetrics run scenarios/contact-center.json --calls 20000 --max-rate
  callmetrics run scenarios/contact-center.json --calls 3000 --speed 80 \\
      --report run.html
  callmetrics run scenarios/inbound-ivr.json --target webhook \\
      --sink http://127.0.0.1:3000/api/callbacks --speed 10 \\
      --threshold 'latency.p99<250ms' --threshold 'failed<0.1%' \\
      --max-failed 1%
  callmetrics run scenarios/inbound-ivr.json \\
      --sink http://127.0.0.1:8650 --expected-out expected.json
  callmetrics run scenarios/inbound-ivr.json --target webhook \\
      --sink http://127.0.0.1:3000/api/callbacks --speed 10 \\
      --expected-out expected.json --summary-out summary.json

Exit codes:
  0  every request delivered (or within --max-failed), every threshold met
     (and the check passed, when one ran)
  1  the check found mismatches, or a threshold was not met
  2  usage error, an unreachable target, a request that failed (after its
     retries; beyond --max-failed), Ctrl-C, or a runtime error";

const CHECK_HELP: &str = "\
Compares, for every metric and grain, the full dimension combinations,
each single dimension (marginal totals) and the metric total, on count,
total, minimum, maximum and average. Missing series, unexpected series and
differing values all fail.

Examples:
  callmetrics check --expected out/expected.json \\
      --observed http://127.0.0.1:8650
  callmetrics check --expected out/expected.json \\
      --observed http://127.0.0.1:8650 --grain PT1M,PT5M \\
      --format junit --report check.html > check.xml
  callmetrics check --expected expected.json --backend promql \\
      --observed http://127.0.0.1:9090 --mapping my-mapping.json --totals

Exit codes:
  0  every aggregate matches
  1  mismatches found
  2  usage error, unreadable expected file or mapping, an expected file
     without series or with no mapped metric, or the backend could not be
     queried (down, unknown metric, dimension or grain)";

#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8650", value_parser = listen_address)]
    pub listen: std::net::SocketAddr,
    /// Require `Authorization: Bearer TOKEN` on every request but /healthz (an empty
    /// token is refused).
    #[arg(long, env = "CALLMETRICS_TOKEN", hide_env_values = true, value_parser = token)]
    pub token: Option<String>,
    /// Serve https:// with this certificate (PEM, with its chain); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The --tls-cert certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Write accepted batches to a write-ahead log here before acknowledging them, and
    /// replay it on start (without it, state is in memory only).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Largest request body accepted, in bytes (compressed size; gzip bodies may
    /// expand to 4x this).
    #[arg(long, default_value_t = 16 << 20)]
    pub max_body: usize,
    /// Fault injection for tests: answer this fraction of ingest requests with 429 or
    /// 503 (alternating) without applying them.
    #[arg(long, default_value_t = 0.0, value_name = "FRACTION")]
    pub fault_rate: f64,
    /// Dimension naming in query responses.
    #[arg(long, value_enum, default_value_t)]
    pub naming: Naming,
    /// With --data-dir: when the log is damaged in the middle or in its header, move the
    /// damaged bytes aside to DIR/wal.damaged-OFFSET.bin, keep every valid record, say what
    /// the moved bytes held (cells, events, idempotency keys), and start (without it the
    /// sink refuses to start on such a log).
    #[arg(long, requires = "data_dir")]
    pub repair: bool,
    /// Idempotency keys remembered, per sink; the oldest are forgotten first (a retry
    /// of a batch older than that would count again).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_idempotency_keys: usize,
    /// With --data-dir: rewrite the log as the current aggregates and keys once it grew
    /// by this many bytes (and by at least its size after the last rewrite).
    #[arg(long, default_value_t = 64 << 20, value_name = "BYTES")]
    pub compact_after: u64,
    /// Distinct series (metric x dimension combination) the sink holds at most; a batch
    /// that would add more is refused whole (422).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_series: usize,
    /// Cells (a series' second, or its minute past --per-second-retention) the sink holds
    /// at most, about 60 bytes each: what bounds its memory. A batch that would make more
    /// is refused whole (422); GET /stats shows how many are held.
    #[arg(long, default_value_t = crate::sink::DEFAULT_MAX_CELLS, value_name = "N")]
    pub max_cells: usize,
    /// Samples more than this far from now (either way) are refused (422, field time).
    #[arg(long, default_value = "3650d", value_parser = humantime::parse_duration)]
    pub time_window: std::time::Duration,
    /// Data time held per second, back from the newest sample; older cells are rolled
    /// into minutes (same counts, sums, minima, maxima), and queries over them need an
    /// interval of PT1M or more. Bounds memory on long runs.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    pub per_second_retention: std::time::Duration,
    /// Connections served at once; more wait until one closes.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub max_connections: usize,
    /// Longest a request's headers may take to arrive (the connection is closed after).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: std::time::Duration,
    /// Longest a request's body may take to arrive once its headers did (408 after).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub body_timeout: std::time::Duration,
    /// Bytes of request bodies in memory at once over all connections, reserved as
    /// they arrive (not by Content-Length) and, for gzip, as they inflate, and held
    /// until the batch is parsed; past it, 503 with Retry-After (413 for a body larger
    /// than all of it).
    #[arg(long, default_value_t = 512 << 20, value_name = "BYTES")]
    pub max_inflight_bytes: usize,
    /// Queries (GET /metrics, /prometheus) answered at once, off the threads serving
    /// ingest and /healthz; more get 503 with Retry-After.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub max_queries: usize,
    /// Points (series x buckets) one query's answer may hold; a larger one is refused
    /// with 400 (`check` asks for long windows in pieces of at most 250,000).
    #[arg(long, default_value_t = 1_000_000, value_name = "N")]
    pub max_answer_points: usize,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// Wire protocol to deliver with: ingest, webhook, remote-write, influx or azure-monitor
    /// (see Targets below).
    #[arg(long, value_enum, default_value_t, hide_possible_values = true)]
    pub target: TargetKind,
    /// Where to deliver: the sink's base URL for ingest (http://127.0.0.1:8650), the full
    /// callback URL for webhook (http://127.0.0.1:3000/api/callbacks), the metrics endpoint for
    /// azure-monitor (https://REGION.monitoring.azure.com/RESOURCE_ID/metrics); default: an
    /// embedded sink.
    #[arg(long, value_name = "URL")]
    pub sink: Option<String>,
    /// Send as fast as the sink accepts instead of at the scheduled times.
    #[arg(long, conflicts_with = "speed")]
    pub max_rate: bool,
    /// Scale the schedule: 2 replays twice as fast as the calls happened (0.001 to
    /// 1000000).
    #[arg(long, default_value_t = 1.0, value_parser = speed)]
    pub speed: f64,
    /// Events per request at most [default: 5000 for ingest, 1 for webhook].
    #[arg(long, visible_alias = "events-per-request", value_name = "N")]
    pub batch_size: Option<usize>,
    /// A batch is closed when its events span this much schedule time.
    #[arg(long, default_value = "50ms", value_parser = humantime::parse_duration)]
    pub batch_window: std::time::Duration,
    /// Requests in flight at once, each on its own keep-alive connection; more wait
    /// (back-pressure) [default: 4 for ingest, influx and azure-monitor, 64 for webhook;
    /// remote-write takes 1 only, as its series' samples must arrive in time order].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Compress batches with gzip (off by default: on loopback it halves ingest speed).
    #[arg(long)]
    pub gzip: bool,
    /// Retries per request on 408, 429, 5xx (but 501) and connection errors (remote-write: 429,
    /// every 5xx and connection errors), with full-jitter exponential back-off [default: 8 for
    /// ingest, 0 for webhook].
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Longest one request may take, connect to last byte of the answer.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// remote-write, influx: write every series every this much event time; must divide the
    /// grain (samples always fall on bucket boundaries).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub sample_interval: std::time::Duration,
    /// remote-write: do not end every series with a stale marker one --sample-interval after
    /// its last sample (without one, queries see the series' last value for 5 more minutes).
    #[arg(long)]
    pub no_stale_markers: bool,
    /// Bearer token for the sink (an empty one is refused); --target azure-monitor reads
    /// AZURE_ACCESS_TOKEN when neither is set.
    #[arg(long, env = "CALLMETRICS_TOKEN", hide_env_values = true, value_parser = token)]
    pub token: Option<String>,
    /// Sign every callback as ACS does (webhook): `Authorization: Bearer <JWT>`, RS256, a
    /// fresh token per request valid 5 minutes, audience --acs-resource-id; the keys are
    /// published at an OpenID configuration served on --oidc-listen.
    #[arg(long, requires = "acs_resource_id", conflicts_with = "token")]
    pub sign: bool,
    /// The ACS resource's immutable resource id (a GUID): the tokens' audience.
    #[arg(long, value_name = "GUID", requires = "sign")]
    pub acs_resource_id: Option<String>,
    /// Where the OpenID configuration of signed runs is served
    /// (/calling/.well-known/acsopenidconfiguration and its key set).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        requires = "sign"
    )]
    pub oidc_listen: std::net::SocketAddr,
    /// While the run lasts, serve GET /status (JSON progress: delivered, failed, rate,
    /// lag percentiles, ETA) and POST /speed ({"speed": 4}: change a scheduled run's
    /// speed) here, e.g. 127.0.0.1:8660.
    #[arg(long, value_name = "ADDR", value_parser = listen_address)]
    pub control: Option<std::net::SocketAddr>,
    /// Write the expected aggregates of what was delivered here (expected.json format).
    #[arg(long, value_name = "FILE")]
    pub expected_out: Option<PathBuf>,
    /// Write the run's summary as JSON here: requests, replies by status, failures by kind,
    /// latency and lag percentiles, thresholds.
    #[arg(long, value_name = "FILE")]
    pub summary_out: Option<PathBuf>,
    /// Write the run as one self-contained HTML page here: events sent vs stored per bucket and
    /// dimension value, rate, latency, lag and retries over time, the check's mismatches. Also
    /// written when delivery fails or Ctrl-C stops the run.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Check the sink after the run even when it is external (--sink), or the backend at
    /// --observed (e.g. the Prometheus scraping the app the callbacks went to).
    #[arg(long)]
    pub check: bool,
    /// Where --check reads what was stored [default: the sink]: a Prometheus for
    /// --backend promql, an InfluxDB /query?db=NAME for --backend influxql.
    #[arg(long, value_name = "URL", requires = "check")]
    pub observed: Option<String>,
    #[command(flatten)]
    pub reading: ReadingArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Report format of the check.
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    /// A pass/fail criterion judged when the run ends, e.g. 'latency.p99<250ms', 'failed<0.1%',
    /// 'lag.p99<5ms', 'events/s>=1000' (repeatable; names below). One not met exits 1.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<Threshold>,
    /// Accept up to N failed requests, or X% of the requests sent, instead of exit 2 at the
    /// first: every request is tried, and the check compares what was delivered.
    #[arg(long, value_name = "N|X%")]
    pub max_failed: Option<MaxFailed>,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// expected.json from `generate` or `run --expected-out`.
    #[arg(long, value_name = "FILE")]
    pub expected: PathBuf,
    /// Base URL of the backend: the sink's query API (http://127.0.0.1:8650) or, with
    /// --backend promql, the Prometheus server (http://127.0.0.1:9090).
    #[arg(long, value_name = "URL")]
    pub observed: String,
    #[command(flatten)]
    pub reading: ReadingArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Grains to compare, comma-separated, each a whole multiple of the expected file's
    /// grain (coarser ones are rolled up from it) [default: its grain].
    #[arg(long, value_delimiter = ',')]
    pub grain: Vec<Grain>,
    /// How to print the report.
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    /// Relative tolerance for lossy pipelines: a value passes when
    /// |observed - expected| <= X * |expected| (e.g. 0.001 = 0.1%). Missing and unexpected
    /// series still fail. Printed in the report [default: exact].
    #[arg(long, value_name = "X")]
    pub tolerance: Option<f64>,
    /// Mismatches shown in the table report and per JUnit test case (all are counted; JSON
    /// lists every one).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub max_mismatches: usize,
    /// Also write the check as one self-contained HTML page here: expected vs observed events
    /// per bucket and per dimension value, and the mismatches (the first 500).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Bearer token, sent to the backend as Authorization: Bearer TOKEN (an empty one is
    /// refused).
    #[arg(long, env = "CALLMETRICS_TOKEN", hide_env_values = true, value_parser = token)]
    pub token: Option<String>,
    /// Longest one query may take, connect to the answer's last byte (a query that
    /// times out is retried like any transient failure).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Longest the whole check may take; past it the check stops with exit 2.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub max_time: std::time::Duration,
    /// Largest answer read from the backend, in bytes; a larger one is an error.
    #[arg(long, default_value_t = 256 << 20, value_name = "BYTES")]
    pub max_answer_bytes: usize,
}

/// How clients speak `https://`: `run`'s and `check`'s TLS flags.
#[derive(Clone, Debug, Args)]
pub struct TlsArgs {
    /// Trust only the CA certificates in this PEM file for https:// peers (a private CA)
    /// [default: the system's roots].
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Do not verify https:// peers' certificates (the traffic is still encrypted). For
    /// throwaway test setups only: anyone on the path can read and change it.
    #[arg(long)]
    pub insecure: bool,
    /// Client certificate (PEM, with its chain) for mTLS receivers; needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl TlsArgs {
    /// The client configuration these flags describe; `--insecure` warns.
    pub fn client(&self) -> anyhow::Result<crate::client::tls::ClientTls> {
        if self.insecure {
            eprintln!(
                "warning: --insecure: https:// peers' certificates are NOT verified; anyone on \
                 the path can read and change this traffic"
            );
        }
        crate::client::tls::ClientTls::new(&crate::client::tls::TlsOptions {
            cacert: self.cacert.clone(),
            insecure: self.insecure,
            cert: self.cert.clone(),
            key: self.key.clone(),
        })
        .map_err(anyhow::Error::from)
    }
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
    /// Number of calls to generate [default: 1000; without --duration, the --ramp stages'
    /// total length sets it instead, or one day of --profile (seven days of week)].
    #[arg(long, conflicts_with = "duration")]
    pub calls: Option<u64>,
    /// Generate calls arriving during this long, e.g. 10m, 1h30m or 7d.
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
    /// The rate over the day instead of a flat --rate: diurnal (the same as weekday),
    /// weekday, weekend, week (Monday to Friday weekday, Saturday and Sunday weekend), or
    /// a FILE of time,rate points (CSV rows such as 07:30,0.4, or a JSON array of
    /// {"time": "07:30", "rate": 0.4}). Each point's rate is a factor of --rate (a weekday
    /// peaks at 1, a weekend day at 0.45), linear between points, wrapping at midnight, by
    /// the UTC time of day from --start.
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "ramp")]
    pub profile: Option<profile::ProfileArg>,
    /// Be generator I of N (0 <= I < N): own the calls whose index is I modulo N, at
    /// 1/N of the rate. The N shards together send exactly the unsharded workload;
    /// `callmetrics merge` sums their expected files.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    pub shard: crate::engine::Shard,
    /// Time of the first possible arrival (RFC 3339, UTC), e.g. 2026-03-12T10:00:00Z.
    /// Every event must fall by 9999-12-30T23:59:59.999Z (later workloads are refused).
    /// [default: 2026-01-01T00:00:00Z for generate, so output is reproducible; now for run]
    #[arg(long, value_parser = start_time)]
    pub start: Option<std::time::SystemTime>,
    /// Time grain of the expected aggregates, PT1S to P1D (check derives coarser ones from
    /// it).
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
    /// How --format csv lays out its rows: per-metric (requests.csv,
    /// recording-requests.csv, callbacks.csv, each with its metric's columns) or wide
    /// (events.csv, every column of both metrics).
    #[arg(long, value_enum, default_value_t)]
    pub csv_layout: CsvLayout,
    /// Replace the dataset already in --out (its own files only; a directory holding other
    /// files is refused all the same).
    #[arg(long)]
    pub force: bool,
    /// --format promtool: a counter sample every this much event time (1s, 5s, 10s, 15s,
    /// 30s, 1m, 5m, ...), as run --target remote-write samples them.
    #[arg(long, default_value = "15s", value_parser = sample_grain)]
    pub sample_interval: Grain,
    /// No progress bar and no summary line on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `--sample-interval` of `generate`: a duration that is a grain, so
/// samples fall on its boundaries.
fn sample_grain(text: &str) -> Result<Grain, String> {
    let interval = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    Grain::all()
        .find(|g| g.millis() as u128 == interval.as_millis())
        .ok_or_else(|| {
            let grains: Vec<String> = Grain::all()
                .map(|g| {
                    humantime::format_duration(std::time::Duration::from_millis(g.millis() as u64))
                        .to_string()
                })
                .collect();
            format!(
                "samples fall on grain boundaries: use one of {}",
                grains.join(", ")
            )
        })
}

const EMULATE_HELP: &str = "\
The app under test uses the printed connection string with its unchanged SDK
(endpoint=https://127.0.0.1:PORT/;accesskey=KEY) and trusts the emulator's
certificate (--ca-out, or your --tls-cert): NODE_EXTRA_CA_CERTS for Node,
REQUESTS_CA_BUNDLE for Python, SSL_CERT_FILE for .NET on Linux, a truststore
for Java.

Each request is checked as ACS checks it (HMAC-SHA256 signature, x-ms-date
within --clock-skew; 401 otherwise), matched to a request step of the call's
flow (the k-th request of an operation to its k-th step), and answered with
that step's status mix and latency; a success draws one of its outcomes,
whose callbacks go to the call's callbackUri at their delays. Both metrics
are counted as Azure Monitor would: every request answered, every callback
the app acknowledged. Requests the scenario does not expect are answered
(404 for a call never issued, 400 for an operation the flow has no step
for), counted, and listed in the summary.

Examples:
  callmetrics emulate scenarios/outbound-notification.json \\
      --access-key \"$(head -c 32 /dev/urandom | base64)\" --ca-out ca.pem \\
      --expected-out expected.json
  callmetrics check --expected expected.json --backend promql \\
      --observed http://127.0.0.1:9090 --mapping app-mapping.json

Exit codes:
  0  served until Ctrl-C (or --duration), files written
  2  bad input (scenario, key, certificate, address)";

/// `emulate`'s flags.
#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// The scenario whose flows answer the app's requests.
    pub scenario: PathBuf,
    /// Address to serve HTTPS on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8443", value_parser = listen_address)]
    pub listen: std::net::SocketAddr,
    /// The access key of the connection string (base64), which requests must be signed with.
    #[arg(long, env = "CALLMETRICS_ACCESS_KEY", hide_env_values = true)]
    pub access_key: String,
    /// PEM certificate chain to serve (default: a new self-signed one for 127.0.0.1 and
    /// localhost).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Write the generated certificate here, for the app to trust.
    #[arg(long, value_name = "FILE", conflicts_with = "tls_cert")]
    pub ca_out: Option<PathBuf>,
    /// Seed of every draw; a sequential app sees the same answers for the same seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How far a request's x-ms-date may be from this machine's clock.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub clock_skew: std::time::Duration,
    /// Stop after this long (default: at Ctrl-C or SIGTERM).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// After stopping, wait this long for callbacks already due.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub settle: std::time::Duration,
    /// How long the app may take to acknowledge one callback.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub callback_timeout: std::time::Duration,
    /// Write what was counted, as an expected file `check` reads.
    #[arg(long, value_name = "FILE")]
    pub expected_out: Option<PathBuf>,
    /// Write the summary as JSON.
    #[arg(long, value_name = "FILE")]
    pub summary_out: Option<PathBuf>,
    /// The app's Event Grid webhook for incoming calls (required when a flow starts with
    /// Answer, Redirect or Reject Call): after Event Grid's subscription-validation
    /// handshake, the emulator posts Microsoft.Communication.IncomingCall events there.
    #[arg(long, value_name = "URL", value_parser = http_url)]
    pub incoming_call_url: Option<reqwest::Url>,
    /// Incoming calls per second, e.g. 2, 2/s or 120/m.
    #[arg(long, default_value = "1/s", requires = "incoming_call_url")]
    pub rate: Rate,
    /// Arrival process of incoming calls: poisson (random gaps) or uniform (even spacing).
    #[arg(long, value_enum, default_value_t, requires = "incoming_call_url")]
    pub arrival: Arrival,
    /// Post this many incoming calls, then no more [default: until the emulator stops].
    #[arg(long, requires = "incoming_call_url")]
    pub calls: Option<u64>,
    /// Sign every callback as ACS does: `Authorization: Bearer <JWT>`, RS256, a fresh token
    /// per request valid 5 minutes, audience --acs-resource-id; the OpenID configuration is
    /// served beside the API, at https://LISTEN/calling/.well-known/acsopenidconfiguration.
    #[arg(long, requires = "acs_resource_id")]
    pub sign: bool,
    /// The ACS resource's immutable resource id (a GUID): the tokens' audience.
    #[arg(long, value_name = "GUID", requires = "sign")]
    pub acs_resource_id: Option<String>,
    /// Also serve what is counted, live, on the sink's query API at this address (plain
    /// HTTP): GET /metrics (Metrics - List), Azure Monitor's paths, /prometheus, so `check
    /// --backend sink --observed http://ADDR` or a dashboard reads the emulator as it runs.
    #[arg(long, value_name = "ADDR", value_parser = listen_address)]
    pub query_listen: Option<std::net::SocketAddr>,
    /// Write an HTML report when it stops: what was counted per minute and per dimension
    /// value (both metrics), the requests by operation and status, and what it did not
    /// expect or the app did not acknowledge.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// While it serves, answer GET /status at this address (plain HTTP): the summary so far
    /// as JSON (calls started and ended, requests by operation and status, callbacks
    /// acknowledged and not, what it did not expect) and how long it has served.
    #[arg(long, value_name = "ADDR", value_parser = listen_address)]
    pub control: Option<std::net::SocketAddr>,
}

/// An http:// or https:// URL.
fn http_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text)
        .map_err(|e| format!("{e}: give a URL such as http://127.0.0.1:8080/api/incomingCall"))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(format!(
            "the scheme is {other}: give an http:// or https:// URL"
        )),
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Catalog(args) => catalog::run(&args),
        Command::Schema => catalog::schema(),
        Command::Validate(args) => validate::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Sink(args) => sink::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Emulate(args) => emulate::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Merge { files, partial } => check::merge(&files, partial),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out } => docs::man_pages(&out),
    }
}

/// The first 16 characters of a digest, as the reports show it (the
/// whole text when it is shorter or not ASCII: it may come from a file).
fn short_digest(digest: &str) -> &str {
    digest.get(..16).unwrap_or(digest)
}

/// `--start`: RFC 3339 in UTC; the message shows the format (a date alone
/// was refused with only "timestamp format is invalid").
fn start_time(text: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339(text).map_err(|e| {
        let date_only = text.len() == 10 && text.as_bytes().get(4) == Some(&b'-');
        if date_only {
            format!("{e}: a date alone is not a time; use {text}T00:00:00Z")
        } else {
            format!("{e}: use RFC 3339 in UTC, e.g. 2026-03-12T10:00:00Z")
        }
    })
}

/// `--speed`: the range POST /speed takes too. Beyond it a schedule does
/// not fit the clock's arithmetic (1e-300 panicked converting to a
/// Duration) or lasts longer than anyone waits (1e-12: a million years).
fn speed(text: &str) -> Result<f64, String> {
    use crate::emit::deliver::pacing::{MAX_SPEED, MIN_SPEED};
    match text.parse::<f64>() {
        Ok(speed) if (MIN_SPEED..=MAX_SPEED).contains(&speed) => Ok(speed),
        _ => Err(format!(
            "must be a number between {MIN_SPEED} and {MAX_SPEED} (times real time)"
        )),
    }
}

/// `sink --token`: an empty one would let in anyone sending
/// `Authorization: Bearer ` (and silence the warning about an open sink).
fn token(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("the token is empty; give one, or leave --token out".into());
    }
    Ok(text.to_string())
}

/// `--listen`: host:port, host names resolved (`localhost:0`), IPv4 first.
fn listen_address(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    text.to_socket_addrs()
        .map_err(|e| format!("{e}: use HOST:PORT, e.g. 127.0.0.1:8650 or localhost:0"))?
        .min_by_key(|a| !a.is_ipv4())
        .ok_or_else(|| format!("{text} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    // Issue #11: examples wrapped by the help formatter could not be
    // pasted; every line of the texts after the options fits 78 columns,
    // so a terminal of 80 never wraps them.
    #[test]
    fn texts_after_the_options_fit_80_columns() {
        let top = super::Cli::command();
        let texts = std::iter::once(&top)
            .chain(top.get_subcommands())
            .filter_map(|c| {
                c.get_after_help()
                    .map(|t| (c.get_name().to_string(), t.to_string()))
            });
        for (command, text) in texts {
            for line in text.lines() {
                assert!(
                    line.len() <= 78,
                    "{command}: {} columns: {line}",
                    line.len()
                );
            }
        }
    }

    // Issue #19: `sink --token=` started a sink that let in anyone sending
    // `Authorization: Bearer `.
    #[test]
    fn an_empty_sink_token_is_refused() {
        use clap::Parser;
        for empty in ["--token=", "--token=  "] {
            let refused = super::Cli::try_parse_from(["callmetrics", "sink", empty]).unwrap_err();
            assert!(
                refused.to_string().contains("the token is empty"),
                "{refused}"
            );
        }
        assert!(super::Cli::try_parse_from(["callmetrics", "sink", "--token=s3cret"]).is_ok());
    }
}
