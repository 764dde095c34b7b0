//! The `$filter` of Azure Monitor metric queries: `Dim eq 'v'`, `ne`,
//! `and`, `or`, parentheses, and `Dim eq '*'` to split the result by a
//! dimension. Dimension names match either naming, case-insensitively.

use crate::catalog::{Dimension, Metric, Naming};

/// Longest `$filter` accepted, in bytes.
pub(super) const MAX_LENGTH: usize = 4096;
/// Deepest nesting of parentheses accepted: parsing and matching recurse
/// once per level, and a few thousand levels would overflow the stack.
pub(super) const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Compare {
        dim: Dimension,
        op: Op,
        value: String,
    },
    /// A term on a dimension no metric has, under Azure's
    /// `ValidateDimensions=false`: ignored (it matches every series).
    Ignored,
}

/// A parsed filter: which series match, and which dimensions split.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Filter {
    expr: Option<Expr>,
    pub split: Vec<Dimension>,
    /// Terms on dimensions a series lacks are ignored rather than refused
    /// (Azure's `ValidateDimensions=false`).
    lenient: bool,
}

/// Why a `$filter` is refused.
#[derive(Debug, thiserror::Error)]
pub(super) enum FilterError {
    #[error("unterminated quote starting at position {0}")]
    UnterminatedQuote(usize),
    #[error("parentheses nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("missing `)`")]
    MissingClose,
    #[error("unknown dimension {0:?}")]
    UnknownDimension(String),
    #[error("expected `eq` or `ne` after {0}")]
    NoOperator(String),
    #[error("expected a quoted value after {0}")]
    NoValue(String),
    #[error("`{0} ne '*'` matches nothing; use `eq '*'` to split")]
    NotSplit(String),
    #[error("expected a dimension name or `(`, found {0:?}")]
    NoTerm(Option<Token>),
    #[error("the filter is {0} bytes long; at most {MAX_LENGTH} are accepted")]
    TooLong(usize),
    #[error("unexpected {0:?}")]
    Unexpected(Token),
    #[error("{dimension} is not a dimension of {metric}")]
    NotADimension {
        dimension: &'static str,
        metric: &'static str,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Word(String),
    Text(String),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            '\'' => {
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\'')) if chars.peek().map(|p| p.1) == Some('\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        Some((_, '\'')) => break,
                        Some((_, c)) => text.push(c),
                        None => return Err(FilterError::UnterminatedQuote(i + 1)),
                    }
                }
                out.push(Token::Text(text));
            }
            _ => {
                let mut word = c.to_string();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() || c == '(' || c == ')' || c == '\'' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    depth: usize,
    split: Vec<Dimension>,
    lenient: bool,
}

impl Parser {
    fn keyword(&mut self, k: &str) -> bool {
        if let Some(Token::Word(w)) = self.tokens.get(self.at)
            && w.eq_ignore_ascii_case(k)
        {
            self.at += 1;
            return true;
        }
        false
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.and()?];
        while self.keyword("or") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut items = vec![self.term()?];
        while self.keyword("and") {
            items.push(self.term()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn term(&mut self) -> Result<Expr, FilterError> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Open) => {
                self.at += 1;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(FilterError::TooDeep);
                }
                let e = self.or()?;
                self.depth -= 1;
                if self.tokens.get(self.at) != Some(&Token::Close) {
                    return Err(FilterError::MissingClose);
                }
                self.at += 1;
                Ok(e)
            }
            Some(Token::Word(name)) => {
                self.at += 1;
                let dim = Dimension::from_name(&name);
                if dim.is_none() && !self.lenient {
                    return Err(FilterError::UnknownDimension(name));
                }
                let op = if self.keyword("eq") {
                    Op::Eq
                } else if self.keyword("ne") {
                    Op::Ne
                } else {
                    return Err(FilterError::NoOperator(name));
                };
                let Some(Token::Text(value)) = self.tokens.get(self.at).cloned() else {
                    return Err(FilterError::NoValue(name));
                };
                self.at += 1;
                if value == "*" && op == Op::Ne {
                    return Err(FilterError::NotSplit(name));
                }
                let Some(dim) = dim else {
                    return Ok(Expr::Ignored);
                };
                if value == "*" && !self.split.contains(&dim) {
                    self.split.push(dim);
                }
                Ok(Expr::Compare { dim, op, value })
            }
            other => Err(FilterError::NoTerm(other)),
        }
    }
}

impl Filter {
    pub(super) fn parse(text: &str) -> Result<Filter, FilterError> {
        Filter::parse_as(text, false)
    }

    /// As [`Filter::parse`], but a term on a dimension that is no metric's
    /// or not the series' own is ignored instead of refused.
    pub(super) fn parse_lenient(text: &str) -> Result<Filter, FilterError> {
        Filter::parse_as(text, true)
    }

