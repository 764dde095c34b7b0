//! `generate`: stream the engine's events into an events file while
//! counting them, then write expected.json and manifest.json. The expected
//! aggregates come from the very events written, so they cannot disagree.

use super::csv::{CsvEncoder, MetricCsvEncoder, header};
use super::jsonl::JsonlEncoder;
use super::parquet::ParquetFiles;
use super::progress::Progress;
use super::{CsvLayout, DatasetFormat, PER_METRIC};
use crate::catalog::{Metric, Naming};
use crate::emit::provenance;
use crate::engine::{EventKind, EventStream, IdKey, Workload};
use crate::model::{AggregateTable, Grain};
use crate::scenario::Scenario;
use crate::wire::write_expected;
use serde_json::json;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Where the dataset goes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A directory with the events file, expected.json and manifest.json.
    Directory(PathBuf),
    /// Events only, to standard output.
    Stdout,
}

pub struct DatasetOptions<'a> {
    pub scenario_path: &'a Path,
    pub destination: Destination,
    pub format: DatasetFormat,
    pub csv_layout: CsvLayout,
    pub naming: Naming,
    pub grain: Grain,
    pub progress: bool,
    /// Replace a dataset already in the directory (its own files only).
    pub force: bool,
    /// --format promtool: a counter sample at every boundary of this grain.
    pub sample_interval: Grain,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatasetSummary {
    pub calls: u64,
    pub requests: u64,
    pub callbacks: u64,
    pub bytes: u64,
}

/// Flush the line buffer to the writer at about this size.
const CHUNK: usize = 1 << 18;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    /// Options that do not fit together.
    #[error("{0}")]
    Usage(String),
    #[error("cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{} already holds a dataset ({found}): add --force to replace it (its files only), or \
         write to another directory",
        dir.display()
    )]
    HoldsADataset { dir: PathBuf, found: String },
    #[error(
        "{} holds files that are not a dataset's ({found}): write the dataset to a new or empty \
         directory (--force replaces only a dataset's own files)",
        dir.display()
    )]
    NotADatasetDir { dir: PathBuf, found: String },
    /// The workload runs past the last day times can be written for.
    #[error(transparent)]
    PastTheLastDay(crate::engine::TimeBeyond),
}

impl DatasetError {
    /// An error of writing the events to `path`: the stream's own refusal
    /// travels inside the `io::Error` and is not a write error.
    fn writing(path: PathBuf, source: io::Error) -> DatasetError {
        match source
            .get_ref()
            .and_then(|e| e.downcast_ref::<crate::engine::TimeBeyond>())
        {
            Some(beyond) => DatasetError::PastTheLastDay(*beyond),
            None => DatasetError::Write { path, source },
        }
    }
}

pub fn write_dataset(
    scenario: &Scenario,
    workload: &Workload,
    opts: &DatasetOptions,
) -> Result<DatasetSummary, DatasetError> {
    if opts.format == DatasetFormat::AzureMonitor && opts.grain != Grain::MINUTE {
        return Err(DatasetError::Usage(format!(
            "--format azure-monitor writes per-minute documents, the only granularity Azure \
             Monitor's ingestion API takes: use --grain PT1M (not {})",
            opts.grain
        )));
    }
    match &opts.destination {
        Destination::Stdout => {
            if opts.format.file_names(opts.csv_layout).len() > 1 {
                return Err(DatasetError::Usage(
                    "--out - streams one file; --format csv writes one file per metric: add \
                     --csv-layout wide, or give --out a directory"
                        .into(),
                ));
            }
            let path = PathBuf::from("<stdout>");
            let stdout: Box<dyn Write> = Box::new(io::stdout().lock());
            // Events only: nothing would read the aggregates (but the Azure
            // Monitor documents, which are aggregates).
            let aggregate = opts.format == DatasetFormat::AzureMonitor;
            let outputs = Outputs::Lines(vec![stdout]);
            let (summary, _) = write_events(scenario, workload, opts, outputs, aggregate)
                .map_err(|source| DatasetError::writing(path, source))?;
            Ok(summary)
        }
        Destination::Directory(dir) => {
            super::prepare_out_dir(dir, opts.force)?;
            // A dataset is complete when its manifest is there: files are
            // written under `.partial` names and renamed at the end, the
            // manifest last, so an interrupted run (Ctrl-C, a full disk)
            // never leaves one that looks complete.
            let manifest_path = dir.join("manifest.json");
            let event_paths: Vec<PathBuf> = opts
                .format
                .file_names(opts.csv_layout)
                .iter()
                .map(|name| dir.join(name))
                .collect();
            let files = event_paths
                .iter()
                .map(|path| create(&partial(path)))
                .collect::<Result<Vec<_>, _>>()?;
            let outputs = if opts.format == DatasetFormat::Parquet {
                Outputs::Parquet(files)
            } else {
                Outputs::Lines(
                    files
                        .into_iter()
                        .map(|w| Box::new(w) as Box<dyn Write>)
                        .collect(),
                )
            };
            let (mut summary, expected) = write_events(scenario, workload, opts, outputs, true)
                .map_err(|source| DatasetError::writing(partial(&event_paths[0]), source))?;
            if opts.format == DatasetFormat::Parquet {
                // Columns are encoded and compressed as row groups close:
                // the files' sizes are what was written.
                summary.bytes = event_paths
                    .iter()
                    .map(|p| std::fs::metadata(partial(p)).map_or(0, |m| m.len()))
                    .sum();
            }
            let expected_path = dir.join("expected.json");
            let resource = format!("callmetrics/scenarios/{}", scenario.name);
            write_file(&partial(&expected_path), |w| {
                let provenance = provenance(scenario, workload);
                write_expected(w, &expected, opts.naming, &resource, provenance)
            })?;
            write_file(&partial(&manifest_path), |w| {
                let m = manifest(scenario, workload, opts, &summary, &expected);
                serde_json::to_writer_pretty(&mut *w, &m)?;
                w.write_all(b"\n")
            })?;
            for path in event_paths.iter().chain([&expected_path, &manifest_path]) {
                std::fs::rename(partial(path), path).map_err(|source| DatasetError::Write {
                    path: path.clone(),
                    source,
                })?;
            }
            Ok(summary)
        }
    }
}

