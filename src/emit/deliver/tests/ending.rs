//! Issue #18, part 3: a remote-write stream cut short (a request refused
//! for good, Ctrl-C) still ends every series it delivered with a stale
//! marker, as remote write 1.0 requires of a sender whose series stop
//! however they stop; a stream that ended carries them in its last
//! request, and nothing more is sent.

use super::*;
use crate::emit::targets::remote_write::{self, RemoteWrite, STALE_NAN};
use crate::wire::remote_write::WriteRequest;
use prost::Message;

/// `--sample-interval`'s default.
const INTERVAL: std::time::Duration = std::time::Duration::from_secs(15);

fn target() -> RemoteWrite {
    RemoteWrite::new(
        "http://127.0.0.1:1/api/v1/write",
        None,
        INTERVAL,
        Grain::MINUTE,
    )
    .unwrap()
}

fn decode(body: &Bytes) -> WriteRequest {
    let raw = snap::raw::Decoder::new().decompress_vec(body).unwrap();
    WriteRequest::decode(&raw[..]).unwrap()
}

/// Each series' labels as `name{a="b",..}`.
fn names(request: &WriteRequest) -> BTreeSet<String> {
    request
        .timeseries
        .iter()
        .map(|s| {
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|l| format!("{}={:?}", l.name, l.value))
                .collect();
            labels.join(",")
        })
        .collect()
}

/// Replays 3000 calls spread over hours (a request of about 5000 samples
/// every few dozen minutes of event time) through `transport`.
async fn replay_refused_at(
    transport: Scripted,
    target: RemoteWrite,
) -> (ReplayOutcome, Vec<Bytes>) {
    let bodies = Arc::clone(&transport.bodies);
    let config = DeliveryConfig {
        retry: fast_retries(0),
        ..DeliveryConfig::new(remote_write::DEFAULTS)
    };
    let out = replay_with(
        &scenario(),
        &workload(3000, 0.2),
        target,
        &config,
        Pacing::Max,
        Grain::MINUTE,
        transport,
    )
    .await
    .unwrap();
    let bodies = bodies.lock().unwrap().clone();
    (out, bodies)
}

#[tokio::test]
async fn a_refused_request_is_followed_by_stale_markers_for_every_delivered_series() {
    let transport = Scripted::new([Reply::status(204), Reply::status(204), Reply::status(400)]);
    let (out, bodies) = replay_refused_at(transport, target()).await;
    assert_eq!(out.stats.requests, 2, "{:?}", out.stats);
    assert_eq!(out.stats.failed_requests, 1);
    assert!(out.stats.stopped_early);
    // Three data requests, then the ending one.
    assert_eq!(bodies.len(), 4);
    let data: Vec<WriteRequest> = bodies[..3].iter().map(decode).collect();
    let ending = decode(&bodies[3]);
    let latest = data
        .iter()
        .flat_map(|r| &r.timeseries)
        .flat_map(|s| &s.samples)
        .map(|s| s.timestamp)
        .max()
        .unwrap();
    // One marker per series, after every sample sent (the refused
    // request's included: a receiver may have applied part of it), at the
    // next sample instant.
    let interval = INTERVAL.as_millis() as i64;
    for series in &ending.timeseries {
        assert_eq!(series.samples.len(), 1);
        assert_eq!(series.samples[0].value.to_bits(), STALE_NAN);
        assert!(series.samples[0].timestamp > latest);
        assert_eq!(
            series.samples[0].timestamp,
            latest / interval * interval + interval
        );
    }
    // Exactly the delivered series: every counter the delivered requests
    // wrote, and none that only the refused one held.
    let delivered: BTreeSet<String> = data[..2].iter().flat_map(names).collect();
    let refused_only: BTreeSet<String> = names(&data[2]).difference(&delivered).cloned().collect();
    let ended = names(&ending);
    assert!(ended.is_superset(&delivered));
    assert!(
        !refused_only.is_empty(),
        "the test needs series only the refused request held"
    );
    assert!(
        ended.is_disjoint(&refused_only),
        "{:?}",
        ended.intersection(&refused_only)
    );
    // The summary says what was sent.
    let said = out.stats.ending.as_ref().expect("an ending request");
    assert_eq!(said.result, Ok(()));
    assert!(
        said.carried.starts_with(&format!(
            "stale markers for {} series at ",
            ending.timeseries.len()
        )),
        "{}",
        said.carried
    );
    assert_eq!(out.stats.to_json()["ending"]["delivered"], true);
}

#[tokio::test]
async fn a_stream_that_ended_sends_nothing_more_and_no_markers_means_none() {
    let (out, bodies) = replay_refused_at(Scripted::new([]), target()).await;
    assert!(out.stats.succeeded());
    assert_eq!(bodies.len() as u64, out.stats.requests);
    assert!(out.stats.ending.is_none());
    // Markers are in the last request already.
    let last = decode(bodies.last().unwrap());
    assert!(last.timeseries.iter().all(|s| {
        s.samples
            .last()
            .is_some_and(|x| x.value.to_bits() == STALE_NAN)
    }));

    let transport = Scripted::new([Reply::status(204), Reply::status(400)]);
    let (out, bodies) = replay_refused_at(transport, target().without_stale_markers()).await;
    assert_eq!(bodies.len(), 2);
    assert!(out.stats.ending.is_none());
}

#[tokio::test]
async fn an_ending_that_fails_is_said_and_tried_once() {
    let transport = Scripted::new([Reply::status(204), Reply::status(503), Reply::status(503)]);
    let (out, bodies) = replay_refused_at(transport, target()).await;
    // The refused request (no retries here), then one try of the ending.
    assert_eq!(bodies.len(), 3);
    let said = out.stats.ending.as_ref().expect("an ending request");
    assert!(
        said.result.as_ref().is_err_and(|e| e.contains("503")),
        "{said:?}"
    );
    let mut text = Vec::new();
    out.stats.write_summary(&mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("ended with  stale markers for"), "{text}");
    assert!(text.contains("not delivered"), "{text}");
}
