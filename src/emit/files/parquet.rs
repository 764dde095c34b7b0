//! Parquet datasets, for analysts (DuckDB, pandas, Spark, Polars): one
//! file per metric (requests.parquet, recording-requests.parquet,
//! callbacks.parquet) with typed columns: `time` a UTC timestamp at
//! millisecond precision, each dimension a dictionary-encoded string
//! (codes and versions stay text, as Azure Monitor's dimensions are),
//! `latencyMs` a 64-bit integer (API requests), `callConnectionId`.
//! Requests add the request's details (`request`, the JSON the JSONL line
//! holds). Callbacks hold their CloudEvent as columns: the call's ids
//! (dictionary-encoded, one entry per call), `id`, `source`, `eventTime`
//! (the service's 100 ns time) and `data`, the JSON of the CloudEvent's
//! `data` without the fields that have a column (`callConnectionId`,
//! `serverCallId`, `correlationId`, `version` = Version, `publicEventType`
//! = EventTypeName): a third of the text to format and compress that the
//! whole envelope was, and nothing lost (README: "Parquet").
//! zstd-compressed; rows are buffered per file and written as row groups
//! of at most [`ROW_GROUP_ROWS`] rows or [`ROW_GROUP_BYTES`] of text, so
//! memory stays bounded whatever the dataset's size.
//!
//! Written with the `parquet` crate's column writers (Apache Arrow's Rust
//! implementation, without Arrow itself: a lighter build).

use super::cloudevent::{EnvelopeParts, event_ticks, write_data_fields, write_source};
use super::identity::IdWriter;
use super::jsonl::{JsonlEncoder, class, series_key};
use crate::catalog::{EventType, Metric, Naming};
use crate::engine::{Connection, Event, EventKind, IdKey};
use crate::wire::rfc3339::TimeWriter;
use bytes::{Bytes, BytesMut};
use parquet::basic::{Compression, ZstdLevel};
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::errors::ParquetError;
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
/// Text bytes (JSON and unique ids) per row group, at most.
const ROW_GROUP_BYTES: usize = 16 << 20;

/// What a column holds, which fixes its Parquet type, its encoding and
/// where its values are gathered.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Unix milliseconds, as a UTC timestamp.
    Millis,
    /// Unix nanoseconds, as a UTC timestamp.
    Nanos,
    Int,
    /// A dimension: few values, dictionary-encoded, with statistics.
    Dimension,
    /// An id every row of a call repeats: dictionary-encoded, without
    /// statistics (no query filters on an id's minimum).
    CallId,
    /// Text unique per row: neither dictionary nor statistics.
    Unique,
    /// JSON text unique per row.
    Json,
}

impl Kind {
    /// The physical type and the logical annotation.
    fn parquet_type(self) -> (&'static str, &'static str) {
        match self {
            Kind::Millis => ("INT64", "(TIMESTAMP(MILLIS,true))"),
            Kind::Nanos => ("INT64", "(TIMESTAMP(NANOS,true))"),
            Kind::Int => ("INT64", ""),
            Kind::Dimension | Kind::CallId | Kind::Unique => ("BYTE_ARRAY", "(STRING)"),
            Kind::Json => ("BYTE_ARRAY", "(JSON)"),
        }
    }

    fn is_int(self) -> bool {
        matches!(self, Kind::Millis | Kind::Nanos | Kind::Int)
    }

    /// Gathered as one buffer of text, cut into values when written.
    fn is_joined(self) -> bool {
        matches!(self, Kind::Unique | Kind::Json)
    }
}

/// A metric file's columns, in schema order. `ParquetFiles::add` pushes
/// each kind's values in this order too.
fn layout(metric: Metric, naming: Naming) -> Vec<(String, Kind)> {
    let mut columns = vec![("time".to_string(), Kind::Millis)];
    for d in metric.dimensions() {
        columns.push((d.name(naming).to_string(), Kind::Dimension));
    }
    if metric == Metric::ApiRequests {
        columns.push(("latencyMs".into(), Kind::Int));
    }
    columns.push(("callConnectionId".into(), Kind::CallId));
    if metric == Metric::CallbackEvents {
        for (name, kind) in [
            ("serverCallId", Kind::CallId),
            ("correlationId", Kind::CallId),
            ("id", Kind::Unique),
            ("source", Kind::CallId),
            ("eventTime", Kind::Nanos),
            ("data", Kind::Json),
        ] {
            columns.push((name.into(), kind));
        }
    } else {
        columns.push(("request".into(), Kind::Json));
    }
    columns
}

