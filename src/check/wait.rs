//! `--wait`: pipelines are eventually consistent (a scrape interval, a
//! remote-write queue, a flush), so a check right after a run can see part
//! of it. Waiting polls: the whole check again, from a fresh backend
//! reader, until it passes or the time is up; the report then says how
//! long it waited, and a failure shows the last comparison. A failure to
//! reach the backend while waiting (not up yet, 5xx) is waited out too;
//! an error no wait can cure (a bad mapping, a malformed answer) ends it.

use super::observed::Observed;
use super::{CheckError, CheckOptions, Report, check};
use crate::wire::MetricsResponse;
use std::time::Duration;
use tokio::time::Instant;

/// How long to keep checking, and how often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Wait {
    pub limit: Duration,
    pub every: Duration,
}

impl Wait {
    /// A wait that polls at least twice: one shorter than a poll would be
    /// a single check with a delay.
    pub(crate) fn new(limit: Duration, every: Duration) -> Result<Wait, CheckError> {
        if every.is_zero() {
            return Err(CheckError::Usage(
                "--poll-interval must be longer than 0 (e.g. 5s)".into(),
            ));
        }
        if limit < every {
            return Err(CheckError::Usage(format!(
                "--wait {} is shorter than one poll (--poll-interval {}): wait at least one \
                 interval, e.g. --wait 60s",
                humantime::format_duration(limit),
                humantime::format_duration(every)
            )));
        }
        Ok(Wait { limit, every })
    }
}

/// How a waited check went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Waited {
    /// Checks made, the last one included.
    pub checks: u32,
    /// From the first check's start to the last one's end.
    pub elapsed: Duration,
}

/// One finished attempt, for progress lines.
pub(crate) enum Attempt<'a> {
    Failed(&'a Report),
    Error(&'a CheckError),
}

/// Checks `expected` against a fresh reader from `observed` until it
/// passes or `wait` runs out (once, without a wait); each check may take
/// up to `per_check`. Returns the last check's outcome; a report carries
/// [`Waited`] when a wait was asked for.
pub(crate) async fn check_until_pass<O: Observed, F>(
    expected: &MetricsResponse,
    mut observed: F,
    options: &CheckOptions,
    wait: Option<Wait>,
    per_check: Duration,
    mut progress: impl FnMut(Attempt, Duration),
) -> Result<Report, CheckError>
where
    F: FnMut() -> Result<O, CheckError>,
{
    let started = Instant::now();
    let mut checks = 0;
    loop {
        let reader = observed()?;
        let outcome = tokio::time::timeout(per_check, check(expected, &reader, options))
            .await
            .unwrap_or(Err(CheckError::TimedOut(per_check)));
        checks += 1;
        let Some(wait) = wait else {
            return outcome;
        };
        let waited = Waited {
            checks,
            elapsed: started.elapsed(),
        };
        let left = wait.limit.saturating_sub(waited.elapsed);
        let again = match &outcome {
            Ok(report) if report.passed() => false,
            Ok(report) => {
                progress(Attempt::Failed(report), left);
                true
            }
            Err(e) if curable(e) => {
                progress(Attempt::Error(e), left);
                true
            }
            Err(_) => false,
        };
        if !again || left < wait.every {
            return outcome.map(|mut report| {
                report.waited = Some(waited);
                report
            });
        }
        tokio::time::sleep(wait.every).await;
    }
}

/// Errors a later check may not meet: the backend not answering yet, or
/// answering that it is busy.
fn curable(e: &CheckError) -> bool {
    match e {
        CheckError::Connect { .. } | CheckError::TimedOut(_) => true,
        CheckError::Sink { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixture::expected;
    use crate::check::{ObservedSeries, Query, Reference};
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A pipeline that holds nothing for its first `late` checks, then
    /// everything.
    struct Late {
        reference: Reference,
        ready: bool,
    }

    impl Observed for Late {
        async fn query(&self, query: &Query) -> Result<ObservedSeries, CheckError> {
            if self.ready {
                self.reference.query(query).await
            } else {
                Ok(ObservedSeries::new())
            }
        }
    }

    fn late(made: &AtomicU32, late: u32) -> Result<Late, CheckError> {
        let n = made.fetch_add(1, Ordering::Relaxed);
        Ok(Late {
            reference: Reference::new(&expected()).unwrap(),
            ready: n >= late,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_polls_until_the_pipeline_has_caught_up() {
        let made = AtomicU32::new(0);
        let mut lines = Vec::new();
        let wait = Wait::new(Duration::from_secs(60), Duration::from_secs(5)).unwrap();
        let report = check_until_pass(
            &expected(),
            || late(&made, 3),
            &CheckOptions::default(),
            Some(wait),
            Duration::from_secs(30),
            |attempt, left| {
                if let Attempt::Failed(r) = attempt {
                    lines.push((r.mismatches.len(), left));
                }
            },
        )
        .await
        .unwrap();
        assert!(report.passed());
        assert_eq!(
            report.waited,
            Some(Waited {
                checks: 4,
                elapsed: Duration::from_secs(15)
            })
        );
        assert_eq!(lines.len(), 3);
        assert!(lines[0].0 > 0);
        assert_eq!(lines[2].1, Duration::from_secs(50));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pipeline_that_never_catches_up_fails_with_the_last_comparison() {
        let made = AtomicU32::new(0);
        let wait = Wait::new(Duration::from_secs(12), Duration::from_secs(5)).unwrap();
        let report = check_until_pass(
            &expected(),
            || late(&made, u32::MAX),
            &CheckOptions::default(),
            Some(wait),
            Duration::from_secs(30),
            |_, _| {},
        )
        .await
        .unwrap();
        assert!(!report.passed());
        // Checks at 0 s, 5 s and 10 s; at 10 s only 2 s are left.
        assert_eq!(
            report.waited,
            Some(Waited {
                checks: 3,
                elapsed: Duration::from_secs(10)
            })
        );
        // Without a wait: one check, no note.
        let once = check_until_pass(
            &expected(),
            || late(&AtomicU32::new(0), 1),
            &CheckOptions::default(),
            None,
            Duration::from_secs(30),
            |_, _| unreachable!("no progress without a wait"),
        )
        .await
        .unwrap();
        assert_eq!((once.passed(), once.waited), (false, None));
    }

    #[test]
    fn a_wait_shorter_than_a_poll_is_refused() {
        let err = Wait::new(Duration::from_secs(2), Duration::from_secs(5)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--wait 2s is shorter than one poll (--poll-interval 5s): wait at least one \
             interval, e.g. --wait 60s"
        );
        assert!(Wait::new(Duration::from_secs(5), Duration::ZERO).is_err());
        assert!(Wait::new(Duration::from_secs(5), Duration::from_secs(5)).is_ok());
    }
}
