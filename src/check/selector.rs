//! `--match`: a PromQL label selector (`{job="acs-app", instance=~"a.*"}`)
//! that keeps another app, an HA replica or an earlier run writing the same
//! names out of a check. Parsed once, here, and rendered for each backend:
//! as PromQL matchers, and as the same condition in InfluxQL.
//!
//! Regexes are not validated here (there is no regex engine in the crate):
//! the server refuses a bad one, and its message reaches the user.

use std::fmt::Write;

/// Label matchers, all of which a series must meet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Selector {
    matchers: Vec<Matcher>,
}

/// One `label OP "value"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Matcher {
    pub label: String,
    pub op: MatchOp,
    /// The value as meant, escapes resolved.
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`, the whole value (PromQL anchors regexes).
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    fn promql(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

const EXAMPLE: &str =
    r#"write it as a PromQL label selector, e.g. --match '{job="acs-app", instance=~"app-.*"}'"#;

/// A `--match` that is not a selector: the text, what is wrong with it,
/// and how to write one.
#[derive(Debug, thiserror::Error)]
#[error("--match '{text}': {problem}; {EXAMPLE}")]
pub struct SelectorError {
    text: String,
    problem: SelectorProblem,
}

/// What is wrong with a `--match`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SelectorProblem {
    #[error("a selector starts with '{{'")]
    NoOpeningBrace,
    #[error(
        "{0:?} before the braces is a metric name, which --match does not take (the mapping \
         names the metric): give the labels only"
    )]
    MetricName(String),
    #[error("no closing '}}'")]
    NoClosingBrace,
    #[error("expected ',' or '}}' at {0:?}")]
    NoSeparator(char),
    #[error("{0:?} after the closing '}}' (one selector only)")]
    AfterTheBraces(String),
    #[error("no matcher between the braces")]
    NoMatcher,
    #[error("{found:?} at byte {at} where a label name ([a-zA-Z_][a-zA-Z0-9_]*) should be")]
    NoLabel { found: char, at: usize },
    #[error("__name__ matches the metric name, which the mapping gives")]
    MetricNameLabel,
    #[error("after the label {0}, expected one of =, !=, =~, !~")]
    NoOperator(String),
    #[error("the value of {label}: {problem}")]
    Value {
        label: String,
        problem: Box<SelectorProblem>,
    },
    #[error("the regex of {0} ends in a lone backslash, which escapes nothing")]
    LoneBackslash(String),
    #[error("a value is quoted: \"..\", '..' or `..`")]
    Unquoted,
    #[error("no closing quote")]
    EndsInEscape,
    #[error("a line break inside the quotes")]
    LineBreak,
    #[error("no closing {0}")]
    NoClosingQuote(char),
    #[error("\\{escape}{digits} is not a valid escape")]
    BadDigits { escape: char, digits: String },
    #[error("\\{escape}{digits} is not a character")]
    NotACharacter { escape: char, digits: String },
    #[error("\\{0}.. is not a 3-digit octal escape")]
    BadOctal(char),
    #[error("octal escape \\{0}.. is not a character")]
    OctalNotACharacter(char),
    #[error(
        "\\{escape} is not an escape PromQL knows (\\\\, \\{quote}, \\n, \\t, \\xHH, \\uHHHH, ..)"
    )]
    UnknownEscape { escape: char, quote: char },
}

impl Selector {
    /// Parses a PromQL label selector `{job="acs-app", instance=~"a.*"}`:
    /// braces required, at least one matcher, label names
    /// `[a-zA-Z_][a-zA-Z0-9_]*`, values in `".."`, `'..'` or `` `..` ``
    /// quotes with PromQL's escapes. A metric name before the brace is
    /// refused: the mapping names the metric. The error names `--match`,
    /// says what is wrong and how to write it.
    pub(crate) fn parse(text: &str) -> Result<Selector, SelectorError> {
        let fail = |problem| SelectorError {
            text: text.to_string(),
            problem,
        };
        let mut p = Parser {
            rest: text.trim(),
            at: 0,
        };
        if !p.rest.starts_with('{') {
            let name: String = p
                .rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "_:".contains(*c))
                .collect();
            let before_brace = p.rest[name.len()..].trim_start().starts_with('{');
            return Err(fail(if name.is_empty() || !before_brace {
                SelectorProblem::NoOpeningBrace
            } else {
                SelectorProblem::MetricName(name)
            }));
        }
        p.bump(1);
        let mut matchers = Vec::new();
        loop {
            p.skip_space();
            if p.eat('}') {
                break;
            }
            matchers.push(p.matcher().map_err(&fail)?);
            p.skip_space();
            if p.eat(',') {
                continue;
            }
            if p.eat('}') {
                break;
            }
            return Err(fail(match p.rest.chars().next() {
                None => SelectorProblem::NoClosingBrace,
                Some(c) => SelectorProblem::NoSeparator(c),
            }));
        }
        p.skip_space();
        if !p.rest.is_empty() {
            return Err(fail(SelectorProblem::AfterTheBraces(p.rest.to_string())));
        }
        if matchers.is_empty() {
            return Err(fail(SelectorProblem::NoMatcher));
        }
        Ok(Selector { matchers })
    }

    #[cfg(test)]
    pub(crate) fn matchers(&self) -> &[Matcher] {
        &self.matchers
    }

    /// The matchers as PromQL, for inside braces without the braces:
    /// `job="acs-app",instance=~"a.*"`.
    pub(crate) fn promql(&self) -> String {
        let parts: Vec<String> = self
            .matchers
            .iter()
            .map(|m| format!("{}{}{}", m.label, m.op.promql(), promql_string(&m.value)))
            .collect();
        parts.join(",")
    }

    /// The same condition in InfluxQL: `"job" = 'acs-app' AND "instance" =~
    /// /^(?:a.*)$/`. Regexes are anchored, since InfluxQL's match anywhere
    /// and PromQL's match the whole value.
    pub(crate) fn influxql(&self) -> String {
        let parts: Vec<String> = self
            .matchers
            .iter()
            .map(|m| {
                let tag = format!("\"{}\"", m.label);
                match m.op {
                    MatchOp::Equal => format!("{tag} = {}", influxql_string(&m.value)),
                    MatchOp::NotEqual => format!("{tag} != {}", influxql_string(&m.value)),
                    MatchOp::Regex => format!("{tag} =~ {}", influxql_regex(&m.value)),
                    MatchOp::NotRegex => format!("{tag} !~ {}", influxql_regex(&m.value)),
                }
            })
            .collect();
        parts.join(" AND ")
    }
}

