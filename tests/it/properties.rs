//! Properties over random small scenarios and seeds: the expected aggregates
//! equal an independent recount of the events, and output does not depend
//! on how the work is split (runs, threads, chunks of calls).

use crate::common::recount;

use callmetrics::testing::catalog::{Metric, Naming};
use callmetrics::testing::emit::{DatasetFormat, DatasetOptions, Destination, write_dataset};
use callmetrics::testing::engine::{EventStream, Workload, expected_only};
use callmetrics::testing::model::Grain;
use callmetrics::testing::wire::write_expected;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Value, json};
use std::path::Path;

/// Splits 100 into `n` positive integer parts, as probabilities.
fn shares(n: usize) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(1u32..10, n).prop_map(|w| {
        let total: u32 = w.iter().sum();
        let mut cents: Vec<u32> = w.iter().map(|x| x * 100 / total).collect();
        let rest = 100 - cents.iter().sum::<u32>();
        cents[0] += rest;
        cents.iter().map(|&c| c as f64 / 100.0).collect()
    })
}

fn delay() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u32..3000).prop_map(|ms| json!({"fixed": format!("{ms}ms")})),
        (0u32..2000, 0u32..2000).prop_map(|(a, b)| json!({"uniform": {"min": format!("{}ms", a.min(b)), "max": format!("{}ms", a.max(b))}})),
        (1u32..5000).prop_map(|ms| json!({"exponential": {"mean": format!("{ms}ms")}})),
        (1u32..500, 1u32..20).prop_map(|(m, k)| json!({"lognormal": {"median": format!("{m}ms"), "p99": format!("{}ms", m * k)}})),
    ]
}

fn play_request() -> impl Strategy<Value = Value> {
    (shares(3), shares(2), delay(), delay()).prop_map(|(status, outcomes, latency, cb)| {
        json!({"request": {
            "operation": "Play",
            "status": [
                {"code": 202, "probability": status[0]},
                {"code": 429, "subCode": 8516, "probability": status[1]},
                {"code": 500, "probability": status[2]}
            ],
            "latency": latency,
            "apiVersions": [{"version": "2024-09-15", "probability": 1}],
            "outcomes": [
                {"probability": outcomes[0], "callbacks": [{"event": "PlayStarted", "delay": cb}, {"event": "PlayCompleted"}]},
                {"probability": outcomes[1], "callbacks": [{"event": "PlayFailed"}]}
            ]
        }})
    })
}

fn step() -> impl Strategy<Value = Value> {
    prop_oneof![
        play_request(),
        delay().prop_map(|d| json!({"wait": d})),
        (shares(2), play_request()).prop_map(|(p, r)| json!({"branch": [
            {"probability": p[0], "steps": [r]},
            {"probability": p[1], "steps": [{"request": {"operation": "Get Participants", "status": [{"code": 200, "probability": 0.5}, {"code": 404, "subCode": 8522, "probability": 0.5}]}}]}
        ]})),
        (1u32..4, play_request()).prop_map(|(n, r)| json!({"repeat": {"count": {"min": 0, "max": n}, "steps": [r]}})),
        (play_request(), delay()).prop_map(|(r, d)| json!({"parallel": [[r], [{"wait": d}, {"callback": {"event": "ParticipantsUpdated"}}]]})),
    ]
}

fn scenario() -> impl Strategy<Value = Value> {
    let flow = (1u32..5, proptest::collection::vec(step(), 1..5), any::<bool>()).prop_map(|(weight, mut steps, hang_up)| {
        steps.insert(0, json!({"request": {"operation": "Create Call", "outcomes": [{"probability": 1, "callbacks": [{"event": "CallConnected"}]}]}}));
        if hang_up {
            steps.push(json!({"request": {"operation": "HangUp Call", "outcomes": [{"probability": 1, "callbacks": [{"event": "CallDisconnected"}]}]}}));
        }
        json!({"name": "f", "weight": weight, "steps": steps})
    });
    (proptest::collection::vec(flow, 1..3), shares(2)).prop_map(|(flows, v)| {
        json!({
            "name": "random",
            "apiVersions": [{"version": "2025-05-15", "probability": v[0]}, {"version": "2023-10-15", "probability": v[1]}],
            "flows": flows
        })
    })
}

