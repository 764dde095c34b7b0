//! One metric sample as the sink stores it, and the checks that turn
//! dimension text into catalog values (unknown values are rejected, never
//! counted under a new name).

use crate::catalog::{ApiVersion, EventType, Metric, Operation, StatusClass};
use crate::model::{Aggregate, CallbackDims, RecordingDims, RequestDims, Series};

/// Samples of one series at one time: one event's (count 1), or many
/// already aggregated (an Azure Monitor ingestion document's series).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub series: Series,
    pub time_ms: i64,
    pub aggregate: Aggregate,
}

impl Sample {
    /// One sample of `value`.
    pub fn one(series: Series, time_ms: i64, value: u64) -> Sample {
        Sample {
            series,
            time_ms,
            aggregate: Aggregate::of(value),
        }
    }
}

/// Why a line was refused: malformed (400) or well-formed but naming
/// something the catalog does not know (422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum LineError {
    #[error("line {line}: {message}")]
    Malformed {
        line: usize,
        field: Option<String>,
        message: String,
    },
    #[error("line {line}: {message}")]
    Unknown {
        line: usize,
        field: Option<String>,
        message: String,
    },
}

/// The series the sink's unit tests fill: PlayFailed with `code`, sub-code
/// 8535, the default api-version.
#[cfg(test)]
pub(super) fn play_failed(code: u16) -> Series {
    Series::Callbacks(CallbackDims {
        event: EventType::PlayFailed,
        code,
        sub_code: 8535,
        version: ApiVersion::default_version(),
    })
}

impl LineError {
    pub(super) fn malformed(line: usize, field: &str, message: impl Into<String>) -> LineError {
        LineError::Malformed {
            line,
            field: Some(field.to_string()),
            message: format!("`{field}`: {}", message.into()),
        }
    }

    pub(super) fn unknown(line: usize, field: &str, message: impl Into<String>) -> LineError {
        LineError::Unknown {
            line,
            field: Some(field.to_string()),
            message: format!("`{field}`: {}", message.into()),
        }
    }
}

/// The dimension values of a line, as text.
#[derive(Debug, Default, PartialEq)]
pub(super) struct DimensionText<'a> {
    pub operation: Option<&'a str>,
    pub status_code: Option<&'a str>,
    pub status_class: Option<&'a str>,
    pub api_version: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub code: Option<&'a str>,
    pub code_class: Option<&'a str>,
    pub sub_code: Option<&'a str>,
    pub version: Option<&'a str>,
}

/// The path of the field where `text` stops deserializing as `T`
/// ("data.version", "[2].time"), or `whole` when the text as a whole is
/// wrong (not JSON, the wrong shape). Only called once a fast parse failed,
/// so the path tracking costs nothing on the way that succeeds.
pub(super) fn failing_field<'a, T: serde::Deserialize<'a>>(text: &'a str, whole: &str) -> String {
    let mut de = serde_json::Deserializer::from_str(text);
    let Err(e) = serde_path_to_error::deserialize::<_, T>(&mut de) else {
        return whole.to_string();
    };
    let parent = e.path().to_string();
    let message = e.inner().to_string();
    // A missing field is reported at its parent: name the field itself.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|m| m.split('`').next());
    match (parent.as_str(), missing) {
        ("." | "", Some(name)) => name.to_string(),
        (_, Some(name)) => format!("{parent}.{name}"),
        ("." | "", None) => whole.to_string(),
        _ => parent,
    }
}

/// A number written as the service writes it: digits only, no sign, no
/// leading zero ("202", never "+202" or "0202", which would be another
/// dimension value in any store that keeps the text).
fn canonical(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let digits = !b.is_empty() && b.len() <= 19 && b.iter().all(u8::is_ascii_digit);
    (digits && (b[0] != b'0' || b.len() == 1)).then(|| text.parse().ok())?
}

