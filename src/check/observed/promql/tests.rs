//! The Prometheus backend against a fake server that answers range
//! selectors from stored raw samples, as Prometheus 2.x does (both ends of
//! a range inclusive), so lookback, resets, duplicates and the number of
//! reads can be set up exactly.

use super::*;
use crate::check::Split;
use crate::client::tls::ClientTls;
use crate::model::Grain;
use axum::extract::{Query as Params, State};
use std::collections::HashMap;
use std::sync::Arc;

/// One stored series: labels (with `__name__`) and (Unix ms, value text).
type Stored = Vec<(Vec<(&'static str, String)>, Vec<(i64, String)>)>;

/// Answers `NAME{k="v",..}[Nms]` at `time` with the stored samples in
/// `[time - N, time]` of the series named NAME that carry every `k="v"`.
async fn answer(
    State(stored): State<Arc<Stored>>,
    Params(params): Params<HashMap<String, String>>,
) -> axum::Json<serde_json::Value> {
    let query = &params["query"];
    let time: f64 = params["time"].parse().unwrap();
    let at = (time * 1000.0).round() as i64;
    let (selector, range) = query.trim_end_matches("ms]").split_once('[').unwrap();
    let range: i64 = range.parse().unwrap();
    let (name, matchers) = selector.split_once('{').unwrap();
    let matchers: Vec<(&str, &str)> = matchers
        .trim_end_matches('}')
        .split(',')
        .filter(|m| !m.is_empty())
        .map(|m| {
            let (k, v) = m.split_once('=').unwrap();
            (k, v.trim_matches('"'))
        })
        .collect();
    let result: Vec<serde_json::Value> = stored
        .iter()
        .filter(|(labels, _)| {
            labels.contains(&("__name__", name.to_string()))
                && matchers
                    .iter()
                    .all(|(k, v)| labels.iter().any(|(l, x)| l == k && x == v))
        })
        .map(|(labels, samples)| {
            let metric: serde_json::Map<String, serde_json::Value> = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone().into()))
                .collect();
            let values: Vec<serde_json::Value> = samples
                .iter()
                .filter(|(t, _)| *t >= at - range && *t <= at)
                .map(|(t, v)| serde_json::json!([*t as f64 / 1000.0, v]))
                .collect();
            serde_json::json!({"metric": metric, "values": values})
        })
        .filter(|s| !s["values"].as_array().unwrap().is_empty())
        .collect();
    axum::Json(serde_json::json!({
        "status": "success",
        "data": {"resultType": "matrix", "result": result}
    }))
}

