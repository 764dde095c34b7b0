//! Issue #9, item 12: slow and hostile clients cannot hold the sink's
//! descriptors or memory. Each limit is set small here and provoked over
//! raw TCP on loopback.

use crate::common;

use callmetrics::testing::sink::{RunningSink, SinkConfig};
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
    // The first holds 40 kB of the 64 KiB budget and does not finish.
    let mut first = TcpStream::connect(sink.addr()).await.unwrap();
    first.write_all(head).await.unwrap();
    first.write_all(&[b' '; 40_000]).await.unwrap();
    // Another sends all of its body, which does not fit beside it once the
    // sink has read the first's bytes.
    let deadline = Instant::now() + Duration::from_secs(10);
    let answer = loop {
        let mut second = TcpStream::connect(sink.addr()).await.unwrap();
        second.write_all(head).await.unwrap();
        second.write_all(&[b' '; 50_000]).await.unwrap();
        let answer = until_closed(&mut second).await;
        if answer.starts_with("HTTP/1.1 503") || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
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

const LINE: &str = r#"{"metric":"APIRequestCallAutomation","time":"2026-01-01T00:00:00.005Z","dimensions":{"Operation":"Play","StatusCode":"202","StatusCodeClass":"2xx","ApiVersion":"2025-05-15"},"value":1,"latencyMs":24}"#;

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn lines(n: usize) -> String {
    format!("{LINE}\n").repeat(n)
}

async fn post_ingest(sink: &RunningSink, body: Vec<u8>, gzipped: bool) -> reqwest::Response {
    let mut request = common::http()
        .post(format!("{}/ingest", sink.url()))
        .header("content-type", "application/x-ndjson");
    if gzipped {
        request = request.header("content-encoding", "gzip");
    }
    request.body(body).send().await.unwrap()
}

// Issue #19, item 7: the budget held the compressed length, so small gzip
// bodies that inflate 250-fold took the sink far past it (2.65 GiB against
// 512 MiB). A body whose inflated bytes exceed the whole budget is refused
// while it inflates; one that fits alone is refused while others hold it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_are_held_to_the_budget_inflated() {
    let sink = sink(|c| {
        c.max_inflight_bytes = 1 << 20;
        c.max_body = 1 << 20;
        c.body_timeout = Duration::from_secs(10);
    })
    .await;
    // 2 MB inflated, a few KB sent: under --max-body (4x for gzip), over
    // the budget.
    let bomb = gzip(lines(10_000).as_bytes());
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    let r = post_ingest(&sink, bomb, true).await;
    assert_eq!(r.status(), 413);
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--max-inflight-bytes"),
        "{v}"
    );
    assert_eq!(sink.stats().samples, 0);
    // 600 KB inflated fits alone...
    let fits = gzip(lines(3_000).as_bytes());
    let r = post_ingest(&sink, fits.clone(), true).await;
    assert_eq!(r.status(), 200);
    assert_eq!(sink.stats().samples, 2 * 3_000);
    // ...but not beside 700 kB of a body still arriving: once its bytes
    // are in, the same gzip body is refused for now.
    let mut slow = TcpStream::connect(sink.addr()).await.unwrap();
    slow.write_all(
        b"POST /ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\n\
          content-length: 800000\r\n\r\n",
    )
    .await
    .unwrap();
    slow.write_all(&[b' '; 700_000]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let r = post_ingest(&sink, fits.clone(), true).await;
        if r.status() == 503 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    drop(slow);
    sink.shutdown().await.unwrap();
}

// Issue #19, item 8: each request reserved its declared Content-Length
// before a byte came, so 34 idle connections declaring big bodies held the
// whole budget and every real ingest got 503 for 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_declarations_do_not_lock_out_real_ingest() {
    let sink = sink(|c| {
        c.max_inflight_bytes = 256 << 10;
        c.body_timeout = Duration::from_secs(10);
    })
    .await;
    // Together they declare 240 kB of the 256 KiB, and send nothing.
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(sink.addr()).await.unwrap();
        s.write_all(
            b"POST /ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\n\
              content-length: 80000\r\n\r\n",
        )
        .await
        .unwrap();
        idle.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = lines(160);
    assert!(body.len() > 30_000, "{} bytes", body.len());
    let r = post_ingest(&sink, body.into_bytes(), false).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    assert_eq!(sink.stats().samples, 2 * 160);
    // The idle ones are still waiting for their bodies, not refused.
    for s in &mut idle {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_millis(50), s.read(&mut byte)).await;
        assert!(read.is_err(), "an idle connection was answered");
    }
    drop(idle);
    sink.shutdown().await.unwrap();
}