/// A double-quoted PromQL string holding exactly `value`.
fn promql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A single-quoted InfluxQL string holding exactly `value`.
fn influxql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `/^(?:regex)$/`. InfluxQL's scanner ends the literal at the first `/`
/// not preceded by a backslash and passes every other escape on to the
/// regex engine: an escape pair is copied whole (`\/` reaches the engine
/// as `/`, which means the same), a bare `/` is escaped.
fn influxql_regex(regex: &str) -> String {
    let mut out = String::with_capacity(regex.len() + 10);
    out.push_str("/^(?:");
    let mut chars = regex.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push('\\');
                // parse() refuses a trailing lone backslash.
                out.extend(chars.next());
            }
            '/' => out.push_str("\\/"),
            c => out.push(c),
        }
    }
    out.push_str(")$/");
    out
}

struct Parser<'a> {
    rest: &'a str,
    /// Bytes consumed, for messages.
    at: usize,
}

impl Parser<'_> {
    fn bump(&mut self, bytes: usize) {
        self.rest = &self.rest[bytes..];
        self.at += bytes;
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest.trim_start();
        self.bump(self.rest.len() - trimmed.len());
    }

    fn eat(&mut self, c: char) -> bool {
        let found = self.rest.starts_with(c);
        if found {
            self.bump(c.len_utf8());
        }
        found
    }

    fn matcher(&mut self) -> Result<Matcher, SelectorProblem> {
        let name_len = self
            .rest
            .char_indices()
            .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
            .map_or(self.rest.len(), |(i, _)| i);
        if name_len == 0 {
            return Err(match self.rest.chars().next() {
                Some(found) => SelectorProblem::NoLabel { found, at: self.at },
                None => SelectorProblem::NoClosingBrace,
            });
        }
        let label = self.rest[..name_len].to_string();
        self.bump(name_len);
        if label == "__name__" {
            return Err(SelectorProblem::MetricNameLabel);
        }
        self.skip_space();
        let op = [
            ("=~", MatchOp::Regex),
            ("!~", MatchOp::NotRegex),
            ("!=", MatchOp::NotEqual),
            ("=", MatchOp::Equal),
        ]
        .into_iter()
        .find(|(text, _)| self.rest.starts_with(text));
        let Some((op_text, op)) = op else {
            return Err(SelectorProblem::NoOperator(label));
        };
        self.bump(op_text.len());
        self.skip_space();
        let value = self.string().map_err(|problem| SelectorProblem::Value {
            label: label.clone(),
            problem: Box::new(problem),
        })?;
        if matches!(op, MatchOp::Regex | MatchOp::NotRegex) && ends_in_lone_backslash(&value) {
            return Err(SelectorProblem::LoneBackslash(label));
        }
        Ok(Matcher { label, op, value })
    }

    /// A quoted string, escapes resolved.
    fn string(&mut self) -> Result<String, SelectorProblem> {
        let Some(quote) = self.rest.chars().next().filter(|c| "\"'`".contains(*c)) else {
            return Err(SelectorProblem::Unquoted);
        };
        let body = &self.rest[1..];
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                _ if c == quote => {
                    self.bump(1 + i + 1);
                    return Ok(out);
                }
                '\\' if quote != '`' => {
                    let (_, e) = chars.next().ok_or(SelectorProblem::EndsInEscape)?;
                    out.push(escape(e, quote, &mut chars)?);
                }
                '\n' if quote != '`' => return Err(SelectorProblem::LineBreak),
                c => out.push(c),
            }
        }
        Err(SelectorProblem::NoClosingQuote(quote))
    }
}

