//! The error for a name that is not in the catalog, with the closest known
//! name as a suggestion (typos in scenario files are the common case).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownName {
    pub kind: &'static str,
    pub given: String,
    pub suggestion: Option<String>,
}

impl UnknownName {
    pub fn new<'a>(kind: &'static str, given: &str, known: impl Iterator<Item = &'a str>) -> Self {
        let suggestion = known
            .map(|k| {
                (
                    strsim::jaro_winkler(&given.to_lowercase(), &k.to_lowercase()),
                    k,
                )
            })
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k.to_string());
        UnknownName {
            kind,
            given: given.to_string(),
            suggestion,
        }
    }
}

impl fmt::Display for UnknownName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.kind, self.given)?;
        match &self.suggestion {
            Some(s) => write!(f, "; did you mean {s:?}?"),
            None => write!(f, "; `callmetrics catalog` lists the known ones"),
        }
    }
}

impl std::error::Error for UnknownName {}