/// One sample in each second from 2026-01-01 on.
fn line_in_second(i: usize) -> String {
    let (day, hour, minute, second) = (1 + i / 86_400, i / 3600 % 24, i / 60 % 60, i % 60);
    LINE.replace(
        "2026-01-01T00:00:00.005Z",
        &format!("2026-01-{day:02}T{hour:02}:{minute:02}:{second:02}.005Z"),
    )
}

/// Cells of one series the heavy queries below answer, one per second.
const HEAVY_CELLS: usize = 200_000;

const HEAVY_QUERY: &str = "metricnames=APIRequestCallAutomation&interval=PT1S\
                           &timespan=2026-01-01T00:00:00Z/2026-01-10T00:00:00Z";

// Issue #19, item 10: queries held the store's lock on the async threads,
// as many as clients sent: six answers of 105 MB stalled /healthz 6.2 s
// and ingest 9.6 s. Now they run on blocking threads, at most
// --max-queries at once, and a batch that finds the cells held by queries
// is applied aside of them. The sink has a runtime of its own, as it would
// in its own process: the clock of the probes must not wait for it.
#[test]
fn queries_leave_health_and_ingest_answered() {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    };
    let (server, client) = (runtime(), runtime());
    let sink = server.block_on(sink(|c| {
        c.max_queries = 2;
        c.store.per_second_retention = Duration::from_secs(3650 * 86_400);
    }));
    client.block_on(async {
        for part in 0..4 {
            let part = part * HEAVY_CELLS / 4..(part + 1) * HEAVY_CELLS / 4;
            let body: String = part.map(|i| line_in_second(i) + "\n").collect();
            let r = post_ingest(&sink, gzip(body.as_bytes()), true).await;
            assert_eq!(r.status(), 200);
        }
        // A heavy query that arrives after the light one below retries.
        let query = || {
            let url = format!("{}/metrics?{HEAVY_QUERY}", sink.url());
            async move {
                loop {
                    let r = common::http().get(&url).send().await.unwrap();
                    if r.status() != 503 {
                        let status = r.status();
                        break (status, r.bytes().await.unwrap().len());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        let started = Instant::now();
        let heavy = [tokio::spawn(query()), tokio::spawn(query())];
        // Once both have arrived, their slots are taken: a third (a light
        // one, should it arrive first) is told to come back.
        let light = format!(
            "{}/metrics?metricnames=APIRequestCallAutomation\
             &timespan=2026-01-01T00:00:00Z/2026-01-01T00:01:00Z",
            sink.url()
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        let third = loop {
            let r = common::http().get(&light).send().await.unwrap();
            if r.status() == 503 || Instant::now() > deadline {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        assert_eq!(third.status(), 503);
        assert_eq!(third.headers()["retry-after"], "1");
        let probe = Instant::now();
        let health = common::http()
            .get(format!("{}/healthz", sink.url()))
            .send()
            .await
            .unwrap();
        let health_took = probe.elapsed();
        assert_eq!(health.status(), 200);
        let probe = Instant::now();
        let one = format!("{}\n", line_in_second(0)).into_bytes();
        let ingest = post_ingest(&sink, one, false).await;
        let ingest_took = probe.elapsed();
        assert_eq!(ingest.status(), 200);
        assert!(
            heavy.iter().all(|q| !q.is_finished()),
            "a heavy query ended before the probes did (too light to tell, after {:?}; \
             /healthz took {health_took:?}, a small ingest {ingest_took:?})",
            started.elapsed()
        );
        // The issue asks for 100 ms; this machine may be loaded by others,
        // and the old code took as long as the queries (seconds).
        assert!(
            health_took < Duration::from_secs(1) && ingest_took < Duration::from_secs(1),
            "/healthz took {health_took:?}, a small ingest {ingest_took:?}"
        );
        for q in heavy {
            let (status, bytes) = q.await.unwrap();
            assert_eq!(status, 200);
            assert!(bytes > 10 << 20, "{bytes} bytes");
        }
        eprintln!(
            "queries took {:?}; meanwhile /healthz took {health_took:?}, a small ingest \
             {ingest_took:?}",
            started.elapsed()
        );
    });
    assert_eq!(sink.stats().samples as usize, 2 * (HEAVY_CELLS + 1));
    server.block_on(sink.shutdown()).unwrap();
}
