//! A request's body: received within the sink's deadline, `--max-body` and
//! the memory budget (`budget.rs`), then decoded (gzip) within the budget
//! too; or why not.

use super::SinkConfig;
use super::budget::{BodyBudget, BudgetedBuffer, OverBudget};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use std::io::Read;
use std::time::Duration;

/// Why a body was not taken.
#[derive(Debug, thiserror::Error)]
pub(super) enum BodyRefusal {
    #[error("the body is larger than {0} bytes (--max-body)")]
    Declared(usize),
    #[error("the body is larger than {0} bytes (--max-body), or broke off")]
    TooLargeOrBroken(usize),
    #[error("the body did not arrive within {0:?}")]
    Late(Duration),
    #[error("unsupported Content-Encoding {0:?}; use gzip or none")]
    Encoding(String),
    #[error("invalid gzip body: {0}")]
    Gzip(std::io::Error),
    #[error("the gzip body inflates past {0} bytes")]
    Inflates(usize),
    #[error(
        "the sink holds {0} bytes of request bodies already (--max-inflight-bytes); retry shortly"
    )]
    Busy(usize),
    #[error(
        "the body (inflated, if gzip) takes more than the sink's whole budget for bodies, {0} \
         bytes (--max-inflight-bytes)"
    )]
    LargerThanBudget(usize),
}

impl BodyRefusal {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            BodyRefusal::Declared(_)
            | BodyRefusal::TooLargeOrBroken(_)
            | BodyRefusal::Inflates(_)
            | BodyRefusal::LargerThanBudget(_) => StatusCode::PAYLOAD_TOO_LARGE,
            BodyRefusal::Late(_) => StatusCode::REQUEST_TIMEOUT,
            BodyRefusal::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            BodyRefusal::Gzip(_) => StatusCode::BAD_REQUEST,
            BodyRefusal::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn over_budget(e: OverBudget, config: &SinkConfig) -> BodyRefusal {
        match e {
            OverBudget::Busy => BodyRefusal::Busy(config.max_inflight_bytes),
            OverBudget::TooLarge => BodyRefusal::LargerThanBudget(config.max_inflight_bytes),
        }
    }
}

/// Receives a body. The budget is reserved as the bytes arrive, not by the
/// declared length, so connections that declare big bodies and send nothing
/// hold none of it; a body that would take the bodies in memory past
/// `--max-inflight-bytes` is refused (503, retry later).
pub(super) async fn receive(
    config: &SinkConfig,
    budget: &BodyBudget,
    headers: &HeaderMap,
    mut body: Body,
) -> Result<BudgetedBuffer, BodyRefusal> {
    let max = config.max_body;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        discard(body, max.saturating_mul(4).max(16 << 20)).await;
        return Err(BodyRefusal::Declared(max));
    }
    let mut received = budget.buffer(declared.unwrap_or(max));
    // What is left of the deadline, frame by frame (any --body-timeout,
    // however long, without overflowing an Instant).
    let started = tokio::time::Instant::now();
    loop {
        let left = config.body_timeout.saturating_sub(started.elapsed());
        let frame = match tokio::time::timeout(left, body.frame()).await {
            Ok(None) => {
                received.shrink_to_fit();
                return Ok(received);
            }
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(_))) => return Err(BodyRefusal::TooLargeOrBroken(max)),
            Err(_) => return Err(BodyRefusal::Late(config.body_timeout)),
        };
        let Some(data) = frame.data_ref() else {
            continue;
        };
        if received.len().saturating_add(data.len()) > max {
            return Err(BodyRefusal::TooLargeOrBroken(max));
        }
        if let Err(e) = received.extend(data) {
            drop(received);
            discard(body, max).await;
            return Err(BodyRefusal::over_budget(e, config));
        }
    }
}

