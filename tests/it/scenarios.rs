//! The shipped scenarios in `scenarios/`: each one is valid and named after
//! its file, and together they use every listed operation and every callback
//! event type, so a dataset built from them exercises every dimension value.

use callmetrics::testing::catalog::{EventType, Operation};
use callmetrics::testing::engine::{EventKind, EventStream, Workload};
use callmetrics::testing::scenario::{self, Scenario, ScenarioError};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Calls generated per scenario. The rarest event types (RemoveParticipantFailed,
/// CancelAddParticipantFailed) show up 10 to 35 times in 3000 calls whatever
/// the seed, so coverage does not hinge on one lucky draw.
const CALLS: u64 = 3000;

fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// The scenario files in `scenarios/`, sorted; the JSON Schema that sits next
/// to them (`scenario.schema.json`) is not a scenario.
pub(crate) fn shipped() -> Vec<PathBuf> {
    let dir = scenarios_dir();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".json") && !name.ends_with(".schema.json")
        })
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Result<Scenario, String> {
    scenario::load(path).map_err(|err| match &err {
        ScenarioError::Invalid { path, diagnostics } => {
            let mut text = String::new();
            let _ = scenario::render(path, diagnostics, &mut text);
            format!("{err}\n{text}")
        }
        ScenarioError::Unreadable { .. } => err.to_string(),
    })
}

fn workload() -> Workload {
    Workload::calls(1, CALLS, 50.0)
}

fn stem(path: &Path) -> &str {
    path.file_stem().and_then(|s| s.to_str()).unwrap_or("")
}

#[test]
fn at_least_six_scenarios_are_shipped() {
    let files = shipped();
    assert!(
        files.len() >= 6,
        "expected at least 6 scenario files in {}, found {}: {:?}",
        scenarios_dir().display(),
        files.len(),
        files.iter().map(|p| stem(p)).collect::<Vec<_>>()
    );
}

#[test]
fn every_shipped_scenario_is_valid_and_named_after_its_file() {
    let mut problems = Vec::new();
    for path in shipped() {
        match load(&path) {
            Ok(s) => {
                if s.name != stem(&path) {
                    problems.push(format!(
                        "{}: name {:?} differs from the file stem {:?}",
                        path.display(),
                        s.name,
                        stem(&path)
                    ));
                }
                if s.description.as_deref().is_none_or(|d| d.trim().is_empty()) {
                    problems.push(format!(
                        "{}: no description of the app it models",
                        path.display()
                    ));
                }
            }
            Err(message) => problems.push(message),
        }
    }
    assert!(
        problems.is_empty(),
        "shipped scenarios with problems:\n{}",
        problems.join("\n")
    );
}

/// `validate` over the shipped files, as a user runs it: no scenario pins a
/// result (event, code, sub-code) no source documents, since the service
/// never sends one (RecognizeFailed 400/8534 is 500/8534 live).
#[test]
fn validate_finds_no_undocumented_result_in_the_shipped_scenarios() {
    let files: Vec<String> = shipped().iter().map(|p| p.display().to_string()).collect();
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let run = crate::common::callmetrics(&args).expect_code(0);
    assert!(
        !run.stderr.contains("is not a documented result")
            && !run.stdout.contains("is not a documented result"),
        "{}",
        run.describe()
    );
}

/// Operations and event types seen when generating every shipped scenario.
struct Seen {
    operations: BTreeSet<Operation>,
    events: BTreeSet<EventType>,
    /// The `data.version` of callbacks.
    callback_versions: BTreeSet<String>,
}

/// Generated once and shared by the coverage tests.
fn seen() -> &'static Seen {
    static SEEN: OnceLock<Seen> = OnceLock::new();
    SEEN.get_or_init(generate_all)
}

fn generate_all() -> Seen {
    let mut seen = Seen {
        operations: BTreeSet::new(),
        events: BTreeSet::new(),
        callback_versions: BTreeSet::new(),
    };
    let workload = workload();
    for path in shipped() {
        let scenario = load(&path).unwrap_or_else(|message| panic!("{message}"));
        for event in EventStream::new(&scenario, &workload) {
            let version = event.api_version.as_str();
            match event.kind {
                EventKind::Request { operation, .. } => {
                    seen.operations.insert(operation);
                }
                EventKind::Callback { event, .. } => {
                    seen.events.insert(event);
                    seen.callback_versions.insert(version.to_string());
                }
            }
        }
    }
    seen
}

#[test]
fn shipped_scenarios_cover_every_listed_operation_and_event_type() {
    let seen = seen();
    let missing_operations: Vec<&str> = Operation::listed()
        .filter(|op| !seen.operations.contains(op))
        .map(|op| op.name())
        .collect();
    let missing_events: Vec<&str> = EventType::ALL
        .iter()
        .filter(|e| !seen.events.contains(e))
        .map(|e| e.short_name())
        .collect();
    assert!(
        missing_operations.is_empty() && missing_events.is_empty(),
        "the shipped scenarios ({CALLS} calls each, seed 1) never produce\n  \
         {} of the {} listed operations: {missing_operations:?}\n  \
         {} of the {} callback event types: {missing_events:?}\n\
         add them to a scenario in scenarios/",
        missing_operations.len(),
        Operation::listed().count(),
        missing_events.len(),
        EventType::ALL.len(),
    );
}

/// Real callbacks carry previews (live recordings of 2024 and 2025 carry
/// 2023-10-03-preview and 2024-09-01-preview): a pipeline under test sees
/// them too (issue #21).
#[test]
fn shipped_scenarios_send_callbacks_of_preview_versions() {
    let previews: Vec<&String> = seen()
        .callback_versions
        .iter()
        .filter(|v| v.ends_with("-preview"))
        .collect();
    assert!(
        previews.len() >= 2,
        "callback versions of the shipped scenarios: {:?}",
        seen().callback_versions
    );
}

/// The operations beyond the 17 listed ones exist so that every callback can
/// be triggered; the shipped scenarios use each of them too.
#[test]
fn shipped_scenarios_use_every_extra_operation() {
    let seen = seen();
    let missing: Vec<&str> = Operation::ALL
        .iter()
        .filter(|op| !op.info().listed && !seen.operations.contains(op))
        .map(|op| op.name())
        .collect();
    assert!(
        missing.is_empty(),
        "the shipped scenarios ({CALLS} calls each, seed 1) never call these extra operations: {missing:?}"
    );
}
