//! Issue #9, item 12: slow and hostile clients cannot hold the sink's
//! descriptors or memory. Each limit is set small here and provoked over
//! raw TCP on loopback.

mod common;

use callmetrics::sink::{RunningSink, SinkConfig};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn sink(limits: impl FnOnce(&mut SinkConfig)) -> RunningSink {
    let mut config = SinkConfig::embedded();
    limits(&mut config);
    RunningSink::start(config).await.unwrap()
}

/// Reads until the server closes the connection; what it sent.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_that_dribble_are_cut_off() {
    let sink = sink(|c| c.connections.header_timeout = Duration::from_millis(300)).await;
    let mut stream = TcpStream::connect(sink.addr()).await.unwrap();
    stream
        .write_all(b"POST /ingest HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    until_closed(&mut stream).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    // A connection that says nothing at all is closed too.
    let mut silent = TcpStream::connect(sink.addr()).await.unwrap();
    let started = Instant::now();
    until_closed(&mut silent).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "silent one closed after {took:?}"
    );
    sink.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_and_frees_its_slots() {
    let sink = sink(|c| {
        c.connections.max_connections = 4;
        c.connections.header_timeout = Duration::from_millis(300);
    })
    .await;
    let mut stalled = Vec::new();
    for _ in 0..12 {
        let mut s = TcpStream::connect(sink.addr()).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        stalled.push(s);
    }
    // Twelve stalled connections, four slots: the health check waits for
    // the stalled ones to time out, and is then served.
    let started = Instant::now();
    let answer = common::http()
        .get(format!("{}/healthz", sink.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "served at once: the limit did not hold"
    );
    sink.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_coming_gets_408() {
    let sink = sink(|c| c.body_timeout = Duration::from_millis(300)).await;
    let mut stream = TcpStream::connect(sink.addr()).await.unwrap();
    stream
        .write_all(
            b"POST /ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\n\
              content-length: 100000\r\n\r\n{\"metric\"",
        )
        .await
        .unwrap();
    let answer = until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive within"), "{answer}");
    sink.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_bodies_cannot_take_more_than_the_budget() {
    let sink = sink(|c| {
        c.max_inflight_bytes = 64 << 10;
        c.body_timeout = Duration::from_secs(5);
    })
    .await;
    let head = b"POST /ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\n\
                 content-length: 50000\r\n\r\n";
    // The first holds 50 kB of the 64 KiB budget and does not finish.
    let mut first = TcpStream::connect(sink.addr()).await.unwrap();
    first.write_all(head).await.unwrap();
    first.write_all(&[b' '; 1000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut second = TcpStream::connect(sink.addr()).await.unwrap();
    second.write_all(head).await.unwrap();
    let answer = until_closed(&mut second).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(answer.contains("--max-inflight-bytes"), "{answer}");
    drop(first);
    sink.shutdown().await.unwrap();
}

// Issue #19, item 9: --max-series x --per-second-retention allowed 8.6e9
// per-second cells (8.04 M took 477 MiB); --max-cells bounds them, the
// batch that would pass it is refused whole, and GET /stats shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cells_are_bounded_by_max_cells_and_shown_on_stats() {
    let sink = common::SinkProcess::start(&["--listen", "127.0.0.1:0", "--max-cells", "10"]);
    let client = common::http();
    let line = |second: u32| {
        format!(
            r#"{{"metric":"APIRequestCallAutomation","time":"2026-01-01T00:00:{second:02}.000Z","dimensions":{{"Operation":"Play","StatusCode":"202","StatusCodeClass":"2xx","ApiVersion":"2025-05-15"}},"value":1,"latencyMs":20}}"#
        )
    };
    let post = |lines: Vec<String>| {
        let client = client.clone();
        let url = format!("{}/ingest", sink.url);
        async move {
            let r = client
                .post(url)
                .header("content-type", "application/x-ndjson")
                .body(lines.join("\n"))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    // Each line is a count and a latency sample: two series. Four
    // seconds, two lines in one of them: eight cells.
    let (status, answer) = post(vec![line(1), line(2), line(3), line(4), line(4)]).await;
    assert_eq!(status, 200, "{answer}");
    // Four new cells would make twelve: refused whole, nothing taken.
    let (status, answer) = post(vec![line(1), line(5), line(6)]).await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer.contains("holds 8 cells") && answer.contains("adds 4 more, past --max-cells 10"),
        "{answer}"
    );
    // Samples into held cells and one new second (two cells) still fit.
    let (status, answer) = post(vec![line(1), line(2), line(5)]).await;
    assert_eq!(status, 200, "{answer}");
    let stats: serde_json::Value = client
        .get(format!("{}/stats", sink.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["cells"], 10, "{stats}");
    assert_eq!(stats["maxCells"], 10, "{stats}");
    assert_eq!(stats["series"], 2, "{stats}");
    assert_eq!(stats["samples"], 16, "{stats}");
}
