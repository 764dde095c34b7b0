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
use bytes::Bytes;
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::ColumnPath;
use rustc_hash::FxHashMap;
use std::io::{self, Write};
use std::sync::Arc;

/// Rows per row group, at most: readers scan a group at a time, and the
/// writer holds one group per file in memory.
const ROW_GROUP_ROWS: usize = 131_072;
/// Payload bytes (JSON text) per row group, at most: CloudEvents are about
/// a kilobyte each.
const ROW_GROUP_BYTES: usize = 48 << 20;

/// The rows of one metric's file not yet written, column by column.
#[derive(Default)]
struct Columns {
    time: Vec<i64>,
    dimensions: Vec<Vec<ByteArray>>,
    latency: Vec<i64>,
    connection: Vec<ByteArray>,
    payload: Vec<ByteArray>,
    payload_bytes: usize,
}

/// One metric's file.
struct MetricFile<W: Write + Send> {
    metric: Metric,
    writer: SerializedFileWriter<W>,
    columns: Columns,
}

/// The three files of a Parquet dataset.
pub(super) struct ParquetFiles<W: Write + Send> {
    files: Vec<MetricFile<W>>,
    jsonl: JsonlEncoder,
    ids: IdWriter,
    line: Vec<u8>,
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

impl<W: Write + Send> ParquetFiles<W> {
    /// Writers over `outputs`, one per metric of `metrics`, in order.
    pub(super) fn new(
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
                        ZstdLevel::try_new(3).map_err(parquet_error)?,
                    ))
                    .set_created_by(format!("callmetrics {}", env!("CARGO_PKG_VERSION")))
                    .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
                    // Ids and JSON are unique per row: a dictionary would
                    // only be built and dropped.
                    .set_column_dictionary_enabled(ColumnPath::from(payload_column(metric)), false)
                    .build();
                let writer = SerializedFileWriter::new(out, Arc::new(schema), Arc::new(props))
                    .map_err(parquet_error)?;
                let columns = Columns {
                    dimensions: vec![Vec::new(); metric.dimensions().len()],
                    ..Columns::default()
                };
                Ok(MetricFile {
                    metric,
                    writer,
                    columns,
                })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(ParquetFiles {
            files,
            jsonl: JsonlEncoder::new(ids, naming),
            ids: IdWriter::new(ids),
            line: Vec::with_capacity(4096),
            numbers: FxHashMap::default(),
        })
    }

    /// Adds `e` to its metric's file; a full row group is written.
    pub(super) fn add(&mut self, e: &Event, metric: Metric) -> io::Result<()> {
        let Some(file) = self.files.iter_mut().find(|f| f.metric == metric) else {
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
        let columns = &mut file.columns;
        columns.time.push(e.time_ms);
        let mut number = |n: u32| {
            self.numbers
                .entry(n)
                .or_insert_with(|| ByteArray::from(Bytes::from(n.to_string())))
                .clone()
        };
        let text = |s: &'static str| ByteArray::from(Bytes::from_static(s.as_bytes()));
        let class_text = |code: u16| ByteArray::from(Bytes::from_static(class(code)));
        let values: Vec<ByteArray> = match e.kind {
            EventKind::Request {
                operation,
                status,
                latency_ms,
            } => {
                let mut v = vec![
                    text(operation.name()),
                    number(status.code as u32),
                    class_text(status.code),
                ];
                if metric == Metric::ApiRequests {
                    v.push(text(e.api_version.as_str()));
                    columns.latency.push(latency_ms as i64);
                }
                v
            }
            EventKind::Callback { event, result, .. } => vec![
                text(event.name()),
                number(result.code as u32),
                class_text(result.code),
                number(result.sub_code),
                text(e.api_version.as_str()),
            ],
        };
        for (column, value) in columns.dimensions.iter_mut().zip(values) {
            column.push(value);
        }
        let mut id = Vec::with_capacity(40);
        self.ids.connection(&mut id, e.call, e.connection);
        columns.connection.push(ByteArray::from(id));
        columns.payload_bytes += payload.len();
        columns.payload.push(ByteArray::from(payload.to_vec()));
        if columns.time.len() >= ROW_GROUP_ROWS || columns.payload_bytes >= ROW_GROUP_BYTES {
            file.flush()?;
        }
        Ok(())
    }

    /// Writes what is buffered and each file's footer.
    pub(super) fn finish(self) -> io::Result<()> {
        for mut file in self.files {
            file.flush()?;
            file.writer.close().map_err(parquet_error)?;
        }
        Ok(())
    }
}

impl<W: Write + Send> MetricFile<W> {
    /// Writes the buffered rows as one row group.
    fn flush(&mut self) -> io::Result<()> {
        let c = std::mem::take(&mut self.columns);
        if c.time.is_empty() {
            self.columns.dimensions = c.dimensions;
            return Ok(());
        }
        let mut group = self.writer.next_row_group().map_err(parquet_error)?;
        // Columns come in schema order: time, dimensions, latencyMs,
        // callConnectionId, payload.
        let mut order: Vec<Column<'_>> = vec![Column::Int(&c.time)];
        order.extend(c.dimensions.iter().map(|d| Column::Text(d)));
        if self.metric == Metric::ApiRequests {
            order.push(Column::Int(&c.latency));
        }
        order.push(Column::Text(&c.connection));
        order.push(Column::Text(&c.payload));
        for column in order {
            let mut writer = group
                .next_column()
                .map_err(parquet_error)?
                .ok_or_else(|| io::Error::other("the schema has fewer columns than written"))?;
            match column {
                Column::Int(values) => writer
                    .typed::<Int64Type>()
                    .write_batch(values, None, None)
                    .map(drop),
                Column::Text(values) => writer
                    .typed::<ByteArrayType>()
                    .write_batch(values, None, None)
                    .map(drop),
            }
            .map_err(parquet_error)?;
            writer.close().map_err(parquet_error)?;
        }
        group.close().map_err(parquet_error)?;
        self.columns.dimensions = vec![Vec::new(); self.metric.dimensions().len()];
        Ok(())
    }
}

/// A column's values, typed as its schema field.
enum Column<'a> {
    Int(&'a [i64]),
    Text(&'a [ByteArray]),
}
