//! Aligned text columns, shared by the overview table and the per-mismatch
//! expected/observed blocks.

use std::io::{self, Write};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Align {
    Left,
    Right,
}

/// Writes `header` then `rows`, each column padded to its widest cell and
/// aligned as `align` says, two spaces apart; trailing spaces trimmed.
pub(super) fn write_columns<W: Write + ?Sized, const N: usize>(
    out: &mut W,
    indent: &str,
    align: [Align; N],
    header: &[String; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let widths: Vec<usize> = (0..N)
        .map(|i| {
            rows.iter()
                .chain([header])
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in [header].into_iter().chain(rows) {
        let mut line = String::from(indent);
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.len());
            match align[i] {
                Align::Left => {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
