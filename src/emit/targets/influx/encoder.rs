//! InfluxDB 1.x line protocol bodies: per sample interval of the event
//! timeline and per series, one point holding that interval's `count`,
//! `sum`, `min` and `max` (integers), timestamped at the interval's start
//! in milliseconds, so InfluxQL's `GROUP BY time(..)` puts it in the right
//! bucket. Measurement = the metric's Azure name, tags = its dimensions
//! (Azure names, sorted by key in byte order as the line-protocol reference
//! advises, which spares the server sorting them; an empty value is left
//! out, as the protocol requires).
//!
//! As for remote write, a batch closes when an event crosses the next
//! interval end, once it holds about [`LINES_PER_REQUEST`] lines (one
//! interval per request when paced). A point written twice (a retry)
//! overwrites itself with the same values.

use crate::catalog::Naming;
use crate::emit::deliver::batcher::Encoder;
use crate::emit::files::json_text::write_int;
use crate::emit::targets::instant_after;
use crate::engine::{Event, EventKind};
use crate::model::{Aggregate, Series};
use rustc_hash::FxHashMap;

/// Lines a request gathers before it is closed (at the next interval end).
pub(super) const LINES_PER_REQUEST: usize = 5_000;

pub struct LineEncoder {
    interval_ms: i64,
    /// The end of the interval being counted; set by the first event.
    end: Option<i64>,
    /// This interval's cells, by series key, in first-seen order.
    index: FxHashMap<u64, usize>,
    cells: Vec<(u64, Aggregate)>,
    /// Each series' `measurement,tags ` prefix, rendered once.
    prefixes: FxHashMap<u64, Box<[u8]>>,
    /// Finished intervals' lines not yet in a body.
    pending: Vec<u8>,
    pending_lines: usize,
    lines_per_request: usize,
    stamped: Option<i64>,
}

impl LineEncoder {
    pub fn new(interval_ms: i64) -> LineEncoder {
        LineEncoder {
            interval_ms,
            end: None,
            index: FxHashMap::default(),
            cells: Vec::new(),
            prefixes: FxHashMap::default(),
            pending: Vec::new(),
            pending_lines: 0,
            lines_per_request: LINES_PER_REQUEST,
            stamped: None,
        }
    }

    /// Requests of about `n` lines instead of [`LINES_PER_REQUEST`].
    pub fn lines_per_request(self, n: usize) -> LineEncoder {
        LineEncoder {
            lines_per_request: n.max(1),
            ..self
        }
    }

    fn add(&mut self, series: Series, value: u64) {
        let key = series.pack();
        let sample = Aggregate {
            count: 1,
            total: value,
            minimum: value,
            maximum: value,
        };
        match self.index.get(&key) {
            Some(&at) => self.cells[at].1.absorb(&sample),
            None => {
                self.index.insert(key, self.cells.len());
                self.cells.push((key, sample));
                self.prefixes.entry(key).or_insert_with(|| prefix(series));
            }
        }
    }

    /// Renders the interval ending at `end` into `pending` and starts the
    /// next one.
    fn close_interval(&mut self, end: i64) {
        let start = end - self.interval_ms;
        for (key, a) in self.cells.drain(..) {
            let out = &mut self.pending;
            out.extend_from_slice(&self.prefixes[&key]);
            out.extend_from_slice(b"count=");
            write_int(out, a.count);
            out.extend_from_slice(b"i,sum=");
            write_int(out, a.total);
            out.extend_from_slice(b"i,min=");
            write_int(out, a.minimum);
            out.extend_from_slice(b"i,max=");
            write_int(out, a.maximum);
            out.extend_from_slice(b"i ");
            write_int(out, start);
            out.push(b'\n');
            self.pending_lines += 1;
        }
        self.index.clear();
        self.stamped = Some(end);
    }
}

/// `Measurement,Tag=value,... ` with line-protocol escaping.
fn prefix(series: Series) -> Box<[u8]> {
    let mut out = series.metric().name().as_bytes().to_vec();
    let mut tags: Vec<(&str, String)> = series
        .dimension_values()
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(d, value)| (d.name(Naming::Azure), value))
        .collect();
    tags.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    for (key, value) in tags {
        out.push(b',');
        escape(key, &mut out);
        out.push(b'=');
        escape(&value, &mut out);
    }
    out.push(b' ');
    out.into_boxed_slice()
}

