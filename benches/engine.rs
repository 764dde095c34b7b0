//! Engine throughput: simulating and ordering events, encoding JSONL,
//! aggregating, and the aggregate-only path. Figures go in docs/perf.md.
//!
//! cargo bench --bench engine

use callmetrics::testing::catalog::Naming;
use callmetrics::testing::emit::JsonlEncoder;
use callmetrics::testing::engine::{EventStream, IdKey, Workload, expected_only};
use callmetrics::testing::model::{AggregateTable, Grain};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::path::Path;

const SCENARIO: &str = "scenarios/contact-center.json";
const CALLS: u64 = 5_000;

fn workload() -> Workload {
    Workload::calls(1, CALLS, 50.0)
}

fn benches(c: &mut Criterion) {
    let scenario =
        callmetrics::testing::scenario::load(Path::new(SCENARIO)).expect("shipped scenario loads");
    let workload = workload();
    let ids = IdKey::of(&scenario, &workload);
    let events: Vec<_> = EventStream::new(&scenario, &workload).collect();
    let n = events.len() as u64;

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(n));
    group.sample_size(20);

    group.bench_function("stream (simulate + time-order)", |b| {
        b.iter(|| EventStream::new(&scenario, &workload).count())
    });

    group.bench_function("jsonl encode", |b| {
        let mut buf = Vec::with_capacity(1 << 20);
        b.iter(|| {
            let mut enc = JsonlEncoder::new(ids, Naming::Azure);
            for e in &events {
                enc.encode(&mut buf, e);
                if buf.len() > 1 << 20 {
                    buf.clear();
                }
            }
        })
    });

    group.bench_function("aggregate", |b| {
        b.iter(|| {
            let mut expected = AggregateTable::new(Grain::MINUTE);
            events.iter().for_each(|e| expected.record(e));
            expected.len()
        })
    });

    // What `generate --out -` does: events only, nothing aggregated.
    group.bench_function("generate (stream + encode)", |b| {
        let mut buf = Vec::with_capacity(1 << 20);
        b.iter(|| {
            let mut enc = JsonlEncoder::new(ids, Naming::Azure);
            let mut n = 0;
            for e in EventStream::new(&scenario, &workload) {
                enc.encode(&mut buf, &e);
                n += 1;
                if buf.len() > 1 << 20 {
                    buf.clear();
                }
            }
            n
        })
    });

    // What `generate --out DIR` does: events plus expected.json's aggregates.
    group.bench_function("dataset (stream + encode + aggregate)", |b| {
        let mut buf = Vec::with_capacity(1 << 20);
        b.iter(|| {
            let mut enc = JsonlEncoder::new(ids, Naming::Azure);
            let mut expected = AggregateTable::new(Grain::MINUTE);
            for e in EventStream::new(&scenario, &workload) {
                expected.record(&e);
                enc.encode(&mut buf, &e);
                if buf.len() > 1 << 20 {
                    buf.clear();
                }
            }
            expected.len()
        })
    });

    for threads in [1, 2] {
        group.bench_function(format!("aggregate-only, {threads} thread(s)"), |b| {
            b.iter_batched(
                || (),
                |_| expected_only(&scenario, &workload, Grain::MINUTE, threads).len(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
