//! RFC 3339 timestamps with milliseconds ("2026-01-01T00:00:00.123Z"),
//! written straight into a byte buffer. Events arrive in time order, so the
//! date-and-seconds prefix is cached and only the milliseconds change.

/// The last instant RFC 3339's four-digit years can write,
/// 9999-12-31T23:59:59.999Z, in Unix milliseconds.
pub(crate) const LAST_MILLIS: i64 = 253_402_300_799_999;

/// The first, 0000-01-01T00:00:00.000Z.
pub(crate) const FIRST_MILLIS: i64 = -62_167_219_200_000;

/// Writes times in [`FIRST_MILLIS`, `LAST_MILLIS`]; the engine refuses
/// workloads whose times would leave it, and the sink such samples
/// (`model::LAST_EVENT_MS`, a day earlier so that day buckets end in range).
#[derive(Default)]
pub(crate) struct TimeWriter {
    second: Option<i64>,
    prefix: [u8; 19],
}

impl TimeWriter {
    /// Appends the timestamp of `ms` (Unix milliseconds).
    pub(crate) fn write_millis(&mut self, out: &mut Vec<u8>, ms: i64) {
        out.extend_from_slice(&self.millis(ms));
    }

    /// The timestamp text of `ms` (Unix milliseconds).
    pub(crate) fn millis(&mut self, ms: i64) -> [u8; 24] {
        let second = ms.div_euclid(1000);
        if self.second != Some(second) {
            self.prefix = date_time(second);
            self.second = Some(second);
        }
        let milli = ms.rem_euclid(1000) as u16;
        let mut text = [0u8; 24];
        text[..19].copy_from_slice(&self.prefix);
        text[19..].copy_from_slice(&[
            b'.',
            b'0' + (milli / 100) as u8,
            b'0' + (milli / 10 % 10) as u8,
            b'0' + (milli % 10) as u8,
            b'Z',
        ]);
        text
    }

    /// Appends the timestamp of a whole second, without milliseconds
    /// ("2026-01-01T00:00:00Z"), as Azure Monitor writes bucket starts.
    /// Any second: this one also names times a peer sent (a Prometheus
    /// sample, a sink's refused batch), so a year outside 0000-9999 is
    /// written in ISO 8601's expanded form ("+10000-01-01T00:00:00Z"),
    /// which no reader takes for a year it can parse, instead of panicking.
    pub(crate) fn write_seconds(out: &mut Vec<u8>, ms: i64) {
        let second = ms.div_euclid(1000);
        if (FIRST_MILLIS.div_euclid(1000)..=LAST_MILLIS.div_euclid(1000)).contains(&second) {
            out.extend_from_slice(&date_time(second));
        } else {
            let (y, m, d) = civil_from_days(second.div_euclid(86_400));
            let secs = second.rem_euclid(86_400);
            out.extend_from_slice(
                format!(
                    "{y:+05}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                )
                .as_bytes(),
            );
        }
        out.push(b'Z');
    }
}

/// Appends a time as the service itself writes one (a CloudEvent's
/// `time`, a recording's `startDateTime`): .NET's round-trip text, up to
/// seven fraction digits with trailing zeros trimmed (none and no point
/// when all are zero) and `+00:00`, e.g. `2025-06-20T21:25:26.2478196+00:00`
/// in recorded live events. `millis` is [`TimeWriter::millis`]'s text of
/// the instant; `ticks` the 100 ns steps within its millisecond (below
/// 10,000), which readers at millisecond precision drop.
pub(crate) fn write_service_time(out: &mut Vec<u8>, millis: &[u8; 24], ticks: u16) {
    let ticks = ticks % 10_000;
    let fraction = [
        millis[20],
        millis[21],
        millis[22],
        b'0' + (ticks / 1000) as u8,
        b'0' + (ticks / 100 % 10) as u8,
        b'0' + (ticks / 10 % 10) as u8,
        b'0' + (ticks % 10) as u8,
    ];
    let digits = fraction
        .iter()
        .rposition(|&d| d != b'0')
        .map_or(0, |i| i + 1);
    out.extend_from_slice(&millis[..19]);
    if digits > 0 {
        out.push(b'.');
        out.extend_from_slice(&fraction[..digits]);
    }
    out.extend_from_slice(b"+00:00");
}

/// Parses an RFC 3339 timestamp ("2026-01-01T00:00:00.123Z", any number
/// of fraction digits, `Z` or a `+hh:mm` / `-hh:mm` offset) to Unix ms.
pub(crate) fn parse_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        b.get(range)?.iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as i64)
        })
    };
    let shape = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !shape {
        return None;
    }
    let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hh, mm, ss) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    // No 2026-02-31, no leap second 23:59:60 (Unix time has none to map
    // it to): a time that does not exist is refused, never rolled over.
    if !(1..=12).contains(&m)
        || !(1..=days_in_month(y, m as u32)).contains(&(d as u32))
        || hh > 23
        || mm > 59
        || ss > 59
    {
        return None;
    }
    let mut at = 19;
    let mut ms = 0;
    if b[at] == b'.' {
        let start = at + 1;
        at = start;
        while at < b.len() && b[at].is_ascii_digit() {
            at += 1;
        }
        if at == start {
            return None;
        }
        // Milliseconds: the first three fraction digits, padded.
        let take = (at - start).min(3);
        ms = digits(start..start + take)? * 10i64.pow(3 - take as u32);
    }
    let offset_min = match &b[at..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let v = |x: &u8, y: &u8| -> Option<i64> {
                (x.is_ascii_digit() && y.is_ascii_digit())
                    .then(|| ((x - b'0') * 10 + (y - b'0')) as i64)
            };
            let (h, m) = (v(h1, h2)?, v(m1, m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'+' { minutes } else { -minutes }
        }
        _ => return None,
    };
    let days = days_from_civil(y, m as u32, d as u32);
    Some((days * 86_400 + hh * 3600 + mm * 60 + ss - offset_min * 60) * 1000 + ms)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) to days since 1970-01-01; Howard Hinnant's algorithm.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp as i64 + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats a Unix second as "YYYY-MM-DDTHH:MM:SS" (proleptic Gregorian).
