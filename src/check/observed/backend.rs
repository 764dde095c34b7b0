//! `check --backend`: the query APIs a check reads back from. Each variant
//! builds its reader and refuses the flags it cannot use, so adding a
//! backend is its file in this folder and one variant here.

use super::Limits;
use super::any::AnyObserved;
use super::azure::{AzureObserved, Resource};
use super::influxql::InfluxqlObserved;
use super::promql::PromqlObserved;
use super::reading::ReadingFlags;
use crate::check::{CheckError, Mapping, Selector};
use crate::client::tls::ClientTls;

/// The query APIs `check --backend` reads back from; each variant's doc
/// comment is its entry in `check --help`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The Azure Monitor Metrics - List API of callmetrics' sink: every aggregation.
    #[default]
    Azure,
    /// The Prometheus HTTP API (Prometheus, VictoriaMetrics): every counter's raw samples
    /// (range reads at the window's end, never an instant query at "now"), named by
    /// --mapping (default: mappings/default.json), each a reset-aware running total; count
    /// (and the latency's total) only. --totals compares each series over the whole
    /// window, which is what scraped counters can prove; --match narrows by label.
    Promql,
    /// InfluxDB 1.x InfluxQL (--observed http://HOST:PORT/query?db=NAME), as the influx
    /// target writes it: count, total, minimum and maximum per interval.
    Influxql,
}

/// Where and how a reader reads.
pub(crate) struct Where<'a> {
    pub url: &'a str,
    pub token: Option<&'a str>,
    pub tls: &'a ClientTls,
    /// How the pipeline names things (promql), knowing the expected
    /// file's values.
    pub mapping: &'a Mapping,
    /// `--match`.
    pub selector: Option<&'a Selector>,
    /// Reads end at this time (Unix ms).
    pub now_ms: i64,
    pub limits: Limits,
    /// `--resource-id` (azure).
    pub resource: Option<&'a Resource>,
}

impl Backend {
    /// Its `--backend` value.
    pub(crate) fn name(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map_or_else(String::new, |v| v.get_name().to_string())
    }

    /// The API it reads, for reports.
    pub(crate) fn api_name(self) -> &'static str {
        match self {
            Backend::Azure => "Metrics - List API",
            Backend::Promql => "PromQL",
            Backend::Influxql => "InfluxQL",
        }
    }

    /// Whether it can read the sink a run starts (else it needs
    /// `--observed`).
    pub(crate) fn reads_the_sink(self) -> bool {
        self == Backend::Azure
    }

    /// Whether it names series through `--mapping`.
    pub(crate) fn reads_mapping(self) -> bool {
        self == Backend::Promql
    }

    /// Refuses a flag it cannot use: ignored, the flag would let the user
    /// believe the check read what it says.
    pub(crate) fn refuse_unusable(self, flags: &ReadingFlags) -> Result<(), CheckError> {
        if flags.mapping.is_some() && !self.reads_mapping() {
            return Err(CheckError::Usage(format!(
                "--mapping names Prometheus series; it goes with --backend promql, not --backend \
                 {} (which reads metrics and dimensions by their Azure names)",
                self.name()
            )));
        }
        if self != Backend::Azure && flags.resource_id.is_some() {
            return Err(CheckError::Usage(format!(
                "--resource-id names an Azure resource for Azure Monitor's paths; it goes with \
                 --backend azure, not --backend {}",
                self.name()
            )));
        }
        if self == Backend::Azure && flags.selector.is_some() {
            return Err(CheckError::Usage(
                "--match selects Prometheus series by label (or InfluxDB series by tag); the \
                 sink's query API has no labels to match"
                    .into(),
            ));
        }
        Ok(())
    }

    /// A reader of this backend.
    pub(crate) fn reader(self, at: &Where<'_>) -> Result<AnyObserved, CheckError> {
        Ok(match self {
            Backend::Azure => AnyObserved::Azure(AzureObserved::new(
                at.url,
                at.token,
                at.tls,
                at.limits,
                at.resource,
            )?),
            Backend::Influxql => AnyObserved::Influxql(InfluxqlObserved::new(
                at.url,
                at.token,
                at.tls,
                at.selector.cloned(),
                at.limits,
            )?),
            Backend::Promql => AnyObserved::Promql(PromqlObserved::new(
                at.url,
                at.token,
                at.tls,
                at.mapping.clone(),
                &at.selector.map_or(String::new(), Selector::promql),
                at.now_ms,
                at.limits,
            )?),
        })
    }
}
