//! Every callback event type, as generated, must parse with the official
//! JavaScript SDK (`@azure/communication-call-automation` 1.6.0,
//! `parseCallAutomationEvent`) into the right kind with its result codes,
//! ids, operation context and participant identifiers intact.
//!
//! Needs `node` (>= 20) and `npm`; the SDK is installed once with npm into
//! `target/tmp/sdk-node-modules/` and reused by later runs. Without node or
//! npm the test fails; set `CALLMETRICS_SKIP_SDK_TEST=1` to skip it.
//!
//! Run: `cargo test --test it servers::sdk_parse -- --nocapture`

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const SDK_PACKAGE: &str = "@azure/communication-call-automation";
const SDK_VERSION: &str = "1.6.0";
const SKIP_VAR: &str = "CALLMETRICS_SKIP_SDK_TEST";
const NPM_TIMEOUT: Duration = Duration::from_secs(300);
const NODE_TIMEOUT: Duration = Duration::from_secs(180);
const GENERATE_TIMEOUT: Duration = Duration::from_secs(120);
/// Enough calls that the fixture's rarest branches (a few percent) show up.
const CALLS: &str = "400";
const SEED: &str = "7";
const EVENT_KINDS: u64 = 33;

#[test]
fn every_callback_event_parses_with_the_javascript_sdk() {
    if std::env::var(SKIP_VAR).is_ok_and(|v| v == "1") {
        eprintln!(
            "SKIPPED sdk_parse: {SKIP_VAR}=1 is set; the JavaScript SDK parse check did not run"
        );
        return;
    }
    let node = tool_version("node");
    let npm = tool_version(npm_program());
    let (node, npm) = match (node, npm) {
        (Ok(node), Ok(npm)) => (node, npm),
        (node, npm) => panic!(
            "sdk_parse needs node (>= 20) and npm on PATH to run the JavaScript SDK check.\n  \
             node: {}\n  npm: {}\nInstall them, or set {SKIP_VAR}=1 to skip this test.",
            node.unwrap_or_else(|e| e),
            npm.unwrap_or_else(|e| e),
        ),
    };
    eprintln!("sdk_parse: node {node}, npm {npm}");

    let node_modules = install_sdk();

    let out = tempfile::tempdir().expect("create a temp dir");
    let fixture = manifest_path("tests/fixtures/all-events.json");
    let mut generate = Command::new(env!("CARGO_BIN_EXE_callmetrics"));
    generate
        .arg("generate")
        .arg(&fixture)
        .args(["--calls", CALLS, "--seed", SEED, "--quiet", "--out"])
        .arg(out.path());
    run_ok(&mut generate, GENERATE_TIMEOUT);
    let events = out.path().join("events.jsonl");
    assert!(
        events.is_file(),
        "callmetrics generate wrote no {}",
        events.display()
    );

    let mut parse = Command::new("node");
    parse
        .arg(manifest_path("tests/sdk/parse-events.cjs"))
        .arg(&events)
        // Realism checks (participant lists, hold state, undeclared fields)
        // fail the test too: the payloads pass them all.
        .arg("--strict")
        .env("NODE_PATH", &node_modules)
        .current_dir(out.path());
    let run = run_ok(&mut parse, NODE_TIMEOUT);
    eprintln!("sdk_parse summary (node parse-events.cjs):\n{}", run.stdout);
    let summary: serde_json::Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "parse-events.cjs printed no JSON summary ({e}):\n{}",
            run.stdout
        )
    });
    assert_eq!(
        summary["kinds"].as_u64(),
        Some(EVENT_KINDS),
        "distinct event kinds parsed:\n{summary:#}"
    );
    assert_eq!(
        summary["failures"].as_u64(),
        Some(0),
        "failed checks:\n{summary:#}\n{}",
        run.stderr
    );
    assert_eq!(
        summary["sdk"].as_str(),
        Some(format!("{SDK_PACKAGE}@{SDK_VERSION}").as_str()),
        "wrong SDK version resolved through NODE_PATH"
    );
}

