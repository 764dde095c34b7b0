//! `--help` sections listing an enum's variants (targets, backends) from
//! the variants' own doc comments, so a new variant is documented where it
//! is declared and no prose list can drift from the code (three did).

use clap::ValueEnum;

/// Width of the help text, as clap wraps the rest.
const WIDTH: usize = 76;
/// Names up to this long share a line with their text.
const NAME_COLUMN: usize = 8;

/// "TITLE:" and one entry per variant of `E` (its name, then its doc
/// comment wrapped and indented), then `rest`.
pub(super) fn section<E: ValueEnum>(title: &str, rest: &str) -> String {
    let mut out = format!("{title}:\n");
    for variant in E::value_variants() {
        let Some(value) = variant.to_possible_value() else {
            continue;
        };
        let name = value.get_name();
        let help = value.get_help().map(|h| h.to_string()).unwrap_or_default();
        let indent = 2 + NAME_COLUMN + 1;
        let mut line = format!("  {name:<NAME_COLUMN$} ");
        if name.len() > NAME_COLUMN {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
        }
        for word in help.split_whitespace() {
            if line.len() + word.len() > WIDTH && !line.trim().is_empty() {
                out.push_str(line.trim_end());
                out.push('\n');
                line = " ".repeat(indent);
            }
            line.push_str(word);
            line.push(' ');
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push('\n');
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, clap::ValueEnum)]
    enum Demo {
        /// A short one.
        Short,
        /// A name longer than the column, with a text long enough to wrap
        /// onto a second line of the section.
        AVeryLongName,
    }

    // The flags' own help names the variants (clap's list is hidden there,
    // as the section says more): a new variant must be named there too.
    #[test]
    fn the_flags_name_every_variant() {
        use clap::CommandFactory;
        let cli = crate::cli::Cli::command();
        for (command, flag, names) in [
            ("run", "target", variant_names::<crate::cli::TargetKind>()),
            ("check", "backend", variant_names::<crate::cli::Backend>()),
        ] {
            let command = cli.find_subcommand(command).expect("the command");
            let arg = command
                .get_arguments()
                .find(|a| a.get_id() == flag)
                .expect("the flag");
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            for name in names {
                assert!(
                    help.contains(&name),
                    "--{flag}'s help does not name {name}: {help}"
                );
            }
        }
    }

    fn variant_names<E: ValueEnum>() -> Vec<String> {
        E::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect()
    }

    #[test]
    fn every_variant_is_listed_with_its_doc_comment_wrapped() {
        let text = section::<Demo>("Demos (--demo)", "rest");
        assert_eq!(
            text,
            "Demos (--demo):\n  short    A short one\n  a-very-long-name\n           A name \
             longer than the column, with a text long enough to wrap\n           onto a second \
             line of the section\n\nrest"
        );
    }
}
