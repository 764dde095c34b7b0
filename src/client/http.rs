//! Building reqwest clients the same way everywhere, and reading their
//! errors as one line.
//!
//! Redirects are never followed: a 3xx to a POST means the URL is wrong,
//! and following it would deliver somewhere the user did not name (and turn
//! the POST into a GET). A proxy from the environment must not capture a
//! loopback target.

use super::tls::ClientTls;
use std::time::Duration;

/// Longest a connection attempt may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `url::ParseError`, named through reqwest (url is not a dependency of
/// its own).
type UrlParseError = <reqwest::Url as std::str::FromStr>::Err;

/// Why a URL flag is refused; `flag` names the option.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    #[error(
        "{flag} {text:?} does not start with http:// or https://: add one (e.g. \
         http://127.0.0.1:8650)"
    )]
    NoScheme { flag: String, text: String },
    #[error("{flag} {text:?} is not a URL: {reason} (e.g. http://127.0.0.1:8650)")]
    NotAUrl {
        flag: String,
        text: String,
        reason: UrlParseError,
    },
    #[error("{flag} {text:?} names no host")]
    NoHost { flag: String, text: String },
}

/// Why no HTTP client could be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "--token holds characters an HTTP header cannot carry (control characters or line \
         breaks)"
    )]
    Token,
    #[error("cannot create the HTTP client: {}", crate::error_text::error_text(.0))]
    Build(reqwest::Error),
}

/// Why an answer's body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The answer is longer than the cap (its declared or read length).
    TooLarge {
        limit: usize,
    },
    Transport(reqwest::Error),
}

/// The body of `response`, refused once it passes `limit` bytes (before it
/// is read, when the server declares its length), so a huge answer cannot
/// take the reader's memory.
pub(crate) async fn body_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A keep-alive client for `url`'s host: `pool` idle connections kept,
/// `timeout` per request (connect to last byte of the answer), and
/// `Authorization: Bearer TOKEN` on every request when `token` is given
/// (marked sensitive, so it never shows in debug output); `https://` as
/// `tls` says.
pub(crate) fn client(
    url: &reqwest::Url,
    token: Option<&str>,
    tls: &ClientTls,
    pool: usize,
    timeout: Duration,
) -> Result<reqwest::Client, ClientError> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| ClientError::Token)?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls((*tls.config()).clone())
        .default_headers(headers)
        .pool_max_idle_per_host(pool)
        .tcp_nodelay(true)
        .timeout(timeout)
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .redirect(reqwest::redirect::Policy::none());
    if is_loopback(url) {
        builder = builder.no_proxy();
    }
    builder.build().map_err(ClientError::Build)
}

/// Parses `text` as an `http://` or `https://` URL; `flag` names the
/// option in messages.
pub(crate) fn http_url(flag: &str, text: &str) -> Result<reqwest::Url, UrlError> {
    let no_scheme = || UrlError::NoScheme {
        flag: flag.to_string(),
        text: text.to_string(),
    };
    let url = reqwest::Url::parse(text).map_err(|reason| {
        // "127.0.0.1:8650" and "/ingest" parse as relative URLs.
        if text.contains("://") {
            UrlError::NotAUrl {
                flag: flag.to_string(),
                text: text.to_string(),
                reason,
            }
        } else {
            no_scheme()
        }
    })?;
    // "localhost:8650" parses, with "localhost" as its scheme.
    if !matches!(url.scheme(), "http" | "https") {
        return Err(no_scheme());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost {
            flag: flag.to_string(),
            text: text.to_string(),
        });
    }
    Ok(url)
}

pub(crate) fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host_str() {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// The innermost cause of `e`: the OS's words ("Connection refused (os
/// error 111)"), not reqwest's and hyper's wrapping around them (which
/// repeat the whole URL).
pub(crate) fn root_cause(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let text = cause.to_string();
    let hint = tls_hint(&text);
    format!("{text}{hint}")
}

/// What to do about a server certificate rustls refused, after its words.
pub(crate) fn tls_hint(cause: &str) -> &'static str {
    if cause.contains("invalid peer certificate") {
        "; trust its CA with --cacert FILE (or skip verification with --insecure)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(http_url("--sink", "http://127.0.0.1:8650").is_ok());
        assert!(http_url("--sink", "https://127.0.0.1:8650").is_ok());
        for text in [
            "127.0.0.1:8650",
            "localhost:8650",
            "/ingest",
            "ftp://127.0.0.1",
        ] {
            let err = http_url("--sink", text).unwrap_err().to_string();
            assert!(
                err.ends_with(
                    "does not start with http:// or https://: add one (e.g. \
                               http://127.0.0.1:8650)"
                ),
                "{err}"
            );
        }
        let err = http_url("--sink", "http://[::1").unwrap_err().to_string();
        assert!(err.contains("is not a URL"), "{err}");
        assert!(is_loopback(&"http://[::1]:1/".parse().unwrap()));
        assert!(is_loopback(&"http://localhost/".parse().unwrap()));
        assert!(!is_loopback(&"http://10.0.0.1/".parse().unwrap()));
    }
}