/// Installs the SDK once per target dir and returns its `node_modules`.
/// Installs go to a fresh directory that is renamed into place only when
/// complete, so an interrupted or concurrent run never sees half an install.
fn install_sdk() -> PathBuf {
    let cache_root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sdk-node-modules");
    let cache = cache_root.join(format!("communication-call-automation-{SDK_VERSION}"));
    if is_complete_install(&cache) {
        eprintln!(
            "sdk_parse: reusing {SDK_PACKAGE}@{SDK_VERSION} from {}",
            cache.display()
        );
        return cache.join("node_modules");
    }
    std::fs::create_dir_all(&cache_root).expect("create the SDK cache dir");
    let staging = tempfile::Builder::new()
        .prefix("installing-")
        .tempdir_in(&cache_root)
        .expect("create an SDK staging dir");
    // A package.json of its own keeps npm from walking up to some parent project.
    std::fs::write(
        staging.path().join("package.json"),
        "{\"name\":\"callmetrics-sdk-parse-test\",\"private\":true}\n",
    )
    .expect("write the staging package.json");
    eprintln!(
        "sdk_parse: npm install {SDK_PACKAGE}@{SDK_VERSION} into {}",
        staging.path().display()
    );
    let mut npm = Command::new(npm_program());
    npm.args(["install", "--no-audit", "--no-fund"])
        .arg(format!("{SDK_PACKAGE}@{SDK_VERSION}"))
        .current_dir(staging.path());
    run_ok(&mut npm, NPM_TIMEOUT);
    assert!(
        is_complete_install(staging.path()),
        "npm install finished but {SDK_PACKAGE}@{SDK_VERSION} is not in {}",
        staging.path().display()
    );
    let staging = staging.keep();
    if std::fs::rename(&staging, &cache).is_err() {
        // Another run finished first (or a stale, broken cache is in the way).
        if !is_complete_install(&cache) {
            let _ = std::fs::remove_dir_all(&cache);
            if std::fs::rename(&staging, &cache).is_ok() {
                return cache.join("node_modules");
            }
        }
        let _ = std::fs::remove_dir_all(&staging);
        if !is_complete_install(&cache) {
            panic!("could not move the SDK install into {}", cache.display());
        }
    }
    cache.join("node_modules")
}

fn is_complete_install(dir: &Path) -> bool {
    let manifest = dir
        .join("node_modules")
        .join(SDK_PACKAGE)
        .join("package.json");
    let Ok(text) = std::fs::read_to_string(manifest) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| v["version"] == SDK_VERSION)
}

fn npm_program() -> &'static str {
    if cfg!(windows) { "npm.cmd" } else { "npm" }
}

fn manifest_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// `program --version`, or why it could not be run.
fn tool_version(program: &str) -> Result<String, String> {
    match Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() => {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        Ok(out) => Err(format!("`{program} --version` exited with {}", out.status)),
        Err(e) => Err(format!("`{program}` could not be started: {e}")),
    }
}

struct Finished {
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to completion within `timeout` and panics with the command,
/// exit status, stdout and stderr unless it succeeded.
fn run_ok(cmd: &mut Command, timeout: Duration) -> Finished {
    let shown = format!("{cmd:?}");
    let (status, stdout, stderr) =
        run_with_timeout(cmd, timeout).unwrap_or_else(|e| panic!("{shown}: {e}"));
    let Some(status) = status else {
        panic!(
            "command timed out after {timeout:?} and was killed\ncommand: {shown}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            truncated(&stdout),
            truncated(&stderr)
        );
    };
    if !status.success() {
        panic!(
            "command failed\ncommand: {shown}\nexit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            status
                .code()
                .map_or_else(|| format!("{status}"), |c| c.to_string()),
            truncated(&stdout),
            truncated(&stderr)
        );
    }
    Finished { stdout, stderr }
}

/// Spawns `cmd` with piped output (drained on threads so a chatty child
/// cannot block) and waits up to `timeout`; `None` status means it was killed.
fn run_with_timeout(
    cmd: &mut Command,
    timeout: Duration,
) -> std::io::Result<(Option<ExitStatus>, String, String)> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // After a kill, a grandchild may still hold the pipes open: give the
    // readers a moment rather than hanging on them.
    let join = |reader: std::thread::JoinHandle<String>| {
        let give_up = Instant::now() + Duration::from_secs(5);
        while status.is_none() && !reader.is_finished() && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(50));
        }
        if status.is_some() || reader.is_finished() {
            reader.join().unwrap_or_default()
        } else {
            "(output unavailable: a child process still holds the pipe)".to_string()
        }
    };
    let stdout = join(out);
    let stderr = join(err);
    Ok((status, stdout, stderr))
}

/// At most the first 200 lines, so a systematic failure stays readable.
fn truncated(text: &str) -> String {
    const MAX_LINES: usize = 200;
    let total = text.lines().count();
    if total <= MAX_LINES {
        return text.to_string();
    }
    let head: Vec<&str> = text.lines().take(MAX_LINES).collect();
    format!(
        "{}\n... ({} more lines)",
        head.join("\n"),
        total - MAX_LINES
    )
}
