//! Real servers for integration tests (Prometheus, the Node.js callback
//! app, ...): each on a free loopback port with a temporary data dir,
//! killed when dropped. A missing server program skips the test with a
//! message naming the package on a developer machine, and fails it in CI
//! (`CI=true`), where `.ci/run` must have installed it.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct Server {
    child: Child,
    pub name: &'static str,
}

impl Server {
    pub fn spawn(name: &'static str, command: &mut Command) -> Server {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Server { child, name }
    }

    /// Reads the first stdout line (the command must pipe stdout).
    pub fn first_line(&mut self) -> String {
        let mut line = String::new();
        let stdout = self.child.stdout.take().expect("stdout is piped");
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("{}: cannot read its first line: {e}", self.name));
        line.trim().to_string()
    }
}

impl Server {
    /// SIGTERM, then waits for the process to end: a graceful shutdown.
    pub fn terminate(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when `program` runs (`program --version`).
pub fn installed(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Whether the test may run: true when every program is installed. When
/// one is missing, a developer machine skips with a message naming the
/// package; CI (`CI=true`) fails, since `.ci/run` installs them.
pub fn require(test: &str, programs: &[(&str, &str)]) -> bool {
    let missing: Vec<String> = programs
        .iter()
        .filter(|(program, _)| !installed(program))
        .map(|(program, package)| format!("{program} (install the `{package}` package)"))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!("{test} needs {}", missing.join(", "));
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}; .ci/run must install it");
    }
    eprintln!("SKIPPED {message}");
    false
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `url` until it answers 2xx, for at most `limit`.
pub async fn wait_ready(url: &str, limit: Duration) {
    let client = super::http();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(url).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "{url} was not ready within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Held while a test installs packages: tests run in parallel, and two
/// of them installing into the same folder break each other's install.
static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `npm ci` in `dir` unless its node_modules is there already.
pub fn npm_ci(dir: &Path) {
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    if dir.join("node_modules").is_dir() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm runs");
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

/// The python of `dir/.venv` with `dir/requirements.txt` installed, the
/// venv made if missing (`.ci/run` makes it beforehand).
pub fn python_venv(dir: &Path) -> PathBuf {
    let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
    let venv = dir.join(".venv");
    let python = venv.join("bin/python");
    // Made last by pip, so a venv whose install was cut short is redone.
    let installed_marker = venv.join(".requirements-installed");
    if !installed_marker.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(made.success(), "python3 -m venv {} failed", venv.display());
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r"])
            .arg(dir.join("requirements.txt"))
            .status()
            .expect("pip runs");
        assert!(
            installed.success(),
            "pip install -r {}/requirements.txt failed",
            dir.display()
        );
        std::fs::write(&installed_marker, "").expect("the venv is writable");
    }
    python
}

/// The Node.js callback app's folder (tests/apps/acs-callback-app).
pub fn callback_app_dir() -> PathBuf {
    super::repo().join("tests/apps/acs-callback-app")
}

/// The callback app on a free port, configured by `env` (see its
/// server.js); returns it and its base URL. Its packages must be installed
/// ([`npm_ci`]).
pub fn callback_app(env: &[(&str, &str)]) -> (Server, String) {
    let mut command = Command::new("node");
    command
        .arg("server.js")
        .current_dir(callback_app_dir())
        .env("PORT", "0")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut app = Server::spawn("acs-callback-app", &mut command);
    let line = app.first_line();
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the app did not start: {line:?}"))
        .to_string();
    (app, url)
}

/// The time-series databases the tests run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Prometheus,
    VictoriaMetrics,
}

impl Store {
    /// The program and the Debian package it comes in.
    pub fn program(self) -> (&'static str, &'static str) {
        match self {
            Store::Prometheus => ("prometheus", "prometheus"),
            Store::VictoriaMetrics => ("victoria-metrics", "victoria-metrics"),
        }
    }

    /// Where it takes remote write.
    pub fn write_url(self, base: &str) -> String {
        format!("{base}/api/v1/write")
    }

    /// Makes everything it took searchable now. VictoriaMetrics buffers
    /// new samples and makes them searchable in the background (a second
    /// or more later on a busy machine); `/internal/force_flush` does it at
    /// once. Prometheus answers with what it took right away.
    pub async fn flush(self, base: &str) {
        if self == Store::VictoriaMetrics {
            let answer = super::http()
                .get(format!("{base}/internal/force_flush"))
                .send()
                .await
                .expect("VictoriaMetrics answers");
            assert!(
                answer.status().is_success(),
                "force_flush: {}",
                answer.status()
            );
        }
    }
}

/// `store` on `port` with its data under `dir` (kept across restarts),
/// taking remote write, and scraping `scrape` (host:port) every second
/// when given. Returns once it answers its health check.
pub async fn start_store(
    store: Store,
    dir: &Path,
    scrape: Option<&str>,
    port: u16,
) -> (Server, String) {
    start_store_logged(store, dir, scrape, port, None).await
}

/// [`start_store`] with the server's stderr (where both log) appended to
/// `log`, for tests that assert what the server said.
pub async fn start_store_logged(
    store: Store,
    dir: &Path,
    scrape: Option<&str>,
    port: u16,
    log: Option<&Path>,
) -> (Server, String) {
    let config = dir.join("scrape.yml");
    let jobs = scrape.map_or(String::new(), |target| {
        format!("scrape_configs:\n  - job_name: app\n    static_configs:\n      - targets: ['{target}']\n")
    });
    std::fs::write(&config, format!("global:\n  scrape_interval: 1s\n{jobs}")).unwrap();
    let data = dir.join("data");
    let (name, mut command, health) = match store {
        Store::Prometheus => {
            let mut c = Command::new("prometheus");
            c.arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--web.enable-remote-write-receiver");
            ("prometheus", c, "/-/ready")
        }
        Store::VictoriaMetrics => {
            let mut c = Command::new("victoria-metrics");
            if scrape.is_some() {
                c.arg(format!("-promscrape.config={}", config.display()));
            }
            // latencyOffset: by default the newest 30 s are hidden from queries.
            c.arg(format!("-storageDataPath={}", data.display()))
                .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                .arg("-search.latencyOffset=0s");
            ("victoria-metrics", c, "/health")
        }
    };
    let stderr = match log {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
            .into(),
        None => Stdio::null(),
    };
    let server = Server::spawn(name, command.stdout(Stdio::null()).stderr(stderr));
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{url}{health}"), Duration::from_secs(30)).await;
    (server, url)
}

/// Now (Unix seconds), and the minute boundary `hours` before it as a
/// `--start`.
pub fn minute_hours_ago(hours: u64) -> (u64, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = std::time::UNIX_EPOCH + Duration::from_secs((now - hours * 3600) / 60 * 60);
    (now, humantime::format_rfc3339_seconds(start).to_string())
}

/// A fresh `store` holding 300 calls of `scenario` written by `run
/// --target remote-write` from `hours` ago (on a minute boundary), all of
/// it searchable, their expected.json at `expected` (its data dir beside
/// it).
pub async fn written_hours_ago(
    store: Store,
    scenario: &str,
    hours: u64,
    expected: &Path,
) -> (Server, String) {
    let (server, base) = start_store(store, expected.parent().unwrap(), None, free_port()).await;
    let (_, start) = minute_hours_ago(hours);
    super::callmetrics_async(&[
        "run",
        scenario,
        "--target",
        "remote-write",
        "--sink",
        &store.write_url(&base),
        "--quiet",
        "--expected-out",
        expected.to_str().unwrap(),
        "--calls",
        "300",
        "--max-rate",
        "--start",
        &start,
    ])
    .await
    .expect_code(0);
    store.flush(&base).await;
    (server, base)
}

/// `GET /api/v1/query` of `expr` at `time_ms`: the result vector.
pub async fn instant_query(base: &str, expr: &str, time_ms: i64) -> Vec<serde_json::Value> {
    prometheus_api(base, "query", expr, &[("time", seconds(time_ms))]).await
}

/// `GET /api/v1/query_range` of `expr` from `start_ms` to `end_ms` every
/// `step_s` seconds: the result matrix.
pub async fn range_query(
    base: &str,
    expr: &str,
    start_ms: i64,
    end_ms: i64,
    step_s: u32,
) -> Vec<serde_json::Value> {
    let params = [
        ("start", seconds(start_ms)),
        ("end", seconds(end_ms)),
        ("step", step_s.to_string()),
    ];
    prometheus_api(base, "query_range", expr, &params).await
}

fn seconds(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// Asks Prometheus' HTTP API `endpoint` for `expr`; a refused query (a
/// parse error, say) fails the test with Prometheus' answer.
async fn prometheus_api(
    base: &str,
    endpoint: &str,
    expr: &str,
    params: &[(&str, String)],
) -> Vec<serde_json::Value> {
    let mut url = reqwest::Url::parse(&format!("{base}/api/v1/{endpoint}")).unwrap();
    url.query_pairs_mut()
        .append_pair("query", expr)
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    let answer: serde_json::Value = super::http()
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["status"], "success", "{expr}: {answer}");
    answer["data"]["result"].as_array().unwrap().clone()
}

/// One instant query's first value, if the vector is not empty.
pub async fn instant(prometheus: &str, query: &str) -> Option<f64> {
    let mut url = reqwest::Url::parse(&format!("{prometheus}/api/v1/query")).ok()?;
    url.query_pairs_mut().append_pair("query", query);
    let body: Value = crate::common::http()
        .get(url)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Asks `ready` every `every` until it says yes, for at most `within`.
pub async fn until(what: &str, within: Duration, every: Duration, ready: impl AsyncFn() -> bool) {
    let started = Instant::now();
    while !ready().await {
        assert!(started.elapsed() < within, "{what}");
        tokio::time::sleep(every).await;
    }
}

/// Waits until the store holds a scrape of the app taken after `after`.
pub async fn wait_for_scrape_after(prometheus: &str, after: SystemTime) {
    let after = after.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    // timestamp() of a plain selector is the scrape's time (of any other
    // expression, the evaluation time).
    // A scrape of a restarted app may fail while it starts (up 0, yet a
    // scrape after `after`): only a successful one has its counters.
    let scraped = async || {
        let scraped = instant(prometheus, "timestamp(up{job=\"app\"})").await;
        let up = instant(prometheus, "up{job=\"app\"}").await;
        scraped.is_some_and(|t| t > after) && up == Some(1.0)
    };
    let (within, every) = (Duration::from_secs(30), Duration::from_millis(200));
    until("the store did not scrape the app", within, every, scraped).await;
}

/// `check --backend promql --mapping MAPPING --totals` of `expected`
/// against the Prometheus API at `prometheus`, with `extra` flags.
pub async fn check_promql(
    expected: &str,
    prometheus: &str,
    mapping: &Path,
    extra: &[&str],
) -> crate::common::Run {
    let args: Vec<String> = [
        "check",
        "--expected",
        expected,
        "--backend",
        "promql",
        "--observed",
        prometheus,
        "--mapping",
        mapping.to_str().unwrap(),
        "--totals",
    ]
    .iter()
    .chain(extra)
    .map(|a| a.to_string())
    .collect();
    crate::common::callmetrics_async(&args).await
}
