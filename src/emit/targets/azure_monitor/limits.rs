//! Azure Monitor's documented limits on custom metrics, held against what
//! a run will send before it starts: a run that cannot respect them is
//! refused (exit 2) naming the flag and the limit, rather than collecting
//! refusals once it is under way.
//!
//! - A document's `time` at most 20 minutes in the past and 5 minutes in
//!   the future of when it is sent ([REST API], "Timestamp").
//! - At most 50,000 active time series per subscription and region, a
//!   series (a metric and its dimension values) staying active for 12
//!   hours after its last value ([custom metrics], "Quotas and limits").
//!   A run can only count its own; whatever else the subscription writes
//!   in that region shares the limit.
//! - At most 10 dimension keys per metric (same table): every metric of
//!   the catalog keeps it, which a test holds, so no run can break it.
//! - Request bodies of at most 4,000,000 bytes. Microsoft's pages give no
//!   figure; Telegraf's Azure Monitor output, which posts the same
//!   documents to the same endpoint, splits its writes at "Azure Monitor's
//!   maximum request body size of 4MB"
//!   (influxdata/telegraf, plugins/outputs/azure_monitor/azure_monitor.go).
//!
//! [REST API]: https://learn.microsoft.com/azure/azure-monitor/essentials/metrics-store-custom-rest-api
//! [custom metrics]: https://learn.microsoft.com/azure/azure-monitor/essentials/metrics-custom-overview

use super::plan::Plan;
use crate::emit::deliver::Pacing;
use crate::model::Grain;
use crate::wire::metrics_response::time_stamp;
use std::time::Duration;

/// How old a document may be when it arrives.
const PAST: Duration = Duration::from_secs(20 * 60);
/// How far ahead of the clock a document may be when it arrives.
const FUTURE: Duration = Duration::from_secs(5 * 60);
/// Of [`PAST`], what a run keeps for sending later than planned: its
/// set-up (a large workload is simulated once to size the schedule) and
/// retries (8 back-offs of up to 10 s, or a server's Retry-After).
const MARGIN: Duration = Duration::from_secs(2 * 60);
const MAX_SERIES: usize = 50_000;
const MAX_BODY_BYTES: usize = 4_000_000;

/// A run Azure Monitor would not take, in the words of the flag to change.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LimitError {
    #[error(
        "--grain {0} with --target azure-monitor: Azure Monitor stores custom metrics per \
         minute (a document is one minute's aggregates), so the run cannot be checked at a \
         finer grain; use --grain PT1M or a multiple of it"
    )]
    Grain(Grain),
    #[error(
        "--start {start}: the documents of the first minute ({minute}) would be sent {} after \
         their time, and Azure Monitor takes a document at most {} after its time; start at \
         most {} ago (the run keeps {} for its set-up and retries), or leave --start out \
         (now)",
        text(*age),
        text(PAST),
        text(PAST - MARGIN),
        text(MARGIN)
    )]
    StartTooOld {
        start: String,
        minute: String,
        age: Duration,
    },
    #[error(
        "--start {start}: the documents of the first minute ({minute}) would be sent {} before \
         their time, and Azure Monitor takes a document at most {} before its time; leave \
         --start out (now), or start within the next {}",
        text(*lead),
        text(FUTURE),
        text(FUTURE)
    )]
    StartTooNew {
        start: String,
        minute: String,
        lead: Duration,
    },
    #[error(
        "--speed {speed}: the schedule runs at {speed} times the clock, so the documents of \
         minute {minute} would be sent {}, and Azure Monitor takes a document at most {} \
         before and {} after its time; use --speed 1 (each minute's documents then go as it \
         closes), or a workload short enough to stay within them",
        off.text(),
        text(FUTURE),
        text(PAST)
    )]
    Speed {
        speed: f64,
        minute: String,
        off: Offset,
    },
    #[error(
        "--max-rate sends every minute's documents at once: those of minute {minute} would be \
         sent {} before their time, and Azure Monitor takes a document at most {} before its \
         time; {remedy}",
        text(*lead),
        text(FUTURE)
    )]
    MaxRate {
        minute: String,
        lead: Duration,
        /// A start that puts the whole workload in the last 18 minutes, or
        /// why there is none.
        remedy: String,
    },
    #[error(
        "the run writes {0} series (a metric and its dimension values), more than the \
         {MAX_SERIES} active time series Azure Monitor allows per subscription and region (a \
         series stays active 12h after its last value, and whatever else the subscription \
         writes there counts too); give fewer --calls, or a scenario with fewer distinct \
         dimension values"
    )]
    Series(usize),
    #[error(
        "the documents of minute {minute} would be one request of {bytes} bytes, more than \
         the {MAX_BODY_BYTES} Azure Monitor takes in one request (Telegraf's Azure Monitor output \
         splits its writes there; Microsoft's pages give no figure); lower --rate, so that \
         fewer series share a minute"
    )]
    Body { minute: String, bytes: usize },
}

