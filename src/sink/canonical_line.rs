//! The NDJSON line as callmetrics' own encoders write it, read without
//! serde: keys in their order, no whitespace, no escapes or control
//! characters, `"value":1`.
//! Parsing JSON is the sink's main cost and nearly every line
//! a load test sends has this exact shape; any other line (payloads,
//! another key order, an escape, an error to report) returns `None` and is
//! read by serde, so what a line means never depends on which path read it
//! (`tests` compare both over mutated lines, the `ingest` fuzz target over
//! arbitrary ones).

use super::sample::DimensionText;

/// A canonical line's fields.
#[derive(Debug, PartialEq)]
pub(super) struct Fields<'a> {
    pub metric: &'a str,
    pub time: &'a str,
    pub dimensions: DimensionText<'a>,
    pub latency_ms: Option<u64>,
}

/// The fields of `line` if it has the canonical shape.
pub(super) fn read(line: &[u8]) -> Option<Fields<'_>> {
    // Checked once for the line, not per string.
    let line = std::str::from_utf8(line).ok()?;
    let mut r = Reader { rest: line };
    r.expect("{\"metric\":")?;
    let metric = r.string()?;
    r.expect(",\"time\":")?;
    let time = r.string()?;
    r.expect(",\"dimensions\":{")?;
    let mut dimensions = DimensionText::default();
    if !r.eat("}") {
        loop {
            let key = r.string()?;
            r.expect(":")?;
            let value = r.string()?;
            let slot = match key {
                "Operation" => &mut dimensions.operation,
                "StatusCode" => &mut dimensions.status_code,
                "StatusCodeClass" | "StatusSubClass" => &mut dimensions.status_class,
                "ApiVersion" => &mut dimensions.api_version,
                "EventTypeName" => &mut dimensions.event_type,
                "Code" => &mut dimensions.code,
                "CodeClass" => &mut dimensions.code_class,
                "SubCode" => &mut dimensions.sub_code,
                "Version" => &mut dimensions.version,
                _ => return None,
            };
            // serde refuses a key given twice: so does it, not this.
            if slot.replace(value).is_some() {
                return None;
            }
            if r.eat("}") {
                break;
            }
            r.expect(",")?;
        }
    }
    r.expect(",\"value\":1")?;
    let latency_ms = if r.eat(",\"latencyMs\":") {
        Some(r.integer()?)
    } else {
        None
    };
    r.expect("}")?;
    r.rest.is_empty().then_some(Fields {
        metric,
        time,
        dimensions,
        latency_ms,
    })
}

struct Reader<'a> {
    rest: &'a str,
}

impl<'a> Reader<'a> {
    fn eat(&mut self, token: &str) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, token: &str) -> Option<()> {
        self.eat(token).then_some(())
    }

    /// A string without escapes or control characters (serde takes those
    /// apart; any other character it reads as it is, as this does).
    fn string(&mut self) -> Option<&'a str> {
        self.expect("\"")?;
        let bytes = self.rest.as_bytes();
        let end = bytes
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if bytes[end] != b'"' {
            return None;
        }
        // Cut at an ASCII quote, so on a character boundary.
        let (text, rest) = self.rest.split_at(end);
        self.rest = &rest[1..];
        Some(text)
    }

    /// A JSON integer that fits a u64: digits, no leading zero, no sign,
    /// fraction or exponent (serde reads those otherwise).
    fn integer(&mut self) -> Option<u64> {
        let bytes = self.rest.as_bytes();
        let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || (digits > 1 && bytes[0] == b'0') {
            return None;
        }
        if matches!(bytes.get(digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let (text, rest) = self.rest.split_at(digits);
        let value = text.parse().ok()?;
        self.rest = rest;
        Some(value)
    }
}
