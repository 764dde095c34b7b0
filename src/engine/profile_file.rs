//! Custom `--profile FILE`s: points of (time of day, factor of `--rate`),
//! as CSV (`07:30,0.4` rows, an optional `time,rate` header, `#`
//! comments) or as a JSON array of `{"time": "07:30", "rate": 0.4}`. A
//! file is JSON when it starts with `[`, so its name does not matter.
//! Every problem names the file, the line and the field, since a profile
//! is typed by hand from a spreadsheet or a chart.

use super::profile::{DayCurve, Profile, TimeOfDay};
use crate::scenario::{JsonPath, locate};
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a profile file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProfileError {
    #[error("{}: {at}, field {field}: {reason}", file.display())]
    Field {
        file: PathBuf,
        at: Place,
        field: String,
        reason: String,
    },
    #[error("{}: {at}: {reason}", file.display())]
    Line {
        file: PathBuf,
        at: Place,
        reason: String,
    },
    #[error(
        "{}: no points; write one `time,rate` row per point (e.g. 07:30,0.4), or a JSON array \
         of {{\"time\": \"07:30\", \"rate\": 0.4}}",
        file.display()
    )]
    NoPoints { file: PathBuf },
    #[error(
        "{}: every rate is 0, so no call would ever start; give at least one point a rate \
         above 0",
        file.display()
    )]
    AllZero { file: PathBuf },
}

/// Where in the file: a line, and for JSON the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Place {
    line: usize,
    column: Option<usize>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(column) = self.column {
            write!(f, " column {column}")?;
        }
        Ok(())
    }
}

/// A point as read, with where its time was written (for the order check).
struct Point {
    at: Place,
    time: u32,
    rate: f64,
}

/// Reads a profile file's bytes; `file` is used in messages only.
pub(crate) fn parse(file: &Path, bytes: &[u8]) -> Result<Profile, ProfileError> {
    let line_error = |at, reason: &str| ProfileError::Line {
        file: file.to_path_buf(),
        at,
        reason: reason.to_string(),
    };
    // Spreadsheets on Windows start UTF-8 files with a byte order mark.
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(text).map_err(|e| {
        let line = text[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        let at = Place { line, column: None };
        line_error(
            at,
            "not UTF-8 text; save the profile as UTF-8 (CSV or JSON)",
        )
    })?;
    let points = if text.trim_start().starts_with('[') {
        json_points(file, text)?
    } else {
        csv_points(file, text)?
    };
    if points.is_empty() {
        return Err(ProfileError::NoPoints {
            file: file.to_path_buf(),
        });
    }
    for pair in points.windows(2) {
        if pair[1].time <= pair[0].time {
            return Err(ProfileError::Field {
                file: file.to_path_buf(),
                at: pair[1].at,
                field: "time".into(),
                reason: format!(
                    "{} is not after the point before it ({}); list the points in time order, \
                     each time once",
                    TimeOfDay(pair[1].time),
                    TimeOfDay(pair[0].time)
                ),
            });
        }
    }
    if points.iter().all(|p| p.rate == 0.0) {
        return Err(ProfileError::AllZero {
            file: file.to_path_buf(),
        });
    }
    let points = points.iter().map(|p| (p.time, p.rate)).collect();
    Ok(Profile::Custom(DayCurve::checked(points)))
}

fn csv_points(file: &Path, text: &str) -> Result<Vec<Point>, ProfileError> {
    let mut points = Vec::new();
    let mut header_allowed = true;
    for (index, line) in text.lines().enumerate() {
        let at = Place {
            line: index + 1,
            column: None,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if std::mem::take(&mut header_allowed)
            && fields.len() == 2
            && fields[0].eq_ignore_ascii_case("time")
            && fields[1].eq_ignore_ascii_case("rate")
        {
            continue;
        }
        let [time, rate] = fields[..] else {
            return Err(ProfileError::Line {
                file: file.to_path_buf(),
                at,
                reason: format!(
                    "{} fields where a row has 2, time,rate (e.g. 07:30,0.4)",
                    fields.len()
                ),
            });
        };
        let field = |field: &str, reason| ProfileError::Field {
            file: file.to_path_buf(),
            at,
            field: field.into(),
            reason,
        };
        points.push(Point {
            at,
            time: time_of_day(time).map_err(|reason| field("time", reason))?,
            rate: factor(rate).map_err(|reason| field("rate", reason))?,
        });
    }
    Ok(points)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonPoint {
    time: JsonTime,
    rate: JsonRate,
}

#[derive(serde::Deserialize)]
#[serde(try_from = "String")]
struct JsonTime(u32);

impl TryFrom<String> for JsonTime {
    type Error = String;
    fn try_from(text: String) -> Result<JsonTime, String> {
        time_of_day(&text).map(JsonTime)
    }
}

#[derive(serde::Deserialize)]
#[serde(try_from = "f64")]
struct JsonRate(f64);

impl TryFrom<f64> for JsonRate {
    type Error = String;
    fn try_from(rate: f64) -> Result<JsonRate, String> {
        // JSON has no NaN or infinity: only the sign is left to check.
        if rate >= 0.0 {
            Ok(JsonRate(rate))
        } else {
            Err(not_a_rate(rate))
        }
    }
}

fn json_points(file: &Path, text: &str) -> Result<Vec<Point>, ProfileError> {
    let error = |field: Option<String>, err: &serde_json::Error| {
        let at = Place {
            line: err.line(),
            column: Some(err.column()),
        };
        // serde_json ends its messages with the position, given above.
        let message = err.to_string();
        let reason = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m)
            .to_string();
        let file = file.to_path_buf();
        match field {
            Some(field) => ProfileError::Field {
                file,
                at,
                field,
                reason,
            },
            None => ProfileError::Line { file, at, reason },
        }
    };
    let de = &mut serde_json::Deserializer::from_str(text);
    let read: Vec<JsonPoint> = serde_path_to_error::deserialize(&mut *de).map_err(|err| {
        let field = err
            .path()
            .iter()
            .next_back()
            .and_then(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                _ => None,
            });
        error(field, err.inner())
    })?;
    de.end().map_err(|err| error(None, &err))?;
    Ok(read
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let (line, column) = locate(text, &JsonPath::default().index(i).key("time"));
            Point {
                at: Place {
                    line,
                    column: Some(column),
                },
                time: p.time.0,
                rate: p.rate.0,
            }
        })
        .collect())
}