/// The character of the escape `\e..` (PromQL's, which are Go's), reading
/// the digits that follow from `rest`.
fn escape(e: char, quote: char, rest: &mut std::str::CharIndices) -> Result<char, SelectorProblem> {
    let mut digits = |n: usize, radix: u32| -> Result<char, SelectorProblem> {
        let text: String = rest.by_ref().take(n).map(|(_, c)| c).collect();
        let code = (text.chars().count() == n)
            .then(|| u32::from_str_radix(&text, radix).ok())
            .flatten();
        let Some(code) = code else {
            return Err(SelectorProblem::BadDigits {
                escape: e,
                digits: text,
            });
        };
        char::from_u32(code).ok_or(SelectorProblem::NotACharacter {
            escape: e,
            digits: text,
        })
    };
    Ok(match e {
        'a' => '\u{7}',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        '\\' => '\\',
        c if c == quote => c,
        'x' => digits(2, 16)?,
        'u' => digits(4, 16)?,
        'U' => digits(8, 16)?,
        '0'..='7' => {
            let more = digits(2, 8).map_err(|_| SelectorProblem::BadOctal(e))?;
            let code = e.to_digit(8).unwrap_or(0) * 64 + more as u32;
            char::from_u32(code).ok_or(SelectorProblem::OctalNotACharacter(e))?
        }
        c => return Err(SelectorProblem::UnknownEscape { escape: c, quote }),
    })
}

