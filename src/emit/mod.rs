//! Writing what the engine produces: event files (JSONL, CSV), the expected
//! aggregates (expected.json) and the dataset manifest.

mod cloudevent;
mod csv;
mod dataset;
pub mod http;
mod identity;
mod json_text;
mod jsonl;
pub mod metrics_response;
pub mod pacing;
mod progress;
mod rfc3339;

pub use dataset::{DatasetOptions, DatasetSummary, Destination, write_dataset};
pub use jsonl::JsonlEncoder;
pub use metrics_response::{MetricsResponse, expected_response, write_expected};
pub use rfc3339::parse_millis;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetFormat {
    /// One JSON object per line, with full CloudEvent payloads.
    #[default]
    Jsonl,
    /// One row per event, dimensions as columns, no payloads.
    Csv,
}

impl DatasetFormat {
    pub fn file_name(self) -> &'static str {
        match self {
            DatasetFormat::Jsonl => "events.jsonl",
            DatasetFormat::Csv => "events.csv",
        }
    }
}
