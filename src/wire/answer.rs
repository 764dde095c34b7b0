//! The sink's JSON answers: `{"samples":N,"duplicate":B}` when a batch is
//! acknowledged, and the Azure REST error shape
//! `{"error":{"code":"..","message":".."}}` (plus the line and field of a
//! bad sample) when it is refused. The sink writes them; the replay client
//! and `check` read them.

use serde::{Deserialize, Serialize};

/// An acknowledged batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IngestAck {
    /// Samples applied now (0 for a duplicate).
    #[serde(default)]
    pub samples: u64,
    /// The batch's idempotency key was applied before; nothing was counted.
    #[serde(default)]
    pub duplicate: bool,
}

/// A refusal, as Azure REST APIs and the sink send it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    /// The 1-based line (or event) of the body at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The field of that line at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    /// An error whose code is the status's reason phrase without spaces
    /// ("TooManyRequests"), as Azure spells it.
    pub(crate) fn new(status: http::StatusCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: status
                    .canonical_reason()
                    .unwrap_or("Error")
                    .replace(' ', ""),
                message: message.into(),
                line: None,
                field: None,
            },
        }
    }

    /// Reads an error body, wrapped (`{"error":{..}}`, Azure Resource
    /// Manager's and the sink's) or flat (`{"code":..,"message":..}`, what
    /// Azure Monitor's Metrics - List answers); `None` when `body` is
    /// something else.
    pub(crate) fn parse(body: &[u8]) -> Option<ErrorBody> {
        #[derive(Deserialize)]
        struct Flat {
            code: String,
            message: String,
        }
        if let Ok(wrapped) = serde_json::from_slice(body) {
            return Some(wrapped);
        }
        let flat: Flat = serde_json::from_slice(body).ok()?;
        Some(ErrorBody {
            error: ErrorDetail {
                code: flat.code,
                message: flat.message,
                line: None,
                field: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_round_trip() {
        let body = ErrorBody::new(http::StatusCode::TOO_MANY_REQUESTS, "slow down");
        let text = serde_json::to_string(&body).unwrap();
        assert_eq!(
            text,
            r#"{"error":{"code":"TooManyRequests","message":"slow down"}}"#
        );
        assert_eq!(ErrorBody::parse(text.as_bytes()), Some(body));
        assert_eq!(ErrorBody::parse(b"<html>"), None);
        let flat =
            ErrorBody::parse(br#"{"code":"BadRequest","message":"no such metric"}"#).unwrap();
        assert_eq!(
            (flat.error.code.as_str(), flat.error.message.as_str()),
            ("BadRequest", "no such metric")
        );
        assert_eq!(ErrorBody::parse(br#"{"status":"error"}"#), None);
        let ack: IngestAck = serde_json::from_str(r#"{"samples":3,"duplicate":true}"#).unwrap();
        assert!(ack.duplicate && ack.samples == 3);
    }
}
