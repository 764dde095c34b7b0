//! `completions` and `man`: the command line's own documentation, made from
//! the same clap definitions as `--help`, so they cannot drift from it.

use super::{Cli, Outcome};
use anyhow::Context;
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

pub(super) fn completions(shell: clap_complete::Shell) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut Cli::command(), "callmetrics", &mut out);
    out.flush()?;
    Ok(Outcome::Pass)
}

/// callmetrics.1, and callmetrics-COMMAND.1 for each command.
pub(super) fn man_pages(dir: &Path) -> anyhow::Result<Outcome> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let top = Cli::command();
    let mut pages = vec![("callmetrics".to_string(), top.clone())];
    for sub in top.get_subcommands() {
        let name = format!("callmetrics-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name)));
    }
    for (name, command) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(Outcome::Pass)
}
