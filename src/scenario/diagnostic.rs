//! Problems found in a scenario file, each pinned to a JSON path and a
//! line:column, rendered the way compilers do so editors can jump to them.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A JSON path such as `$.flows[0].steps[2].request`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonPath(pub Vec<Segment>);

impl JsonPath {
    pub fn key(&self, key: &str) -> JsonPath {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.to_string()));
        p
    }

    pub fn index(&self, i: usize) -> JsonPath {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }

    /// Converts serde_path_to_error's path; its `?` segments (an untagged
    /// or unknown position) end the path there.
    pub fn from_serde(path: &serde_path_to_error::Path) -> JsonPath {
        use serde_path_to_error::Segment as S;
        let mut out = Vec::new();
        for seg in path.iter() {
            match seg {
                S::Seq { index } => out.push(Segment::Index(*index)),
                S::Map { key } => out.push(Segment::Key(key.clone())),
                S::Enum { variant } => out.push(Segment::Key(variant.clone())),
                S::Unknown => break,
            }
        }
        JsonPath(out)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for seg in &self.0 {
            match seg {
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

/// An error makes the file unusable; a warning says what the engine will
/// do instead of what the file seems to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub path: JsonPath,
    pub message: String,
    pub hint: Option<String>,
    /// 1-based line and column of the value at `path`.
    pub location: Option<(usize, usize)>,
}

impl Diagnostic {
    pub fn new(path: JsonPath, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            path,
            message: message.into(),
            hint: None,
            location: None,
        }
    }

    pub fn warning(path: JsonPath, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::new(path, message)
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Why a scenario could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a valid scenario ({} problem{})", path.display(), diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" })]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

/// Renders diagnostics as `error: ... --> file:line:col (path)` blocks
/// (`warning: ...` for warnings).
pub fn render(file: &Path, diagnostics: &[Diagnostic], out: &mut dyn fmt::Write) -> fmt::Result {
    for d in diagnostics {
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(out, "{severity}: {}", d.message)?;
        match d.location {
            Some((line, col)) => {
                writeln!(out, "  --> {}:{line}:{col} at {}", file.display(), d.path)?
            }
            None => writeln!(out, "  --> {} at {}", file.display(), d.path)?,
        }
        if let Some(hint) = &d.hint {
            writeln!(out, "   = help: {hint}")?;
        }
    }
    Ok(())
}