async fn fake_prometheus(stored: Stored) -> String {
    let app = axum::Router::new()
        .route("/api/v1/query", axum::routing::get(answer))
        .with_state(Arc::new(stored));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000;
const MIN: i64 = 60_000;
const NAME: &str = "acs_callautomation_callback_events_total";

/// A callback series' labels (the default mapping's names), plus `extra`.
fn callback(event: &str, extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut labels = vec![
        ("__name__", NAME.to_string()),
        (
            "event_type_name",
            format!("Microsoft.Communication.{event}"),
        ),
        ("code", "200".into()),
        ("code_class", "2xx".into()),
        ("sub_code", "0".into()),
        ("version", "2025-05-15".into()),
    ];
    labels.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    labels
}

fn samples(points: &[(i64, u64)]) -> Vec<(i64, String)> {
    points.iter().map(|(t, v)| (*t, v.to_string())).collect()
}

fn query(split: Split, grain: Grain, totals: bool, timespan: (i64, i64)) -> Query {
    Query {
        metric: Metric::CallbackEvents,
        grain,
        split,
        timespan,
        totals,
    }
}

async fn observed(url: &str, matchers: &str, read_until: i64) -> PromqlObserved {
    PromqlObserved::new(
        url,
        None,
        &ClientTls::system(),
        Mapping::default_naming(),
        matchers,
        read_until,
        Limits::default(),
    )
    .unwrap()
}

/// The counts `query` observes: label values -> bucket -> count.
async fn counts(o: &PromqlObserved, q: &Query) -> Vec<(Vec<String>, i64, u64)> {
    o.prepare(std::slice::from_ref(q)).await.unwrap();
    let mut out = Vec::new();
    for (label, buckets) in o.query(q).await.unwrap() {
        for (bucket, point) in buckets {
            let values = label.iter().map(|(_, v)| v.clone()).collect();
            out.push((values, bucket, point.count.unwrap()));
        }
    }
    out
}

#[tokio::test]
async fn totals_are_read_where_the_data_is_however_long_ago() {
    // The run ended three hours before the check: an instant query at
    // "now" would find every series past its lookback and absent.
    let url = fake_prometheus(vec![(
        callback("PlayCompleted", &[]),
        samples(&[(T0 + 15_000, 4), (T0 + 30_000, 9), (T0 + 45_000, 12)]),
    )])
    .await;
    let o = observed(&url, "", T0 + 3 * 3_600_000).await;
    let q = query(Split::Total, Grain::MINUTE, true, (T0, T0 + MIN));
    assert_eq!(counts(&o, &q).await, [(vec![], T0, 12)]);
}

#[tokio::test]
async fn a_restarted_app_counts_what_it_counted_after_the_restart() {
    // 25 counted, the app dies (3 more counted but never scraped), comes
    // back and counts 8: Prometheus' increase() semantics say 33.
    let url = fake_prometheus(vec![(
        callback("PlayCompleted", &[]),
        samples(&[
            (T0 + 15_000, 10),
            (T0 + 30_000, 25),
            (T0 + 45_000, 3),
            (T0 + 75_000, 8),
        ]),
    )])
    .await;
    let o = observed(&url, "", T0 + 10 * MIN).await;
    let totals = query(Split::Total, Grain::MINUTE, true, (T0, T0 + 2 * MIN));
    assert_eq!(counts(&o, &totals).await, [(vec![], T0, 33)]);
    let resets = o.resets(T0);
    assert_eq!(resets.len(), 1, "{resets:?}");
    assert_eq!(
        (resets[0].at, resets[0].before, resets[0].after),
        (T0 + 45_000, 25, 3)
    );
    assert!(
        resets[0]
            .series
            .starts_with(&format!("{NAME}{{code=\"200\", "))
            && resets[0]
                .series
                .contains("event_type_name=\"Microsoft.Communication.PlayCompleted\""),
        "{}",
        resets[0].series
    );
    // Per minute: 25 + 3 in the first, 5 in the second.
    let fresh = observed(&url, "", T0 + 10 * MIN).await;
    let buckets = query(Split::Total, Grain::MINUTE, false, (T0, T0 + 2 * MIN));
    assert_eq!(
        counts(&fresh, &buckets).await,
        [(vec![], T0, 28), (vec![], T0 + MIN, 5)]
    );
}

#[tokio::test]
async fn buckets_hold_the_increase_between_their_boundaries() {
    // Remote write samples on the boundaries; a sample an hour before the
    // window is the value at its start (an earlier run), not counted.
    let url = fake_prometheus(vec![
        (
            callback("PlayCompleted", &[]),
            samples(&[
                (T0 - 30 * MIN, 100),
                (T0, 100),
                (T0 + MIN, 103),
                (T0 + 2 * MIN, 103),
                (T0 + 3 * MIN, 110),
            ]),
        ),
        (
            callback("CallConnected", &[]),
            samples(&[(T0 + MIN, 1), (T0 + 3 * MIN, 2)]),
        ),
    ])
    .await;
    let o = observed(&url, "", T0 + 60 * MIN).await;
    let full = query(Split::Full, Grain::MINUTE, false, (T0, T0 + 3 * MIN));
    let five = query(
        Split::Total,
        "PT5M".parse().unwrap(),
        false,
        (T0, T0 + 5 * MIN),
    );
    // As a check does: every query prepared before any is asked.
    o.prepare(&[full, five]).await.unwrap();
    let requests = o.requests();
    let got = counts(&o, &full).await;
    let event = |row: &(Vec<String>, i64, u64)| (row.0[0].clone(), row.1, row.2);
    assert_eq!(
        got.iter().map(event).collect::<Vec<_>>(),
        [
            ("Microsoft.Communication.CallConnected".into(), T0, 1),
            (
                "Microsoft.Communication.CallConnected".into(),
                T0 + 2 * MIN,
                1
            ),
            ("Microsoft.Communication.PlayCompleted".into(), T0, 3),
            (
                "Microsoft.Communication.PlayCompleted".into(),
                T0 + 2 * MIN,
                7
            ),
        ]
    );
    // A coarser grain from the same reads.
    assert_eq!(counts(&o, &five).await, [(vec![], T0, 12)]);
    assert_eq!(o.requests(), requests, "a query read again");
}

#[tokio::test]
async fn a_day_per_minute_takes_a_few_reads() {
    // 300 series sampled every minute for 24 hours: 432,000 samples.
    let day = 1440;
    let stored: Stored = (0..300)
        .map(|i| {
            let labels = callback("PlayCompleted", &[("instance", &format!("app-{i}"))]);
            let points: Vec<(i64, u64)> = (0..=day).map(|m| (T0 + m * MIN, m as u64)).collect();
            (labels, samples(&points))
        })
        .collect();
    let url = fake_prometheus(stored).await;
    let o = observed(&url, "", T0 + (day + 1) * MIN).await;
    let q = query(Split::Total, Grain::MINUTE, false, (T0, T0 + day * MIN));
    let got = counts(&o, &q).await;
    assert_eq!(got.len(), day as usize);
    assert!(
        got.iter().all(|(_, _, c)| *c == 300),
        "every minute sums 300 instances"
    );
    // An instant query per boundary would be 1,441 requests.
    assert!(o.requests() <= 5, "{} reads", o.requests());
}

#[tokio::test]
async fn matchers_narrow_every_read_and_duplicates_add_up_exactly() {
    let url = fake_prometheus(vec![
        (
            callback("PlayCompleted", &[("job", "app"), ("replica", "a")]),
            samples(&[(T0 + 10_000, 5)]),
        ),
        (
            callback("PlayCompleted", &[("job", "app"), ("replica", "b")]),
            samples(&[(T0 + 10_000, 7)]),
        ),
        (
            callback("PlayCompleted", &[("job", "other")]),
            samples(&[(T0 + 10_000, 1000)]),
        ),
    ])
    .await;
    let q = query(Split::Total, Grain::MINUTE, true, (T0, T0 + MIN));
    let app = observed(&url, "job=\"app\"", T0 + MIN).await;
    assert_eq!(counts(&app, &q).await, [(vec![], T0, 12)]);
    let all = observed(&url, "", T0 + MIN).await;
    assert_eq!(counts(&all, &q).await, [(vec![], T0, 1012)]);

    // Two series whose sum passes 2^64 cannot be summed: refused.
    let half = (1u64 << 52) + 1;
    let big: Stored = (0..4097)
        .map(|i| {
            let labels = callback("PlayCompleted", &[("replica", &i.to_string())]);
            (labels, samples(&[(T0 + 10_000, half)]))
        })
        .collect();
    let url = fake_prometheus(big).await;
    let o = observed(&url, "", T0 + MIN).await;
    o.prepare(std::slice::from_ref(&q)).await.unwrap();
    let err = o.query(&q).await.unwrap_err().to_string();
    assert!(err.contains("pass 2^64"), "{err}");
}

/// Why reading a window from the server at `url` failed.
async fn read_error(url: &str) -> String {
    let q = query(Split::Total, Grain::MINUTE, true, (T0, T0 + MIN));
    observed(url, "", T0 + MIN)
        .await
        .prepare(std::slice::from_ref(&q))
        .await
        .unwrap_err()
        .to_string()
}

/// A server answering every query with `status` and `body`.
async fn answering(status: u16, body: &'static str) -> String {
    let app = axum::Router::new()
        .fallback(move || async move { (axum::http::StatusCode::from_u16(status).unwrap(), body) });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn a_prometheus_error_is_reported_with_its_message() {
    let url = answering(
        422,
        r#"{"status":"error","errorType":"execution","error":"query timed out in expression evaluation"}"#,
    )
    .await;
    let err = read_error(&url).await;
    assert!(
        err.starts_with("the Prometheus server rejected the query for ")
            && err.contains("acs_callautomation_callback_events_total{}[")
            && err.contains("(HTTP 422, execution): query timed out in expression evaluation"),
        "{err}"
    );
    let url = answering(
        401,
        r#"{"status":"error","errorType":"unauthorized","error":"missing token"}"#,
    )
    .await;
    let err = read_error(&url).await;
    assert!(
        err.ends_with("missing token; give its token with --token or CALLMETRICS_TOKEN"),
        "{err}"
    );
    let url = answering(200, "<html>not prometheus</html>").await;
    let err = read_error(&url).await;
    assert!(err.contains("not a Prometheus API answer"), "{err}");
    // An instant vector is not raw samples.
    let url = answering(
        200,
        r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
    )
    .await;
    let err = read_error(&url).await;
    assert!(
        err.contains("expected a matrix of raw samples, got a vector"),
        "{err}"
    );
}

#[tokio::test]
async fn a_count_past_2_pow_53_is_refused() {
    let url = fake_prometheus(vec![(
        callback("PlayCompleted", &[]),
        vec![(T0 + 10_000, "9007199254740992".to_string())],
    )])
    .await;
    let err = read_error(&url).await;
    assert!(err.contains("exact only below 2^53"), "{err}");
}

// Issue #17: a Prometheus behind auth got no token.
#[tokio::test]
async fn the_token_is_sent_as_a_bearer_header() {
    let fake = super::super::fake::serve(
        200,
        r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
    )
    .await;
    let observed = PromqlObserved::new(
        &fake.url,
        Some("s3cret"),
        &ClientTls::system(),
        Mapping::default_naming(),
        "",
        T0 + MIN,
        Limits::default(),
    )
    .unwrap();
    let q = query(Split::Total, Grain::MINUTE, true, (T0, T0 + MIN));
    observed.prepare(std::slice::from_ref(&q)).await.unwrap();
    let asked = fake.asked();
    assert!(!asked.is_empty());
    for request in asked {
        assert_eq!(request.authorization.as_deref(), Some("Bearer s3cret"));
    }
}
