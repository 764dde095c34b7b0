//! `--data-dir`: batches acknowledged before a `kill -9` are all there after
//! a restart, and their idempotency keys still deduplicate retries.

use crate::common;

use crate::common::SinkProcess;

const LINE: &str = r#"{"metric":"AcsCallAutomationCallbackEvent","time":"2026-01-01T00:00:01.000Z","dimensions":{"EventTypeName":"Microsoft.Communication.PlayCompleted","Code":"200","CodeClass":"2xx","SubCode":"0","Version":"2025-05-15"},"value":1}"#;

/// Starts `callmetrics sink` on a free port over `dir`.
fn start_sink(dir: &std::path::Path) -> SinkProcess {
    SinkProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.to_str().unwrap(),
    ])
}

async fn post(client: &reqwest::Client, url: &str, key: &str, lines: usize) -> serde_json::Value {
    let body = format!("{LINE}\n").repeat(lines);
    let r = client
        .post(format!("{url}/ingest"))
        .header("content-type", "application/x-ndjson")
        .header("idempotency-key", key)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn count(client: &reqwest::Client, url: &str) -> u64 {
    let r = client
        .get(format!(
            "{url}/metrics?metricnames=AcsCallAutomationCallbackEvent&aggregation=Count"
        ))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    v["value"][0]["timeseries"][0]["data"][0]["count"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn acknowledged_batches_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let client = common::http();
    let mut first = start_sink(dir.path());
    let url = first.url.clone();
    let mut sent = 0;
    for i in 0..50 {
        post(&client, &url, &format!("batch-{i}"), i + 1).await;
        sent += i as u64 + 1;
    }
    assert_eq!(count(&client, &url).await, sent);
    first.kill(); // SIGKILL: no shutdown, no flush

    let second = start_sink(dir.path());
    let url = second.url.clone();
    assert_eq!(
        count(&client, &url).await,
        sent,
        "acknowledged samples lost across kill -9"
    );
    // A retry of an acknowledged batch is recognised after the restart.
    let v = post(&client, &url, "batch-7", 8).await;
    assert_eq!(v["duplicate"], true);
    assert_eq!(count(&client, &url).await, sent);
    drop(second);
}

/// Posts `batches` keyed batches of 1..=batches lines; returns the lines sent.
async fn post_batches(client: &reqwest::Client, url: &str, batches: usize) -> u64 {
    let mut sent = 0;
    for i in 0..batches {
        post(client, url, &format!("batch-{i}"), i % 10 + 1).await;
        sent += (i % 10 + 1) as u64;
    }
    sent
}

fn wal(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("wal.log")
}

// Issue #9, item 2: one flipped byte in the middle used to drop every later
// record and truncate the file, silently.
#[tokio::test]
async fn mid_file_damage_stops_the_start_and_repair_keeps_every_valid_record() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let client = common::http();
    let mut first = start_sink(dir.path());
    let sent = post_batches(&client, &first.url, 60).await;
    first.kill();
    let mut bytes = std::fs::read(wal(dir.path())).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(wal(dir.path()), &bytes).unwrap();

    let refused = common::callmetrics(&["sink", "--listen", "127.0.0.1:0", "--data-dir", data])
        .expect_code(2);
    assert!(
        refused.stderr.contains("is damaged at byte offset")
            && refused.stderr.contains("wal.log")
            && refused.stderr.contains("--repair"),
        "{}",
        refused.describe()
    );
    assert_eq!(
        std::fs::read(wal(dir.path())).unwrap(),
        bytes,
        "refusing changed the log"
    );

    let log = dir.path().join("repair.log");
    let repaired = SinkProcess::start_logged(
        &["--listen", "127.0.0.1:0", "--data-dir", data, "--repair"],
        &log,
    );
    let kept = count(&client, &repaired.url).await;
    // Exactly one batch (of at most 10 lines) was in the damaged bytes.
    assert!(kept < sent && kept >= sent - 10, "kept {kept} of {sent}");
    let said = common::read(&log);
    assert!(
        said.contains("repair: moved") && said.contains("damaged bytes at offset"),
        "{said}"
    );
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("wal.damaged-"))
        .collect();
    assert_eq!(aside.len(), 1);
    drop(repaired);
    // The log was rewritten: a plain start takes it, with the same data.
    let again = start_sink(dir.path());
    assert_eq!(count(&client, &again.url).await, kept);
}

