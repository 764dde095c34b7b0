//! `catalog` and `schema`: print the vocabulary and the scenario schema.

use super::{CatalogArgs, Outcome};
use std::io::Write;

pub(super) fn run(args: &CatalogArgs) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    crate::catalog::print_catalog(&mut out, args.format, args.naming)?;
    out.flush()?;
    Ok(Outcome::Pass)
}

pub(super) fn schema() -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    out.write_all(crate::scenario::schema().as_bytes())?;
    out.flush()?;
    Ok(Outcome::Pass)
}
