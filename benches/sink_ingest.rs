//! The sink's ingest of one 5,000-event batch, as a generator sends it: a
//! `POST /ingest` of NDJSON samples (contact-center events) to the sink
//! embedded in this process on a loopback port, answered once the batch is
//! parsed, checked and applied. With `--data-dir`, the log's append and
//! fsync too. The guard issue #20 asks for before any change to the
//! ingest path; `benches/ab.sh` compares two whole binaries the same way a
//! user runs them.
//!
//! cargo bench --bench sink_ingest

use callmetrics::testing::catalog::Naming;
use callmetrics::testing::emit::deliver::Encoder;
use callmetrics::testing::emit::targets::ingest::NdjsonEncoder;
use callmetrics::testing::engine::{EventStream, IdKey, Workload};
use callmetrics::testing::sink::{RunningSink, SinkConfig};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::Path;

const SCENARIO: &str = "scenarios/contact-center.json";
const EVENTS: usize = 5_000;

/// The first 5,000 events of a contact-center workload as one body.
fn batch() -> Vec<u8> {
    let scenario =
        callmetrics::testing::scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(SCENARIO))
            .expect("shipped scenario");
    let workload = Workload::calls(7, 2_000, 4.0);
    let mut encoder = NdjsonEncoder::new(IdKey::of(&scenario, &workload), Naming::Azure);
    let mut body = Vec::new();
    for e in EventStream::new(&scenario, &workload).take(EVENTS) {
        encoder.encode(&mut body, &e);
    }
    encoder.finish(&mut body);
    body
}

fn ingest(c: &mut Criterion) {
    let body = axum::body::Bytes::from(batch());
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("a client");
    let data = tempfile::tempdir().expect("a temp dir");
    let mut group = c.benchmark_group("sink_ingest");
    group.throughput(Throughput::Elements(EVENTS as u64));
    for (name, data_dir) in [
        ("5000 events, in memory", None),
        ("5000 events, --data-dir", Some(data.path().to_path_buf())),
    ] {
        let sink = runtime.block_on(async {
            let mut config = SinkConfig::embedded();
            config.data_dir = data_dir;
            RunningSink::start(config).await.expect("the sink starts")
        });
        let url = format!("{}/ingest", sink.url());
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let answer = client
                        .post(&url)
                        .header("content-type", "application/x-ndjson")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("the sink answers");
                    assert!(answer.status().is_success(), "{}", answer.status());
                })
            })
        });
        runtime.block_on(sink.shutdown()).expect("the sink stops");
    }
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
