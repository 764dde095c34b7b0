//! `generate`: stream the engine's events into an events file while
//! counting them, then write expected.json and manifest.json. The expected
//! aggregates come from the very events written, so they cannot disagree.

use super::DatasetFormat;
use super::csv::{CsvEncoder, header};
use super::jsonl::JsonlEncoder;
use super::progress::Progress;
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
    pub naming: Naming,
    pub grain: Grain,
    pub progress: bool,
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
            let path = PathBuf::from("<stdout>");
            let stdout = io::stdout().lock();
            // Events only: nothing would read the aggregates (but the Azure
            // Monitor documents, which are aggregates).
            let aggregate = opts.format == DatasetFormat::AzureMonitor;
            let (summary, _) = write_events(scenario, workload, opts, stdout, aggregate)
                .map_err(|source| DatasetError::writing(path, source))?;
            Ok(summary)
        }
        Destination::Directory(dir) => {
            std::fs::create_dir_all(dir).map_err(|source| DatasetError::Create {
                path: dir.clone(),
                source,
            })?;
            // A dataset is complete when its manifest is there: files are
            // written under `.partial` names and renamed at the end, the
            // manifest last, so an interrupted run (Ctrl-C, a full disk)
            // never leaves one that looks complete. An older manifest in
            // the directory goes first.
            let manifest_path = dir.join("manifest.json");
            match std::fs::remove_file(&manifest_path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(DatasetError::Create {
                        path: manifest_path,
                        source: e,
                    });
                }
                _ => {}
            }
            let events_path = dir.join(opts.format.file_name());
            let file = create(&partial(&events_path))?;
            let (summary, expected) = write_events(scenario, workload, opts, file, true)
                .map_err(|source| DatasetError::writing(partial(&events_path), source))?;
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
            for path in [&events_path, &expected_path, &manifest_path] {
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

/// Streams the events into `w`, counting them into the expected aggregates
/// when `aggregate` is set.
fn write_events(
    scenario: &Scenario,
    workload: &Workload,
    opts: &DatasetOptions,
    mut w: impl Write,
    aggregate: bool,
) -> io::Result<(DatasetSummary, AggregateTable)> {
    let progress = Progress::new(
        opts.progress,
        workload.calls.map(|c| workload.shard.owned_of(c)),
    );
    let mut expected = AggregateTable::new(opts.grain);
    let mut summary = DatasetSummary::default();
    let mut buf = Vec::with_capacity(CHUNK + 8192);
    let ids = IdKey::of(scenario, workload);
    let mut jsonl = JsonlEncoder::new(ids, opts.naming);
    let mut csv = CsvEncoder::new(ids);
    if opts.format == DatasetFormat::Csv {
        buf.extend_from_slice(header(opts.naming).as_bytes());
    }
    let mut stream = EventStream::new(scenario, workload);
    while let Some(event) = stream.next() {
        if aggregate {
            expected.record(&event);
        }
        match event.kind {
            EventKind::Request { .. } => summary.requests += 1,
            EventKind::Callback { .. } => summary.callbacks += 1,
        }
        match opts.format {
            DatasetFormat::Jsonl => jsonl.encode(&mut buf, &event),
            DatasetFormat::Csv => csv.encode(&mut buf, &event),
            // Written from the aggregates once the stream has ended.
            DatasetFormat::AzureMonitor => {}
        }
        if buf.len() >= CHUNK {
            w.write_all(&buf)?;
            summary.bytes += buf.len() as u64;
            buf.clear();
            progress.update(stream.calls_started(), summary.requests + summary.callbacks);
        }
    }
    // The files stay `.partial`: a dataset cut short at the last day is
    // not a dataset.
    stream.past_the_last_day().map_err(io::Error::other)?;
    if opts.format == DatasetFormat::AzureMonitor {
        super::azure_monitor::write_documents(&mut buf, &expected, opts.naming)?;
    }
    w.write_all(&buf)?;
    summary.bytes += buf.len() as u64;
    w.flush()?;
    summary.calls = stream.calls_started();
    progress.finish();
    Ok((summary, expected))
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
            "events": opts.format.file_name(),
            "expected": "expected.json",
        },
    })
}
