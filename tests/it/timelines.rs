//! Issue #21: each call's events, read from a shipped scenario's dataset in
//! the order they happen, tell one consistent story: rosters and sequence
//! numbers follow time, every setup attempt has a connection of its own,
//! and a ParticipantsUpdated only
//! rarely comes just before its CallConnected.

use crate::common::{callmetrics, read, repo};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Calls per shipped scenario, as the audit of the issue generated.
const CALLS: &str = "2000";
/// One line of a dataset, as much of it as these tests read.
struct Line {
    time_ms: i64,
    kind: Kind,
}

enum Kind {
    Request { operation: String, status: u64 },
    Callback { event: String, data: Value },
}

/// A shipped scenario's dataset: its name and its lines by
/// callConnectionId, each connection's in time order.
struct Dataset {
    scenario: String,
    connections: BTreeMap<String, Vec<Line>>,
}

fn shipped() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".schema.json"))
        .collect();
    files.sort();
    files
}

/// Generated once, shared by the tests of this module.
fn datasets() -> &'static [Dataset] {
    static DATASETS: OnceLock<Vec<Dataset>> = OnceLock::new();
    DATASETS.get_or_init(|| shipped().iter().map(|p| generate(p)).collect())
}

fn generate(scenario: &Path) -> Dataset {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let path = scenario.to_str().unwrap();
    callmetrics(&[
        "generate",
        path,
        "--calls",
        CALLS,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ])
    .expect_code(0);
    let mut connections: BTreeMap<String, Vec<Line>> = BTreeMap::new();
    for text in read(&out.join("events.jsonl")).lines() {
        let v: Value = serde_json::from_str(text).unwrap();
        let (connection, line) = parse(v);
        connections.entry(connection).or_default().push(line);
    }
    Dataset {
        scenario: path.rsplit('/').next().unwrap_or(path).to_string(),
        connections,
    }
}

fn parse(mut v: Value) -> (String, Line) {
    let time = v["time"].as_str().unwrap();
    let time_ms = humantime::parse_rfc3339(time)
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let short = |name: &str| {
        name.trim_start_matches("Microsoft.Communication.")
            .to_string()
    };
    if let Some(operation) = v["dimensions"]["Operation"].as_str() {
        let request = &v["request"];
        let line = Line {
            time_ms,
            kind: Kind::Request {
                operation: operation.to_string(),
                status: request["status"].as_u64().unwrap(),
            },
        };
        return (
            request["callConnectionId"].as_str().unwrap().to_string(),
            line,
        );
    }
    let event = short(v["dimensions"]["EventTypeName"].as_str().unwrap());
    let data = v["cloudEvent"]["data"].take();
    let connection = data["callConnectionId"].as_str().unwrap().to_string();
    (
        connection,
        Line {
            time_ms,
            kind: Kind::Callback { event, data },
        },
    )
}

fn raw_id(identifier: &Value) -> String {
    identifier["rawId"].as_str().unwrap().to_string()
}

/// Who is in a connection, from its membership callbacks.
struct Membership {
    count: i64,
    joined: Vec<String>,
    left: Vec<String>,
}

impl Membership {
    /// The caller and the app.
    fn new() -> Membership {
        Membership {
            count: 2,
            joined: Vec::new(),
            left: Vec::new(),
        }
    }

    fn apply(&mut self, event: &str, data: &Value) {
        let who = || raw_id(&data["participant"]);
        match event {
            "AddParticipantSucceeded" | "MoveParticipantSucceeded" => {
                self.count += 1;
                self.joined.push(who());
            }
            "RemoveParticipantSucceeded" => {
                self.count -= 1;
                let who = who();
                self.joined.retain(|j| *j != who);
                self.left.push(who);
            }
            _ => {}
        }
    }

    /// What is wrong with a ParticipantsUpdated roster, if anything.
    fn contradicted_by(&self, roster: &[String]) -> Option<String> {
        if roster.len() as i64 != self.count {
            return Some(format!(
                "{} participants where membership events imply {}",
                roster.len(),
                self.count
            ));
        }
        if let Some(missing) = self.joined.iter().find(|j| !roster.contains(j)) {
            return Some(format!("{missing} joined but is not in the roster"));
        }
        if let Some(back) = self.left.iter().find(|l| roster.contains(l)) {
            return Some(format!("{back} was removed but is in the roster"));
        }
        None
    }
}