fn date_time(second: i64) -> [u8; 19] {
    let days = second.div_euclid(86_400);
    let secs = second.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00";
    // Never clamped: a year written as another is a wrong timestamp that
    // reads as a right one. Inputs are refused before they get here.
    assert!(
        (0..=9999).contains(&y),
        "year {y} has no RFC 3339 text; times are checked before they are written"
    );
    let y = y as u32;
    b[0] = b'0' + (y / 1000) as u8;
    b[1] = b'0' + (y / 100 % 10) as u8;
    b[2] = b'0' + (y / 10 % 10) as u8;
    b[3] = b'0' + (y % 10) as u8;
    let two = |b: &mut [u8; 19], at: usize, v: u32| {
        b[at] = b'0' + (v / 10) as u8;
        b[at + 1] = b'0' + (v % 10) as u8;
    };
    two(&mut b, 5, m);
    two(&mut b, 8, d);
    two(&mut b, 11, (secs / 3600) as u32);
    two(&mut b, 14, (secs / 60 % 60) as u32);
    two(&mut b, 17, (secs % 60) as u32);
    b
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(ms: i64) -> String {
        let mut out = Vec::new();
        TimeWriter::default().write_millis(&mut out, ms);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn parses_what_it_writes_and_other_rfc3339_forms() {
        for &ms in &[0i64, 951_782_400_123, 1_767_225_600_000, 1_709_164_799_999] {
            assert_eq!(parse_millis(&fmt(ms)), Some(ms));
        }
        assert_eq!(
            parse_millis("2026-01-01T00:00:00Z"),
            Some(1_767_225_600_000)
        );
        assert_eq!(
            parse_millis("2026-01-01T01:00:00+01:00"),
            Some(1_767_225_600_000)
        );
        assert_eq!(parse_millis("2026-13-01T00:00:00.000Z"), None);
        assert_eq!(parse_millis("yesterday"), None);
        assert_eq!(
            parse_millis("2026-01-01T00:00:00.5Z"),
            Some(1_767_225_600_500)
        );
        assert_eq!(
            parse_millis("2026-01-01T00:00:00.123456Z"),
            Some(1_767_225_600_123)
        );
        assert_eq!(parse_millis("2026-01-01T00:00:00.Z"), None);
    }

    // Issue #9, item 15: days, seconds and offsets that do not exist.
    #[test]
    fn service_times_have_seven_trimmed_digits_and_an_offset() {
        let service = |ms: i64, ticks: u16| {
            let mut out = Vec::new();
            write_service_time(&mut out, &TimeWriter::default().millis(ms), ticks);
            String::from_utf8(out).unwrap()
        };
        let at = 1_750_454_726_247; // 2025-06-20T21:25:26.247Z
        assert_eq!(service(at, 8196), "2025-06-20T21:25:26.2478196+00:00");
        assert_eq!(service(at, 8190), "2025-06-20T21:25:26.247819+00:00");
        assert_eq!(service(at, 0), "2025-06-20T21:25:26.247+00:00");
        assert_eq!(service(at - 247, 0), "2025-06-20T21:25:26+00:00");
        assert_eq!(service(at - 247, 5), "2025-06-20T21:25:26.0000005+00:00");
        // Readers at millisecond precision read the same instant.
        assert_eq!(parse_millis(&service(at, 9999)), Some(at));
    }

    #[test]
    fn times_that_do_not_exist_are_refused() {
        for bad in [
            "2026-02-31T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-01T23:59:60Z",
            "2026-01-01T00:00:00+99:99",
            "2026-01-01T00:00:00+24:00",
            "2026-01-01T00:00:00-05:60",
        ] {
            assert_eq!(parse_millis(bad), None, "{bad}");
        }
        assert!(parse_millis("2028-02-29T00:00:00Z").is_some());
        assert!(parse_millis("2000-02-29T00:00:00Z").is_some());
        assert_eq!(parse_millis("1900-02-29T00:00:00Z"), None);
        assert!(parse_millis("2026-01-01T00:00:00-23:59").is_some());
    }

    #[test]
    fn matches_humantime_across_dates() {
        for &ms in &[
            0i64,
            951_782_400_123,
            1_767_225_600_000,
            1_709_164_799_999,
            4_102_444_800_001,
        ] {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms as u64);
            assert_eq!(fmt(ms), humantime::format_rfc3339_millis(t).to_string());
        }
    }
}