fn required<'a>(line: usize, name: &str, v: Option<&'a str>) -> Result<&'a str, LineError> {
    v.ok_or_else(|| LineError::malformed(line, &format!("dimensions.{name}"), "missing"))
}

fn status(
    line: usize,
    code_name: &str,
    code: &str,
    class_name: &str,
    class: Option<&str>,
) -> Result<u16, LineError> {
    let field = format!("dimensions.{code_name}");
    let n: u16 = canonical(code)
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| {
            LineError::malformed(
                line,
                &field,
                format!("{code:?} is not a status code (digits only, e.g. \"202\")"),
            )
        })?;
    let derived = StatusClass::of(n).ok_or_else(|| {
        LineError::unknown(line, &field, format!("{n} is not a 2xx/4xx/5xx/6xx code"))
    })?;
    if let Some(class) = class
        && class != derived.as_str()
    {
        let field = format!("dimensions.{class_name}");
        return Err(LineError::unknown(
            line,
            &field,
            format!("{class:?} does not match code {n} (its class is {derived})"),
        ));
    }
    Ok(n)
}

fn version(line: usize, name: &str, v: &str) -> Result<ApiVersion, LineError> {
    v.parse().map_err(|e: crate::catalog::UnknownName| {
        LineError::unknown(line, &format!("dimensions.{name}"), e.to_string())
    })
}

impl DimensionText<'_> {
    pub(super) fn request(&self, line: usize) -> Result<RequestDims, LineError> {
        let operation = self.operation(line, Metric::ApiRequests)?;
        let status = self.request_status(line)?;
        let version = version(
            line,
            "ApiVersion",
            required(line, "ApiVersion", self.api_version)?,
        )?;
        Ok(RequestDims {
            operation,
            status,
            version,
        })
    }

    /// A request to the recording routes (APIRequestCallRecording: no
    /// ApiVersion).
    pub(super) fn recording(&self, line: usize) -> Result<RecordingDims, LineError> {
        let operation = self.operation(line, Metric::RecordingRequests)?;
        let status = self.request_status(line)?;
        Ok(RecordingDims { operation, status })
    }

    /// StatusCode, agreeing with StatusCodeClass when that is given.
    fn request_status(&self, line: usize) -> Result<u16, LineError> {
        status(
            line,
            "StatusCode",
            required(line, "StatusCode", self.status_code)?,
            "StatusCodeClass",
            self.status_class,
        )
    }

    /// The Operation, which must be one `metric` counts.
    fn operation(&self, line: usize, metric: Metric) -> Result<Operation, LineError> {
        let op = required(line, "Operation", self.operation)?;
        let operation: Operation = op.parse().map_err(|e: crate::catalog::UnknownName| {
            LineError::unknown(line, "dimensions.Operation", e.to_string())
        })?;
        if operation.metric() != metric {
            return Err(LineError::unknown(
                line,
                "dimensions.Operation",
                format!(
                    "{operation} requests are counted in {}, not {}",
                    operation.metric().name(),
                    metric.name()
                ),
            ));
        }
        Ok(operation)
    }

    pub(super) fn callback(&self, line: usize) -> Result<CallbackDims, LineError> {
        let name = required(line, "EventTypeName", self.event_type)?;
        let event: EventType = name.parse().map_err(|e: crate::catalog::UnknownName| {
            LineError::unknown(line, "dimensions.EventTypeName", e.to_string())
        })?;
        let code = status(
            line,
            "Code",
            required(line, "Code", self.code)?,
            "CodeClass",
            self.code_class,
        )?;
        let sub = required(line, "SubCode", self.sub_code)?;
        let sub_code: u32 = canonical(sub)
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| {
                LineError::malformed(
                    line,
                    "dimensions.SubCode",
                    format!("{sub:?} is not a sub-code (digits only, e.g. \"8535\")"),
                )
            })?;
        let version = version(line, "Version", required(line, "Version", self.version)?)?;
        Ok(CallbackDims {
            event,
            code,
            sub_code,
            version,
        })
    }
}