/// `HH:MM` or `HH:MM:SS`, 00:00 to 23:59:59, in milliseconds.
fn time_of_day(text: &str) -> Result<u32, String> {
    let number = |part: &str, max: u32, widths: &[usize]| {
        let digits = widths.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
        part.parse::<u32>().ok().filter(|&n| digits && n <= max)
    };
    let parts: Vec<&str> = text.split(':').collect();
    let hms = match parts[..] {
        [h, m] => Some((number(h, 23, &[1, 2]), number(m, 59, &[2]), Some(0))),
        [h, m, s] => Some((
            number(h, 23, &[1, 2]),
            number(m, 59, &[2]),
            number(s, 59, &[2]),
        )),
        _ => None,
    };
    match hms {
        Some((Some(h), Some(m), Some(s))) => Ok(((h * 60 + m) * 60 + s) * 1000),
        _ if parts[0] == "24" => Err(format!(
            "{text:?} is the next day's 00:00; the curve wraps at midnight, so write 00:00"
        )),
        _ => Err(format!(
            "{text:?} is not a time of day; write HH:MM or HH:MM:SS, 00:00 to 23:59:59"
        )),
    }
}

/// A factor of `--rate`: a number, 0 or more.
fn factor(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(rate),
        _ => Err(not_a_rate(format!("{text:?}"))),
    }
}

