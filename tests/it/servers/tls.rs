//! Prometheus 2.42 behind its own TLS web config, requiring client
//! certificates (mTLS), with the certificates tls.rs makes: remote write
//! and `check --backend promql` with `--cert --key` pass; without them the
//! run is refused.
//!
//! Needs `prometheus` (skipped on a developer machine without it, a
//! failure in CI).

use crate::common::callmetrics_async;
use crate::common::servers::{Server, free_port, require};
use crate::tls::Pki;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Prometheus serving https:// only to clients whose certificate the CA
/// signed; returns it and its base URL once it listens.
async fn mtls_prometheus(pki: &Pki, dir: &Path) -> (Server, String) {
    let web = dir.join("web.yml");
    std::fs::write(
        &web,
        format!(
            "tls_server_config:\n  cert_file: {}\n  key_file: {}\n  client_auth_type: \
             RequireAndVerifyClientCert\n  client_ca_file: {}\n",
            pki.path("server.pem"),
            pki.path("server.key"),
            pki.path("ca.pem")
        ),
    )
    .unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").unwrap();
    let port = free_port();
    let server = Server::spawn(
        "prometheus",
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--web.config.file={}", web.display()))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "Prometheus did not listen"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, format!("https://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_and_promql_reach_an_mtls_prometheus() {
    let test = "remote_write_and_promql_reach_an_mtls_prometheus";
    if !require(test, &[("prometheus", "prometheus")]) {
        return;
    }
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let (_prometheus, base) = mtls_prometheus(&pki, dir.path()).await;
    let expected = dir.path().join("expected.json");
    let tls: Vec<String> = [
        "--cacert",
        "ca.pem",
        "--cert",
        "client.pem",
        "--key",
        "client.key",
    ]
    .chunks(2)
    .flat_map(|pair| [pair[0].to_string(), pki.path(pair[1])])
    .collect();
    let write = format!("{base}/api/v1/write");
    let mut args: Vec<String> = [
        "run",
        "scenarios/outbound-notification.json",
        "--target",
        "remote-write",
        "--sink",
        &write,
        "--calls",
        "200",
        "--max-rate",
        "--quiet",
        "--retries",
        "20",
        "--expected-out",
        expected.to_str().unwrap(),
        "--check",
        "--backend",
        "promql",
        "--observed",
        &base,
        "--wait",
        "30s",
        "--poll-interval",
        "1s",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    // Without a client certificate the handshake is refused.
    let refused = callmetrics_async(&args).await.expect_code(2);
    assert!(
        refused.stderr.contains("https://127.0.0.1:"),
        "{}",
        refused.describe()
    );
    args.extend(tls);
    let run = callmetrics_async(&args).await.expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
}
