//! `validate`: check scenario files and print every problem.

use super::{Outcome, ValidateArgs};
use crate::scenario::{self, ScenarioError};
use std::io::Write;

pub(super) fn run(args: &ValidateArgs) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    let (mut invalid, mut unreadable) = (0, 0);
    let mut skipped = 0;
    for path in &args.files {
        // `validate scenarios/*.json` also matches the shipped schema.
        if path.to_string_lossy().ends_with(".schema.json") {
            skipped += 1;
            writeln!(
                out,
                "{}: skipped (a JSON Schema, not a scenario)",
                path.display()
            )?;
            continue;
        }
        match scenario::load(path) {
            Ok(s) => {
                let flows = s.flows.items().len();
                let plural = if flows == 1 { "" } else { "s" };
                let warnings = match s.warnings.len() {
                    0 => String::new(),
                    1 => ", 1 warning".to_string(),
                    n => format!(", {n} warnings"),
                };
                writeln!(
                    out,
                    "{}: ok ({}, {flows} flow{plural}{warnings})",
                    path.display(),
                    s.name
                )?;
                let mut text = String::new();
                scenario::render(path, &s.warnings, &mut text)?;
                out.write_all(text.as_bytes())?;
            }
            Err(err @ ScenarioError::Unreadable { .. }) => {
                unreadable += 1;
                writeln!(out, "error: {err}")?;
            }
            Err(ScenarioError::Invalid { path, diagnostics }) => {
                invalid += 1;
                let mut text = String::new();
                scenario::render(&path, &diagnostics, &mut text)?;
                out.write_all(text.as_bytes())?;
            }
        }
    }
    let total = args.files.len();
    let valid = total - invalid - unreadable - skipped;
    writeln!(
        out,
        "{valid} valid, {invalid} invalid, {unreadable} unreadable"
    )?;
    out.flush()?;
    if unreadable > 0 {
        anyhow::bail!("{unreadable} of {total} scenario files could not be read");
    }
    Ok(if invalid > 0 {
        Outcome::Fail
    } else {
        Outcome::Pass
    })
}

/// Turns a scenario error into an error message that lists every problem.
/// A scenario's warnings on stderr (generate, run): what the engine does
/// instead of what the file seems to ask.
pub(super) fn warn(scenario: &scenario::Scenario, path: &std::path::Path, quiet: bool) {
    if quiet || scenario.warnings.is_empty() {
        return;
    }
    let mut text = String::new();
    let _ = scenario::render(path, &scenario.warnings, &mut text);
    eprint!("{text}");
}

pub(super) fn explain(err: ScenarioError) -> anyhow::Error {
    match err {
        ScenarioError::Invalid {
            ref path,
            ref diagnostics,
        } => {
            let mut text = String::new();
            let _ = scenario::render(path, diagnostics, &mut text);
            anyhow::anyhow!("{err}\n{}", text.trim_end())
        }
        other => anyhow::Error::new(other),
    }
}
