//! How commands write files they are asked for (--expected-out,
//! --summary-out, --report): created or replaced whole, errors naming the
//! file.

use anyhow::Context;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub fn write_file(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut file = BufWriter::new(
        File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    write(&mut file).with_context(|| format!("cannot write {}", path.display()))?;
    file.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}
