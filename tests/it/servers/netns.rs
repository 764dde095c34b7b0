//! The distributed path across network namespaces (`ip netns`): a sink, N
//! generators and the check each in a network stack of its own, running
//! the commands deploy/kubernetes/ gives its pods, then merge and check.
//!
//! The project talks over loopback only, so the namespaces are not joined
//! by veth pairs (those need other addresses): each has only its own `lo`,
//! and the one path between them is a Unix socket that socat bridges to
//! 127.0.0.1:8650 on either side, as a Service forwards to a pod. A
//! generator that is not bridged cannot reach the sink at all (asserted),
//! so what passes here went from one network stack to another.

use crate::common;

use crate::common::servers::require;
use crate::common::{manifest_command, read};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const SHARDS: usize = 3;
const PORT: &str = "8650";

/// Namespaces and the processes in them, all gone when dropped.
struct Hosts {
    names: Vec<String>,
    children: Vec<Child>,
}

impl Hosts {
    /// One namespace per name, `lo` up; `None` when the kernel refuses
    /// (no CAP_SYS_ADMIN: a container without the privilege), which fails
    /// in CI (`CI=true`), where the test must run.
    fn create(names: &[&str]) -> Option<Hosts> {
        remove_stale();
        let tag = std::process::id();
        let mut hosts = Hosts {
            names: Vec::new(),
            children: Vec::new(),
        };
        for name in names {
            let ns = format!("cm{tag}-{name}");
            let added = Command::new("ip")
                .args(["netns", "add", &ns])
                .output()
                .ok()?;
            if !added.status.success() {
                let message = format!(
                    "cannot create network namespaces here ({}); run as root with CAP_SYS_ADMIN",
                    String::from_utf8_lossy(&added.stderr).trim()
                );
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{message}");
                }
                eprintln!("SKIPPED: {message}");
                return None;
            }
            hosts.names.push(ns.clone());
            let up = Command::new("ip")
                .args(["-n", &ns, "link", "set", "lo", "up"])
                .status()
                .unwrap();
            assert!(up.success(), "lo up in {ns}");
        }
        Some(hosts)
    }

    fn ns(&self, name: &str) -> String {
        format!("cm{}-{name}", std::process::id())
    }

    /// `program args` inside namespace `name`.
    fn command(&self, name: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(name), program]);
        c
    }

    /// socat inside `name`, waiting until it listens (socat -d -d says so).
    fn bridge(&mut self, name: &str, listen: &str, connect: &str) {
        let mut child = self
            .command(name, "socat")
            .args(["-d", "-d", listen, connect])
            .stderr(Stdio::piped())
            .spawn()
            .expect("start socat");
        let stderr = child.stderr.take().unwrap();
        self.children.push(child);
        let said = first_line_with(stderr, "listening on");
        assert!(said.is_some(), "socat in {name} did not listen ({listen})");
    }
}

/// Waits (10 s at most) for a line of `from` holding `text`, then keeps
/// reading it in the background so the writer never blocks on a full pipe.
fn first_line_with(from: impl std::io::Read + Send + 'static, text: &str) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let text = text.to_string();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(from).lines();
        for line in lines.by_ref().map_while(Result::ok) {
            if line.contains(&text) {
                let _ = tx.send(line);
                break;
            }
        }
        lines.for_each(drop);
    });
    rx.recv_timeout(std::time::Duration::from_secs(10)).ok()
}

/// Namespaces of earlier runs of this test that were killed before they
/// could clean up (their process is gone).
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let ns = line.split_whitespace().next().unwrap_or_default();
        let pid = ns
            .strip_prefix("cm")
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in &self.names {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}

