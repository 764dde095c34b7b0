//! Retries, written once for every client (the replay's targets and
//! `check`'s queries): what an attempt's reply means ([`classify`]) and how
//! long to wait before the next one ([`RetryPolicy::delay`]).
//!
//! Retried: 408, 429 and 5xx except 501, and every transport failure
//! (refused, reset, timed out). Because each batch carries an idempotency
//! key, re-sending one the sink may already have applied cannot double count.
//! Never retried: other 4xx (the request itself is wrong), 501, and requests
//! that cannot be built. A protocol may say otherwise ([`Retryable`]):
//! remote write retries every 5xx, 501 included. Waits are full-jitter exponential back-off; a
//! `Retry-After` from the sink is honoured (bounded by `retry_after_cap`).

use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::sync::OnceLock;
use std::time::Duration;

/// Default first back-off ceiling.
pub(crate) const DEFAULT_BACKOFF_BASE: Duration = Duration::from_millis(100);
/// Default largest back-off ceiling.
pub(crate) const DEFAULT_BACKOFF_CAP: Duration = Duration::from_secs(10);
/// Default longest `Retry-After` obeyed.
pub(crate) const DEFAULT_RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// Why an attempt got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TransportFailure {
    /// The connection could not be made (refused, unreachable).
    Connect,
    /// No complete answer in time.
    Timeout,
    /// The connection broke before a complete answer (reset, closed).
    Closed,
}

impl TransportFailure {
    /// How reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportFailure::Connect => "connect error",
            TransportFailure::Timeout => "timeout",
            TransportFailure::Closed => "connection closed",
        }
    }
}

/// What one attempt came back with, independent of the HTTP client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The sink answered with a status.
    Status {
        code: u16,
        /// `Retry-After`, when given in seconds.
        retry_after: Option<Duration>,
        /// A 2xx whose body says the key was already applied.
        duplicate: bool,
        /// The start of the body, for error messages.
        detail: String,
    },
    /// No answer: connection refused or reset, timeout, truncated response.
    Transport {
        kind: TransportFailure,
        message: String,
    },
    /// The request could not be built (e.g. a bad URL): retrying cannot help.
    Invalid(String),
}

impl Reply {
    /// A plain answer with this status and no body.
    pub fn status(code: u16) -> Reply {
        Reply::Status {
            code,
            retry_after: None,
            duplicate: false,
            detail: String::new(),
        }
    }

    /// One line saying what went wrong (or right).
    pub fn describe(&self) -> String {
        match self {
            Reply::Status { code, detail, .. } if detail.is_empty() => format!("HTTP {code}"),
            Reply::Status { code, detail, .. } => format!("HTTP {code}: {detail}"),
            Reply::Transport { kind, message } => format!("{}: {message}", kind.as_str()),
            Reply::Invalid(message) => format!("invalid request: {message}"),
        }
    }
}

/// What to do after an attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RetryAction {
    /// Try again, not before `after` when the sink said so.
    Retry { after: Option<Duration> },
    /// Give up: retrying cannot succeed.
    Fail(String),
    /// Delivered (applied now or earlier).
    Done,
}

/// Which statuses a protocol retries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Retryable {
    /// HTTP's transient statuses: 408, 429 and 5xx but 501.
    #[default]
    Http,
    /// Prometheus remote write 1.0: 429 and every 5xx, 501 included (the
    /// spec says 5xx and Prometheus' own sender retries them all), never
    /// another 4xx, 408 included.
    RemoteWrite,
}

/// The one place that decides which replies are retried.
pub(crate) fn classify(reply: &Reply, retryable: Retryable) -> RetryAction {
    let server = |code: u16| (500..600).contains(&code);
    let transient = |code: u16| match retryable {
        Retryable::Http => matches!(code, 408 | 429) || (server(code) && code != 501),
        Retryable::RemoteWrite => code == 429 || server(code),
    };
    match reply {
        Reply::Status { code, .. } if (200..300).contains(code) => RetryAction::Done,
        Reply::Status {
            code, retry_after, ..
        } if transient(*code) => RetryAction::Retry {
            after: *retry_after,
        },
        Reply::Transport { .. } => RetryAction::Retry { after: None },
        other => RetryAction::Fail(other.describe()),
    }
}

/// `Retry-After` in its delay-seconds form; the HTTP-date form is ignored
/// (the back-off applies instead).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// How many times and how long to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first; 0 never retries.
    pub max_retries: u32,
    /// Ceiling of the first back-off; it doubles on every retry.
    pub base: Duration,
    /// Largest back-off ceiling.
    pub cap: Duration,
    /// Longest `Retry-After` obeyed; longer ones are cut to this.
    pub retry_after_cap: Duration,
    /// Which statuses are retried.
    pub retryable: Retryable,
}

impl RetryPolicy {
    /// `max_retries` with the default back-off.
    pub fn new(max_retries: u32) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            base: DEFAULT_BACKOFF_BASE,
            cap: DEFAULT_BACKOFF_CAP,
            retry_after_cap: DEFAULT_RETRY_AFTER_CAP,
            retryable: Retryable::Http,
        }
    }

    /// The longest back-off before retry number `retry` (0-based):
    /// `min(cap, base * 2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        self.base
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.cap)
    }

    /// The wait before retry number `retry`: uniform in `[0, ceiling]` (full
    /// jitter, so clients that failed together do not retry together), and
    /// never shorter than the sink's `Retry-After`.
    pub fn delay<R: Rng>(&self, retry: u32, after: Option<Duration>, rng: &mut R) -> Duration {
        let ceiling = self.ceiling(retry).as_micros() as u64;
        let jitter = Duration::from_micros(rng.random_range(0..=ceiling));
        match after {
            Some(after) => jitter.max(after.min(self.retry_after_cap)),
            None => jitter,
        }
    }
}