fn workload(seed: u64, calls: u64) -> Workload {
    Workload::calls(seed, calls, 5.0)
}

fn dataset(text: &str, seed: u64, dir: &Path) -> (String, String) {
    let scenario = callmetrics::testing::scenario::parse(Path::new("random.json"), text.as_bytes())
        .expect("generated scenarios are valid");
    let opts = DatasetOptions {
        scenario_path: Path::new("random.json"),
        destination: Destination::Directory(dir.to_path_buf()),
        format: DatasetFormat::Jsonl,
        csv_layout: Default::default(),
        naming: Naming::Azure,
        grain: Grain::MINUTE,
        progress: false,
        force: true,
        sample_interval: Grain::MINUTE,
    };
    write_dataset(&scenario, &workload(seed, 60), &opts).unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    (read("events.jsonl"), read("expected.json"))
}

proptest! {
    // The seeds of past failures are read from (and new ones written to)
    // properties.proptest-regressions beside this file. proptest's default
    // puts them beside the nearest folder holding a main.rs, which is
    // tests/it/ since the tests are one binary.
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        .. ProptestConfig::default()
    })]

    #[test]
    fn recount_equals_expected_and_reruns_are_identical(s in scenario(), seed in any::<u64>()) {
        let text = serde_json::to_string_pretty(&s).unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (events, expected) = dataset(&text, seed, a.path());
        prop_assert_eq!(recount::recount_jsonl(&events), recount::cells_of_expected(&expected));
        let (events2, expected2) = dataset(&text, seed, b.path());
        prop_assert!(events == events2, "events differ between identical runs");
        prop_assert!(expected == expected2, "expected.json differs between identical runs");
    }

    #[test]
    fn aggregates_do_not_depend_on_how_calls_are_split(s in scenario(), seed in any::<u64>()) {
        let text = serde_json::to_string(&s).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (_, streamed) = dataset(&text, seed, dir.path());
        let scenario = callmetrics::testing::scenario::parse(Path::new("random.json"), text.as_bytes()).unwrap();
        for threads in [1, 2, 3, 7] {
            let expected = expected_only(&scenario, &workload(seed, 60), Grain::MINUTE, threads);
            let mut out = Vec::new();
            let provenance = callmetrics::testing::emit::provenance(&scenario, &workload(seed, 60));
            write_expected(&mut out, &expected, Naming::Azure, "callmetrics/scenarios/random", provenance).unwrap();
            prop_assert!(String::from_utf8(out).unwrap() == streamed, "{} chunks differ from the stream", threads);
        }
    }

    /// The merge hands out every event once, in (time, call, position)
    /// order, at call rates from sparse to dense (empty spans skipped,
    /// buckets full of many calls' events).
    #[test]
    fn the_stream_is_in_order_and_complete(s in scenario(), seed in any::<u64>(), rate in 1u32..3000) {
        let text = serde_json::to_string(&s).unwrap();
        let scenario = callmetrics::testing::scenario::parse(Path::new("random.json"), text.as_bytes()).unwrap();
        let workload = Workload::calls(seed, 300, rate as f64);
        let keys: Vec<(i64, u64, u32)> = EventStream::new(&scenario, &workload)
            .map(|e| (e.time_ms, e.call, e.seq))
            .collect();
        prop_assert!(keys.windows(2).all(|w| w[0] < w[1]), "out of order");
        let expected = expected_only(&scenario, &workload, Grain::MINUTE, 1);
        let simulated = expected.total_count(Metric::ApiRequests) + expected.total_count(Metric::CallbackEvents);
        prop_assert_eq!(keys.len() as u64, simulated);
    }
}