/// Problems of one connection's ParticipantsUpdated and tone sequences.
fn roster_problems(lines: &[Line]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut membership = Membership::new();
    let (mut last_sequence, mut last_tone) = (0, 0);
    for line in lines {
        let Kind::Callback { event, data } = &line.kind else {
            continue;
        };
        membership.apply(event, data);
        match event.as_str() {
            "ParticipantsUpdated" => {
                let sequence = data["sequenceNumber"].as_u64().unwrap();
                if sequence <= last_sequence {
                    problems.push(format!(
                        "sequenceNumber {sequence} at {} after {last_sequence}",
                        line.time_ms
                    ));
                }
                last_sequence = sequence;
                let roster: Vec<String> = data["participants"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| raw_id(&p["identifier"]))
                    .collect();
                if let Some(problem) = membership.contradicted_by(&roster) {
                    problems.push(format!("sequenceNumber {sequence}: {problem}"));
                }
            }
            "ContinuousDtmfRecognitionToneReceived" => {
                let id = data["sequenceId"].as_u64().unwrap();
                if id <= last_tone {
                    problems.push(format!("tone sequenceId {id} after {last_tone}"));
                }
                last_tone = id;
            }
            _ => {}
        }
    }
    problems
}

/// Fails with the first problems found, by scenario and connection.
fn assert_none(what: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{what}: {} problems, first ones:\n{}",
        problems.len(),
        problems[..problems.len().min(10)].join("\n")
    );
}

#[test]
fn participants_updated_follow_time_and_membership() {
    let mut problems = Vec::new();
    for dataset in datasets() {
        for (id, lines) in &dataset.connections {
            for problem in roster_problems(lines) {
                problems.push(format!("{} {id}: {problem}", dataset.scenario));
            }
        }
    }
    assert_none("rosters against time", problems);
}

fn is_setup(operation: &str) -> bool {
    matches!(operation, "Create Call" | "Answer Call" | "Connect")
}

/// Problems of one callConnectionId's setup: at most one attempt made it,
/// a refused attempt's id is seen nowhere else, a failed connection never
/// connects.
fn setup_problems(lines: &[Line]) -> Vec<String> {
    let mut problems = Vec::new();
    let setups: Vec<u64> = lines
        .iter()
        .filter_map(|l| match &l.kind {
            Kind::Request { operation, status } if is_setup(operation) => Some(*status),
            _ => None,
        })
        .collect();
    if setups.len() > 1 {
        problems.push(format!("{} setup requests: {setups:?}", setups.len()));
    }
    if setups.iter().any(|&s| s >= 300) && lines.len() > 1 {
        problems.push(format!(
            "a refused setup's id is on {} more lines",
            lines.len() - 1
        ));
    }
    let mut failed = false;
    let mut connected = 0;
    for line in lines {
        if let Kind::Callback { event, .. } = &line.kind {
            match event.as_str() {
                "ConnectFailed" | "CreateCallFailed" | "AnswerFailed" => failed = true,
                "CallConnected" if failed => problems.push("CallConnected after a failure".into()),
                "CallConnected" => connected += 1,
                _ => {}
            }
        }
    }
    if connected > 1 {
        problems.push(format!("{connected} CallConnected"));
    }
    problems
}

#[test]
fn each_setup_attempt_has_a_connection_of_its_own() {
    let mut problems = Vec::new();
    for dataset in datasets() {
        for (id, lines) in &dataset.connections {
            for problem in setup_problems(lines) {
                problems.push(format!("{} {id}: {problem}", dataset.scenario));
            }
        }
    }
    assert_none("connections", problems);
}

#[test]
fn a_participants_updated_comes_before_call_connected_only_rarely_and_just_before() {
    let (mut connected, mut early) = (0, 0);
    let mut problems = Vec::new();
    for dataset in datasets() {
        for (id, lines) in &dataset.connections {
            let event_at = |name: &str| {
                lines
                    .iter()
                    .position(|l| matches!(&l.kind, Kind::Callback { event, .. } if event == name))
            };
            let (Some(at), Some(update)) =
                (event_at("CallConnected"), event_at("ParticipantsUpdated"))
            else {
                continue;
            };
            connected += 1;
            if update < at {
                early += 1;
                let by = lines[at].time_ms - lines[update].time_ms;
                if by > 100 {
                    problems.push(format!("{} {id}: {by} ms early", dataset.scenario));
                }
            }
        }
    }
    assert_none("early updates", problems);
    let share = early as f64 / connected as f64;
    assert!(
        (0.005..0.05).contains(&share),
        "{early} of {connected} connected calls ({:.2} %) have a ParticipantsUpdated before CallConnected; about 2 % should",
        share * 100.0
    );
}