/// How far from its time a document would be sent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Offset {
    After(Duration),
    Before(Duration),
}

impl Offset {
    fn text(self) -> String {
        match self {
            Offset::After(d) => format!("{} after their time", text(d)),
            Offset::Before(d) => format!("{} before their time", text(d)),
        }
    }
}

/// A duration in whole seconds, as messages show it.
fn text(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

/// When and how the run sends: the clock as it starts, the workload's
/// `--start`, the pacing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sending {
    pub now_ms: i64,
    pub start_ms: i64,
    pub pacing: Pacing,
}

impl Plan {
    /// Refuses a run that would break a limit: checked at `grain`, sent
    /// as `sending` says.
    pub(crate) fn check(&self, sending: Sending, grain: Grain) -> Result<(), LimitError> {
        if !Grain::MINUTE.divides(grain) {
            return Err(LimitError::Grain(grain));
        }
        if self.series > MAX_SERIES {
            return Err(LimitError::Series(self.series));
        }
        let (minute, bytes) = self.largest;
        if bytes > MAX_BODY_BYTES {
            return Err(LimitError::Body {
                minute: time_stamp(minute),
                bytes,
            });
        }
        self.check_times(sending)
    }

    /// Each minute's documents are sent as it closes, `(close - first
    /// event) / speed` after the schedule's origin (about now), or at once
    /// at the maximum rate; how old a document is when sent grows or
    /// shrinks linearly over the run, so its first and last minute bound it.
    fn check_times(&self, sending: Sending) -> Result<(), LimitError> {
        let oldest = (PAST - MARGIN).as_millis() as i64;
        let newest = -(FUTURE.as_millis() as i64);
        let close = |minute: i64| minute + Grain::MINUTE.millis();
        let age = |minute: i64, speed: f64| {
            let offset = (close(minute) - self.first_event_ms).max(0) as f64 / speed;
            sending.now_ms + offset as i64 - minute
        };
        let start = || time_stamp(sending.start_ms);
        let first = || time_stamp(self.first_minute);
        // In real time every minute is as old when sent as the first:
        // only where the workload starts moves it.
        let real_time = age(self.first_minute, 1.0);
        let sent_now = sending.now_ms - self.first_minute;
        let at_start = match sending.pacing {
            Pacing::Scheduled { .. } => real_time,
            Pacing::Max => sent_now,
        };
        if at_start > oldest {
            return Err(LimitError::StartTooOld {
                start: start(),
                minute: first(),
                age: millis(at_start),
            });
        }
        if at_start < newest {
            return Err(LimitError::StartTooNew {
                start: start(),
                minute: first(),
                lead: millis(-at_start),
            });
        }
        match sending.pacing {
            Pacing::Scheduled { speed } => {
                for minute in [self.first_minute, self.last_minute] {
                    let off = match age(minute, speed) {
                        a if a > oldest => Offset::After(millis(a)),
                        a if a < newest => Offset::Before(millis(-a)),
                        _ => continue,
                    };
                    return Err(LimitError::Speed {
                        speed,
                        minute: time_stamp(minute),
                        off,
                    });
                }
                Ok(())
            }
            Pacing::Max => {
                let last = sending.now_ms - self.last_minute;
                if last < newest {
                    return Err(LimitError::MaxRate {
                        minute: time_stamp(self.last_minute),
                        lead: millis(-last),
                        remedy: self.max_rate_remedy(sending),
                    });
                }
                Ok(())
            }
        }
    }