/// The random source of batch `seq`'s back-off waits. Seeded by the batch
/// alone, `--shard` generators (whose batch numbers coincide) that failed
/// together would retry together, in lock-step; a value drawn from the OS
/// once per process spreads them apart. Only the waits depend on it, never
/// what is sent, so a run's output stays the same.
pub(crate) fn jitter(seq: u64) -> Pcg64Mcg {
    static PROCESS: OnceLock<u64> = OnceLock::new();
    jitter_of(*PROCESS.get_or_init(rand::random), seq)
}

/// [`jitter`] of the process whose drawn value is `process`.
fn jitter_of(process: u64, seq: u64) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(process ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_retry_after(code: u16, secs: u64) -> Reply {
        Reply::Status {
            code,
            retry_after: Some(Duration::from_secs(secs)),
            duplicate: false,
            detail: String::new(),
        }
    }

    #[test]
    fn classifies_statuses() {
        let retry = RetryAction::Retry { after: None };
        let http = |reply: &Reply| classify(reply, Retryable::Http);
        for code in [408, 429, 500, 502, 503, 504, 599] {
            assert_eq!(http(&Reply::status(code)), retry, "{code}");
        }
        for code in [200, 201, 204] {
            assert_eq!(http(&Reply::status(code)), RetryAction::Done, "{code}");
        }
        for code in [301, 400, 401, 403, 404, 413, 415, 422, 501] {
            assert!(
                matches!(http(&Reply::status(code)), RetryAction::Fail(_)),
                "{code}"
            );
        }
        // Remote write retries 429 and 5xx, never another 4xx.
        let rw = |code| classify(&Reply::status(code), Retryable::RemoteWrite);
        assert!(matches!(rw(408), RetryAction::Fail(_)));
        assert!(matches!(rw(400), RetryAction::Fail(_)));
        assert_eq!(rw(429), retry);
        for code in [500, 501, 502, 503, 504, 599] {
            assert_eq!(rw(code), retry, "{code}");
        }
        for code in [401, 403, 404, 413, 415] {
            assert!(matches!(rw(code), RetryAction::Fail(_)), "{code}");
        }
        assert_eq!(
            http(&with_retry_after(429, 3)),
            RetryAction::Retry {
                after: Some(Duration::from_secs(3))
            }
        );
        let reset = Reply::Transport {
            kind: TransportFailure::Closed,
            message: "reset".into(),
        };
        assert_eq!(http(&reset), retry);
        assert_eq!(reset.describe(), "connection closed: reset");
        assert_eq!(
            http(&Reply::Invalid("bad url".into())),
            RetryAction::Fail("invalid request: bad url".into())
        );
    }

    #[test]
    fn parses_retry_after_seconds_only() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_retries: 8,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            retry_after_cap: Duration::from_secs(5),
            retryable: Retryable::Http,
        };
        let ceilings: Vec<u128> = (0..6).map(|r| policy.ceiling(r).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.ceiling(200), Duration::from_secs(1));

        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
        let mut means = Vec::new();
        for retry in 0..5 {
            let delays: Vec<Duration> = (0..2000)
                .map(|_| policy.delay(retry, None, &mut rng))
                .collect();
            assert!(delays.iter().all(|d| *d <= policy.ceiling(retry)));
            means.push(delays.iter().sum::<Duration>() / 2000);
        }
        // Full jitter: the mean is about half the ceiling and grows with it.
        assert!(means.windows(2).all(|w| w[0] < w[1]), "{means:?}");
        assert!(means[0] > Duration::from_millis(40) && means[0] < Duration::from_millis(60));
    }

    #[test]
    fn jitter_differs_between_processes_not_within_one() {
        let policy = RetryPolicy::new(8);
        let waits = |process: u64| -> Vec<Duration> {
            (0..16)
                .flat_map(|seq| {
                    let mut rng = jitter_of(process, seq);
                    (0..4)
                        .map(|retry| policy.delay(retry, None, &mut rng))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let (a, b) = (waits(0x1234_5678), waits(0x8765_4321));
        // The same batches and retries, yet no wait in common.
        assert!(a.iter().zip(&b).all(|(x, y)| x != y), "{a:?}\n{b:?}");
        assert_eq!(a, waits(0x1234_5678));
        // Within one process, batches still wait differently.
        assert_ne!(a[..4], a[4..8]);
        // This process' draw is made once.
        let mut first = jitter(3);
        let mut again = jitter(3);
        assert_eq!(
            policy.delay(5, None, &mut first),
            policy.delay(5, None, &mut again)
        );
    }

    #[test]
    fn retry_after_is_a_floor_and_is_capped() {
        let policy = RetryPolicy::new(3);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(1);
        for _ in 0..100 {
            let d = policy.delay(0, Some(Duration::from_secs(2)), &mut rng);
            assert_eq!(d, Duration::from_secs(2));
            let d = policy.delay(0, Some(Duration::from_secs(3600)), &mut rng);
            assert_eq!(d, DEFAULT_RETRY_AFTER_CAP);
        }
    }
}
