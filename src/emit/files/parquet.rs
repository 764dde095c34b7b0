//! Parquet datasets, for analysts (DuckDB, pandas, Spark, Polars): one
//! file per metric (requests.parquet, recording-requests.parquet,
//! callbacks.parquet) with typed columns: `time` a UTC timestamp at
//! millisecond precision, each dimension a dictionary-encoded string
//! (codes and versions stay text, as Azure Monitor's dimensions are),
//! `latencyMs` a 64-bit integer (API requests), `callConnectionId`, and
//! the request's details (`request`) or the whole CloudEvent
//! (`cloudEvent`) as the JSON text the JSONL lines hold. zstd-compressed;
//! rows are buffered per file and written as row groups of at most
//! [`ROW_GROUP_ROWS`] rows or [`ROW_GROUP_BYTES`] of payload, so memory
//! stays bounded whatever the dataset's size.
//!
//! Written with the `parquet` crate's column writers (Apache Arrow's Rust
//! implementation, without Arrow itself: a lighter build).

use super::identity::IdWriter;
use super::jsonl::{JsonlEncoder, class};
use crate::catalog::{Metric, Naming};
use crate::engine::{Event, EventKind, IdKey};
use bytes::{Bytes, BytesMut};
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;
use rustc_hash::FxHashMap;
use std::io::{self, Write};
use std::sync::{Arc, mpsc};

/// Rows per row group, at most: readers scan a group at a time, and the
/// writer holds one group per file in memory.
const ROW_GROUP_ROWS: usize = 131_072;
/// Payload bytes (JSON text) per row group, at most: CloudEvents are about
/// a kilobyte each.
const ROW_GROUP_BYTES: usize = 16 << 20;

/// The rows of one metric's file not yet written, column by column.
/// Dimension values share their text (catalog names, cached numbers);
/// ids and payloads are appended to one buffer each, cut into values when
/// the group is written: no allocation per row. The writing thread hands
/// each written group's columns back, emptied, to be filled again: a
/// fresh 16 MiB buffer per group cost more in page faults than its
/// compression did.
#[derive(Default)]
struct Columns {
    time: Vec<i64>,
    dimensions: Vec<Vec<ByteArray>>,
    latency: Vec<i64>,
    connection: Texts,
    payload: Texts,
}

/// Text values end to end, and where each ends.
#[derive(Default)]
struct Texts {
    bytes: BytesMut,
    ends: Vec<usize>,
}

impl Texts {
    fn end_value(&mut self) {
        self.ends.push(self.bytes.len());
    }

    /// The values, sharing one buffer, written by `write`; then the
    /// buffer is emptied for the next group, its allocation kept.
    fn with_values<T>(&mut self, write: impl FnOnce(&[ByteArray]) -> T) -> T {
        let all = std::mem::take(&mut self.bytes).freeze();
        let mut start = 0;
        let values: Vec<ByteArray> = self
            .ends
            .iter()
            .map(|&end| {
                let value = ByteArray::from(all.slice(start..end));
                start = end;
                value
            })
            .collect();
        let written = write(&values);
        drop(values);
        self.ends.clear();
        // Every slice is dropped, so the buffer is this one's alone again.
        self.bytes = all.try_into_mut().unwrap_or_default();
        self.bytes.clear();
        written
    }
}

/// One metric's file, on its writing thread.
struct MetricFile<W: Write + Send> {
    metric: Metric,
    writer: SerializedFileWriter<W>,
}

/// The three files of a Parquet dataset. Rows are gathered here, on the
/// generator's thread; encoding and compressing each file's full row
/// groups runs on a thread of that file's own, so generating and the
/// files' compression overlap on every core there is.
pub(super) struct ParquetFiles {
    /// Each file's rows not yet sent, and its writing thread.
    files: Vec<FileWriting>,
    jsonl: JsonlEncoder,
    ids: IdWriter,
    line: Vec<u8>,
    /// The event's connection id.
    id: Vec<u8>,
    /// A dimension's text, made once per value (codes and sub-codes).
    numbers: FxHashMap<u32, ByteArray>,
}

fn parquet_error(e: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(e)
}

/// The file's schema: `time`, the metric's dimensions (under `naming`),
/// `latencyMs` for API requests, `callConnectionId`, the payload.
fn schema(metric: Metric, naming: Naming) -> String {
    let mut fields = vec!["REQUIRED INT64 time (TIMESTAMP(MILLIS,true));".to_string()];
    for d in metric.dimensions() {
        fields.push(format!("REQUIRED BYTE_ARRAY {} (STRING);", d.name(naming)));
    }
    if metric == Metric::ApiRequests {
        fields.push("REQUIRED INT64 latencyMs;".into());
    }
    fields.push("REQUIRED BYTE_ARRAY callConnectionId (STRING);".into());
    fields.push(format!(
        "REQUIRED BYTE_ARRAY {} (JSON);",
        payload_column(metric)
    ));
    format!("message {} {{ {} }}", metric.name(), fields.join(" "))
}

