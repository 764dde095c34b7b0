//! How commands write files they are asked for (--expected-out,
//! --summary-out, --report): created or replaced whole, errors naming the
//! file; and, before a run that may last for hours, whether they can be.
//! Also the JUnit document a command prints when it ends without a report.

use anyhow::Context;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub(super) fn write_file(
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

/// Refuses, before any work, a file that could not be written at the end:
/// its directory is missing or is not a directory. (The file itself is not
/// created yet: a run that fails early leaves no empty one behind.)
pub(super) fn check_writable(flag: &str, path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        anyhow::bail!(
            "{flag} {}: the directory {} does not exist; create it first (the file is written \
             when the run ends)",
            path.display(),
            dir.display()
        );
    }
    if path.is_dir() {
        anyhow::bail!(
            "{flag} {}: is a directory; give a file name",
            path.display()
        );
    }
    Ok(())
}

/// With `--format junit`, a document whose one test case says why there is
/// no comparison: a CI test publisher shows "no test results" for an empty
/// file, and the reason is what the user needs to see there. `what` is the
/// sentence's subject ("the check could not be carried out").
pub(super) fn junit_failure(what: &str, error: &anyhow::Error) {
    let why = format!("{what}: {}", crate::error_text::error_text(error.as_ref()));
    let mut out = std::io::stdout().lock();
    if let Err(written) = crate::check::junit_error(&why, &mut out).and_then(|()| out.flush()) {
        eprintln!("warning: no JUnit output: {written}");
    }
}
