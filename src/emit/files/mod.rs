//! Files: event lines (JSONL with full CloudEvents, or CSV), the expected
//! aggregates (expected.json) and the dataset manifest, and the pieces every
//! encoder of callback payloads shares (the CloudEvent envelope, ids and
//! identifiers, JSON text snippets).

pub(crate) mod azure_monitor;
pub(crate) mod cloudevent;
mod csv;
mod dataset;
pub(crate) mod identity;
pub(crate) mod json_text;
mod jsonl;
mod progress;

pub use dataset::DatasetOptions;
pub use dataset::Destination;
pub use dataset::write_dataset;
pub use jsonl::JsonlEncoder;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetFormat {
    /// One JSON object per line, with full CloudEvent payloads.
    #[default]
    Jsonl,
    /// One row per event, dimensions as columns, no payloads.
    Csv,
    /// Azure Monitor custom-metrics ingestion bodies: per minute and
    /// metric one document of min/max/sum/count per series (needs --grain PT1M).
    AzureMonitor,
}

impl DatasetFormat {
    pub fn file_name(self) -> &'static str {
        match self {
            DatasetFormat::Jsonl => "events.jsonl",
            DatasetFormat::Csv => "events.csv",
            DatasetFormat::AzureMonitor => "metrics.azure-monitor.jsonl",
        }
    }
}
