//! Open-loop pacing: when each item (a batch of events) is due, on an
//! absolute schedule, and how late it actually went out.
//!
//! Two halves, so pacing composes with any emitter (oha's token task, without
//! its mode x limit explosion):
//! - [`Schedule`] runs with the generator: it maps an event time to its offset
//!   from the first event, scaled by `speed`. Items carry that offset.
//! - [`Pacer`] runs with the sender: it fixes the origin when the first item
//!   arrives and waits until `origin + offset`. The *lag* is the time from
//!   that scheduled instant to the moment a sender really takes the item.
//!
//! The schedule never depends on when the previous request returned, so a
//! slow sink shows up as growing lag instead of silently stretching the run
//! (coordinated omission).

use std::time::Duration;
use tokio::time::{Instant, sleep_until};

/// The speeds a schedule may run at (`--speed`, POST /speed): beyond them
/// its instants would not fit the clock's arithmetic, and no run needs them.
pub(crate) const MIN_SPEED: f64 = 0.001;
pub(crate) const MAX_SPEED: f64 = 1_000_000.0;

/// How fast items are released.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pacing {
    /// At the events' own times, `speed` times faster (2.0 halves every gap).
    Scheduled { speed: f64 },
    /// As fast as the sender accepts: no schedule, no lag.
    Max,
}

/// A pacing that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PacingError {
    #[error("--speed must be a number greater than 0, got {0}")]
    Speed(f64),
}

impl Pacing {
    /// Refuses a pacing that cannot be used (speed not > 0).
    pub(crate) fn check(self) -> Result<(), PacingError> {
        match self {
            Pacing::Scheduled { speed } if !(speed.is_finite() && speed > 0.0) => {
                Err(PacingError::Speed(speed))
            }
            _ => Ok(()),
        }
    }
}

/// Event time (Unix ms) to the offset from the schedule's origin.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Schedule {
    first_ms: i64,
    speed: f64,
}

impl Schedule {
    pub(crate) fn new(first_ms: i64, speed: f64) -> Schedule {
        Schedule { first_ms, speed }
    }

    /// When the event at `time_ms` is due, counted from the origin.
    pub(crate) fn offset(&self, time_ms: i64) -> Duration {
        let ms = (time_ms - self.first_ms).max(0) as f64;
        Duration::from_secs_f64(ms / 1000.0 / self.speed)
    }

    /// How many milliseconds of event time `window` of schedule time covers
    /// (at least 1).
    pub(crate) fn event_span(&self, window: Duration) -> i64 {
        ((window.as_secs_f64() * 1000.0 * self.speed).round() as i64).max(1)
    }
}

/// The tokio timer fires on millisecond ticks and, measured on the 2-core
/// target, wakes 1.3 ms late at p50 and 1.5-2 ms at p99 (1.2 ms / 2.1 ms of
/// lag with a plain `sleep_until`). So the timer is set this much before the
/// deadline and the rest is waited by yielding in a loop: p99 lag then falls
/// to tens of µs, for ~1 ms of yielding per item.
const SPIN: Duration = Duration::from_micros(2500);

/// A schedule's speed changed while it runs (`run --control`, POST
/// /speed): a factor on the speed the offsets were made with.
#[derive(Debug, Default)]
pub(crate) struct LiveSpeed {
    /// f64 bits of the factor; 0 means 1 (never changed).
    factor: std::sync::atomic::AtomicU64,
    changed: tokio::sync::Notify,
}

impl LiveSpeed {
    pub(crate) fn factor(&self) -> f64 {
        match self.factor.load(std::sync::atomic::Ordering::Relaxed) {
            0 => 1.0,
            bits => f64::from_bits(bits),
        }
    }

    /// Sets the factor (> 0) and wakes the pacer to re-plan its wait.
    pub(crate) fn set_factor(&self, factor: f64) {
        self.factor
            .store(factor.to_bits(), std::sync::atomic::Ordering::Relaxed);
        self.changed.notify_waiters();
    }
}

/// Waits for each item's scheduled instant.
pub(crate) struct Pacer {
    pacing: Pacing,
    /// Where the clock was last anchored: (instant, offset then, factor).
    /// Offsets after the anchor are due `(offset - anchored) / factor`
    /// after it, so a speed change moves what is still to come only.
    anchor: Option<(Instant, Duration, f64)>,
    live: Option<std::sync::Arc<LiveSpeed>>,
}

impl Pacer {
    pub(crate) fn new(pacing: Pacing, live: Option<std::sync::Arc<LiveSpeed>>) -> Pacer {
        Pacer {
            pacing,
            anchor: None,
            live,
        }
    }

