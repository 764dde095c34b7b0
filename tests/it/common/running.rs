//! The binary running in the background, its stderr read line by line as
//! it comes, for tests that act while it runs (Ctrl-C at a chosen moment)
//! and never wait out a hang (a deadline kills it).

use super::Run;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary, running, with its stderr read line by line as it comes.
pub struct Running {
    command: String,
    child: Child,
    lines: mpsc::Receiver<(Instant, String)>,
    stderr: Arc<Mutex<String>>,
    stdout: std::thread::JoinHandle<String>,
}

impl Running {
    pub fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_callmetrics"))
            .args(args)
            .current_dir(super::repo())
            .env("NO_COLOR", "1")
            .env_remove("CALLMETRICS_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the callmetrics binary runs");
        let err = child.stderr.take().expect("piped stderr");
        let mut out = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        let stderr = Arc::new(Mutex::new(String::new()));
        let all = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut all = all.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send((Instant::now(), line));
            }
        });
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        Running {
            command: format!("callmetrics {}", args.join(" ")),
            child,
            lines,
            stderr,
            stdout,
        }
    }

    /// When the first stderr line containing `text` came, waiting at most
    /// `within` for it.
    pub fn wait_for_line(&mut self, text: &str, within: Duration) -> (Instant, String) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if line.contains(text) => return (at, line),
                Ok(_) => {}
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "no line with {text:?} within {within:?}\ncommand: {}\n--- stderr ---\n{}",
                        self.command,
                        self.stderr.lock().unwrap()
                    );
                }
            }
        }
    }

    /// SIGINT, as a terminal's Ctrl-C sends it.
    pub fn interrupt(&self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }

    /// Waits for the exit, killing the process if it has not exited by
    /// `deadline` (its exit code is then `None`); returns when it exited.
    pub fn finish(mut self, deadline: Duration) -> (Run, Instant) {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for the child") {
                break Some(status);
            }
            if started.elapsed() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let exited = Instant::now();
        let stdout = self.stdout.join().unwrap_or_default();
        // The reader thread ends with the pipe; give it a moment to drain.
        std::thread::sleep(Duration::from_millis(50));
        let mut stderr = self.stderr.lock().unwrap().clone();
        if status.is_none() {
            stderr.push_str(&format!("\n[killed: still running after {deadline:?}]\n"));
        }
        let run = Run {
            command: self.command,
            code: status.and_then(|s| s.code()),
            stdout,
            stderr,
        };
        (run, exited)
    }
}

impl Running {
    /// The URL of the run's `--control` server, from the line it prints
    /// ("control: http://127.0.0.1:PORT ..."), waiting at most `within`.
    pub fn control_url(&mut self, within: Duration) -> String {
        let (_, line) = self.wait_for_line("control: http://", within);
        let at = line.find("http://").expect("the line holds the URL");
        line[at..]
            .split_whitespace()
            .next()
            .expect("a URL")
            .to_string()
    }
}

/// Polls a run's `GET /status` until `ready` holds for it (a product's own
/// signal, never a fixed sleep, times a kill or a restart), at most
/// `within`; returns that status.
pub async fn wait_for_status(
    control: &str,
    what: &str,
    within: Duration,
    ready: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    let client = super::http();
    loop {
        if let Ok(answer) = client.get(format!("{control}/status")).send().await
            && let Ok(status) = answer.json::<serde_json::Value>().await
            && ready(&status)
        {
            return status;
        }
        assert!(Instant::now() < deadline, "no {what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs callmetrics with `args` and `--control 127.0.0.1:0`: once the run
/// has delivered events, `stop` runs (it may first wait for more, e.g. a
/// scrape) and takes its receiver down; once the run has
/// retried or failed a request (so the outage fell inside it), `restart` brings it back. Both
/// moments are read from the run's own status. Returns the finished run
/// and what `restart` made (the new server, to keep it alive).
pub async fn run_through_an_outage<R>(
    args: &[&str],
    stop: impl std::future::Future<Output = ()>,
    restart: impl std::future::Future<Output = R>,
) -> (Run, R) {
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.extend(["--control", "127.0.0.1:0"].map(String::from));
    let (running, control) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut running = Running::start(&args);
        let control = running.control_url(Duration::from_secs(30));
        (running, control)
    })
    .await
    .expect("the run starts");
    let within = Duration::from_secs(30);
    wait_for_status(&control, "delivery", within, |s| {
        s["acknowledged"]["events"].as_u64() > Some(0)
    })
    .await;
    stop.await;
    // A target that retries shows the outage as retries, one that does not
    // (webhook) as failed requests.
    wait_for_status(&control, "retry or failure", within, |s| {
        s["retries"].as_u64() > Some(0) || s["failed"]["requests"].as_u64() > Some(0)
    })
    .await;
    let restarted = restart.await;
    let (run, _) = tokio::task::spawn_blocking(move || running.finish(Duration::from_secs(120)))
        .await
        .expect("the run ends");
    (run, restarted)
}
