//! `run --report` and `check --report`: one self-contained HTML file (its
//! styles, script and data inline; it fetches nothing) that draws what a
//! run sent and what the backend stored, per bucket and per dimension
//! value, the run over wall time (rate, latency, lag, retries) and the
//! check's mismatches. `data.rs` turns the run and the check into the
//! page's JSON; `assets/` are the page, its styles and the script that
//! draws it.

mod data;

use crate::catalog::Naming;
use crate::check::{Report, Traffic};
use crate::emit::deliver::{Stats, Timeline};
use std::io::{self, Write};

/// What a page shows.
pub(crate) struct Page<'a> {
    pub title: String,
    /// Lines under the title: scenario, seed, target, files.
    pub meta: Vec<String>,
    pub naming: Naming,
    /// The replay, for `run --report`.
    pub run: Option<Run<'a>>,
    pub check: Checked<'a>,
}

/// A replay's account.
pub(crate) struct Run<'a> {
    pub stats: &'a Stats,
    pub timeline: Option<&'a Timeline>,
}

/// The check's side of the page.
pub(crate) enum Checked<'a> {
    Report(&'a Report),
    /// No comparison (a failed or interrupted run, an external sink
    /// without --check, a check that could not be carried out): why, and
    /// the sent (or expected) side alone.
    Skipped {
        why: String,
        traffic: Vec<Traffic>,
    },
}

const PAGE: &str = include_str!("assets/report.html");
const CSS: &str = include_str!("assets/report.css");
const JS: &str = include_str!("assets/report.js");

/// Writes the page.
pub(crate) fn write(page: &Page, out: &mut dyn Write) -> io::Result<()> {
    let json = serde_json::to_string(&data::page(page)).map_err(io::Error::other)?;
    // `<` only occurs inside JSON strings, where \u003c means the same:
    // nothing in the data can close the script element.
    let json = json.replace('<', "\\u003c");
    let title = escape(&page.title);
    let version = env!("CARGO_PKG_VERSION");
    // One pass over the page: a value holding "{{...}}" stays as it is.
    let mut rest = PAGE;
    while let Some(start) = rest.find("{{") {
        let (before, after) = rest.split_at(start);
        out.write_all(before.as_bytes())?;
        let end = after
            .find("}}")
            .expect("the page's placeholders are closed");
        let value = match &after[2..end] {
            "VERSION" => version,
            "TITLE" => &title,
            "CSS" => CSS.trim_end(),
            "JS" => JS.trim_end(),
            "DATA" => &json,
            other => unreachable!("the page has no placeholder {other}"),
        };
        out.write_all(value.as_bytes())?;
        rest = &after[end + 2..];
    }
    out.write_all(rest.as_bytes())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests;
