//! Remote-write bodies: the events as cumulative counters, as a scraped app
//! would hold them, sampled every sample interval on the event timeline
//! and always exactly at bucket boundaries. A batch closes when an event
//! crosses the next sample instant; its body holds every series' counter
//! at the instants crossed, which count exactly the events before them.
//! So the difference of a counter at two consecutive bucket boundaries is
//! that bucket's count, which `check --backend promql` reads back.
//!
//! A request gathers instants until it holds about [`SAMPLES_PER_REQUEST`]
//! samples (each instant's counter values are kept as of the moment the
//! stream crossed it), so a low-cardinality scenario still sends requests
//! big enough that the server, not the round trips, sets the pace.
//!
//! When the stream ends, every series gets a stale marker one interval
//! after its last sample, as remote write 1.0 requires of a sender whose
//! series stop (it names load testers): without one, queries keep
//! returning the last value for the 5-minute lookback, as if the run went
//! on.
//!
//! The protobuf is written directly (each series' labels encoded once, a
//! sample is 20 bytes at most), checked against prost's own decoding.

use crate::catalog::{Dimension, Metric};
use crate::emit::deliver::batcher::Encoder;
use crate::emit::targets::instant_after;
use crate::engine::{Event, EventKind};
use crate::model::{Grain, Series};
use crate::wire::remote_write::CONTENT_TYPE;
use prost::encoding::{encode_varint, encoded_len_varint};
use rustc_hash::FxHashMap;

/// Samples a request gathers before it is closed (at the next instant).
pub(super) const SAMPLES_PER_REQUEST: usize = 5_000;

/// Marks the `_sum` twin of a latency series' key (packed keys use bits 0-59).
const SUM: u64 = 1 << 63;

/// Prometheus' staleness marker: a NaN with this exact payload (any other
/// NaN is a sample).
pub(crate) const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// One counter of the pipeline: its labels, protobuf-encoded once, and its
/// value so far.
struct Counter {
    /// `Label` entries of a `TimeSeries` (field 1), `__name__` first.
    labels: Box<[u8]>,
    value: u64,
}

pub struct CounterEncoder {
    interval_ms: i64,
    grain: Grain,
    /// The next sample instant not yet written; set by the first event.
    next: Option<i64>,
    /// Instants to write into the current body, in order, each with the
    /// counters' values when the stream crossed it (counters made later
    /// have no sample there).
    pending: Vec<(i64, Vec<u64>)>,
    /// Samples those instants hold.
    pending_samples: usize,
    /// Close a request once it holds this many samples.
    samples_per_request: usize,
    /// The latest instant written into the last finished body.
    stamped: Option<i64>,
    /// Write stale markers after the last samples.
    stale_markers: bool,
    /// The stream has ended: the next body is the last.
    ended: bool,
    last_ms: i64,
    /// Series key -> index in `counters` (first-seen order).
    index: FxHashMap<u64, usize>,
    counters: Vec<Counter>,
    /// The latency summary's `_count` and `_sum` names.
    latency_count: String,
    latency_sum: String,
}

impl CounterEncoder {
    /// Samples every `interval_ms`, which must divide `grain`.
    pub fn new(interval_ms: i64, grain: Grain) -> CounterEncoder {
        debug_assert!(interval_ms > 0 && grain.millis() % interval_ms == 0);
        CounterEncoder {
            interval_ms,
            grain,
            next: None,
            pending: Vec::new(),
            pending_samples: 0,
            samples_per_request: SAMPLES_PER_REQUEST,
            stamped: None,
            stale_markers: true,
            ended: false,
            last_ms: 0,
            index: FxHashMap::default(),
            counters: Vec::new(),
            latency_count: format!("{}_count", Metric::ApiRequestLatency.prometheus_name()),
            latency_sum: format!("{}_sum", Metric::ApiRequestLatency.prometheus_name()),
        }
    }

    /// Requests of about `n` samples instead of [`SAMPLES_PER_REQUEST`].
    pub fn samples_per_request(self, n: usize) -> CounterEncoder {
        CounterEncoder {
            samples_per_request: n.max(1),
            ..self
        }
    }

    /// No stale markers at the end (`--no-stale-markers`).
    pub fn without_stale_markers(self) -> CounterEncoder {
        CounterEncoder {
            stale_markers: false,
            ..self
        }
    }

    /// Series added so far.
    pub fn series(&self) -> usize {
        self.counters.len()
    }