/// `path` while it is being written.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn create(path: &Path) -> Result<BufWriter<File>, DatasetError> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(CHUNK, f))
        .map_err(|source| DatasetError::Create {
            path: path.to_path_buf(),
            source,
        })
}

fn write_file(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), DatasetError> {
    let mut w = create(path)?;
    body(&mut w)
        .and_then(|_| w.flush())
        .map_err(|source| DatasetError::Write {
            path: path.to_path_buf(),
            source,
        })
}

/// How each event becomes text, and which of the files it goes to.
enum LineEncoder {
    Jsonl(JsonlEncoder),
    WideCsv(CsvEncoder),
    /// One encoder per file of `PER_METRIC`.
    PerMetricCsv(Vec<MetricCsvEncoder>),
    /// Nothing per event: written from the aggregates at the end.
    AzureMonitor,
    /// The events counted at the sample interval, written at the end.
    Promtool(AggregateTable),
    /// Columns, written as row groups fill.
    Parquet(Box<ParquetFiles>),
}

/// The files a dataset's events go to.
enum Outputs<'a> {
    /// Text: one stream, or one per metric of `PER_METRIC`.
    Lines(Vec<Box<dyn Write + 'a>>),
    /// Parquet: one file per metric of `PER_METRIC`.
    Parquet(Vec<BufWriter<File>>),
}