// Issue #9, item 3: a torn tail is trimmed, and the sink says so.
#[tokio::test]
async fn a_torn_tail_is_trimmed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let client = common::http();
    let mut first = start_sink(dir.path());
    let sent = post_batches(&client, &first.url, 5).await;
    first.kill();
    let good = std::fs::metadata(wal(dir.path())).unwrap().len();
    // The start of a record whose append a crash cut short.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(wal(dir.path()))
        .unwrap();
    std::io::Write::write_all(&mut f, b"CMRC\x00\x10\x00\x00\x01\x02").unwrap();
    drop(f);
    let log = dir.path().join("start.log");
    let second = SinkProcess::start_logged(&["--listen", "127.0.0.1:0", "--data-dir", data], &log);
    assert_eq!(count(&client, &second.url).await, sent);
    let said = common::read(&log);
    assert!(
        said.contains(&format!("trimmed a torn tail of 10 bytes at offset {good}")),
        "{said}"
    );
}

// Issue #9, item 4: the log is compacted, so it stays bounded while the
// data and the recent keys survive restarts.
#[tokio::test]
async fn compaction_keeps_the_log_bounded_and_the_data_exact() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let client = common::http();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--compact-after",
        "8192",
    ];
    let mut first = SinkProcess::start(&args);
    let sent = post_batches(&client, &first.url, 400).await;
    let size = std::fs::metadata(wal(dir.path())).unwrap().len();
    // 400 batches of 25-byte samples plus keys would be ~75 KiB uncompacted;
    // compacted it is the one cell and the keys.
    assert!(size < 40_000, "log of {size} bytes");
    first.kill();
    let second = SinkProcess::start(&args);
    assert_eq!(count(&client, &second.url).await, sent);
    let v = post(&client, &second.url, "batch-399", 10).await;
    assert_eq!(v["duplicate"], true, "a key kept through compaction");
    assert_eq!(count(&client, &second.url).await, sent);
}

/// Posts batch `id` (id % 7 + 1 lines, key `crash-ID`); true when the sink
/// acknowledged it.
async fn try_post(client: &reqwest::Client, url: &str, id: usize) -> bool {
    let body = format!("{LINE}\n").repeat(id % 7 + 1);
    let sent = client
        .post(format!("{url}/ingest"))
        .header("content-type", "application/x-ndjson")
        .header("idempotency-key", format!("crash-{id}"))
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status() == 200 => r.json::<serde_json::Value>().await.is_ok(),
        _ => false,
    }
}

fn lines(ids: &std::collections::BTreeSet<usize>) -> u64 {
    ids.iter().map(|id| (id % 7 + 1) as u64).sum()
}

// Issue #9: kill -9 at random points during ingest, 20 rounds, restarting
// each time. What a restart holds is always every acknowledged batch plus
// at most those in flight when the sink died; retrying those with their
// keys then gives exactly every batch sent, never one twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_loses_nothing_acknowledged_and_counts_nothing_twice() {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    common::install_tls_provider();
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let mut acked: BTreeSet<usize> = BTreeSet::new();
    let mut in_doubt: BTreeSet<usize> = BTreeSet::new();
    let next = Arc::new(AtomicUsize::new(0));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..=20 {
        let mut sink = start_sink(dir.path());
        let url = sink.url.clone();
        let have = count(&client, &url).await;
        assert!(
            have >= lines(&acked) && have <= lines(&acked) + lines(&in_doubt),
            "round {round}: {have} lines after the restart, {} acknowledged, {} in doubt",
            lines(&acked),
            lines(&in_doubt)
        );
        for id in std::mem::take(&mut in_doubt) {
            assert!(try_post(&client, &url, id).await, "retry of batch {id}");
            acked.insert(id);
        }
        assert_eq!(count(&client, &url).await, lines(&acked), "round {round}");
        if round == 20 {
            break;
        }
        // Four clients post until the sink dies under them.
        let results = Arc::new(Mutex::new(Vec::new()));
        let senders: Vec<_> = (0..4)
            .map(|_| {
                let (client, url, next, results) =
                    (client.clone(), url.clone(), next.clone(), results.clone());
                tokio::spawn(async move {
                    loop {
                        let id = next.fetch_add(1, Ordering::SeqCst);
                        let ok = try_post(&client, &url, id).await;
                        results.lock().unwrap().push((id, ok));
                        if !ok {
                            break;
                        }
                    }
                })
            })
            .collect();
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        tokio::time::sleep(std::time::Duration::from_millis(5 + state % 60)).await;
        sink.kill();
        for s in senders {
            s.await.unwrap();
        }
        for (id, ok) in results.lock().unwrap().drain(..) {
            if ok {
                acked.insert(id);
            } else {
                in_doubt.insert(id);
            }
        }
    }
    assert!(acked.len() > 100, "only {} batches were sent", acked.len());
}

/// GET /metrics?`q` for the callback metric: status and body.
async fn query(client: &reqwest::Client, url: &str, q: &str) -> (u16, String) {
    let r = client
        .get(format!(
            "{url}/metrics?metricnames=AcsCallAutomationCallbackEvent&aggregation=Count&{q}"
        ))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The counts of every bucket of a Metrics - List answer, in time order.
fn bucket_counts(body: &str) -> Vec<u64> {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["value"][0]["timeseries"][0]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_u64().unwrap_or(0))
        .collect()
}