    /// What makes a `--max-rate` run fit: moved back until its last
    /// minute has closed (on a whole minute, so the buckets stay where
    /// they were), it fits if its first is then at most 18 minutes old.
    fn max_rate_remedy(&self, sending: Sending) -> String {
        let close = self.last_minute + Grain::MINUTE.millis();
        let span = close - self.first_minute;
        let keep = "leave --max-rate out (each minute's documents then go as it closes)";
        let within = PAST - MARGIN;
        if span + Grain::MINUTE.millis() > within.as_millis() as i64 {
            return format!(
                "its {} cannot all lie within the last {}, so {keep}",
                text(millis(span)),
                text(within)
            );
        }
        let start = Grain::MINUTE.bucket(sending.start_ms - (close - sending.now_ms));
        format!(
            "start it so that all of it has passed, e.g. --start {}, or {keep}",
            time_stamp(start)
        )
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Metric;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    const MIN: i64 = 60_000;

    /// A run whose first event is at `first` and whose last minute starts
    /// `minutes` later.
    fn plan(first: i64, minutes: i64) -> Plan {
        let first_minute = Grain::MINUTE.bucket(first);
        Plan {
            first_event_ms: first,
            first_minute,
            last_minute: first_minute + minutes * MIN,
            series: 100,
            largest: (first_minute, 10_000),
        }
    }

    fn sending(start: i64, pacing: Pacing) -> Sending {
        Sending {
            now_ms: NOW,
            start_ms: start,
            pacing,
        }
    }

    fn paced(speed: f64) -> Pacing {
        Pacing::Scheduled { speed }
    }

    fn refusal(plan: &Plan, sending: Sending) -> String {
        plan.check(sending, Grain::MINUTE).unwrap_err().to_string()
    }

    #[test]
    fn a_run_in_real_time_from_now_fits_however_long() {
        let p = plan(NOW + 500, 24 * 60);
        p.check(sending(NOW, paced(1.0)), Grain::MINUTE).unwrap();
        p.check(sending(NOW, paced(1.0)), "PT1H".parse().unwrap())
            .unwrap();
    }

    #[test]
    fn a_start_too_far_in_the_past_or_the_future_names_start() {
        // Sent about a minute after the minute, plus how far back it starts.
        let ok = plan(NOW - 17 * MIN + 1000, 60);
        ok.check(sending(NOW - 17 * MIN, paced(1.0)), Grain::MINUTE)
            .unwrap();
        let old = plan(NOW - 30 * MIN + 1000, 60);
        let text = refusal(&old, sending(NOW - 30 * MIN, paced(1.0)));
        assert!(
            text.starts_with("--start 2025-12-31T23:30:00Z: the documents of the first minute")
                && text.contains("sent 30m 59s after their time")
                && text.contains("at most 20m after its time"),
            "{text}"
        );
        let new = plan(NOW + 10 * MIN, 5);
        let text = refusal(&new, sending(NOW + 10 * MIN, paced(1.0)));
        assert!(
            text.starts_with("--start 2026-01-01T00:10:00Z")
                && text.contains("sent 9m before their time")
                && text.contains("at most 5m before its time"),
            "{text}"
        );
        // At the maximum rate, a start in the past is what it takes.
        let text = refusal(&old, sending(NOW - 30 * MIN, Pacing::Max));
        assert!(text.starts_with("--start "), "{text}");
    }

    #[test]
    fn a_speed_that_drifts_out_of_the_window_names_speed() {
        // Ten times the clock: the last of 60 minutes is sent 54 minutes
        // early.
        let text = refusal(&plan(NOW + 1000, 60), sending(NOW, paced(10.0)));
        assert!(
            text.starts_with("--speed 10: ")
                && text.contains("minute 2026-01-01T01:00:00Z would be sent 53m 54s before")
                && text.contains("use --speed 1"),
            "{text}"
        );
        // A tenth of it: the last minute goes 9 hours late.
        let text = refusal(&plan(NOW + 1000, 60), sending(NOW, paced(0.1)));
        assert!(text.contains("after their time"), "{text}");
        // Twice the clock over four minutes stays within 5 minutes ahead.
        plan(NOW + 1000, 4)
            .check(sending(NOW, paced(2.0)), Grain::MINUTE)
            .unwrap();
    }

    #[test]
    fn the_maximum_rate_fits_a_workload_that_lies_in_the_last_minutes() {
        let past = plan(NOW - 15 * MIN + 500, 12);
        past.check(sending(NOW - 15 * MIN, Pacing::Max), Grain::MINUTE)
            .unwrap();
        let text = refusal(&plan(NOW + 500, 30), sending(NOW, Pacing::Max));
        assert!(
            text.starts_with("--max-rate sends every minute's documents at once")
                && text.contains("minute 2026-01-01T00:30:00Z would be sent 30m before")
                && text.contains("its 31m cannot all lie within the last 18m"),
            "{text}"
        );
        // Ten minutes fit once moved back until their last one has closed.
        let text = refusal(&plan(NOW + 500, 10), sending(NOW, Pacing::Max));
        assert!(text.contains("e.g. --start 2025-12-31T23:49:00Z"), "{text}");
        plan(NOW - 11 * MIN + 500, 10)
            .check(sending(NOW - 11 * MIN, Pacing::Max), Grain::MINUTE)
            .unwrap();
    }

    #[test]
    fn grain_series_and_body_size_are_refused_with_the_limit() {
        let p = plan(NOW + 500, 3);
        let text = p
            .check(sending(NOW, paced(1.0)), Grain::SECOND)
            .unwrap_err()
            .to_string();
        assert!(text.starts_with("--grain PT1S"), "{text}");
        let many = Plan {
            series: 50_001,
            ..p.clone()
        };
        let text = refusal(&many, sending(NOW, paced(1.0)));
        assert!(
            text.contains("50001 series") && text.contains("per subscription and region"),
            "{text}"
        );
        let large = Plan {
            largest: (p.first_minute + MIN, 4_000_001),
            ..p
        };
        let text = refusal(&large, sending(NOW, paced(1.0)));
        assert!(
            text.contains("minute 2026-01-01T00:01:00Z would be one request of 4000001 bytes"),
            "{text}"
        );
    }

    // Azure Monitor takes at most 10 dimension keys per metric
    // ("Quotas and limits"): no run can exceed it while this holds.
    #[test]
    fn every_metric_has_at_most_ten_dimensions() {
        for metric in Metric::ALL {
            assert!(metric.dimensions().len() <= 10, "{metric}");
        }
    }
}