/// Streams the events into `files` (one, or one per metric of
/// `PER_METRIC`), counting them into the expected aggregates when
/// `aggregate` is set.
fn write_events(
    scenario: &Scenario,
    workload: &Workload,
    opts: &DatasetOptions,
    outputs: Outputs<'_>,
    aggregate: bool,
) -> io::Result<(DatasetSummary, AggregateTable)> {
    let progress = Progress::new(
        opts.progress,
        workload.calls.map(|c| workload.shard.owned_of(c)),
    );
    let mut expected = AggregateTable::new(opts.grain);
    let mut summary = DatasetSummary::default();
    let ids = IdKey::of(scenario, workload);
    let (mut files, parquet) = match outputs {
        Outputs::Lines(files) => (files, None),
        Outputs::Parquet(outputs) => {
            let metrics: Vec<Metric> = PER_METRIC.iter().map(|&(m, _)| m).collect();
            let files = ParquetFiles::new(ids, opts.naming, &metrics, outputs)?;
            (Vec::new(), Some(files))
        }
    };
    let mut bufs: Vec<Vec<u8>> = files
        .iter()
        .map(|_| Vec::with_capacity(CHUNK + 8192))
        .collect();
    let mut encoder = match (opts.format, opts.csv_layout) {
        (DatasetFormat::Parquet, _) => match parquet {
            Some(files) => LineEncoder::Parquet(Box::new(files)),
            None => return Err(io::Error::other("Parquet goes to files, not a stream")),
        },
        (DatasetFormat::Jsonl, _) => LineEncoder::Jsonl(JsonlEncoder::new(ids, opts.naming)),
        (DatasetFormat::Csv, CsvLayout::Wide) => {
            bufs[0].extend_from_slice(header(opts.naming).as_bytes());
            LineEncoder::WideCsv(CsvEncoder::new(ids))
        }
        (DatasetFormat::Csv, CsvLayout::PerMetric) => {
            let encoders: Vec<MetricCsvEncoder> = PER_METRIC
                .iter()
                .map(|&(metric, _)| MetricCsvEncoder::new(ids, metric))
                .collect();
            for (buf, encoder) in bufs.iter_mut().zip(&encoders) {
                buf.extend_from_slice(encoder.header(opts.naming).as_bytes());
            }
            LineEncoder::PerMetricCsv(encoders)
        }
        (DatasetFormat::AzureMonitor, _) => LineEncoder::AzureMonitor,
        (DatasetFormat::Promtool, _) => {
            LineEncoder::Promtool(AggregateTable::new(opts.sample_interval))
        }
    };
    let mut stream = EventStream::new(scenario, workload);
    while let Some(event) = stream.next() {
        if aggregate {
            expected.record(&event);
        }
        let metric = match event.kind {
            EventKind::Request { operation, .. } => {
                summary.requests += 1;
                operation.metric()
            }
            EventKind::Callback { .. } => {
                summary.callbacks += 1;
                Metric::CallbackEvents
            }
        };
        let file = match &mut encoder {
            LineEncoder::Jsonl(jsonl) => {
                jsonl.encode(&mut bufs[0], &event);
                0
            }
            LineEncoder::WideCsv(csv) => {
                csv.encode(&mut bufs[0], &event);
                0
            }
            LineEncoder::PerMetricCsv(encoders) => {
                let file = PER_METRIC
                    .iter()
                    .position(|&(m, _)| m == metric)
                    .unwrap_or(0);
                encoders[file].encode(&mut bufs[file], &event);
                file
            }
            LineEncoder::AzureMonitor => 0,
            LineEncoder::Promtool(samples) => {
                samples.record(&event);
                0
            }
            LineEncoder::Parquet(parquet) => {
                parquet.add(&event, metric)?;
                if (summary.requests + summary.callbacks) & 0xffff == 0 {
                    progress.update(stream.calls_started(), summary.requests + summary.callbacks);
                }
                continue;
            }
        };
        if bufs[file].len() >= CHUNK {
            files[file].write_all(&bufs[file])?;
            summary.bytes += bufs[file].len() as u64;
            bufs[file].clear();
            progress.update(stream.calls_started(), summary.requests + summary.callbacks);
        }
    }
    // The files stay `.partial`: a dataset cut short at the last day is
    // not a dataset.
    stream.past_the_last_day().map_err(io::Error::other)?;
    match encoder {
        LineEncoder::AzureMonitor => {
            super::azure_monitor::write_documents(&mut bufs[0], &expected, opts.naming)?;
        }
        LineEncoder::Parquet(parquet) => parquet.finish()?,
        LineEncoder::Promtool(samples) => super::promtool::write_tests(&mut bufs[0], &samples)?,
        _ => {}
    }
    for (file, buf) in files.iter_mut().zip(&bufs) {
        file.write_all(buf)?;
        summary.bytes += buf.len() as u64;
        file.flush()?;
    }
    summary.calls = stream.calls_started();
    progress.finish();
    Ok((summary, expected))
}

/// The manifest's `files.events`: the file's name, or for one file per
/// metric each metric's file by its name.
fn events_files(opts: &DatasetOptions) -> serde_json::Value {
    let names = opts.format.file_names(opts.csv_layout);
    if names.len() == 1 {
        return json!(names[0]);
    }
    let by_metric: serde_json::Map<String, serde_json::Value> = PER_METRIC
        .iter()
        .zip(names)
        .map(|((metric, _), name)| (metric.name().to_string(), json!(name)))
        .collect();
    serde_json::Value::Object(by_metric)
}

fn manifest(
    scenario: &Scenario,
    workload: &Workload,
    opts: &DatasetOptions,
    summary: &DatasetSummary,
    expected: &AggregateTable,
) -> serde_json::Value {
    json!({
        "tool": "callmetrics",
        "version": env!("CARGO_PKG_VERSION"),
        "scenario": {
            "name": scenario.name,
            "description": scenario.description,
            "path": opts.scenario_path.display().to_string(),
            "sha256": scenario.sha256,
        },
        "seed": workload.seed,
        "options": {
            "workload": workload,
            "grain": opts.grain,
            "format": opts.format,
            "csvLayout": (opts.format == DatasetFormat::Csv).then_some(opts.csv_layout),
            "naming": opts.naming,
        },
        "counts": {
            "calls": summary.calls,
            "events": summary.requests + summary.callbacks,
            "requests": summary.requests,
            "callbacks": summary.callbacks,
            "eventBytes": summary.bytes,
            "expectedCells": expected.len(),
            "expectedRequestCount": expected.total_count(Metric::ApiRequests)
                + expected.total_count(Metric::RecordingRequests),
            "expectedCallbackCount": expected.total_count(Metric::CallbackEvents),
        },
        "files": {
            "events": events_files(opts),
            "expected": "expected.json",
        },
    })
}