/// The file's schema, from its layout.
fn schema(metric: Metric, columns: &[(String, Kind)]) -> String {
    let fields: Vec<String> = columns
        .iter()
        .map(|(name, kind)| {
            let (physical, logical) = kind.parquet_type();
            format!("REQUIRED {physical} {name} {logical};")
        })
        .collect();
    format!("message {} {{ {} }}", metric.name(), fields.join(" "))
}

/// Each column's encoding and statistics, as its kind wants them.
fn properties(columns: &[(String, Kind)]) -> Result<WriterProperties, ParquetError> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_created_by(format!("callmetrics {}", env!("CARGO_PKG_VERSION")))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for (name, kind) in columns {
        let path = ColumnPath::from(name.as_str());
        if kind.is_joined() {
            // Unique per row: a dictionary would only be built and dropped.
            props = props.set_column_dictionary_enabled(path.clone(), false);
        }
        if matches!(kind, Kind::CallId | Kind::Unique | Kind::Json) {
            // Minima and maxima of ids and JSON help no query, and
            // comparing every value costs.
            props = props.set_column_statistics_enabled(path, EnabledStatistics::None);
        }
    }
    Ok(props.build())
}

/// The rows of one metric's file not yet written, column by column, each
/// kind in a list of its own, in schema order. Dimension and id values
/// share their text (catalog names, cached numbers, a call's ids); unique
/// text is appended to one buffer per column, cut into values when the
/// group is written: no allocation per row. The writing thread hands each
/// written group's columns back, emptied, to be filled again: a fresh
/// 16 MiB buffer per group cost more in page faults than its compression
/// did.
#[derive(Default)]
struct Columns {
    ints: Vec<Vec<i64>>,
    shared: Vec<Vec<ByteArray>>,
    joined: Vec<Texts>,
}

/// Text values end to end, and where each ends.
#[derive(Default)]
struct Texts {
    bytes: BytesMut,
    ends: Vec<usize>,
}

impl Texts {
    fn push(&mut self, value: &[u8]) {
        self.bytes.extend_from_slice(value);
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
    kinds: Vec<Kind>,
    writer: SerializedFileWriter<W>,
}

/// The three files of a Parquet dataset. Rows are gathered here, on the
/// generator's thread; encoding and compressing each file's full row
/// groups runs on a thread of that file's own, so generating and the
/// files' compression overlap on every core there is.
pub(super) struct ParquetFiles {
    /// Each file's rows not yet sent, and its writing thread.
    files: Vec<FileWriting>,
    /// Requests' `request` objects, cut from their JSONL lines.
    jsonl: JsonlEncoder,
    ids: IdWriter,
    /// Each callback series' envelope, rendered once.
    envelopes: FxHashMap<u64, EnvelopeParts>,
    /// Recordings' startDateTime.
    start_times: TimeWriter,
    calls: CallTexts,
    text: Vec<u8>,
    /// A dimension's text, made once per value (codes and sub-codes).
    numbers: FxHashMap<u32, ByteArray>,
}

fn parquet_error(e: ParquetError) -> io::Error {
    io::Error::other(e)
}

/// One file's rows being gathered, and the thread writing its groups.
struct FileWriting {
    metric: Metric,
    kinds: Vec<Kind>,
    rows: Columns,
    /// How many `Columns` this file has made: one filling and one queued
    /// or being written, and no more, so memory stays bounded and each
    /// buffer is filled again rather than made afresh (a third set was
    /// 50 MiB more peak RSS and no faster: docs/perf.md).
    made: usize,
    groups: Option<mpsc::SyncSender<Columns>>,
    /// Columns written and emptied, to be filled again.
    emptied: mpsc::Receiver<Columns>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

/// Columns per file at most (see `FileWriting::made`).
const COLUMNS_PER_FILE: usize = 2;

impl FileWriting {
    /// Starts `file`'s writing thread.
    fn start<W: Write + Send + 'static>(
        metric: Metric,
        file: MetricFile<W>,
    ) -> io::Result<FileWriting> {
        let kinds = file.kinds.clone();
        let (groups, received) = mpsc::sync_channel::<Columns>(1);
        let (give_back, emptied) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("parquet {}", metric.name()))
            .spawn(move || file.write_groups(received, give_back))?;
        Ok(FileWriting {
            metric,
            rows: Columns::of(&kinds),
            made: 1,
            kinds,
            groups: Some(groups),
            emptied,
            thread: Some(thread),
        })
    }