#[cfg(test)]
mod range {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_limits_are_the_instants_they_name() {
        assert_eq!(parse_millis("9999-12-31T23:59:59.999Z"), Some(LAST_MILLIS));
        assert_eq!(parse_millis("0000-01-01T00:00:00.000Z"), Some(FIRST_MILLIS));
        assert_eq!(
            parse_millis("9999-12-30T23:59:59.999Z"),
            Some(crate::model::LAST_EVENT_MS)
        );
    }

    #[test]
    fn whole_seconds_outside_the_four_digit_years_are_written_expanded_never_clamped() {
        let text = |ms| {
            let mut out = Vec::new();
            TimeWriter::write_seconds(&mut out, ms);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(LAST_MILLIS), "9999-12-31T23:59:59Z");
        assert_eq!(text(LAST_MILLIS + 1), "+10000-01-01T00:00:00Z");
        assert_eq!(text(FIRST_MILLIS), "0000-01-01T00:00:00Z");
        assert_eq!(text(FIRST_MILLIS - 1000), "-0001-12-31T23:59:59Z");
        // A peer's most extreme times do not panic.
        for ms in [i64::MIN, i64::MIN / 2, i64::MAX] {
            assert!(parse_millis(&text(ms)).is_none(), "{}", text(ms));
        }
    }

    // Issue #20, item 7: the year was clamped, so 10000-01-01 was written
    // as 9999-01-01, a timestamp that reads as a right one.
    #[test]
    #[should_panic(expected = "year 10000 has no RFC 3339 text")]
    fn a_time_past_the_last_year_is_never_written_as_another() {
        TimeWriter::default().millis(LAST_MILLIS + 1);
    }

    proptest! {
        // The calendar arithmetic against a well-kept date crate, over
        // every year RFC 3339 can write, and back through the parser.
        #[test]
        fn writer_and_parser_agree_with_the_time_crate(ms in FIRST_MILLIS..=LAST_MILLIS) {
            let text = TimeWriter::default().millis(ms);
            let text = std::str::from_utf8(&text).unwrap();
            let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap();
            let want = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            );
            prop_assert_eq!(text, want.as_str());
            prop_assert_eq!(parse_millis(text), Some(ms));
        }
    }
}