fn payload_column(metric: Metric) -> &'static str {
    match metric {
        Metric::CallbackEvents => "cloudEvent",
        _ => "request",
    }
}

/// One file's rows being gathered, and the thread writing its groups.
struct FileWriting {
    metric: Metric,
    rows: Columns,
    groups: Option<mpsc::SyncSender<Columns>>,
    /// Columns written and emptied, to be filled again.
    emptied: mpsc::Receiver<Columns>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl FileWriting {
    /// Starts `file`'s writing thread.
    fn start<W: Write + Send + 'static>(file: MetricFile<W>) -> io::Result<FileWriting> {
        let metric = file.metric;
        // One group in flight while the next fills: memory stays at about
        // two row groups per file.
        let (groups, received) = mpsc::sync_channel::<Columns>(1);
        let (give_back, emptied) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("parquet {}", metric.name()))
            .spawn(move || file.write_groups(received, give_back))?;
        Ok(FileWriting {
            metric,
            rows: Columns::of(metric),
            groups: Some(groups),
            emptied,
            thread: Some(thread),
        })
    }

    /// Hands the rows gathered to the writing thread.
    fn send(&mut self) -> io::Result<()> {
        let next = self
            .emptied
            .try_recv()
            .unwrap_or_else(|_| Columns::of(self.metric));
        let rows = std::mem::replace(&mut self.rows, next);
        let sent = self
            .groups
            .as_ref()
            .is_some_and(|groups| groups.send(rows).is_ok());
        if sent {
            return Ok(());
        }
        // The writing thread has stopped: its error says why.
        self.end()
    }

    /// Ends the writing thread (the footer is written) and returns what
    /// it ended with.
    fn end(&mut self) -> io::Result<()> {
        self.groups = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            Some(Ok(written)) => written,
            Some(Err(_)) => Err(io::Error::other("a Parquet writing thread panicked")),
            None => Err(io::Error::other("the Parquet writing thread had stopped")),
        }
    }
}

impl ParquetFiles {
    /// Writers over `outputs`, one per metric of `metrics`, in order.
    pub(super) fn new<W: Write + Send + 'static>(
        ids: IdKey,
        naming: Naming,
        metrics: &[Metric],
        outputs: Vec<W>,
    ) -> io::Result<Self> {
        let files = metrics
            .iter()
            .zip(outputs)
            .map(|(&metric, out)| {
                let schema = parse_message_type(&schema(metric, naming)).map_err(parquet_error)?;
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(
                        ZstdLevel::try_new(1).map_err(parquet_error)?,
                    ))
                    .set_created_by(format!("callmetrics {}", env!("CARGO_PKG_VERSION")))
                    .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                    // Ids and JSON are unique per row: a dictionary would
                    // only be built and dropped.
                    .set_column_dictionary_enabled(ColumnPath::from(payload_column(metric)), false)
                    // Minima and maxima of ids and JSON text help no
                    // query, and comparing every value costs.
                    .set_column_statistics_enabled(
                        ColumnPath::from(payload_column(metric)),
                        EnabledStatistics::None,
                    )
                    .set_column_statistics_enabled(
                        ColumnPath::from("callConnectionId"),
                        EnabledStatistics::None,
                    )
                    .build();
                let writer = SerializedFileWriter::new(out, Arc::new(schema), Arc::new(props))
                    .map_err(parquet_error)?;
                Ok(MetricFile { metric, writer })
            })
            .collect::<io::Result<Vec<_>>>()?;
        let files = files
            .into_iter()
            .map(FileWriting::start)
            .collect::<io::Result<Vec<_>>>()?;
        Ok(ParquetFiles {
            files,
            jsonl: JsonlEncoder::new(ids, naming),
            ids: IdWriter::new(ids),
            line: Vec::with_capacity(4096),
            id: Vec::with_capacity(64),
            numbers: FxHashMap::default(),
        })
    }

    /// Adds `e` to its metric's file; a full row group is written.
    pub(super) fn add(&mut self, e: &Event, metric: Metric) -> io::Result<()> {
        let Some(file) = self.files.iter().position(|f| f.metric == metric) else {
            return Ok(());
        };
        // The payload is the JSONL line's own `request` or `cloudEvent`.
        self.line.clear();
        self.jsonl.encode(&mut self.line, e);
        let key: &[u8] = match e.kind {
            EventKind::Request { .. } => b",\"request\":",
            EventKind::Callback { .. } => b",\"cloudEvent\":",
        };
        let start = memchr::memmem::find(&self.line, key).map_or(0, |at| at + key.len());
        // The line ends with the payload's `}`, the line's `}` and `\n`.
        let payload = &self.line[start..self.line.len().saturating_sub(2)];
        let columns = &mut self.files[file].rows;
        columns.time.push(e.time_ms);
        let numbers = &mut self.numbers;
        let mut number = |n: u32| {
            numbers
                .entry(n)
                .or_insert_with(|| ByteArray::from(Bytes::from(n.to_string())))
                .clone()
        };
        let text = |s: &'static str| ByteArray::from(Bytes::from_static(s.as_bytes()));
        let class_text = |code: u16| ByteArray::from(Bytes::from_static(class(code)));
        let dims = &mut columns.dimensions;
        match e.kind {
            EventKind::Request {
                operation,
                status,
                latency_ms,
            } => {
                dims[0].push(text(operation.name()));
                dims[1].push(number(status.code as u32));
                dims[2].push(class_text(status.code));
                if metric == Metric::ApiRequests {
                    dims[3].push(text(e.api_version.as_str()));
                    columns.latency.push(latency_ms as i64);
                }
            }
            EventKind::Callback { event, result, .. } => {
                dims[0].push(text(event.name()));
                dims[1].push(number(result.code as u32));
                dims[2].push(class_text(result.code));
                dims[3].push(number(result.sub_code));
                dims[4].push(text(e.api_version.as_str()));
            }
        }
        self.id.clear();
        self.ids.connection(&mut self.id, e.call, e.connection);
        columns.connection.bytes.extend_from_slice(&self.id);
        columns.connection.end_value();
        columns.payload.bytes.extend_from_slice(payload);
        columns.payload.end_value();
        if columns.time.len() >= ROW_GROUP_ROWS || columns.payload.bytes.len() >= ROW_GROUP_BYTES {
            self.files[file].send()?;
        }
        Ok(())
    }

    /// Writes what is buffered and each file's footer.
    pub(super) fn finish(mut self) -> io::Result<()> {
        for file in &mut self.files {
            if !file.rows.time.is_empty() {
                file.send()?;
            }
        }
        self.files.iter_mut().try_for_each(FileWriting::end)
    }
}