fn succeeded(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: exit {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn shards_in_separate_network_namespaces_check_green_against_the_merged_file() {
    if !require(
        "the network namespace test",
        &[("ip", "iproute2"), ("socat", "socat")],
    ) {
        return;
    }
    let mut names = vec!["sink", "check"];
    let generators: Vec<String> = (0..SHARDS).map(|i| format!("gen{i}")).collect();
    names.extend(generators.iter().map(String::as_str));
    let Some(mut hosts) = Hosts::create(&names) else {
        return;
    };
    let results = tempfile::tempdir().unwrap();
    let socket = results.path().join("sink.sock");
    let socket = socket.to_str().unwrap();

    // The sink, with deploy/kubernetes/sink.yaml's arguments; its
    // namespace has nothing but loopback, where the wildcard address is.
    let manifest = read(&common::repo().join("deploy/kubernetes/sink.yaml"));
    assert!(
        manifest.contains(r#"args: ["sink", "--listen", "0.0.0.0:8650"]"#),
        "sink.yaml's arguments changed: update this test"
    );
    let mut sink = hosts
        .command("sink", env!("CARGO_BIN_EXE_callmetrics"))
        .args(["sink", "--listen", &format!("127.0.0.1:{PORT}")])
        .env("CALLMETRICS_TOKEN", "change-me")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the sink");
    let stdout = sink.stdout.take().unwrap();
    hosts.children.push(sink);
    let first = first_line_with(stdout, "http://");
    assert!(
        first
            .as_ref()
            .is_some_and(|l| l.contains(&format!("127.0.0.1:{PORT}"))),
        "the sink did not start: {first:?}"
    );

    let generator = manifest_command("generators.yaml", results.path());
    let run_shard = |hosts: &Hosts, i: usize| {
        hosts
            .command(&format!("gen{i}"), "/bin/sh")
            .args(["-c", &generator])
            .env("JOB_COMPLETION_INDEX", i.to_string())
            .env("SHARDS", SHARDS.to_string())
            .env("CALLS", "600")
            .env("RATE", "50/s")
            .env("START", "2026-12-01T10:00:00Z")
            .env("SINK", format!("http://127.0.0.1:{PORT}"))
            .env("CALLMETRICS_TOKEN", "change-me")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a generator")
    };

    // Not bridged yet: from a generator's namespace there is no sink.
    let alone = run_shard(&hosts, 0).wait_with_output().unwrap();
    assert!(!alone.status.success());
    let said = String::from_utf8_lossy(&alone.stderr);
    assert!(
        said.contains("sink not reachable at http://127.0.0.1:8650/ingest"),
        "{said}"
    );

    hosts.bridge(
        "sink",
        &format!("UNIX-LISTEN:{socket},fork"),
        &format!("TCP:127.0.0.1:{PORT}"),
    );
    for name in generators.iter().map(String::as_str).chain(["check"]) {
        hosts.bridge(
            name,
            &format!("TCP-LISTEN:{PORT},bind=127.0.0.1,fork,reuseaddr"),
            &format!("UNIX-CONNECT:{socket}"),
        );
    }
    // The N pods at once, as the Indexed Job runs them; all have ended
    // before any is judged, so none outlives a failure.
    let running: Vec<Child> = (0..SHARDS).map(|i| run_shard(&hosts, i)).collect();
    let ended: Vec<Output> = running
        .into_iter()
        .map(|child| child.wait_with_output().unwrap())
        .collect();
    for (i, out) in ended.iter().enumerate() {
        succeeded(&format!("shard {i}"), out);
        assert!(results.path().join(format!("shard-{i}.json")).exists());
    }

    let check = manifest_command("check.yaml", results.path()).replace(
        "http://callmetrics-sink:8650",
        &format!("http://127.0.0.1:{PORT}"),
    );
    let out = hosts
        .command("check", "/bin/sh")
        .args(["-c", &check])
        .env("CALLMETRICS_TOKEN", "change-me")
        .output()
        .unwrap();
    succeeded("the check Job's command", &out);
    let junit = read(&results.path().join("check.xml"));
    assert!(junit.contains(r#"failures="0""#), "{junit}");
    // It compared the three shards' events: a shard's file alone fails.
    let one = hosts
        .command("check", env!("CARGO_BIN_EXE_callmetrics"))
        .args([
            "check",
            "--expected",
            results.path().join("shard-0.json").to_str().unwrap(),
            "--observed",
            &format!("http://127.0.0.1:{PORT}"),
        ])
        .env("CALLMETRICS_TOKEN", "change-me")
        .output()
        .unwrap();
    assert_eq!(one.status.code(), Some(1), "one shard is not the whole");
}
