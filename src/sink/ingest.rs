//! POST /ingest bodies: NDJSON samples in the events.jsonl line format.
//! Lines are parsed into borrowed structs (no `serde_json::Value`) because
//! JSON parsing is the sink's main cost; the whole batch is parsed and
//! checked before anything is applied, so a bad line rejects all of it.

use super::canonical_line;
use super::sample::{DimensionText, LineError, Sample, failing_field};
use crate::catalog::Metric;
use crate::model::Series;
use crate::wire::parse_millis;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::borrow::Cow;

/// Longest line accepted; longer ones are refused with 413.
pub(super) const MAX_LINE: usize = 1 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    #[serde(borrow)]
    metric: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    dimensions: Dimensions<'a>,
    value: serde_json::Number,
    #[serde(default)]
    latency_ms: Option<u64>,
    // Payloads datasets carry; accepted and not needed for the metrics.
    #[serde(default, rename = "request")]
    _request: Option<IgnoredAny>,
    #[serde(default, rename = "cloudEvent")]
    _cloud_event: Option<IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Dimensions<'a> {
    #[serde(borrow, rename = "Operation")]
    operation: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "StatusCode")]
    status_code: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "StatusCodeClass", alias = "StatusSubClass")]
    status_class: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "ApiVersion")]
    api_version: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "EventTypeName")]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "Code")]
    code: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "CodeClass")]
    code_class: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "SubCode")]
    sub_code: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "Version")]
    version: Option<Cow<'a, str>>,
}