/// True when `text` ends in an odd run of backslashes.
fn ends_in_lone_backslash(text: &str) -> bool {
    text.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(label: &str, op: MatchOp, value: &str) -> Matcher {
        Matcher {
            label: label.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn parses_selectors() {
        let s = Selector::parse(
            r#" { job = "acs-app" , instance=~'a.*', env!=`x"y`, zone!~"e\\d", } "#,
        )
        .unwrap();
        assert_eq!(
            s.matchers(),
            [
                one("job", MatchOp::Equal, "acs-app"),
                one("instance", MatchOp::Regex, "a.*"),
                one("env", MatchOp::NotEqual, "x\"y"),
                one("zone", MatchOp::NotRegex, "e\\d"),
            ]
        );
        let s = Selector::parse(r#"{a="q\"\\\n\t\x41\u00e9\101", b='it\'s', _c2=""}"#).unwrap();
        assert_eq!(
            s.matchers(),
            [
                one("a", MatchOp::Equal, "q\"\\\n\tAéA"),
                one("b", MatchOp::Equal, "it's"),
                one("_c2", MatchOp::Equal, ""),
            ]
        );
        // Backticks are raw: a backslash is a backslash.
        let s = Selector::parse(r"{a=~`\d+`}").unwrap();
        assert_eq!(s.matchers()[0].value, "\\d+");
    }

    #[test]
    fn refuses_what_is_not_a_selector_and_says_how_to_write_it() {
        for (text, why) in [
            (
                r#"acs_events_total{job="a"}"#,
                "\"acs_events_total\" before the braces is a metric name",
            ),
            (r#"job="a""#, "a selector starts with '{'"),
            ("{}", "no matcher between the braces"),
            ("{ }", "no matcher between the braces"),
            (r#"{job="a""#, "no closing '}'"),
            (r#"{job="a"} x"#, "\"x\" after the closing '}'"),
            (r#"{job="a" instance="b"}"#, "expected ',' or '}' at 'i'"),
            (r#"{job=a}"#, "the value of job: a value is quoted"),
            (r#"{job="a}"#, "the value of job: no closing \""),
            (r#"{job=="a"}"#, "the value of job: a value is quoted"),
            (
                r#"{job<"a"}"#,
                "after the label job, expected one of =, !=, =~, !~",
            ),
            (r#"{1job="a"}"#, "'1' at byte 1 where a label name"),
            (r#"{job-x="a"}"#, "after the label job, expected one of"),
            (r#"{__name__="x"}"#, "__name__ matches the metric name"),
            (r#"{job="\q"}"#, "\\q is not an escape PromQL knows"),
            (r#"{job="\x4"}"#, "\\x4\" is not a valid escape"),
            (r#"{job=~"a\\"}"#, "ends in a lone backslash"),
            ("{job=\"a\nb\"}", "a line break inside the quotes"),
        ] {
            let err = Selector::parse(text).unwrap_err().to_string();
            assert!(err.starts_with(&format!("--match '{text}': ")), "{err}");
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.ends_with(EXAMPLE), "{err}");
        }
    }

    #[test]
    fn renders_as_promql_and_influxql() {
        let s = Selector::parse(r#"{job="acs-app", instance=~"a.*"}"#).unwrap();
        assert_eq!(s.promql(), r#"job="acs-app",instance=~"a.*""#);
        assert_eq!(
            s.influxql(),
            r#""job" = 'acs-app' AND "instance" =~ /^(?:a.*)$/"#
        );
        let s = Selector::parse(
            r#"{a!="it's \"x\"\\", b!~'p/q\\/r', c=`x
y`}"#,
        )
        .unwrap();
        assert_eq!(s.promql(), r#"a!="it's \"x\"\\",b!~"p/q\\/r",c="x\ny""#);
        assert_eq!(
            s.influxql(),
            r#""a" != 'it\'s "x"\\' AND "b" !~ /^(?:p\/q\/r)$/ AND "c" = 'x\ny'"#
        );
        // What promql() writes parses back to the same matchers.
        assert_eq!(Selector::parse(&format!("{{{}}}", s.promql())).unwrap(), s);
    }
}