// Issue #9, item 13: per-second cells were kept forever (the soak's RSS
// crept by ~0.8 MiB a minute). Past --per-second-retention they are rolled
// into minutes, exactly, survive compaction and a restart with another
// retention, and a question they cannot answer exactly is refused.
#[tokio::test]
async fn old_per_second_cells_roll_into_minutes_exactly_and_stay_rolled() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let client = common::http();
    let args = |retention: &'static str| {
        [
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data,
            "--compact-after",
            "8192",
            "--per-second-retention",
            retention,
        ]
        .map(str::to_string)
    };
    let start = |retention| {
        let a = args(retention);
        SinkProcess::start(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let mut first = start("10m");
    // One sample every 10 s for an hour of data time, one batch each.
    for i in 0..360 {
        let time = format!("2026-01-01T00:{:02}:{:02}.000Z", i / 6, i % 6 * 10);
        let line = LINE.replace("2026-01-01T00:00:01.000Z", &time);
        let r = client
            .post(format!("{}/ingest", first.url))
            .header("content-type", "application/x-ndjson")
            .body(format!("{line}\n"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let whole = "timespan=2026-01-01T00:00:00Z/2026-01-01T01:00:00Z";
    for (url, retention) in [(first.url.clone(), "10m"), (String::new(), "24h")] {
        let url = if url.is_empty() {
            first.kill();
            first = start(retention);
            first.url.clone()
        } else {
            url
        };
        // Newest 00:59:50, 10 min kept: before 00:40 (whole ten minutes) per
        // minute. After the restart, what the last compaction had rolled
        // stays per minute; the batches logged after it are per second again.
        let (status, text) = query(&client, &url, &format!("{whole}&interval=PT1S")).await;
        assert_eq!(status, 400, "{retention}: {text}");
        let boundary = if retention == "10m" {
            "00:49:00"
        } else {
            "00:"
        };
        assert!(
            text.contains(&format!("before 2026-01-01T{boundary}"))
                && text.contains("--per-second-retention"),
            "{text}"
        );
        let (status, text) = query(
            &client,
            &url,
            "timespan=2026-01-01T00:00:30Z/2026-01-01T01:00:00Z&interval=PT1M",
        )
        .await;
        assert_eq!(status, 400, "a timespan that cuts a rolled minute: {text}");
        let (status, text) = query(&client, &url, &format!("{whole}&interval=PT1M")).await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(bucket_counts(&text), vec![6; 60], "{retention}");
        let (status, text) = query(
            &client,
            &url,
            "timespan=2026-01-01T00:49:00Z/2026-01-01T01:00:00Z&interval=PT1S",
        )
        .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(bucket_counts(&text), vec![1; 66], "{retention}");
    }
    let text = client
        .get(format!("{}/prometheus", first.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("} 360\n"), "{text}");
}

// Issue #19, item 1: 'A' -> 0x01 at byte 3 of a compacted log's header
// read it as version 1, trimmed every record as a "torn tail" and started
// with nothing (exit 0, no copy); other flips made --repair keep nothing.
#[tokio::test]
async fn a_flipped_header_bit_stops_the_start_and_repair_keeps_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let client = common::http();
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--compact-after",
        "8192",
    ];
    let mut first = SinkProcess::start(&args);
    let sent = post_batches(&client, &first.url, 200).await;
    first.kill();
    let mut bytes = std::fs::read(wal(dir.path())).unwrap();
    assert_eq!(&bytes[..8], b"CMWAL04\n");
    bytes[3] = 0x01;
    std::fs::write(wal(dir.path()), &bytes).unwrap();

    let refused = common::callmetrics(&["sink", "--listen", "127.0.0.1:0", "--data-dir", data])
        .expect_code(2);
    assert!(
        refused.stderr.contains("damaged header") && refused.stderr.contains("--repair"),
        "{}",
        refused.describe()
    );
    assert_eq!(std::fs::read(wal(dir.path())).unwrap(), bytes);

    let log = dir.path().join("repair.log");
    let mut repair_args = args.to_vec();
    repair_args.push("--repair");
    let repaired = SinkProcess::start_logged(&repair_args, &log);
    assert_eq!(count(&client, &repaired.url).await, sent);
    let said = common::read(&log);
    assert!(
        said.contains("repair: moved 8 damaged bytes at offset 0 (the log's header)")
            && said.contains(&format!("({sent} events)"))
            && said.contains("200 idempotency keys"),
        "{said}"
    );
    // Keys survived: a resent batch is a duplicate.
    let v = post(&client, &repaired.url, "batch-199", 10).await;
    assert_eq!(v["duplicate"], true);
    drop(repaired);
    let again = SinkProcess::start(&args);
    assert_eq!(count(&client, &again.url).await, sent);
}