    /// A body ending every counter of `series` (a latency series' `_count`
    /// and `_sum` both) with a stale marker at `at_ms`, and how many.
    pub fn stale_markers(
        mut self,
        series: impl IntoIterator<Item = Series>,
        at_ms: i64,
    ) -> (Vec<u8>, usize) {
        for s in series {
            self.add(s.pack(), s, 0);
            if let Series::Latency(_) = s {
                self.add(s.pack() | SUM, s, 0);
            }
        }
        let stamp = SampleBytes::at(at_ms);
        let mut body = Vec::new();
        for counter in &self.counters {
            body.push(0x0a);
            encode_varint((counter.labels.len() + stamp.len()) as u64, &mut body);
            body.extend_from_slice(&counter.labels);
            stamp.write(STALE_NAN, &mut body);
        }
        (body, self.counters.len())
    }

    /// Adds `by` to the counter `key`, made (with its labels) the first time.
    fn add(&mut self, key: u64, series: Series, by: u64) {
        let at = match self.index.get(&key) {
            Some(&at) => at,
            None => {
                let name = match series {
                    Series::Requests(_) => Metric::ApiRequests.prometheus_name(),
                    Series::Callbacks(_) => Metric::CallbackEvents.prometheus_name(),
                    Series::Recordings(_) => Metric::RecordingRequests.prometheus_name(),
                    Series::Latency(_) if key & SUM != 0 => &self.latency_sum,
                    Series::Latency(_) => &self.latency_count,
                };
                self.counters.push(Counter {
                    labels: labels(name, &series.dimension_values()),
                    value: 0,
                });
                self.index.insert(key, self.counters.len() - 1);
                self.counters.len() - 1
            }
        };
        self.counters[at].value += by;
    }

    /// Queues every sample instant from the next one up to `until`, with
    /// the counters as they are now.
    fn queue_until(&mut self, until: i64) {
        let Some(mut next) = self.next else { return };
        if next > until {
            return;
        }
        let values: Vec<u64> = self.counters.iter().map(|c| c.value).collect();
        while next <= until {
            self.pending_samples += values.len();
            self.pending.push((next, values.clone()));
            next += self.interval_ms;
        }
        self.next = Some(next);
    }
}

/// The `Label` entries for `__name__` = `name` and the dimensions, sorted
/// by label name as remote write requires.
fn labels(name: &str, dims: &[(Dimension, String)]) -> Box<[u8]> {
    let mut pairs: Vec<(&str, &str)> = dims
        .iter()
        .map(|(d, v)| (d.prometheus_label(), v.as_str()))
        .collect();
    pairs.push(("__name__", name));
    pairs.sort();
    let mut out = Vec::new();
    for (name, value) in pairs {
        let len = 2
            + encoded_len_varint(name.len() as u64)
            + name.len()
            + encoded_len_varint(value.len() as u64)
            + value.len();
        out.push(0x0a);
        encode_varint(len as u64, &mut out);
        string(1, name, &mut out);
        string(2, value, &mut out);
    }
    out.into_boxed_slice()
}

fn string(tag: u8, text: &str, out: &mut Vec<u8>) {
    out.push(tag << 3 | 2);
    encode_varint(text.len() as u64, out);
    out.extend_from_slice(text.as_bytes());
}

/// One `Sample` as it is written inside a `TimeSeries` (field 2): tag,
/// length, the value (tag + 8 bytes) and the timestamp (tag + varint), with
/// the value's bytes left to fill in.
struct SampleBytes {
    bytes: [u8; SampleBytes::MAX],
    len: u8,
}

impl SampleBytes {
    /// Tag and length (2), value (9), timestamp (1 + at most 10).
    const MAX: usize = 22;
    /// Where the value's 8 bytes go.
    const VALUE: usize = 3;

    fn at(ms: i64) -> SampleBytes {
        let mut out = Vec::with_capacity(Self::MAX);
        let message = 1 + 8 + 1 + encoded_len_varint(ms as u64);
        out.extend_from_slice(&[0x12, message as u8, 0x09]);
        out.extend_from_slice(&[0; 8]);
        out.push(0x10);
        encode_varint(ms as u64, &mut out);
        let mut bytes = [0; Self::MAX];
        bytes[..out.len()].copy_from_slice(&out);
        SampleBytes {
            bytes,
            len: out.len() as u8,
        }
    }

    fn len(&self) -> usize {
        self.len as usize
    }

    /// Writes the sample with the value whose IEEE 754 bits are `bits`
    /// (bits, not an `f64`, so a NaN's payload is kept as given).
    fn write(&self, bits: u64, body: &mut Vec<u8>) {
        let at = body.len();
        body.extend_from_slice(&self.bytes[..self.len()]);
        body[at + Self::VALUE..at + Self::VALUE + 8].copy_from_slice(&bits.to_le_bytes());
    }
}