    /// Waits until `offset` after the origin (fixed, on the first call, at
    /// the current instant) and returns the scheduled instant. Returns at
    /// once with `None` under [`Pacing::Max`].
    pub(crate) async fn wait(&mut self, offset: Duration) -> Option<Instant> {
        if self.pacing == Pacing::Max {
            return None;
        }
        let Some(live) = self.live.clone() else {
            let (origin, ..) = *self
                .anchor
                .get_or_insert((Instant::now(), Duration::ZERO, 1.0));
            let due = origin + offset;
            sleep_precise(due).await;
            return Some(due);
        };
        loop {
            let changed = live.changed.notified();
            let factor = live.factor();
            let (at, anchored, was) =
                *self
                    .anchor
                    .get_or_insert((Instant::now(), Duration::ZERO, factor));
            if factor != was {
                // Re-anchor now: the offset reached so far at the old pace.
                let now = Instant::now();
                let run = now.saturating_duration_since(at).as_secs_f64() * was;
                let reached = anchored
                    .saturating_add(Duration::try_from_secs_f64(run).unwrap_or(Duration::MAX));
                self.anchor = Some((now, reached, factor));
                continue;
            }
            // Speeds are bounded (POST /speed), but a long schedule at a
            // tiny one could still pass what an Instant holds: a year on is
            // as good as never for a run.
            let due = match offset.checked_sub(anchored) {
                Some(ahead) => Duration::try_from_secs_f64(ahead.as_secs_f64() / factor)
                    .ok()
                    .and_then(|d| at.checked_add(d))
                    .unwrap_or_else(|| at + Duration::from_secs(365 * 86_400)),
                None => at,
            };
            tokio::select! {
                () = sleep_precise(due) => return Some(due),
                () = changed => {}
            }
        }
    }
}

/// Sleeps until `deadline` with sub-millisecond accuracy: the timer wakes us
/// shortly before, then we yield until the deadline has passed. If the clock
/// does not move while we yield (tokio's paused test clock), we fall back to
/// the timer, which advances it.
async fn sleep_precise(deadline: Instant) {
    if let Some(early) = deadline.checked_sub(SPIN)
        && Instant::now() < early
    {
        sleep_until(early).await;
    }
    let spinning = std::time::Instant::now();
    while Instant::now() < deadline {
        if spinning.elapsed() > 2 * SPIN {
            sleep_until(deadline).await;
            return;
        }
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_scale_with_speed() {
        let normal = Schedule::new(1_000, 1.0);
        let double = Schedule::new(1_000, 2.0);
        assert_eq!(normal.offset(1_000), Duration::ZERO);
        assert_eq!(normal.offset(1_500), Duration::from_millis(500));
        assert_eq!(double.offset(1_500), Duration::from_millis(250));
        assert_eq!(double.event_span(Duration::from_millis(50)), 100);
        assert_eq!(
            Schedule::new(0, 0.001).event_span(Duration::from_millis(50)),
            1
        );
    }

    // run --control's POST /speed: what is still to come moves to the new
    // speed from the instant of the change; what was due before stays.
    #[tokio::test(start_paused = true)]
    async fn a_speed_change_moves_what_is_still_to_come() {
        let live = std::sync::Arc::new(LiveSpeed::default());
        let mut pacer = Pacer::new(Pacing::Scheduled { speed: 1.0 }, Some(live.clone()));
        let t0 = pacer.wait(Duration::ZERO).await.unwrap();
        let change = live.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            change.set_factor(2.0);
        });
        // 2 s at speed 1, then the other 8 s of schedule at speed 2.
        let due = pacer.wait(Duration::from_secs(10)).await.unwrap();
        assert_eq!(due - t0, Duration::from_secs(6));
        let due = pacer.wait(Duration::from_secs(12)).await.unwrap();
        assert_eq!(due - t0, Duration::from_secs(7));
        // Something due before the change is not delayed by it.
        let due = pacer.wait(Duration::from_secs(1)).await.unwrap();
        assert!(due - t0 <= Duration::from_secs(2), "{:?}", due - t0);
    }

    #[test]
    fn speed_must_be_positive() {
        assert!(Pacing::Scheduled { speed: 0.0 }.check().is_err());
        assert!(Pacing::Scheduled { speed: f64::NAN }.check().is_err());
        assert!(Pacing::Scheduled { speed: 0.5 }.check().is_ok());
        assert!(Pacing::Max.check().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn waits_on_an_absolute_schedule() {
        let mut pacer = Pacer::new(Pacing::Scheduled { speed: 1.0 }, None);
        let start = Instant::now();
        // Each item takes 10 ms to hand over; the second 100 ms item is
        // therefore already 10 ms late when its turn comes, and the next one
        // is on time again: lateness does not shift the schedule.
        for (ms, lag_ms) in [(0, 10), (100, 10), (100, 20), (250, 10)] {
            let due = pacer.wait(Duration::from_millis(ms)).await.unwrap();
            assert_eq!(due, start + Duration::from_millis(ms));
            tokio::time::advance(Duration::from_millis(10)).await;
            assert_eq!(Instant::now() - due, Duration::from_millis(lag_ms));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn max_does_not_wait() {
        let mut pacer = Pacer::new(Pacing::Max, None);
        let start = Instant::now();
        assert_eq!(pacer.wait(Duration::from_secs(60)).await, None);
        assert_eq!(Instant::now(), start);
    }
}
