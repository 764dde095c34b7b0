//! Finds the line:column of the value at a JSON path in source text.
//! serde_json reports positions only for syntax and type errors; semantic
//! problems (probabilities, ordering) need this to point into the file.
//! The text has already parsed as JSON, so the scanner may assume it is
//! well formed and only has to skip values it does not descend into.

use super::diagnostic::{JsonPath, Segment};

/// 1-based (line, column) of the value at `path`, or of the deepest
/// existing ancestor when the path names something missing.
pub(crate) fn locate(text: &str, path: &JsonPath) -> (usize, usize) {
    let bytes = text.as_bytes();
    let mut pos = skip_ws(bytes, 0);
    for seg in &path.0 {
        match find_child(bytes, pos, seg) {
            Some(child) => pos = child,
            None => break,
        }
    }
    line_col(text, pos)
}

fn line_col(text: &str, pos: usize) -> (usize, usize) {
    line_col_of_offset(text.as_bytes(), pos)
}

/// 1-based (line, column) of a byte offset; columns count characters.
pub(super) fn line_col_of_offset(bytes: &[u8], pos: usize) -> (usize, usize) {
    let before = &bytes[..pos.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, col)
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Position of the child value of the container at `pos`.
fn find_child(b: &[u8], pos: usize, seg: &Segment) -> Option<usize> {
    match (b.get(pos)?, seg) {
        (b'{', Segment::Key(key)) => {
            let mut i = skip_ws(b, pos + 1);
            while b.get(i) == Some(&b'"') {
                let end = skip_string(b, i);
                let name = &b[i + 1..end - 1];
                i = skip_ws(b, end);
                i = skip_ws(b, i + 1); // the ':'
                if name == key.as_bytes() {
                    return Some(i);
                }
                i = skip_ws(b, skip_value(b, i));
                if b.get(i) == Some(&b',') {
                    i = skip_ws(b, i + 1);
                }
            }
            None
        }
        (b'[', Segment::Index(want)) => {
            let mut i = skip_ws(b, pos + 1);
            let mut n = 0;
            while i < b.len() && b[i] != b']' {
                if n == *want {
                    return Some(i);
                }
                i = skip_ws(b, skip_value(b, i));
                if b.get(i) == Some(&b',') {
                    i = skip_ws(b, i + 1);
                }
                n += 1;
            }
            None
        }
        _ => None,
    }
}

/// Index just past the string starting at `i` (which is a `"`).
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// Index just past the value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> usize {
    match b.get(i) {
        Some(b'"') => skip_string(b, i),
        Some(b'{') | Some(b'[') => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = skip_string(b, j);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return j + 1;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            b.len()
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']') && !b[j].is_ascii_whitespace()
            {
                j += 1;
            }
            j
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_past_strings_with_brackets() {
        let text = "{\n  \"a\": \"x]}\\\"\",\n  \"flows\": [\n    {\"n\": 1},\n    {\"steps\": [true, {\"k\": 7}]}\n  ]\n}";
        let p = JsonPath::default()
            .key("flows")
            .index(1)
            .key("steps")
            .index(1)
            .key("k");
        assert_eq!(locate(text, &p), (5, 28));
        // A missing key points at its deepest existing ancestor.
        let missing = JsonPath::default().key("flows").index(0).key("zzz");
        assert_eq!(locate(text, &missing), (4, 5));
    }
}
