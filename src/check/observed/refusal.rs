//! A backend's refusal read into a [`CheckError`]: every backend's query
//! API may answer in the Azure error shape (`{"error":{"code":..,
//! "message":..}}`) or with any text, and a refusal for want of
//! credentials says how to give them.

use crate::check::{BackendName, CheckError};
use crate::wire::ErrorBody;
use reqwest::StatusCode;

/// What to do about a refusal for want of credentials.
pub(crate) fn auth_hint(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            "; give its token with --token or CALLMETRICS_TOKEN"
        }
        _ => "",
    }
}

/// The same for Azure Monitor, whose tokens `az` hands out.
fn azure_auth_hint(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => {
            "; give a token with --token or AZURE_ACCESS_TOKEN (az account get-access-token \
             --query accessToken -o tsv)"
        }
        StatusCode::FORBIDDEN => {
            "; the token's identity needs the Monitoring Reader role on the resource"
        }
        _ => "",
    }
}

/// The error of a non-2xx answer from `backend`, with its code and message
/// when it sent the Azure error shape, else the start of its body.
pub(crate) fn sink_error(
    backend: BackendName,
    query: &str,
    status: StatusCode,
    body: &[u8],
) -> CheckError {
    let (code, message) = match ErrorBody::parse(body) {
        Some(ErrorBody { error }) => (error.code, error.message),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let mut short: String = text.chars().take(300).collect();
            if short.len() < text.len() {
                short.push_str("...");
            }
            (String::new(), short)
        }
    };
    let message = if message.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        message
    };
    let hint = match backend {
        BackendName::AzureMonitor => azure_auth_hint(status),
        _ => auth_hint(status),
    };
    CheckError::Sink {
        backend,
        query: query.to_string(),
        status: status.as_u16(),
        code: if code.is_empty() {
            code
        } else {
            format!(", {code}")
        },
        message,
        hint: hint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let err = sink_error(
            BackendName::Sink,
            "APIRequestCallAutomation at PT1M by Operation",
            StatusCode::BAD_REQUEST,
            br#"{"error":{"code":"BadRequest","message":"unknown dimension 'Foo'"}}"#,
        );
        assert_eq!(
            err.to_string(),
            "the sink rejected the query for APIRequestCallAutomation at PT1M by Operation \
             (HTTP 400, BadRequest): unknown dimension 'Foo'"
        );
        let err = sink_error(
            BackendName::Sink,
            "APIRequestCallAutomation at PT1M by Operation",
            StatusCode::UNAUTHORIZED,
            b"",
        );
        assert!(err.to_string().ends_with(
            "(HTTP 401): Unauthorized; give its token with --token or CALLMETRICS_TOKEN"
        ));
    }
}