impl Encoder for CounterEncoder {
    const CONTENT_TYPE: &'static str = CONTENT_TYPE;
    const OWN_CUTS: bool = true;

    fn accepts(&self, _: &Event) -> bool {
        true
    }

    fn closes_before(&mut self, e: &Event) -> bool {
        match self.next {
            Some(next) if e.time_ms >= next => {
                self.queue_until(e.time_ms);
                self.pending_samples >= self.samples_per_request
            }
            _ => false,
        }
    }

    fn encode(&mut self, _: &mut Vec<u8>, e: &Event) {
        if self.next.is_none() {
            self.next = Some(instant_after(e.time_ms, self.interval_ms));
        }
        self.last_ms = e.time_ms;
        let series = Series::of(e);
        self.add(series.pack(), series, 1);
        if let (Series::Requests(dims), EventKind::Request { latency_ms, .. }) = (series, e.kind) {
            let latency = Series::Latency(dims);
            self.add(latency.pack(), latency, 1);
            self.add(latency.pack() | SUM, latency, latency_ms as u64);
        }
    }

    fn end(&mut self, _: &mut Vec<u8>) {
        // Through the end of the last bucket, so every bucket is closed by
        // a sample at its end.
        let end = self.grain.bucket(self.last_ms) + self.grain.millis();
        self.queue_until(end);
        self.ended = true;
    }

