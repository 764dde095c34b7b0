//! Running the real binary from tests, with failure messages that show the
//! command, exit code, stdout and stderr (as nextest does).

pub mod fake;
pub mod fake_app;
pub mod recount;
pub mod running;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Run {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn describe(&self) -> String {
        format!(
            "command: {}\nexit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    /// Asserts the exit code and returns self for chaining.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n{}",
            self.describe()
        );
        self
    }
}

/// A reqwest client for tests that talk to servers themselves. The
/// crate's own clients bring their TLS configuration; a plain client needs
/// the process-wide rustls provider, installed here once.
pub fn http() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::new()
}

/// The ring provider as the process default, for reqwest clients built
/// outside callmetrics.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `callmetrics ARGS` from the repository root.
pub fn callmetrics(args: &[&str]) -> Run {
    callmetrics_with_env(args, &[])
}

/// [`callmetrics`] with `env` added to its environment.
pub fn callmetrics_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let output: Output = Command::new(env!("CARGO_BIN_EXE_callmetrics"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("the callmetrics binary runs");
    Run {
        command: format!("callmetrics {}", args.join(" ")),
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// [`callmetrics`] from an async test, on a blocking thread, so the
/// test's own servers keep running meanwhile.
/// The arguments are copied first, so the future can be spawned.
pub fn callmetrics_async<S: AsRef<str>>(
    args: &[S],
) -> impl std::future::Future<Output = Run> + Send + 'static {
    let args: Vec<String> = args.iter().map(|a| a.as_ref().to_string()).collect();
    async move {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            callmetrics(&args)
        })
        .await
        .expect("the callmetrics thread ends")
    }
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The JSON a `--report` page draws from (its callmetrics-data element).
pub fn page_data(html: &Path) -> serde_json::Value {
    let page = read(html);
    let start = page.find(r#"id="callmetrics-data">"#).unwrap() + 22;
    let end = start + page[start..].find("</script>").unwrap();
    serde_json::from_str(&page[start..end]).unwrap()
}

/// `callmetrics sink ARGS` as a child process, killed when dropped so a
/// failing test never leaves a server behind.
pub struct SinkProcess {
    child: std::process::Child,
    pub url: String,
}

impl SinkProcess {
    /// Starts the sink and reads the URL it prints on its first line.
    pub fn start(args: &[&str]) -> SinkProcess {
        SinkProcess::spawn(args, std::process::Stdio::null())
    }

    /// [`SinkProcess::start`] with stderr written to `log` (what the sink
    /// says on start is there once this returns).
    pub fn start_logged(args: &[&str], log: &Path) -> SinkProcess {
        let file = std::fs::File::create(log).expect("create the sink's log file");
        SinkProcess::spawn(args, file.into())
    }

    fn spawn(args: &[&str], stderr: std::process::Stdio) -> SinkProcess {
        use std::io::{BufRead, BufReader};
        let mut child = Command::new(env!("CARGO_BIN_EXE_callmetrics"))
            .arg("sink")
            .args(args)
            .env_remove("CALLMETRICS_TOKEN")
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start the sink");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut first)
            .expect("read the sink's first line");
        let url = first
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"),
            "the sink did not start: {first:?}"
        );
        SinkProcess { child, url }
    }

    /// The address it listens on (host:port of its URL).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.url
            .rsplit('/')
            .next()
            .and_then(|a| a.parse().ok())
            .expect("the sink's URL ends in its address")
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SinkProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The shell command of a manifest's container (its folded `args`), with
/// the image's paths pointed at this checkout and `results`.
pub fn manifest_command(file: &str, results: &Path) -> String {
    let text = read(&repo().join("deploy/kubernetes").join(file));
    let start = text.find("- >-").expect("a folded command") + "- >-".len();
    let end = start + text[start..].find("env:").expect("env after the command");
    let command: Vec<&str> = text[start..end].split_whitespace().collect();
    command
        .join(" ")
        .replace(
            "/usr/share/callmetrics/scenarios",
            repo().join("scenarios").to_str().unwrap(),
        )
        .replace("/results", results.to_str().unwrap())
        .replace("exec callmetrics", env!("CARGO_BIN_EXE_callmetrics"))
        .replace(
            "callmetrics merge",
            &format!("{} merge", env!("CARGO_BIN_EXE_callmetrics")),
        )
        .replace(
            "callmetrics check",
            &format!("{} check", env!("CARGO_BIN_EXE_callmetrics")),
        )
}
