//! Writing JSON text by hand on the hot path: strings are copied as they
//! are unless they need escaping, numbers go through itoa/ryu.

/// Appends `s` as a JSON string literal.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // serde_json's escaping is correct for every control character;
        // writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

pub fn write_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_only_when_needed() {
        let mut out = Vec::new();
        write_str(&mut out, "plain");
        write_str(&mut out, "say \"hi\"\n");
        assert_eq!(String::from_utf8(out).unwrap(), r#""plain""say \"hi\"\n""#);
    }
}