    fn parse_as(text: &str, lenient: bool) -> Result<Filter, FilterError> {
        if text.trim().is_empty() {
            return Ok(Filter::default());
        }
        if text.len() > MAX_LENGTH {
            return Err(FilterError::TooLong(text.len()));
        }
        let mut p = Parser {
            tokens: tokenize(text)?,
            at: 0,
            depth: 0,
            split: Vec::new(),
            lenient,
        };
        let expr = p.or()?;
        if p.at != p.tokens.len() {
            return Err(FilterError::Unexpected(p.tokens[p.at].clone()));
        }
        Ok(Filter {
            expr: Some(expr),
            split: p.split,
            lenient,
        })
    }

    /// Checks every dimension the filter names belongs to `metric`.
    pub(super) fn check_dimensions(
        &self,
        metric: Metric,
        naming: Naming,
    ) -> Result<(), FilterError> {
        if self.lenient {
            return Ok(());
        }
        let mut named = Vec::new();
        if let Some(e) = &self.expr {
            collect(e, &mut named);
        }
        match named.iter().find(|d| !metric.dimensions().contains(d)) {
            Some(d) => Err(FilterError::NotADimension {
                dimension: d.name(naming),
                metric: metric.name(),
            }),
            None => Ok(()),
        }
    }

    pub(super) fn matches(&self, values: &[(Dimension, String)]) -> bool {
        self.expr
            .as_ref()
            .is_none_or(|e| eval(e, values, self.lenient))
    }
}

fn collect(e: &Expr, out: &mut Vec<Dimension>) {
    match e {
        Expr::Or(items) | Expr::And(items) => items.iter().for_each(|i| collect(i, out)),
        Expr::Compare { dim, .. } => out.push(*dim),
        Expr::Ignored => {}
    }
}

fn eval(e: &Expr, values: &[(Dimension, String)], lenient: bool) -> bool {
    match e {
        Expr::Or(items) => items.iter().any(|i| eval(i, values, lenient)),
        Expr::And(items) => items.iter().all(|i| eval(i, values, lenient)),
        Expr::Ignored => true,
        Expr::Compare { dim, op, value } => {
            if value == "*" {
                return true;
            }
            let actual = values
                .iter()
                .find(|(d, _)| d == dim)
                .map(|(_, v)| v.as_str());
            if actual.is_none() && lenient {
                return true;
            }
            match op {
                Op::Eq => actual == Some(value.as_str()),
                Op::Ne => actual != Some(value.as_str()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Vec<(Dimension, String)> {
        vec![
            (Dimension::Operation, "Play".into()),
            (Dimension::StatusCode, "429".into()),
            (Dimension::StatusCodeClass, "4xx".into()),
        ]
    }

    #[test]
    fn eq_ne_and_or_and_parentheses() {
        let f =
            Filter::parse("Operation eq 'Play' and (StatusCode eq '429' or StatusCode eq '503')")
                .unwrap();
        assert!(f.matches(&values()));
        let f = Filter::parse("Operation ne 'Play' or StatusSubClass eq '4xx'").unwrap();
        assert!(f.matches(&values()));
        let f = Filter::parse("operation EQ 'Recognize'").unwrap();
        assert!(!f.matches(&values()));
        assert!(Filter::parse("").unwrap().matches(&values()));
    }

    #[test]
    fn star_splits_and_matches_everything() {
        let f = Filter::parse("Operation eq '*' and StatusCode eq '429'").unwrap();
        assert_eq!(f.split, vec![Dimension::Operation]);
        assert!(f.matches(&values()));
    }

    // Issue #9, item 9: ~3,000 nested parentheses overflowed the stack and
    // aborted the sink.
    #[test]
    fn deep_nesting_and_long_filters_are_refused() {
        let nested = |n: usize| format!("{}Operation eq 'Play'{}", "(".repeat(n), ")".repeat(n));
        assert!(Filter::parse(&nested(MAX_DEPTH)).is_ok());
        let err = Filter::parse(&nested(MAX_DEPTH + 1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nest deeper than 32"), "{err}");
        let err = Filter::parse(&"(".repeat(100_000)).unwrap_err().to_string();
        assert!(err.contains("at most 4096"), "{err}");
        let long = vec!["Operation eq 'Play'"; 300].join(" or ");
        assert!(
            Filter::parse(&long)
                .unwrap_err()
                .to_string()
                .contains("bytes long")
        );
    }

    #[test]
    fn errors_are_explained() {
        assert!(
            Filter::parse("Opration eq 'Play'")
                .unwrap_err()
                .to_string()
                .contains("unknown dimension")
        );
        assert!(
            Filter::parse("Operation = 'Play'")
                .unwrap_err()
                .to_string()
                .contains("expected `eq` or `ne`")
        );
        assert!(
            Filter::parse("Operation eq 'Play")
                .unwrap_err()
                .to_string()
                .contains("unterminated")
        );
        assert!(
            Filter::parse("(Operation eq 'Play'")
                .unwrap_err()
                .to_string()
                .contains("missing `)`")
        );
        let f = Filter::parse("Code eq '200'").unwrap();
        assert!(
            f.check_dimensions(Metric::ApiRequests, Naming::Azure)
                .is_err()
        );
    }
}
