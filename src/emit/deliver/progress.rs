//! Live progress of a replay on stderr: a one-line indicatif status when
//! stderr is a terminal (a bar with the ETA when the schedule's length is
//! known), a plain line every few seconds otherwise (CI logs stay
//! readable). Sent events, rate, retries, failed requests, peak lag.

use super::pacing::LiveSpeed;
use super::stats::{Counters, millis};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior, interval};

const TERMINAL_EVERY: Duration = Duration::from_millis(250);
const PLAIN_EVERY: Duration = Duration::from_secs(2);

/// The reporter task; stops when finished or dropped.
pub(crate) struct Progress {
    task: Option<JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts reporting `counters` (nothing when `enabled` is false).
    pub(crate) fn start(
        enabled: bool,
        paced: bool,
        counters: Arc<Counters>,
        schedule: Option<Duration>,
        live: Arc<LiveSpeed>,
    ) -> Progress {
        if !enabled {
            return Progress {
                task: None,
                bar: None,
            };
        }
        let bar = std::io::stderr().is_terminal().then(|| {
            let length = schedule.map(|s| s.as_millis() as u64);
            let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
            let template = if length.is_some() {
                "[{elapsed_precise}] {wide_bar} {percent:>3}% ETA {eta}  {msg}"
            } else {
                "{spinner} [{elapsed_precise}] {msg}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar
        });
        let every = if bar.is_some() {
            TERMINAL_EVERY
        } else {
            PLAIN_EVERY
        };
        let task_bar = bar.clone();
        let task = tokio::spawn(async move {
            let mut ticks = interval(every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks.tick().await;
            let mut rate = Rate {
                last: Some((Instant::now(), Counters::get(&counters.events))),
            };
            // Peak lag over the last plain-line period (or a few seconds).
            let mut peak = Duration::ZERO;
            let mut peak_age = 0;
            loop {
                ticks.tick().await;
                let lag = counters.take_lag_peak();
                peak_age += 1;
                if lag >= peak || peak_age * every >= PLAIN_EVERY {
                    peak = lag;
                    peak_age = 0;
                }
                let line = line(&counters, rate.update(&counters), paced.then_some(peak));
                let at = Duration::from_millis(Counters::get(&counters.schedule_ms));
                match &task_bar {
                    Some(bar) => {
                        bar.set_position(at.as_millis() as u64);
                        bar.set_message(line);
                        bar.tick();
                    }
                    None => {
                        let line = match schedule {
                            Some(total) => {
                                format!("{}; {line}", position(at, total, live.factor()))
                            }
                            None => line,
                        };
                        let _ = writeln!(std::io::stderr().lock(), "{line}");
                    }
                }
            }
        });
        Progress {
            task: Some(task),
            bar,
        }
    }

    /// Stops reporting and clears the status line.
    pub(crate) fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Events per second between two looks.
struct Rate {
    last: Option<(Instant, u64)>,
}

impl Rate {
    fn update(&mut self, counters: &Counters) -> f64 {
        let now = Instant::now();
        let events = Counters::get(&counters.events);
        let rate = match self.last {
            Some((then, before)) => {
                (events - before) as f64 / now.duration_since(then).as_secs_f64().max(1e-9)
            }
            None => 0.0,
        };
        self.last = Some((now, events));
        rate
    }
}

/// "schedule 34% (5m 10s of 15m 2s), ETA 9m 52s": the position in the
/// schedule as planned; what is left runs `factor` times faster since a
/// POST /speed.
fn position(at: Duration, total: Duration, factor: f64) -> String {
    let at = at.min(total);
    let seconds = |d: Duration| humantime::format_duration(Duration::from_secs(d.as_secs()));
    let left = (total - at).as_secs_f64() / factor;
    format!(
        "schedule {:.0}% ({} of {}), ETA {}",
        100.0 * at.as_secs_f64() / total.as_secs_f64().max(1e-9),
        seconds(at),
        seconds(total),
        humantime::format_duration(Duration::from_secs(left.round() as u64))
    )
}

fn line(c: &Counters, rate: f64, lag: Option<Duration>) -> String {
    let mut line = format!(
        "sent {} events in {} requests, {rate:.0} events/s, {} retries, {} failed",
        Counters::get(&c.events),
        Counters::get(&c.requests),
        Counters::get(&c.retries),
        Counters::get(&c.failed),
    );
    if let Some(lag) = lag {
        line.push_str(&format!(", lag peak {}", millis(lag)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_counters() {
        let c = Counters::default();
        Counters::add(&c.events, 5000);
        Counters::add(&c.requests, 1);
        Counters::add(&c.retries, 2);
        assert_eq!(
            line(&c, 2500.4, Some(Duration::from_micros(1250))),
            "sent 5000 events in 1 requests, 2500 events/s, 2 retries, 0 failed, lag peak 1.250 ms"
        );
        assert_eq!(
            line(&c, 0.0, None),
            "sent 5000 events in 1 requests, 0 events/s, 2 retries, 0 failed"
        );
        assert_eq!(
            position(
                Duration::from_millis(310_400),
                Duration::from_secs(902),
                1.0
            ),
            "schedule 34% (5m 10s of 15m 2s), ETA 9m 52s"
        );
        // After POST /speed {"speed": 4} what is left takes a quarter.
        assert_eq!(
            position(Duration::from_secs(302), Duration::from_secs(902), 4.0),
            "schedule 33% (5m 2s of 15m 2s), ETA 2m 30s"
        );
    }
}