/// Reads and drops up to `limit` bytes of a refused body, for at most a
/// few seconds, before the refusal is sent: a server that answers and
/// closes while the client is still writing makes the client see a broken
/// pipe instead of the answer (as nginx's lingering close avoids).
pub(super) async fn discard(mut body: Body, limit: usize) {
    let mut seen = 0usize;
    let read = async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > limit {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
}

/// The body after Content-Encoding. A gzip body is inflated into memory
/// reserved from the budget as it grows (the compressed bytes are given
/// back once it is inflated), and refused past 4x --max-body (gzip bombs)
/// before it is fully inflated.
pub(super) fn decoded(
    config: &SinkConfig,
    budget: &BodyBudget,
    headers: &HeaderMap,
    body: BudgetedBuffer,
) -> Result<BudgetedBuffer, BodyRefusal> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity");
    match encoding.trim().to_ascii_lowercase().as_str() {
        "identity" | "" => Ok(body),
        "gzip" => {
            let limit = config.max_body.saturating_mul(4);
            let mut out = budget.buffer(limit);
            // Every member: a body may be several gzip streams back to back.
            let mut gzip = flate2::read::MultiGzDecoder::new(&body[..]);
            let mut chunk = vec![0; 64 << 10];
            loop {
                let n = match gzip.read(&mut chunk) {
                    Ok(0) => {
                        out.shrink_to_fit();
                        return Ok(out);
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(BodyRefusal::Gzip(e)),
                };
                let needed = out.len().saturating_add(n);
                if needed > limit {
                    return Err(BodyRefusal::Inflates(limit));
                }
                if let Err(e) = out.extend(&chunk[..n]) {
                    // Beside its own compressed bytes it would never fit.
                    let alone = needed.saturating_add(body.held()) > budget.bytes();
                    let e = if alone { OverBudget::TooLarge } else { e };
                    return Err(BodyRefusal::over_budget(e, config));
                }
            }
        }
        other => Err(BodyRefusal::Encoding(other.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    fn gzip_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_ENCODING,
            axum::http::HeaderValue::from_static("gzip"),
        );
        headers
    }

    fn received(budget: &BodyBudget, bytes: &[u8]) -> BudgetedBuffer {
        let mut buffer = budget.buffer(bytes.len());
        buffer.extend(bytes).unwrap();
        buffer
    }

    fn config(max_body: usize, max_inflight_bytes: usize) -> SinkConfig {
        SinkConfig {
            max_body,
            max_inflight_bytes,
            ..SinkConfig::embedded()
        }
    }

    // Issue #9, item 11: only the first of several gzip members was read,
    // and the answer was 200.
    #[test]
    fn every_gzip_member_is_decoded() {
        let config = config(1 << 20, 1 << 20);
        let budget = BodyBudget::new(config.max_inflight_bytes);
        let mut body = gzip(b"first\n");
        body.extend(gzip(b"second\n"));
        let out = decoded(&config, &budget, &gzip_headers(), received(&budget, &body)).unwrap();
        assert_eq!(&out[..], b"first\nsecond\n");
        // Garbage after a member is refused, not ignored.
        let mut body = gzip(b"first\n");
        body.extend_from_slice(b"trailing bytes");
        let refused = decoded(&config, &budget, &gzip_headers(), received(&budget, &body));
        assert!(matches!(refused, Err(BodyRefusal::Gzip(_))));
    }

    // --body-timeout is any duration humantime reads; one past what an
    // Instant can hold must not panic the handler.
    #[tokio::test]
    async fn any_body_timeout_is_taken() {
        let config = SinkConfig {
            body_timeout: Duration::MAX,
            ..SinkConfig::embedded()
        };
        let budget = BodyBudget::new(config.max_inflight_bytes);
        let body = Body::from("a body");
        let received = receive(&config, &budget, &HeaderMap::new(), body).await;
        assert_eq!(&received.unwrap()[..], b"a body");
        assert_eq!(budget.in_use(), 0);
    }

    const LINE: &[u8] = br#"{"metric":"APIRequestCallAutomation","time":"2026-01-01T00:00:00.005Z","dimensions":{"Operation":"Play","StatusCode":"202","StatusCodeClass":"2xx","ApiVersion":"2025-05-15"},"value":1,"latencyMs":24}
"#;

    // Issue #19, item 7: the budget held the compressed length, and gave it
    // back before the body was inflated and parsed (28 bodies of 256 KB
    // took 2.65 GiB against 512 MiB).
    #[test]
    fn the_budget_holds_the_inflated_bytes_through_parsing() {
        let config = config(16 << 20, 64 << 20);
        let budget = BodyBudget::new(config.max_inflight_bytes);
        let text = LINE.repeat(50_000);
        let body = received(&budget, &gzip(&text));
        assert!(
            body.len() < text.len() / 20,
            "{} bytes compressed",
            body.len()
        );
        let inflated = decoded(&config, &budget, &gzip_headers(), body).unwrap();
        assert_eq!(inflated.len(), text.len());
        // The compressed bytes were given back; the inflated ones are held
        // (to the next KiB) while the batch is parsed.
        let held = budget.in_use();
        assert!(
            held >= text.len() && held < text.len() + 1024,
            "{held} bytes held for {} inflated",
            text.len()
        );
        let mut samples = Vec::new();
        super::super::ingest::parse_ndjson(&inflated, &mut samples).unwrap();
        // Two samples a line: the request and its latency.
        assert_eq!(samples.len(), 100_000);
        assert_eq!(budget.in_use(), held);
        drop(inflated);
        assert_eq!(budget.in_use(), 0);
        // A body that inflates past the whole budget is refused while
        // inflating, not after.
        let config = self::config(16 << 20, 1 << 20);
        let small = BodyBudget::new(config.max_inflight_bytes);
        let body = received(&small, &gzip(&text));
        let refused = decoded(&config, &small, &gzip_headers(), body);
        assert!(matches!(refused, Err(BodyRefusal::LargerThanBudget(_))));
        assert_eq!(small.in_use(), 0);
    }
}
