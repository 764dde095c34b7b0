//! ACS access-key authentication, as the official SDKs sign requests
//! (`@azure/communication-common`'s access-key policy, the Python SDK's
//! `HMACCredentialsPolicy`; docs/sources.md): the body's SHA-256 in
//! `x-ms-content-sha256`, an RFC 1123 `x-ms-date`, and
//! `Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=S`
//! where S is base64(HMAC-SHA256(key, "VERB\nPATH?QUERY\nDATE;HOST;HASH")).
//! The host is the `Host` header as received (with its port).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use ring::{digest, hmac};
use std::time::{Duration, SystemTime};

/// The only header list the SDKs sign.
const SIGNED_HEADERS: &str = "x-ms-date;host;x-ms-content-sha256";

/// Why a request's signature was refused: what the summary lists (the
/// app is told only ACS's 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthFailure {
    #[error("no {0} header")]
    Missing(&'static str),
    #[error("x-ms-date {0:?} is not an RFC 1123 date")]
    Date(String),
    #[error("x-ms-date is {0} s away from the emulator's clock (the limit is --clock-skew)")]
    Stale(u64),
    #[error("x-ms-content-sha256 is not the SHA-256 of the body (a changed body)")]
    ContentHash,
    #[error(
        "the Authorization header is not HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature=…"
    )]
    Scheme,
    #[error("the signature does not match the access key (a wrong key, or a changed request)")]
    Signature,
}

/// The access key's bytes, ready to verify signatures with.
pub(crate) struct AccessKey(hmac::Key);

impl AccessKey {
    /// `base64` is the connection string's `accesskey`.
    pub(crate) fn from_base64(base64: &str) -> Result<AccessKey, base64::DecodeError> {
        let bytes = STANDARD.decode(base64.trim())?;
        Ok(AccessKey(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// Verifies one request: its content hash, date (within `skew` of
    /// `now`) and signature.
    pub(crate) fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
        skew: Duration,
    ) -> Result<(), AuthFailure> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(AuthFailure::Missing(name))
        };
        let hash = header("x-ms-content-sha256")?;
        let date = header("x-ms-date")?;
        let host = header("host")?;
        let authorization = header("authorization")?;
        if STANDARD.encode(digest::digest(&digest::SHA256, body)) != hash {
            return Err(AuthFailure::ContentHash);
        }
        let sent = httpdate::parse_http_date(date).map_err(|_| AuthFailure::Date(date.into()))?;
        let away = now
            .duration_since(sent)
            .or_else(|e| Ok::<_, AuthFailure>(e.duration()))?;
        if away > skew {
            return Err(AuthFailure::Stale(away.as_secs()));
        }
        let signature = authorization
            .strip_prefix("HMAC-SHA256 SignedHeaders=")
            .and_then(|rest| rest.split_once("&Signature="))
            .filter(|(signed, _)| signed.eq_ignore_ascii_case(SIGNED_HEADERS))
            .and_then(|(_, signature)| STANDARD.decode(signature).ok())
            .ok_or(AuthFailure::Scheme)?;
        let signed = format!("{method}\n{path_and_query}\n{date};{host};{hash}");
        hmac::verify(&self.0, signed.as_bytes(), &signature).map_err(|_| AuthFailure::Signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderName, HeaderValue};

    /// The key the captured requests were signed with.
    fn key() -> AccessKey {
        AccessKey::from_base64(&STANDARD.encode(b"callmetrics-emulator-test-key-32"))
            .expect("base64")
    }

    struct Captured {
        method: String,
        target: String,
        headers: HeaderMap,
        body: Vec<u8>,
        date: SystemTime,
    }

    /// Requests the official Python and JS SDKs (1.6.0) sent to a loopback
    /// server, signed with `key()` (tests/fixtures/emulator/README.md).
    fn captured() -> Vec<Captured> {
        ["requests-python.json", "requests-js.json"]
            .iter()
            .flat_map(|file| {
                let path = format!(
                    "{}/tests/fixtures/emulator/{file}",
                    env!("CARGO_MANIFEST_DIR")
                );
                let text = std::fs::read_to_string(path).expect("the fixture");
                let all: Vec<serde_json::Value> = serde_json::from_str(&text).expect("JSON");
                all.into_iter().map(|r| {
                    let mut headers = HeaderMap::new();
                    for (name, value) in r["headers"].as_object().expect("headers") {
                        headers.insert(
                            HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
                            HeaderValue::from_str(value.as_str().expect("text")).expect("a value"),
                        );
                    }
                    let date =
                        httpdate::parse_http_date(headers["x-ms-date"].to_str().expect("text"))
                            .expect("a date");
                    let query = r["query"].as_str().unwrap_or("");
                    let path = r["path"].as_str().expect("path");
                    Captured {
                        method: r["method"].as_str().expect("method").into(),
                        target: if query.is_empty() {
                            path.into()
                        } else {
                            format!("{path}?{query}")
                        },
                        headers,
                        body: STANDARD
                            .decode(r["body_base64"].as_str().unwrap_or(""))
                            .expect("base64"),
                        date,
                    }
                })
            })
            .collect()
    }

    const SKEW: Duration = Duration::from_secs(900);

    fn verify(key: &AccessKey, r: &Captured, now: SystemTime) -> Result<(), AuthFailure> {
        key.verify(&r.method, &r.target, &r.headers, &r.body, now, SKEW)
    }

    #[test]
    fn every_request_the_sdks_signed_verifies() {
        let all = captured();
        assert!(all.len() > 60, "both SDKs' requests: {}", all.len());
        for r in &all {
            assert_eq!(
                verify(&key(), r, r.date),
                Ok(()),
                "{} {}",
                r.method,
                r.target
            );
        }
    }

    #[test]
    fn a_changed_body_path_key_or_date_is_refused() {
        let fresh = || {
            captured()
                .into_iter()
                .find(|r| !r.body.is_empty())
                .expect("a body")
        };
        let mut r = fresh();
        r.body[2] ^= 1;
        assert_eq!(verify(&key(), &r, r.date), Err(AuthFailure::ContentHash));
        let r = fresh();
        let wrong = AccessKey::from_base64(&STANDARD.encode(b"another-key")).expect("base64");
        assert_eq!(verify(&wrong, &r, r.date), Err(AuthFailure::Signature));
        let mut r = fresh();
        r.target = r.target.replacen("/calling", "/calling/x", 1);
        assert_eq!(verify(&key(), &r, r.date), Err(AuthFailure::Signature));
        let r = fresh();
        assert_eq!(verify(&key(), &r, r.date + SKEW), Ok(()));
        let late = r.date + SKEW + Duration::from_secs(1);
        assert_eq!(verify(&key(), &r, late), Err(AuthFailure::Stale(901)));
        let early = r.date - SKEW - Duration::from_secs(1);
        assert_eq!(verify(&key(), &r, early), Err(AuthFailure::Stale(901)));
    }

    #[test]
    fn a_missing_header_or_another_scheme_is_named() {
        let mut r = captured().remove(0);
        r.headers.remove("x-ms-date");
        assert_eq!(
            verify(&key(), &r, r.date),
            Err(AuthFailure::Missing("x-ms-date"))
        );
        let mut r = captured().remove(0);
        r.headers
            .insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert_eq!(verify(&key(), &r, r.date), Err(AuthFailure::Scheme));
    }
}
