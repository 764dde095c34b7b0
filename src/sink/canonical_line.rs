//! The NDJSON line as callmetrics' own encoders write it, read without
//! serde: keys in their order, no whitespace, no escapes, ASCII only,
//! `"value":1`. Parsing JSON is the sink's main cost and nearly every line
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
    let mut r = Reader { rest: line };
    r.expect(b"{\"metric\":")?;
    let metric = r.string()?;
    r.expect(b",\"time\":")?;
    let time = r.string()?;
    r.expect(b",\"dimensions\":{")?;
    let mut dimensions = DimensionText::default();
    if !r.eat(b"}") {
        loop {
            let key = r.string()?;
            r.expect(b":")?;
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
            if r.eat(b"}") {
                break;
            }
            r.expect(b",")?;
        }
    }
    r.expect(b",\"value\":1")?;
    let latency_ms = if r.eat(b",\"latencyMs\":") {
        Some(r.integer()?)
    } else {
        None
    };
    r.expect(b"}")?;
    r.rest.is_empty().then_some(Fields {
        metric,
        time,
        dimensions,
        latency_ms,
    })
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn eat(&mut self, token: &[u8]) -> bool {
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, token: &[u8]) -> Option<()> {
        self.eat(token).then_some(())
    }

    /// A string of printable ASCII without escapes.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b"\"")?;
        let end = self.rest.iter().position(|&b| b == b'"')?;
        let (text, rest) = self.rest.split_at(end);
        if !text
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
        {
            return None;
        }
        self.rest = &rest[1..];
        std::str::from_utf8(text).ok()
    }

    /// A JSON integer that fits a u64: digits, no leading zero, no sign,
    /// fraction or exponent (serde reads those otherwise).
    fn integer(&mut self) -> Option<u64> {
        let digits = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let text = &self.rest[..digits];
        if digits == 0 || (digits > 1 && text[0] == b'0') {
            return None;
        }
        if matches!(self.rest.get(digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let value = std::str::from_utf8(text).ok()?.parse().ok()?;
        self.rest = &self.rest[digits..];
        Some(value)
    }
}