impl Dimensions<'_> {
    fn text(&self) -> DimensionText<'_> {
        DimensionText {
            operation: self.operation.as_deref(),
            status_code: self.status_code.as_deref(),
            status_class: self.status_class.as_deref(),
            api_version: self.api_version.as_deref(),
            event_type: self.event_type.as_deref(),
            code: self.code.as_deref(),
            code_class: self.code_class.as_deref(),
            sub_code: self.sub_code.as_deref(),
            version: self.version.as_deref(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum BodyError {
    #[error("the batch is empty")]
    Empty,
    #[error("line {line} is longer than {MAX_LINE} bytes")]
    LineTooLong { line: usize },
    #[error(transparent)]
    Line(#[from] LineError),
}

/// Parses a whole NDJSON body; any error rejects the batch.
pub(super) fn parse_ndjson(body: &[u8], out: &mut Vec<Sample>) -> Result<(), BodyError> {
    let mut lines = 0;
    // memchr finds the newlines a word at a time: splitting byte by byte
    // showed in profiles.
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', body).chain([body.len()]);
    let pieces = ends.map(|end| {
        let piece = &body[start..end];
        start = end + 1;
        piece
    });
    for (i, raw) in pieces.enumerate() {
        let n = i + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if raw.len() > MAX_LINE {
            return Err(BodyError::LineTooLong { line: n });
        }
        lines += 1;
        parse_line(n, raw, out)?;
    }
    if lines == 0 {
        return Err(BodyError::Empty);
    }
    Ok(())
}

fn parse_line(n: usize, raw: &[u8], out: &mut Vec<Sample>) -> Result<(), LineError> {
    match canonical_line::read(raw) {
        Some(line) => samples(n, &line, Ok(()), out),
        None => parse_line_with_serde(n, raw, out),
    }
}

/// Any line: serde reads it and says what is wrong with it.
fn parse_line_with_serde(n: usize, raw: &[u8], out: &mut Vec<Sample>) -> Result<(), LineError> {
    let text = std::str::from_utf8(raw).map_err(|e| LineError::Malformed {
        line: n,
        field: Some("line".into()),
        message: format!("not UTF-8 (byte {})", e.valid_up_to() + 1),
    })?;
    let line: Line = serde_json::from_str(text).map_err(|e| json_error(n, text, &e))?;
    let value = match line.value.as_u64() {
        Some(1) => Ok(()),
        _ => Err(line.value.to_string()),
    };
    let fields = canonical_line::Fields {
        metric: &line.metric,
        time: &line.time,
        dimensions: line.dimensions.text(),
        latency_ms: line.latency_ms,
    };
    samples(n, &fields, value, out)
}

/// The samples of a read line; `value` is `Err` with the line's value when
/// it is not 1.
fn samples(
    n: usize,
    line: &canonical_line::Fields<'_>,
    value: Result<(), String>,
    out: &mut Vec<Sample>,
) -> Result<(), LineError> {
    let time_ms = parse_millis(line.time).ok_or_else(|| {
        LineError::malformed(
            n,
            "time",
            format!("{:?} is not an RFC 3339 timestamp", line.time),
        )
    })?;
    if let Err(value) = value {
        return Err(LineError::unknown(
            n,
            "value",
            format!("{value} for a Count metric; every sample counts 1"),
        ));
    }
    let dims = &line.dimensions;
    match Metric::from_name(line.metric) {
        Some(Metric::ApiRequests) => {
            let d = dims.request(n)?;
            let latency = line.latency_ms.ok_or_else(|| {
                LineError::malformed(n, "latencyMs", "missing on an API request sample")
            })?;
            if latency > MAX_LATENCY_MS {
                return Err(LineError::unknown(
                    n,
                    "latencyMs",
                    format!(
                        "{latency} is above the longest latency accepted, {MAX_LATENCY_MS} ms \
                         (24 h)"
                    ),
                ));
            }
            out.push(Sample::one(Series::Requests(d), time_ms, 1));
            out.push(Sample::one(Series::Latency(d), time_ms, latency));
        }
        Some(Metric::CallbackEvents) => {
            let d = dims.callback(n)?;
            out.push(Sample::one(Series::Callbacks(d), time_ms, 1));
        }
        Some(Metric::RecordingRequests) => {
            let d = dims.recording(n)?;
            out.push(Sample::one(Series::Recordings(d), time_ms, 1));
        }
        Some(Metric::ApiRequestLatency) => {
            return Err(LineError::unknown(
                n,
                "metric",
                "ApiRequestLatency is derived from the latencyMs of APIRequestCallAutomation samples",
            ));
        }
        None => {
            return Err(LineError::unknown(
                n,
                "metric",
                format!(
                    "unknown metric {:?}; known: APIRequestCallAutomation, APIRequestCallRecording, \
                     AcsCallAutomationCallbackEvent",
                    line.metric
                ),
            ));
        }
    }
    Ok(())
}

/// serde's message names the field for type and missing-field errors;
/// unknown dimension names are a 422 (well-formed, not in the catalog).
fn json_error(n: usize, line: &str, e: &serde_json::Error) -> LineError {
    let text = e.to_string();
    let message = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(m, _)| m)
        .to_string();
    let field = message
        .split('`')
        .nth(1)
        .filter(|_| message.contains("field `"))
        .map(str::to_string);
    if message.starts_with("unknown field") {
        return LineError::Unknown {
            line: n,
            field: field.map(|f| format!("dimensions.{f}")),
            message: format!("unknown dimension: {message}"),
        };
    }
    LineError::Malformed {
        line: n,
        field: field.or_else(|| Some(failing_field::<Line>(line, "line"))),
        message: format!("{message} (column {})", e.column()),
    }
}

/// Whether the canonical reader and serde agree on a line (its samples or
/// its error), for the tests and the `ingest` fuzz target.
pub(super) fn both_readers_agree(n: usize, raw: &[u8]) -> bool {
    let (mut fast, mut serde) = (Vec::new(), Vec::new());
    let fast_result = parse_line(n, raw, &mut fast);
    let serde_result = parse_line_with_serde(n, raw, &mut serde);
    fast_result == serde_result && fast == serde
}

/// Longest API request latency a sample may carry: a day, far beyond any
/// real request, and small enough that no sum of them can overflow.
pub(super) const MAX_LATENCY_MS: u64 = 86_400_000;

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = r#"{"metric":"APIRequestCallAutomation","time":"2026-01-01T00:00:00.005Z","dimensions":{"Operation":"Play","StatusCode":"202","StatusCodeClass":"2xx","ApiVersion":"2025-05-15"},"value":1,"latencyMs":24}"#;

    const CALLBACK: &str = r#"{"metric":"AcsCallAutomationCallbackEvent","time":"2026-01-01T00:00:01.5Z","dimensions":{"EventTypeName":"Microsoft.Communication.PlayFailed","Code":"400","CodeClass":"4xx","SubCode":"8535","Version":"2024-09-15"},"value":1}"#;
    const RECORDING: &str = r#"{"metric":"APIRequestCallRecording","time":"2026-01-01T00:00:02Z","dimensions":{"Operation":"Start Recording","StatusCode":"200","StatusSubClass":"2xx"},"value":1,"latencyMs":0}"#;

    #[test]
    fn the_encoders_lines_take_the_canonical_reader() {
        for line in [REQUEST, CALLBACK, RECORDING] {
            assert!(canonical_line::read(line.as_bytes()).is_some(), "{line}");
        }
    }

    /// Every line one edit away from a canonical one (a byte deleted,
    /// doubled or replaced by one that matters to JSON) means the same to
    /// both readers: the same samples or the same error.
    #[test]
    fn the_canonical_reader_and_serde_agree_on_every_near_miss() {
        let replacements: &[u8] = b"\"\\ ,:{}[]019x-.eE\t\xc3";
        let mut lines = 0;
        for line in [REQUEST, CALLBACK, RECORDING] {
            let line = line.as_bytes();
            for at in 0..line.len() {
                let mut variants = vec![
                    [&line[..at], &line[at + 1..]].concat(),
                    [&line[..=at], &line[at..]].concat(),
                    // A character beyond ASCII, which both take as it is.
                    [&line[..at], "é".as_bytes(), &line[at..]].concat(),
                ];
                for &b in replacements {
                    let mut v = line.to_vec();
                    v[at] = b;
                    variants.push(v);
                }
                for v in variants {
                    lines += 1;
                    assert!(
                        both_readers_agree(1, &v),
                        "readers disagree on {}",
                        String::from_utf8_lossy(&v)
                    );
                }
            }
        }
        assert!(lines > 5_000);
    }

    #[test]
    fn a_request_line_gives_a_count_and_a_latency_sample() {
        let mut out = Vec::new();
        parse_ndjson(REQUEST.as_bytes(), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].aggregate.total, 24);
        assert_eq!(out[0].time_ms, 1_767_225_600_005);
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let mut out = Vec::new();
        let body = format!("{REQUEST}\n{}", REQUEST.replace("\"Play\"", "\"Plya\""));
        let err = parse_ndjson(body.as_bytes(), &mut out).unwrap_err();
        assert!(
            matches!(&err, BodyError::Line(LineError::Unknown { line: 2, field: Some(f), .. }) if f == "dimensions.Operation"),
            "{err:?}"
        );
        let body = REQUEST.replace("\"2xx\"", "\"4xx\"");
        let err = parse_ndjson(body.as_bytes(), &mut out).unwrap_err();
        assert!(err.to_string().contains("does not match code 202"), "{err}");
        let err = parse_ndjson(b"{\"metric\": 3}", &mut out).unwrap_err();
        assert!(
            matches!(err, BodyError::Line(LineError::Malformed { line: 1, .. })),
            "{err:?}"
        );
        assert_eq!(
            parse_ndjson(b"\n\n", &mut out).unwrap_err(),
            BodyError::Empty
        );
    }

    // Issue #9, item 10: two latencies of 2^63 wrapped the total to 0.
    #[test]
    fn latencies_above_a_day_are_refused() {
        let mut out = Vec::new();
        let at = |ms: u64| REQUEST.replace("\"latencyMs\":24", &format!("\"latencyMs\":{ms}"));
        assert!(parse_ndjson(at(MAX_LATENCY_MS).as_bytes(), &mut out).is_ok());
        let err = parse_ndjson(at(1 << 63).as_bytes(), &mut out).unwrap_err();
        assert!(
            matches!(&err, BodyError::Line(LineError::Unknown { field: Some(f), .. }) if f == "latencyMs"),
            "{err:?}"
        );
        assert!(err.to_string().contains("86400000 ms"), "{err}");
    }
}
