//! Wire encoders alone: remote write (counters, protobuf and snappy) per
//! sample, InfluxDB line protocol per line. Figures go in docs/perf.md.
//!
//! cargo bench --bench encoders

use callmetrics::testing::emit::deliver::Encoder;
use callmetrics::testing::emit::targets::influx::LineEncoder;
use callmetrics::testing::emit::targets::remote_write::CounterEncoder;
use callmetrics::testing::engine::{Event, EventStream, Workload};
use callmetrics::testing::model::Grain;
use callmetrics::testing::wire::remote_write::WriteRequest;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use std::path::Path;

const SCENARIO: &str = "scenarios/contact-center.json";
const CALLS: u64 = 5_000;
/// A sample every second of event time: many samples per event, as a
/// short interval or a high-cardinality pipeline has.
const INTERVAL_MS: i64 = 1_000;

/// Encodes `events` as remote write bodies, snappy-compressed; calls
/// `body` with each uncompressed body.
fn remote_write(events: &[Event], mut body: impl FnMut(&[u8])) -> usize {
    let mut encoder = CounterEncoder::new(INTERVAL_MS, Grain::MINUTE);
    let mut snappy = snap::raw::Encoder::new();
    let mut buf = Vec::with_capacity(1 << 20);
    let mut compressed = 0;
    let mut flush = |buf: &mut Vec<u8>, encoder: &mut CounterEncoder| {
        encoder.finish(buf);
        body(buf);
        compressed += snappy.compress_vec(buf).expect("compresses").len();
        buf.clear();
    };
    for e in events {
        if encoder.closes_before(e) {
            flush(&mut buf, &mut encoder);
        }
        encoder.encode(&mut buf, e);
    }
    encoder.end(&mut buf);
    flush(&mut buf, &mut encoder);
    compressed
}

/// Encodes `events` as line protocol bodies; calls `body` with each.
fn line_protocol(events: &[Event], mut body: impl FnMut(&[u8])) {
    let mut encoder = LineEncoder::new(INTERVAL_MS);
    let mut buf = Vec::with_capacity(1 << 20);
    for e in events {
        if encoder.closes_before(e) {
            encoder.finish(&mut buf);
            body(&buf);
            buf.clear();
        }
        encoder.encode(&mut buf, e);
    }
    encoder.end(&mut buf);
    encoder.finish(&mut buf);
    body(&buf);
}

fn benches(c: &mut Criterion) {
    let scenario =
        callmetrics::testing::scenario::load(Path::new(SCENARIO)).expect("shipped scenario loads");
    let workload = Workload::calls(1, CALLS, 50.0);
    let events: Vec<_> = EventStream::new(&scenario, &workload).collect();
    let mut samples = 0u64;
    remote_write(&events, |body| {
        let request = WriteRequest::decode(body).expect("valid protobuf");
        samples += request
            .timeseries
            .iter()
            .map(|ts| ts.samples.len() as u64)
            .sum::<u64>();
    });

    let mut group = c.benchmark_group("encoders");
    group.sample_size(20);
    group.throughput(Throughput::Elements(samples));
    group.bench_function(
        "remote write (counters + protobuf + snappy), per sample",
        |b| b.iter(|| remote_write(&events, |_| {})),
    );
    let mut lines = 0u64;
    line_protocol(&events, |body| {
        lines += body.iter().filter(|&&c| c == b'\n').count() as u64
    });
    group.throughput(Throughput::Elements(lines));
    group.bench_function("line protocol (per-interval aggregates), per line", |b| {
        b.iter(|| line_protocol(&events, |_| {}))
    });
    group.finish();
}

criterion_group!(encoders, benches);
criterion_main!(encoders);