    fn finish(&mut self, body: &mut Vec<u8>) {
        // Every series' sample at an instant has the same bytes but for
        // the value: encode them once per instant.
        let stamps: Vec<SampleBytes> = self
            .pending
            .iter()
            .map(|(ms, _)| SampleBytes::at(*ms))
            .collect();
        // At the next instant, as a scraper that found the target gone
        // would write it.
        let stale = (self.ended && self.stale_markers)
            .then(|| self.pending.last())
            .flatten()
            .map(|(ms, _)| SampleBytes::at(ms + self.interval_ms));
        for (i, counter) in self.counters.iter().enumerate() {
            // Counters are made in order, so the instants at which this one
            // existed are a suffix of the pending ones.
            let from = self
                .pending
                .partition_point(|(_, values)| values.len() <= i);
            let samples: usize = stamps[from..].iter().map(|s| s.len()).sum();
            if samples == 0 {
                continue;
            }
            let marker = stale.as_ref().map_or(0, |s| s.len());
            body.push(0x0a);
            encode_varint((counter.labels.len() + samples + marker) as u64, body);
            body.extend_from_slice(&counter.labels);
            for ((_, values), stamp) in self.pending[from..].iter().zip(&stamps[from..]) {
                stamp.write((values[i] as f64).to_bits(), body);
            }
            if let Some(stale) = &stale {
                stale.write(STALE_NAN, body);
            }
        }
        // The stale marker does not hold the last samples back: one
        // interval ahead of the clock is far inside every receiver's limit.
        self.stamped = self.pending.last().map(|(ms, _)| *ms);
        self.pending.clear();
        self.pending_samples = 0;
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
    use crate::model::AggregateTable;
    use crate::wire::remote_write::WriteRequest;
    use prost::Message;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn bodies(
        interval_ms: i64,
        calls: u64,
        per_request: usize,
    ) -> (Vec<WriteRequest>, AggregateTable) {
        bodies_of(
            CounterEncoder::new(interval_ms, Grain::MINUTE),
            calls,
            per_request,
        )
    }

    fn bodies_of(
        encoder: CounterEncoder,
        calls: u64,
        per_request: usize,
    ) -> (Vec<WriteRequest>, AggregateTable) {
        let scenario = crate::scenario::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/inbound-ivr.json"
        )))
        .unwrap();
        let workload = Workload::calls(9, calls, 2.0);
        let cut = Cut {
            max_events: 5000,
            window: Duration::from_millis(50),
            speed: None,
        };
        let encoder = encoder.samples_per_request(per_request);
        let mut batcher = Batcher::new(encoder, 1, cut, Compression::None, Grain::MINUTE);
        let mut batches: Vec<_> = EventStream::new(&scenario, &workload)
            .filter_map(|e| batcher.push(&e))
            .collect();
        batches.extend(batcher.finish());
        let mut all = AggregateTable::new(Grain::MINUTE);
        let requests = batches
            .into_iter()
            .map(|b| {
                all.merge(b.expected);
                WriteRequest::decode(&b.body[..]).expect("valid protobuf")
            })
            .collect();
        (requests, all)
    }

    /// Series labels (as `name=value` text) -> samples, over all requests,
    /// stale markers left out.
    fn samples(requests: &[WriteRequest]) -> BTreeMap<Vec<String>, Vec<(i64, f64)>> {
        let mut all = samples_and_markers(requests);
        for samples in all.values_mut() {
            samples.retain(|(_, v)| v.to_bits() != STALE_NAN);
        }
        all
    }

    fn samples_and_markers(requests: &[WriteRequest]) -> BTreeMap<Vec<String>, Vec<(i64, f64)>> {
        let mut out: BTreeMap<Vec<String>, Vec<(i64, f64)>> = BTreeMap::new();
        for r in requests {
            for ts in &r.timeseries {
                let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
                assert!(names.is_sorted() && names[0] == "__name__", "{names:?}");
                let key = ts
                    .labels
                    .iter()
                    .map(|l| format!("{}={}", l.name, l.value))
                    .collect();
                let samples = out.entry(key).or_default();
                samples.extend(ts.samples.iter().map(|s| (s.timestamp, s.value)));
            }
        }
        out
    }

    #[test]
    fn counter_differences_at_bucket_boundaries_are_the_bucket_counts() {
        // One sample instant per request, several, and the default.
        for per_request in [1, 700, SAMPLES_PER_REQUEST] {
            counters_count_their_buckets(per_request);
        }
    }

    fn counters_count_their_buckets(per_request: usize) {
        let (requests, expected) = bodies(15_000, 400, per_request);
        if per_request == 1 {
            assert!(requests.len() > 10, "{} requests", requests.len());
        }
        let series = samples(&requests);
        // Samples of a series are in time order, 15 s apart, with no gaps
        // once the series exists, and counters never go down.
        for samples in series.values() {
            assert!(
                samples
                    .windows(2)
                    .all(|w| w[1].0 - w[0].0 == 15_000 && w[1].1 >= w[0].1)
            );
            assert!(samples.iter().all(|(t, _)| t % 15_000 == 0));
        }
        // Every expected cell is the difference of its counter at the
        // bucket's end and start (absent before the series' first sample).
        let at = |samples: &Vec<(i64, f64)>, t: i64| {
            samples.iter().find(|(s, _)| *s == t).map_or(0.0, |s| s.1) as u64
        };
        let mut checked = 0;
        for (s, bucket, aggregate) in expected.cells() {
            let metric = s.metric();
            let mut want = vec![format!(
                "__name__={}",
                match metric {
                    Metric::ApiRequestLatency => format!("{}_count", metric.prometheus_name()),
                    _ => metric.prometheus_name().to_string(),
                }
            )];
            want.extend(
                s.dimension_values()
                    .iter()
                    .map(|(d, v)| format!("{}={v}", d.prometheus_label())),
            );
            want.sort();
            let counter = &series[&want];
            let delta = at(counter, bucket + 60_000) - at(counter, bucket);
            assert_eq!(delta, aggregate.count, "{want:?} at {bucket}");
            checked += 1;
        }
        assert!(checked > 50);
    }

    #[test]
    fn every_series_ends_with_a_stale_marker_one_interval_after_its_last_sample() {
        let (requests, _) = bodies(15_000, 200, 700);
        let all = samples_and_markers(&requests);
        assert!(all.len() > 20);
        // The markers are in the last request, after every other sample.
        let last = requests.last().unwrap();
        assert_eq!(last.timeseries.len(), all.len());
        for (series, samples) in &all {
            let [.., (before, value), (at, marker)] = samples[..] else {
                panic!("{series:?}: {samples:?}");
            };
            assert_eq!(marker.to_bits(), STALE_NAN, "{series:?}");
            assert_eq!(at, before + 15_000, "{series:?}");
            assert!(
                !value.is_nan() && at % 60_000 == 15_000,
                "{series:?} at {at}"
            );
            let markers = samples.iter().filter(|(_, v)| v.is_nan()).count();
            assert_eq!(markers, 1, "{series:?}");
        }
        // Opting out leaves the same samples without them.
        let encoder = CounterEncoder::new(15_000, Grain::MINUTE).without_stale_markers();
        let (without, _) = bodies_of(encoder, 200, 700);
        let without = samples_and_markers(&without);
        assert!(without.values().flatten().all(|(_, v)| !v.is_nan()));
        assert_eq!(without, samples(&requests));
    }

    #[test]
    fn batches_close_only_at_sample_instants() {
        let (requests, _) = bodies(15_000, 200, 1);
        // Each request's samples share one or more instants; none is empty.
        for r in &requests {
            assert!(!r.timeseries.is_empty());
            let times: std::collections::BTreeSet<i64> = r
                .timeseries
                .iter()
                .flat_map(|ts| ts.samples.iter().map(|s| s.timestamp))
                .collect();
            assert!(!times.is_empty());
        }
    }
}
