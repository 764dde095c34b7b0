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
mod out_dir;
mod parquet;
mod progress;
mod promtool;

pub use dataset::DatasetOptions;
pub use dataset::Destination;
pub use dataset::write_dataset;
pub use jsonl::JsonlEncoder;
pub(crate) use out_dir::prepare_out_dir;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetFormat {
    /// One JSON object per line, with full CloudEvent payloads.
    #[default]
    Jsonl,
    /// One file per metric, one row per event, that metric's columns only
    /// (--csv-layout wide: one file of every column).
    Csv,
    /// One Parquet file per metric: typed columns (UTC timestamps,
    /// dictionary-encoded dimensions and call ids, integer latencies), the
    /// CloudEvent as columns with its data as JSON, zstd-compressed.
    Parquet,
    /// Azure Monitor custom-metrics ingestion bodies: per minute and
    /// metric one document of min/max/sum/count per series (needs --grain PT1M).
    AzureMonitor,
    /// A `promtool test rules` file: the remote-write counters every
    /// --sample-interval as input_series, and each series' exact total as a test.
    Promtool,
}

/// How `--format csv` lays its rows out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsvLayout {
    /// requests.csv, recording-requests.csv and callbacks.csv, each with
    /// its metric's columns: typed columns without gaps.
    #[default]
    PerMetric,
    /// events.csv: both metrics' columns in one table, empty where one
    /// does not apply (the layout before 0.2).
    Wide,
}

/// The event files of each metric, per format: what a dataset holds
/// besides expected.json and manifest.json.
pub(crate) const PER_METRIC: [(crate::catalog::Metric, &str); 3] = [
    (crate::catalog::Metric::ApiRequests, "requests"),
    (
        crate::catalog::Metric::RecordingRequests,
        "recording-requests",
    ),
    (crate::catalog::Metric::CallbackEvents, "callbacks"),
];

impl DatasetFormat {
    /// The event files it writes.
    pub fn file_names(self, layout: CsvLayout) -> Vec<String> {
        match (self, layout) {
            (DatasetFormat::Jsonl, _) => vec!["events.jsonl".into()],
            (DatasetFormat::Csv, CsvLayout::Wide) => vec!["events.csv".into()],
            (DatasetFormat::Csv, CsvLayout::PerMetric) => PER_METRIC
                .iter()
                .map(|(_, name)| format!("{name}.csv"))
                .collect(),
            (DatasetFormat::Parquet, _) => PER_METRIC
                .iter()
                .map(|(_, name)| format!("{name}.parquet"))
                .collect(),
            (DatasetFormat::AzureMonitor, _) => vec!["metrics.azure-monitor.jsonl".into()],
            (DatasetFormat::Promtool, _) => vec!["promtool-tests.yml".into()],
        }
    }

    /// Every file name any format writes, with the dataset's
    /// expected.json and manifest.json: what `--out` may replace.
    pub(crate) fn every_dataset_file() -> Vec<String> {
        let mut names = vec!["expected.json".to_string(), "manifest.json".to_string()];
        for format in [
            DatasetFormat::Jsonl,
            DatasetFormat::Csv,
            DatasetFormat::Parquet,
            DatasetFormat::AzureMonitor,
            DatasetFormat::Promtool,
        ] {
            for layout in [CsvLayout::PerMetric, CsvLayout::Wide] {
                names.extend(format.file_names(layout));
            }
        }
        names.sort();
        names.dedup();
        names
    }
}
