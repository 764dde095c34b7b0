//! Scenario files: parse, validate and compile them into the plan the engine
//! runs. Structural problems (syntax, wrong types, unknown names) stop at the
//! first one, as serde reports them; semantic problems are all collected.

mod compile;
mod diagnostic;
mod locate;
mod model;
mod names;
pub(crate) mod plan;
mod quantiles;
mod validate;
mod versions;

pub use diagnostic::ScenarioError;
pub use diagnostic::render;
pub(crate) use diagnostic::{Diagnostic, JsonPath, Severity};
pub(crate) use locate::locate;
pub(crate) use model::RecognitionType;
pub use plan::Scenario;
pub(crate) use validate::MAX_DELAY;

use sha2::{Digest, Sha256};
use std::path::Path;

/// Reads, validates and compiles a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|source| ScenarioError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &bytes)
}

/// Validates and compiles scenario bytes; `path` is used in messages only.
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Scenario, ScenarioError> {
    let invalid = |diagnostics| ScenarioError::Invalid {
        path: path.to_path_buf(),
        diagnostics,
    };
    // Editors on Windows start UTF-8 files with a byte order mark.
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let bom = bytes.len() - text.len();
    let text = std::str::from_utf8(text).map_err(|e| {
        let (line, col) = locate::line_col_of_offset(bytes, bom + e.valid_up_to());
        invalid(vec![Diagnostic {
            location: Some((line, col)),
            ..Diagnostic::new(JsonPath::default(), "the file is not valid UTF-8")
                .hint("save the scenario as UTF-8 text")
        }])
    })?;
    let file = deserialize(text).map_err(|d| invalid(vec![d]))?;
    let mut diagnostics = validate::validate(&file);
    for d in &mut diagnostics {
        d.location = Some(locate::locate(text, &d.path));
    }
    let (errors, warnings): (Vec<_>, Vec<_>) = diagnostics
        .into_iter()
        .partition(|d| d.severity == Severity::Error);
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let sha256 = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut scenario = compile::compile(&file, sha256);
    scenario.warnings = warnings;
    Ok(scenario)
}

fn deserialize(text: &str) -> Result<model::ScenarioFile, Diagnostic> {
    let de = &mut serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize(&mut *de) {
        // Trailing text after the document is an error too.
        Ok(file) => de
            .end()
            .map(|_| file)
            .map_err(|e| serde_diagnostic(JsonPath::default(), &e)),
        Err(err) => Err(serde_diagnostic(
            JsonPath::from_serde(err.path()),
            err.inner(),
        )),
    }
}

fn serde_diagnostic(path: JsonPath, err: &serde_json::Error) -> Diagnostic {
    let message = err.to_string();
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(m, _)| m)
        .to_string();
    let hint = match err.classify() {
        serde_json::error::Category::Eof => {
            "the file ends too early: look for a missing `}`, `]` or `\"`"
        }
        serde_json::error::Category::Syntax => {
            "fix the JSON syntax here (a missing comma or quote, or a trailing comma)"
        }
        serde_json::error::Category::Data
            if message.starts_with("unknown ")
                && !message.starts_with("unknown field")
                && !message.starts_with("unknown variant") =>
        {
            "`callmetrics catalog` lists every known value"
        }
        serde_json::error::Category::Data if message.contains("duration") => {
            "durations look like \"250ms\", \"2s\" or \"1m 30s\""
        }
        serde_json::error::Category::Data => "see `callmetrics schema` for the expected shape",
        serde_json::error::Category::Io => "the file could not be read completely",
    };
    Diagnostic {
        location: Some((err.line(), err.column())),
        ..Diagnostic::new(path, message).hint(hint)
    }
}

/// The JSON Schema of scenario files, pretty-printed with a final newline.
pub(crate) fn schema() -> String {
    let schema = schemars::schema_for!(model::ScenarioFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}
