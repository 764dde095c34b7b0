//! Azure Monitor's `timespan` (and `interval`) values: ISO 8601 durations
//! such as `PT1H`, `P1D` or `PT3600.0S` (what the Python client sends for
//! a `timedelta`), and the interval forms `start/end`, `start/duration`,
//! `duration/end` and a bare duration, which ends now.

use crate::wire::parse_millis;

/// Why a timespan or duration is refused; the text is the 400's message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(in crate::sink) enum TimespanError {
    #[error(
        "{0:?} is not an ISO 8601 duration: write P[nD][T[nH][nM][nS]] (e.g. PT1H, PT3600S, \
         P1D) or P[n]W; months and years are not fixed lengths and are not accepted"
    )]
    Duration(String),
    #[error(
        "timespan {0:?}: write start/end, start/duration, duration/end (times in ISO 8601, \
         e.g. 2026-01-01T00:00:00Z) or a duration ending now (e.g. PT1H)"
    )]
    Shape(String),
    #[error("timespan {0:?} ends before it starts, or is empty")]
    Backwards(String),
}

/// Milliseconds in an ISO 8601 duration without months or years:
/// `PnW`, or `PnDTnHnMnS` with any part left out and a fraction on the
/// last one (`PT3600.0S`, `PT0.5H`).
pub(in crate::sink) fn duration_millis(text: &str) -> Result<i64, TimespanError> {
    let refused = || TimespanError::Duration(text.to_string());
    let upper = text.trim().to_ascii_uppercase();
    let rest = upper.strip_prefix('P').ok_or_else(refused)?;
    if rest.is_empty() {
        return Err(refused());
    }
    let mut total = 0f64;
    let mut in_time = false;
    let mut number = String::new();
    // Units must come in order, each once: D before T, then H, M, S.
    let mut last_rank = 0;
    for c in rest.chars() {
        match c {
            '0'..='9' | '.' | ',' => number.push(if c == ',' { '.' } else { c }),
            'T' if !in_time && number.is_empty() => in_time = true,
            unit => {
                let (rank, millis) = match (in_time, unit) {
                    (false, 'W') => (1, 604_800_000.0),
                    (false, 'D') => (2, 86_400_000.0),
                    (true, 'H') => (3, 3_600_000.0),
                    (true, 'M') => (4, 60_000.0),
                    (true, 'S') => (5, 1_000.0),
                    _ => return Err(refused()),
                };
                let value: f64 = number.parse().map_err(|_| refused())?;
                if rank <= last_rank || !value.is_finite() {
                    return Err(refused());
                }
                last_rank = rank;
                total += value * millis;
                number.clear();
            }
        }
    }
    // A number without its unit, or a `T` with nothing after it.
    if !number.is_empty() || last_rank == 0 || (in_time && last_rank < 3) {
        return Err(refused());
    }
    if total > 1e15 {
        return Err(refused());
    }
    Ok(total.round() as i64)
}

/// `timespan` as `[start, end)` in Unix milliseconds; a duration alone
/// ends at `now`.
pub(in crate::sink) fn timespan(text: &str, now: i64) -> Result<(i64, i64), TimespanError> {
    let shape = || TimespanError::Shape(text.to_string());
    let (start, end) = match text.split_once('/') {
        None => {
            let length = duration_millis(text).map_err(|_| shape())?;
            (now - length, now)
        }
        Some((a, b)) => match (parse_millis(a.trim()), parse_millis(b.trim())) {
            (Some(start), Some(end)) => (start, end),
            (Some(start), None) => {
                let length = duration_millis(b).map_err(|_| shape())?;
                (start, start + length)
            }
            (None, Some(end)) => {
                let length = duration_millis(a).map_err(|_| shape())?;
                (end - length, end)
            }
            (None, None) => return Err(shape()),
        },
    };
    if end <= start {
        return Err(TimespanError::Backwards(text.to_string()));
    }
    Ok((start, end))
}

/// `millis` as an ISO 8601 duration, whole seconds (`PT1H`, `P1DT12H`,
/// `PT90S` written `PT1M30S`): how Azure names a `FULL` interval.
pub(in crate::sink) fn format_duration(millis: i64) -> String {
    let seconds = (millis / 1000).max(0);
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (hours, minutes, secs) = (rest / 3600, rest % 3600 / 60, rest % 60);
    let mut out = String::from("P");
    if days > 0 {
        out += &format!("{days}D");
    }
    if rest > 0 || days == 0 {
        out.push('T');
        for (n, unit) in [(hours, 'H'), (minutes, 'M'), (secs, 'S')] {
            if n > 0 {
                out += &format!("{n}{unit}");
            }
        }
        if rest == 0 {
            out += "0S";
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_the_forms_clients_send() {
        assert_eq!(duration_millis("PT3600.0S"), Ok(3_600_000));
        assert_eq!(duration_millis("PT1H"), Ok(3_600_000));
        assert_eq!(duration_millis("pt1m"), Ok(60_000));
        assert_eq!(duration_millis("P1D"), Ok(86_400_000));
        assert_eq!(duration_millis("P1DT12H"), Ok(129_600_000));
        assert_eq!(duration_millis("PT1H30M"), Ok(5_400_000));
        assert_eq!(duration_millis("P2W"), Ok(1_209_600_000));
        assert_eq!(duration_millis("PT0.5S"), Ok(500));
        for bad in [
            "", "P", "PT", "1H", "PT1", "P1M", "P1Y", "PT1S1M", "P1H", "PTxS", "P1DT",
        ] {
            assert!(duration_millis(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn durations_are_written_as_azure_names_them() {
        assert_eq!(format_duration(3_600_000), "PT1H");
        assert_eq!(format_duration(86_400_000), "P1D");
        assert_eq!(format_duration(129_600_000), "P1DT12H");
        assert_eq!(format_duration(90_000), "PT1M30S");
        assert_eq!(format_duration(0), "PT0S");
        for ms in [60_000, 5_400_000, 777_000, 3 * 86_400_000 + 1000] {
            assert_eq!(duration_millis(&format_duration(ms)), Ok(ms));
        }
    }

    #[test]
    fn every_timespan_form() {
        let now = 1_767_229_200_000; // 2026-01-01T01:00:00Z
        let hour = 3_600_000;
        let start = now - hour;
        assert_eq!(timespan("PT1H", now), Ok((start, now)));
        assert_eq!(timespan("PT3600.0S", now), Ok((start, now)));
        assert_eq!(
            timespan("2026-01-01T00:00:00Z/2026-01-01T01:00:00Z", 0),
            Ok((start, now))
        );
        assert_eq!(timespan("2026-01-01T00:00:00Z/PT1H", 0), Ok((start, now)));
        assert_eq!(timespan("PT1H/2026-01-01T01:00:00Z", 0), Ok((start, now)));
        assert!(matches!(
            timespan("2026-01-01T01:00:00Z/2026-01-01T00:00:00Z", 0),
            Err(TimespanError::Backwards(_))
        ));
        assert!(matches!(
            timespan("2026-01-01T00:00:00Z", 0),
            Err(TimespanError::Shape(_))
        ));
        assert!(matches!(timespan("x/y", 0), Err(TimespanError::Shape(_))));
    }
}