fn not_a_rate(written: impl fmt::Display) -> String {
    format!("{written} is not a rate; write a factor of --rate, 0 or more (e.g. 0.4)")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS_0730: u32 = 27_000_000;
    const MS_1200: u32 = 43_200_000;

    fn parsed(name: &str, text: &[u8]) -> Result<Profile, String> {
        parse(Path::new(name), text).map_err(|e| e.to_string())
    }

    fn custom(points: &[(u32, f64)]) -> Result<Profile, String> {
        Ok(Profile::Custom(DayCurve::checked(points.to_vec())))
    }

    #[test]
    fn csv_rows_with_a_header_comments_and_a_bom() {
        let text = "\u{feff}# a hand-typed day\ntime,rate\n\n 07:30 , 0.4\n12:00,1\r\n23:59:59,0\n";
        assert_eq!(
            parsed("day.csv", text.as_bytes()),
            custom(&[(MS_0730, 0.4), (MS_1200, 1.0), (86_399_000, 0.0)])
        );
    }

    #[test]
    fn a_json_array_gives_the_same_points_whatever_the_file_name() {
        let text = r#"[{"time": "07:30", "rate": 0.4}, {"time": "12:00", "rate": 1}]"#;
        assert_eq!(
            parsed("day.txt", text.as_bytes()),
            custom(&[(MS_0730, 0.4), (MS_1200, 1.0)])
        );
    }

    #[test]
    fn csv_errors_name_the_file_line_and_field() {
        let cases = [
            (
                "time,rate\n07:30,0.4\n25:00,1\n",
                "day.csv: line 3, field time: \"25:00\" is not a time of day; write HH:MM or \
                 HH:MM:SS, 00:00 to 23:59:59",
            ),
            (
                "24:00,1\n",
                "day.csv: line 1, field time: \"24:00\" is the next day's 00:00; the curve wraps \
                 at midnight, so write 00:00",
            ),
            (
                "07:30,lots\n",
                "day.csv: line 1, field rate: \"lots\" is not a rate; write a factor of --rate, 0 \
                 or more (e.g. 0.4)",
            ),
            (
                "07:30,-1\n",
                "day.csv: line 1, field rate: \"-1\" is not a rate",
            ),
            (
                "07:30,NaN\n",
                "day.csv: line 1, field rate: \"NaN\" is not a rate",
            ),
            (
                "07:30,inf\n",
                "day.csv: line 1, field rate: \"inf\" is not a rate",
            ),
            (
                "7:3,1\n",
                "day.csv: line 1, field time: \"7:3\" is not a time of day",
            ),
            (
                "07:30:5,1\n",
                "day.csv: line 1, field time: \"07:30:5\" is not a time",
            ),
            (
                "+7:30,1\n",
                "day.csv: line 1, field time: \"+7:30\" is not a time",
            ),
            (
                "# c\n07:30;0.4\n",
                "day.csv: line 2: 1 fields where a row has 2, time,rate (e.g. 07:30,0.4)",
            ),
            (
                "07:30,0.4,x\n",
                "day.csv: line 1: 3 fields where a row has 2",
            ),
            (
                "12:00,1\n\n07:30,0.4\n",
                "day.csv: line 3, field time: 07:30 is not after the point before it (12:00); \
                 list the points in time order, each time once",
            ),
            (
                "12:00,1\n12:00,0.5\n",
                "day.csv: line 2, field time: 12:00 is not after",
            ),
            // A header is a first row only.
            (
                "07:30,1\ntime,rate\n",
                "day.csv: line 2, field time: \"time\" is not a time",
            ),
            (
                "",
                "day.csv: no points; write one `time,rate` row per point",
            ),
            ("time,rate\n# none yet\n", "day.csv: no points"),
            (
                "07:30,0\n12:00,0\n",
                "day.csv: every rate is 0, so no call would ever start",
            ),
        ];
        for (text, message) in cases {
            let got = parsed("day.csv", text.as_bytes()).unwrap_err();
            assert!(
                got.starts_with(message),
                "{text:?}\n got: {got}\nwant: {message}"
            );
        }
    }

    #[test]
    fn json_errors_name_the_file_line_and_field() {
        let cases = [
            (
                "[\n  {\"time\": \"07:30\", \"rate\": 0.4},\n  {\"time\": \"7h\", \"rate\": 1}\n]",
                "day.json: line 3 column 15, field time: \"7h\" is not a time of day",
            ),
            (
                "[\n  {\"time\": \"07:30\", \"rate\": \"0.4\"}\n]",
                "day.json: line 2 column 33, field rate: invalid type: string \"0.4\", expected f64",
            ),
            (
                "[\n  {\"time\": \"07:30\", \"rate\": -2}\n]",
                "day.json: line 2 column 31, field rate: -2 is not a rate",
            ),
            (
                "[\n  {\"time\": \"07:30\"}\n]",
                "day.json: line 2 column 19: missing field `rate`",
            ),
            (
                "[\n  {\"time\": \"07:30\", \"rate\": 1, \"note\": 2}\n]",
                "day.json: line 2 column 37, field note: unknown field `note`, expected `time` or \
                 `rate`",
            ),
            (
                "[\n  {\"time\": \"07:30\", \"rate\": 1},\n]",
                "day.json: line 3 column 1: trailing comma",
            ),
            (
                "[{\"time\": \"07:30\", \"rate\": 1}] x",
                "day.json: line 1 column 32: trailing characters",
            ),
            (
                "[\n  {\"time\": \"12:00\", \"rate\": 1},\n  {\"time\": \"07:30\", \"rate\": 1}\n]",
                "day.json: line 3 column 12, field time: 07:30 is not after the point before it \
                 (12:00)",
            ),
            ("[]", "day.json: no points"),
        ];
        for (text, message) in cases {
            let got = parsed("day.json", text.as_bytes()).unwrap_err();
            assert!(
                got.starts_with(message),
                "{text:?}\n got: {got}\nwant: {message}"
            );
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused_with_their_line() {
        let got = parsed("day.csv", b"07:30,0.4\n12:00,\xff\n").unwrap_err();
        assert_eq!(
            got,
            "day.csv: line 2: not UTF-8 text; save the profile as UTF-8 (CSV or JSON)"
        );
    }
}
