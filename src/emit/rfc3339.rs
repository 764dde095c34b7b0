//! RFC 3339 timestamps with milliseconds ("2026-01-01T00:00:00.123Z"),
//! written straight into a byte buffer. Events arrive in time order, so the
//! date-and-seconds prefix is cached and only the milliseconds change.

#[derive(Default)]
pub struct TimeWriter {
    second: Option<i64>,
    prefix: [u8; 19],
}

impl TimeWriter {
    /// Appends the timestamp of `ms` (Unix milliseconds).
    pub fn write_millis(&mut self, out: &mut Vec<u8>, ms: i64) {
        let second = ms.div_euclid(1000);
        if self.second != Some(second) {
            self.prefix = date_time(second);
            self.second = Some(second);
        }
        let milli = ms.rem_euclid(1000) as u16;
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&[
            b'.',
            b'0' + (milli / 100) as u8,
            b'0' + (milli / 10 % 10) as u8,
            b'0' + (milli % 10) as u8,
            b'Z',
        ]);
    }

    /// Appends the timestamp of a whole second, without milliseconds
    /// ("2026-01-01T00:00:00Z"), as Azure Monitor writes bucket starts.
    pub fn write_seconds(out: &mut Vec<u8>, ms: i64) {
        out.extend_from_slice(&date_time(ms.div_euclid(1000)));
        out.push(b'Z');
    }
}

/// Formats a Unix second as "YYYY-MM-DDTHH:MM:SS" (proleptic Gregorian).
fn date_time(second: i64) -> [u8; 19] {
    let days = second.div_euclid(86_400);
    let secs = second.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut b = *b"0000-00-00T00:00:00";
    let y = y.clamp(0, 9999) as u32;
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