    /// Rows gathered and text bytes held.
    fn held(&self) -> (usize, usize) {
        let rows = self.rows.ints.first().map_or(0, Vec::len);
        let bytes = self.rows.joined.iter().map(|t| t.bytes.len()).sum();
        (rows, bytes)
    }

    /// Hands the rows gathered to the writing thread.
    fn send(&mut self) -> io::Result<()> {
        let next = match self.emptied.try_recv() {
            Ok(emptied) => Some(emptied),
            Err(_) if self.made < COLUMNS_PER_FILE => {
                self.made += 1;
                Some(Columns::of(&self.kinds))
            }
            // All are out: wait for the writing thread to give one back.
            Err(_) => self.emptied.recv().ok(),
        };
        let Some(next) = next else {
            // The writing thread has stopped: its error says why.
            return self.end();
        };
        let rows = std::mem::replace(&mut self.rows, next);
        let sent = self
            .groups
            .as_ref()
            .is_some_and(|groups| groups.send(rows).is_ok());
        if sent {
            return Ok(());
        }
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

/// A call's id texts, made once per call connection rather than per
/// row: a direct-mapped cache (the calls live at once fit in it; a call
/// pushed out is made again).
struct CallTexts {
    slots: Vec<Option<CallText>>,
}

struct CallText {
    call: u64,
    of: Connection,
    connection: ByteArray,
    server_call: ByteArray,
    correlation: ByteArray,
    /// The call connection's `source`; a recording's events have their own.
    source: ByteArray,
}

const CALL_SLOTS: usize = 4096;

impl CallTexts {
    fn new() -> CallTexts {
        CallTexts {
            slots: (0..CALL_SLOTS).map(|_| None).collect(),
        }
    }

    fn get(&mut self, ids: &mut IdWriter, call: u64, of: Connection) -> &CallText {
        let slot = &mut self.slots[call as usize % CALL_SLOTS];
        if !slot.as_ref().is_some_and(|t| t.call == call && t.of == of) {
            let text = |write: &dyn Fn(&mut Vec<u8>)| {
                let mut out = Vec::with_capacity(64);
                write(&mut out);
                ByteArray::from(Bytes::from(out))
            };
            let ids = ids.call(call, of);
            *slot = Some(CallText {
                call,
                of,
                connection: text(&|out| ids.connection(out)),
                server_call: text(&|out| ids.server_call(out)),
                correlation: text(&|out| ids.correlation(out)),
                source: text(&|out| {
                    out.extend_from_slice(b"calling/callConnections/");
                    ids.connection(out);
                }),
            });
        }
        slot.as_ref().expect("the slot was just filled")
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
                let columns = layout(metric, naming);
                let schema =
                    parse_message_type(&schema(metric, &columns)).map_err(parquet_error)?;
                let props = properties(&columns).map_err(parquet_error)?;
                let writer = SerializedFileWriter::new(out, Arc::new(schema), Arc::new(props))
                    .map_err(parquet_error)?;
                let kinds = columns.iter().map(|&(_, kind)| kind).collect();
                FileWriting::start(metric, MetricFile { kinds, writer })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(ParquetFiles {
            files,
            jsonl: JsonlEncoder::new(ids, naming),
            ids: IdWriter::new(ids),
            envelopes: FxHashMap::default(),
            start_times: TimeWriter::default(),
            calls: CallTexts::new(),
            text: Vec::with_capacity(4096),
            numbers: FxHashMap::default(),
        })
    }

    /// Adds `e` to its metric's file; a full row group is written.
    pub(super) fn add(&mut self, e: &Event, metric: Metric) -> io::Result<()> {
        let Some(file) = self.files.iter().position(|f| f.metric == metric) else {
            return Ok(());
        };
        let numbers = &mut self.numbers;
        let mut number = |n: u32| {
            numbers
                .entry(n)
                .or_insert_with(|| ByteArray::from(Bytes::from(n.to_string())))
                .clone()
        };
        let text = |s: &'static str| ByteArray::from(Bytes::from_static(s.as_bytes()));
        let class_text = |code: u16| ByteArray::from(Bytes::from_static(class(code)));
        let Columns {
            ints,
            shared,
            joined,
        } = &mut self.files[file].rows;
        ints[0].push(e.time_ms);
        match e.kind {
            EventKind::Request {
                operation,
                status,
                latency_ms,
            } => {
                shared[0].push(text(operation.name()));
                shared[1].push(number(status.code as u32));
                shared[2].push(class_text(status.code));
                if metric == Metric::ApiRequests {
                    shared[3].push(text(e.api_version.as_str()));
                    ints[1].push(latency_ms as i64);
                }
                let call = self.calls.get(&mut self.ids, e.call, e.connection);
                let last = shared.len() - 1;
                shared[last].push(call.connection.clone());
                // The JSONL line's own `request`, which ends the line
                // before its `}` and `\n`.
                self.text.clear();
                self.jsonl.encode(&mut self.text, e);
                let key: &[u8] = b",\"request\":";
                let start = memchr::memmem::find(&self.text, key).map_or(0, |at| at + key.len());
                joined[0].push(&self.text[start..self.text.len().saturating_sub(2)]);
            }
            EventKind::Callback { event, result, .. } => {
                shared[0].push(text(event.name()));
                shared[1].push(number(result.code as u32));
                shared[2].push(class_text(result.code));
                shared[3].push(number(result.sub_code));
                shared[4].push(text(e.api_version.as_str()));
                let call = self.calls.get(&mut self.ids, e.call, e.connection);
                shared[5].push(call.connection.clone());
                shared[6].push(call.server_call.clone());
                shared[7].push(call.correlation.clone());
                let mut source = call.source.clone();
                self.text.clear();
                self.ids.event(&mut self.text, e.call, e.seq);
                joined[0].push(&self.text);
                self.text.clear();
                if event == EventType::RecordingStateChanged {
                    // A recording's events come from the recording.
                    write_source(&mut self.text, &mut self.ids, e);
                    source = ByteArray::from(Bytes::copy_from_slice(&self.text));
                    self.text.clear();
                }
                let parts = self
                    .envelopes
                    .entry(series_key(e))
                    .or_insert_with(|| EnvelopeParts::new(event, result, e.api_version));
                self.text.push(b'{');
                if parts.has_event_source() {
                    self.text.extend_from_slice(b",\"eventSource\":\"");
                    self.text.extend_from_slice(source.data());
                    self.text.push(b'"');
                }
                shared[8].push(source);
                ints[1].push(e.time_ms * 1_000_000 + i64::from(event_ticks(e)) * 100);
                write_data_fields(&mut self.text, parts, &self.ids, &mut self.start_times, e);
                self.text.push(b'}');
                // Each field came after a comma; the first needs none.
                if self.text.get(1) == Some(&b',') {
                    self.text.remove(1);
                }
                joined[1].push(&self.text);
            }
        }
        let (rows, bytes) = self.files[file].held();
        if rows >= ROW_GROUP_ROWS || bytes >= ROW_GROUP_BYTES {
            self.files[file].send()?;
        }
        Ok(())
    }

    /// Writes what is buffered and each file's footer.
    pub(super) fn finish(mut self) -> io::Result<()> {
        for file in &mut self.files {
            if file.held().0 > 0 {
                file.send()?;
            }
        }
        self.files.iter_mut().try_for_each(FileWriting::end)
    }
}

impl Columns {
    /// Empty columns for a file of columns of `kinds`.
    fn of(kinds: &[Kind]) -> Columns {
        let ints = kinds.iter().filter(|k| k.is_int()).count();
        let joined = kinds.iter().filter(|k| k.is_joined()).count();
        Columns {
            ints: vec![Vec::new(); ints],
            shared: vec![Vec::new(); kinds.len() - ints - joined],
            joined: (0..joined).map(|_| Texts::default()).collect(),
        }
    }

    /// Empties the columns, keeping their allocations.
    fn clear(&mut self) {
        self.ints.iter_mut().for_each(Vec::clear);
        self.shared.iter_mut().for_each(Vec::clear);
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

    /// Writes `c` as one row group, its columns in schema order.
    fn write_group(&mut self, c: &mut Columns) -> io::Result<()> {
        let mut group = self.writer.next_row_group().map_err(parquet_error)?;
        let (mut ints, mut shared, mut joined) =
            (c.ints.iter(), c.shared.iter(), c.joined.iter_mut());
        for kind in &self.kinds {
            let missing = || io::Error::other("a Parquet column has no values gathered");
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
            if kind.is_int() {
                let values = ints.next().ok_or_else(missing)?;
                writer
                    .typed::<Int64Type>()
                    .write_batch(values, None, None)
                    .map(drop)
            } else if kind.is_joined() {
                joined.next().ok_or_else(missing)?.with_values(texts)
            } else {
                texts(shared.next().ok_or_else(missing)?)
            }
            .map_err(parquet_error)?;
            writer.close().map_err(parquet_error)?;
        }
        group.close().map_err(parquet_error)?;
        Ok(())
    }
}