impl Columns {
    /// Empty columns for `metric`'s file.
    fn of(metric: Metric) -> Columns {
        Columns {
            dimensions: vec![Vec::new(); metric.dimensions().len()],
            ..Columns::default()
        }
    }

    /// Empties the columns, keeping their allocations.
    fn clear(&mut self) {
        self.time.clear();
        self.dimensions.iter_mut().for_each(Vec::clear);
        self.latency.clear();
        // `Texts` are emptied as they are written.
    }
}

impl<W: Write + Send> MetricFile<W> {
    /// The writing thread: each group received becomes a row group, and
    /// its emptied columns go back through `emptied`; when the generator
    /// is done, the footer.
    fn write_groups(
        mut self,
        groups: mpsc::Receiver<Columns>,
        emptied: mpsc::Sender<Columns>,
    ) -> io::Result<()> {
        for mut columns in groups {
            self.write_group(&mut columns)?;
            columns.clear();
            // The generator may have finished and gone: nothing to refill.
            let _ = emptied.send(columns);
        }
        self.writer.close().map_err(parquet_error)?;
        Ok(())
    }

    /// Writes `c` as one row group.
    fn write_group(&mut self, c: &mut Columns) -> io::Result<()> {
        let mut group = self.writer.next_row_group().map_err(parquet_error)?;
        // Columns come in schema order: time, dimensions, latencyMs,
        // callConnectionId, payload.
        let mut order: Vec<Column<'_>> = vec![Column::Int(&c.time)];
        order.extend(c.dimensions.iter().map(|d| Column::Text(d)));
        if self.metric == Metric::ApiRequests {
            order.push(Column::Int(&c.latency));
        }
        order.push(Column::Joined(&mut c.connection));
        order.push(Column::Joined(&mut c.payload));
        for column in order {
            let mut writer = group
                .next_column()
                .map_err(parquet_error)?
                .ok_or_else(|| io::Error::other("the schema has fewer columns than written"))?;
            let mut texts = |values: &[ByteArray]| {
                writer
                    .typed::<ByteArrayType>()
                    .write_batch(values, None, None)
                    .map(drop)
            };
            match column {
                Column::Int(values) => writer
                    .typed::<Int64Type>()
                    .write_batch(values, None, None)
                    .map(drop),
                Column::Text(values) => texts(values),
                Column::Joined(joined) => joined.with_values(texts),
            }
            .map_err(parquet_error)?;
            writer.close().map_err(parquet_error)?;
        }
        group.close().map_err(parquet_error)?;
        Ok(())
    }
}

/// A column's values, typed as its schema field.
enum Column<'a> {
    Int(&'a [i64]),
    Text(&'a [ByteArray]),
    Joined(&'a mut Texts),
}