/// Tag keys and values escape commas, equals signs and spaces.
fn escape(text: &str, out: &mut Vec<u8>) {
    for b in text.bytes() {
        if matches!(b, b',' | b'=' | b' ') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

impl Encoder for LineEncoder {
    const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";
    const OWN_CUTS: bool = true;

    fn accepts(&self, _: &Event) -> bool {
        true
    }

    fn closes_before(&mut self, e: &Event) -> bool {
        let Some(end) = self.end else {
            return false;
        };
        if e.time_ms < end {
            return false;
        }
        self.close_interval(end);
        // Skip the empty intervals up to the one `e` is in.
        self.end = Some(instant_after(e.time_ms, self.interval_ms));
        self.pending_lines >= self.lines_per_request
    }

    fn encode(&mut self, _: &mut Vec<u8>, e: &Event) {
        if self.end.is_none() {
            self.end = Some(instant_after(e.time_ms, self.interval_ms));
        }
        let series = Series::of(e);
        self.add(series, 1);
        if let (Series::Requests(dims), EventKind::Request { latency_ms, .. }) = (series, e.kind) {
            self.add(Series::Latency(dims), latency_ms as u64);
        }
    }

    fn end(&mut self, _: &mut Vec<u8>) {
        if let Some(end) = self.end {
            self.close_interval(end);
        }
    }

    fn finish(&mut self, body: &mut Vec<u8>) {
        body.append(&mut self.pending);
        self.pending_lines = 0;
    }

    fn stamped_until(&self) -> Option<i64> {
        self.stamped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::deliver::batcher::{Batcher, Compression, Cut};
    use crate::engine::{EventStream, Workload};
    use crate::model::{AggregateTable, Grain};
    use std::collections::BTreeMap;
    use std::time::Duration;

    #[test]
    fn points_per_interval_add_up_to_the_expected_cells() {
        let scenario = crate::scenario::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/inbound-ivr.json"
        )))
        .unwrap();
        let workload = Workload::calls(4, 300, 2.0);
        for per_request in [1, 200, LINES_PER_REQUEST] {
            let encoder = LineEncoder::new(15_000).lines_per_request(per_request);
            let cut = Cut {
                max_events: 5000,
                window: Duration::from_millis(50),
                speed: None,
            };
            let mut batcher = Batcher::new(encoder, 1, cut, Compression::None, Grain::MINUTE);
            let mut batches: Vec<_> = EventStream::new(&scenario, &workload)
                .filter_map(|e| batcher.push(&e))
                .collect();
            batches.extend(batcher.finish());
            let mut expected = AggregateTable::new(Grain::MINUTE);
            // (measurement, tags, minute) -> [count, sum, min, max]
            let mut points: BTreeMap<(String, String, i64), [u64; 4]> = BTreeMap::new();
            for b in batches {
                expected.merge(b.expected);
                for line in std::str::from_utf8(&b.body).unwrap().lines() {
                    // The first space that is not escaped ends the series key.
                    let at = (0..line.len())
                        .find(|&i| line.as_bytes()[i] == b' ' && line.as_bytes()[i - 1] != b'\\')
                        .unwrap();
                    let (series, rest) = (&line[..at], &line[at + 1..]);
                    let (fields, time) = rest.rsplit_once(' ').unwrap();
                    let (measurement, tags) = series.split_once(',').unwrap();
                    let time: i64 = time.parse().unwrap();
                    assert_eq!(time % 15_000, 0);
                    let f: Vec<u64> = fields
                        .split(',')
                        .map(|kv| {
                            kv.split_once('=')
                                .unwrap()
                                .1
                                .trim_end_matches('i')
                                .parse()
                                .unwrap()
                        })
                        .collect();
                    let cell = points
                        .entry((measurement.into(), tags.into(), time - time % 60_000))
                        .or_insert([0, 0, u64::MAX, 0]);
                    cell[0] += f[0];
                    cell[1] += f[1];
                    cell[2] = cell[2].min(f[2]);
                    cell[3] = cell[3].max(f[3]);
                }
            }
            let mut want = BTreeMap::new();
            for (s, minute, a) in expected.cells() {
                let prefix = prefix(s);
                let text = std::str::from_utf8(&prefix).unwrap().trim_end();
                let (m, tags) = text.split_once(',').unwrap();
                want.insert(
                    (m.to_string(), tags.to_string(), minute),
                    [a.count, a.total, a.minimum, a.maximum],
                );
            }
            assert_eq!(points, want, "{per_request} lines per request");
        }
    }

    #[test]
    fn tag_keys_are_sorted_in_byte_order() {
        use crate::catalog::{ApiVersion, Operation};
        use crate::model::RequestDims;
        let dims = RequestDims {
            operation: Operation::CreateCall,
            status: 201,
            version: "2025-06-15".parse::<ApiVersion>().unwrap(),
        };
        let line = prefix(Series::Requests(dims));
        assert_eq!(
            std::str::from_utf8(&line).unwrap(),
            "APIRequestCallAutomation,ApiVersion=2025-06-15,Operation=Create\\ Call,StatusCode=201,\
             StatusCodeClass=2xx "
        );
    }

    #[test]
    fn tags_are_escaped() {
        let mut out = Vec::new();
        escape("Create Call,x=y", &mut out);
        assert_eq!(out, b"Create\\ Call\\,x\\=y");
    }
}
