//! JUnit XML for CI: one test suite per metric and grain, one test case per
//! dimension set (full combinations, each dimension, total). A failing case
//! carries its first mismatches in the same text as the table report.
//! `run` adds suites of its own (its thresholds) to the same document.

use super::text::{count, group_title, write_mismatches};
use crate::check::report::{AVERAGE_ULPS, GroupSummary, Report};
use std::io::{self, Write};

/// A test suite from outside the check, as `run --threshold`'s.
pub(crate) struct JunitSuite {
    pub name: String,
    pub cases: Vec<JunitCase>,
}

pub(crate) struct JunitCase {
    pub classname: String,
    pub name: String,
    /// The failure's one-line message, when the case failed.
    pub failure: Option<String>,
}

pub(crate) fn junit<W: Write + ?Sized>(
    report: &Report,
    max_mismatches: usize,
    out: &mut W,
) -> io::Result<()> {
    junit_document(Some(report), max_mismatches, &[], out)
}

/// One document of the check's suites (when there is a check) and `extra`.
pub(crate) fn junit_document<W: Write + ?Sized>(
    report: Option<&Report>,
    max_mismatches: usize,
    extra: &[JunitSuite],
    out: &mut W,
) -> io::Result<()> {
    let groups = report.map_or(&[][..], |r| r.groups.as_slice());
    let extra_cases = extra.iter().flat_map(|s| &s.cases);
    let tests = groups.len() + extra_cases.clone().count();
    let failures = groups.iter().filter(|g| !g.passed()).count()
        + extra_cases.filter(|c| c.failure.is_some()).count();
    let name = if extra.is_empty() {
        "callmetrics check"
    } else {
        "callmetrics run"
    };
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="{name}" tests="{tests}" failures="{failures}" errors="0">"#
    )?;
    if let Some(report) = report {
        check_suites(report, max_mismatches, out)?;
    }
    for suite in extra {
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{}" errors="0" skipped="0">"#,
            escape(&suite.name),
            suite.cases.len(),
            suite.cases.iter().filter(|c| c.failure.is_some()).count()
        )?;
        for case in &suite.cases {
            let open = format!(
                r#"    <testcase classname="{}" name="{}""#,
                escape(&case.classname),
                escape(&case.name)
            );
            match &case.failure {
                None => writeln!(out, "{open}/>")?,
                Some(message) => {
                    let message = escape(message);
                    writeln!(out, "{open}>")?;
                    writeln!(
                        out,
                        r#"      <failure type="threshold" message="{message}">{message}</failure>"#
                    )?;
                    writeln!(out, "    </testcase>")?;
                }
            }
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

fn check_suites<W: Write + ?Sized>(
    report: &Report,
    max_mismatches: usize,
    out: &mut W,
) -> io::Result<()> {
    for suite in report
        .groups
        .chunk_by(|a, b| (a.key.metric, a.key.grain) == (b.key.metric, b.key.grain))
    {
        let key = suite[0].key;
        writeln!(
            out,
            r#"  <testsuite name="{} {}" tests="{}" failures="{}" errors="0" skipped="0">"#,
            key.metric,
            key.span(),
            suite.len(),
            suite.iter().filter(|g| !g.passed()).count()
        )?;
        writeln!(out, "    <properties>")?;
        let tolerance = report
            .tolerance
            .map_or_else(|| "exact".to_string(), |t| t.to_string());
        writeln!(
            out,
            r#"      <property name="tolerance" value="{tolerance}"/>"#
        )?;
        writeln!(
            out,
            r#"      <property name="average_ulps" value="{AVERAGE_ULPS}"/>"#
        )?;
        writeln!(out, "    </properties>")?;
        for group in suite {
            case(report, group, max_mismatches, out)?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    Ok(())
}

/// The JUnit document of a check that could not be carried out (exit 2):
/// one test case whose error says `why`, so a CI test publisher shows the
/// cause instead of "no test results".
pub(crate) fn junit_error<W: Write + ?Sized>(why: &str, out: &mut W) -> io::Result<()> {
    let why = escape(why);
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="callmetrics check" tests="1" failures="0" errors="1">"#
    )?;
    writeln!(
        out,
        r#"  <testsuite name="callmetrics check" tests="1" failures="0" errors="1" skipped="0">"#
    )?;
    writeln!(
        out,
        r#"    <testcase classname="callmetrics.check" name="the check could be carried out">"#
    )?;
    writeln!(
        out,
        r#"      <error type="check error" message="{why}">{why}</error>"#
    )?;
    writeln!(out, "    </testcase>")?;
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

fn case<W: Write + ?Sized>(
    report: &Report,
    group: &GroupSummary,
    max_mismatches: usize,
    out: &mut W,
) -> io::Result<()> {
    let key = group.key;
    let open = format!(
        r#"    <testcase classname="{}.{}" name="{}""#,
        key.metric,
        key.span(),
        escape(&key.split.describe(key.metric, report.naming))
    );
    if group.passed() {
        return writeln!(out, "{open}/>");
    }
    let message = format!(
        "{} in {}",
        count(group.counts.mismatches(), "mismatch", "mismatches"),
        count(group.counts.cells, "cell", "cells")
    );
    let first = report.mismatches.partition_point(|m| m.key < key);
    let all = report.mismatches[first..].partition_point(|m| m.key == key);
    let shown = &report.mismatches[first..first + all.min(max_mismatches)];
    let mut body = Vec::new();
    writeln!(body, "{}", group_title(&key, report.naming))?;
    write_mismatches(report, shown, "", false, &mut body)?;
    if all > shown.len() {
        writeln!(body, "...and {} more", all - shown.len())?;
    }
    writeln!(out, "{open}>")?;
    writeln!(
        out,
        r#"      <failure type="mismatch" message="{}">{}</failure>"#,
        escape(&message),
        escape(String::from_utf8_lossy(&body).trim_end())
    )?;
    writeln!(out, "    </testcase>")
}

/// Escapes text for XML attributes and character data.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry other control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_is_one_test_case_with_its_cause() {
        let mut out = Vec::new();
        super::junit_error("cannot query Prometheus at http://x/?a=1&b=<2>", &mut out).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(
            xml.contains(r#"tests="1" failures="0" errors="1">"#),
            "{xml}"
        );
        assert_eq!(xml.matches("<testcase ").count(), 1, "{xml}");
        assert!(
            xml.contains(
                r#"<error type="check error" message="cannot query Prometheus at http://x/?a=1&amp;b=&lt;2&gt;">"#
            ),
            "{xml}"
        );
    }

    #[test]
    fn extra_suites_are_test_cases_of_their_own() {
        let suite = super::JunitSuite {
            name: "callmetrics run thresholds".into(),
            cases: vec![
                super::JunitCase {
                    classname: "callmetrics.run.threshold".into(),
                    name: "latency.p99<250ms".into(),
                    failure: None,
                },
                super::JunitCase {
                    classname: "callmetrics.run.threshold".into(),
                    name: "failed<0.1%".into(),
                    failure: Some("observed 0.500%".into()),
                },
            ],
        };
        let mut out = Vec::new();
        super::junit_document(None, 20, &[suite], &mut out).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(
            xml.contains(
                r#"<testsuites name="callmetrics run" tests="2" failures="1" errors="0">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(
                r#"<testcase classname="callmetrics.run.threshold" name="latency.p99&lt;250ms"/>"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure type="threshold" message="observed 0.500%">"#),
            "{xml}"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            super::escape(r#"a<b & "c" 'd'>"#),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"
        );
    }
}
