//! Progress on stderr while a dataset is written: a bar when stderr is a
//! terminal, nothing otherwise (scripts and CI logs stay clean).

use indicatif::{HumanCount, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::fmt;
use std::io::IsTerminal;

pub(super) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// `total` is the number of calls when known.
    pub(super) fn new(enabled: bool, total: Option<u64>) -> Progress {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = if total.is_some() {
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} calls ({rate}, eta {eta}) {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {human_pos} calls ({rate}) {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            // indicatif's {per_sec} reads "123456.7890/s".
            bar.set_style(style.with_key(
                "rate",
                |state: &ProgressState, w: &mut dyn fmt::Write| {
                    let _ = write!(w, "{}", rate(state.per_sec()));
                },
            ));
        }
        Progress { bar: Some(bar) }
    }

    pub(super) fn update(&self, calls: u64, events: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(calls);
            bar.set_message(format!("{} events", HumanCount(events)));
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// "12,346 calls/s".
fn rate(per_second: f64) -> String {
    format!("{} calls/s", HumanCount(per_second.max(0.0).round() as u64))
}

#[cfg(test)]
mod tests {
    // Issue #11: the bar read "123456.7890/s".
    #[test]
    fn the_rate_reads_as_whole_calls_per_second() {
        assert_eq!(super::rate(12_345.678_9), "12,346 calls/s");
        assert_eq!(super::rate(0.4), "0 calls/s");
    }
}
