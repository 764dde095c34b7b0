//! Writing JSON text by hand on the hot path: fixed text as snippets,
//! numbers through itoa.

/// Fixed text copied in whole 64-byte chunks: a constant-size copy compiles
/// to a few vector moves, where a variable-length one is a call into
/// memmove, and lines are assembled from many such pieces (memmove was a
/// tenth of generation time).
pub(crate) struct Snippet {
    chunks: Box<[[u8; 64]]>,
    len: usize,
}

impl Snippet {
    pub(crate) fn new(text: &[u8]) -> Snippet {
        let chunks = text
            .chunks(64)
            .map(|c| {
                let mut chunk = [0u8; 64];
                chunk[..c.len()].copy_from_slice(c);
                chunk
            })
            .collect();
        Snippet {
            chunks,
            len: text.len(),
        }
    }

    /// Appends the text (writing past it, then cutting back).
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let end = out.len() + self.len;
        for chunk in &self.chunks {
            out.extend_from_slice(chunk);
        }
        out.truncate(end);
    }
}

pub(crate) fn write_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_write_exactly_their_text() {
        for n in [0, 1, 63, 64, 65, 200] {
            let text: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            let mut out = b"x".to_vec();
            Snippet::new(&text).write(&mut out);
            out.push(b'y');
            assert_eq!(out, [&b"x"[..], &text, b"y"].concat());
        }
    }
}
