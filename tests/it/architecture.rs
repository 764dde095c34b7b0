//! ARCHITECTURE.md's module table, executed: every `crate::` path a module
//! names (in `use` lines, grouped imports and inline paths alike) must be a
//! module its row lets it use. A new edge either goes in the table, where
//! a reviewer sees it, or fails here.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A row of the table: where the module lives and what it may use.
struct Row {
    path: PathBuf,
    may_use: Allowed,
}

enum Allowed {
    Everything,
    These(BTreeSet<String>),
}

/// Backticked words of a table cell ("`engine`, `emit::deliver`" ->
/// "engine", "emit": a module may use another's inner parts).
fn modules_in(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(|word| word.split("::").next().unwrap_or(word).to_string())
        .collect()
}

fn table() -> BTreeMap<String, Row> {
    let text = common::read(&common::repo().join("ARCHITECTURE.md"));
    let mut rows = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
        assert_eq!(cells.len(), 4, "a table row has 4 cells: {line}");
        let name = cells[0].trim().trim_matches('`').to_string();
        let path = cells[1].trim().trim_matches('`');
        let may_use = match cells[3].trim() {
            "everything" => Allowed::Everything,
            "nothing" => Allowed::These(BTreeSet::new()),
            cell => Allowed::These(modules_in(cell)),
        };
        rows.insert(
            name,
            Row {
                path: common::repo().join(path),
                may_use,
            },
        );
    }
    rows
}

fn rust_files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() || entry.extension().is_some_and(|x| x == "rs") {
            rust_files(&entry, out);
        }
    }
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Every top-level module a source names through `crate::`: `crate::a::b`,
/// and each first name inside `crate::{a::b, c}`, nested braces included.
fn named_modules(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut start_of_item = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            rest = &group[i..];
                            break;
                        }
                    }
                    ',' if depth == 1 => start_of_item = true,
                    c if start_of_item && depth == 1 && !c.is_whitespace() => {
                        start_of_item = false;
                        let name = ident(&group[i..]);
                        if !name.is_empty() {
                            out.insert(name.to_string());
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name.to_string());
            }
        }
    }
    out
}

#[test]
fn every_crate_path_is_an_edge_the_table_allows() {
    let rows = table();
    assert!(rows.len() >= 12, "the table was read: {:?}", rows.keys());
    let modules: BTreeSet<String> = rows.keys().cloned().collect();
    let mut forbidden = Vec::new();
    for (name, row) in &rows {
        let Allowed::These(allowed) = &row.may_use else {
            continue;
        };
        for unknown in allowed.difference(&modules) {
            forbidden.push(format!("{name}'s row names `{unknown}`, which has no row"));
        }
        let mut files = Vec::new();
        rust_files(&row.path, &mut files);
        assert!(
            !files.is_empty(),
            "{name}: no source at {}",
            row.path.display()
        );
        for file in files {
            let source = common::read(&file);
            for used in named_modules(&source) {
                // Items of the crate root that are not modules (`run`, the
                // CLI types) are the binary's, never a module's.
                if used == *name || !modules.contains(&used) {
                    continue;
                }
                if !allowed.contains(&used) {
                    forbidden.push(format!(
                        "{} uses `crate::{used}`, but ARCHITECTURE.md lets `{name}` use only: {}",
                        file.strip_prefix(common::repo()).unwrap().display(),
                        allowed.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
    }
    assert!(forbidden.is_empty(), "\n{}", forbidden.join("\n"));
}

#[test]
fn the_table_lists_every_module_of_the_crate() {
    let rows = table();
    let lib = common::read(&common::repo().join("src/lib.rs"));
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    let listed: BTreeSet<String> = rows.keys().cloned().collect();
    assert_eq!(declared, listed.intersection(&declared).cloned().collect());
    assert!(
        declared.is_subset(&listed),
        "modules without a row: {:?}",
        declared.difference(&listed).collect::<Vec<_>>()
    );
}

#[test]
fn the_reader_finds_grouped_and_inline_paths() {
    let source = "use crate::{engine::{Expected, Grain}, wire};\nfn f() { crate::catalog::x(); }";
    assert_eq!(
        named_modules(source),
        ["catalog", "engine", "wire"].map(String::from).into()
    );
}

/// The variants of `pub enum NAME` in `file`.
fn variants(file: &str, name: &str) -> Vec<String> {
    let text = common::read(&common::repo().join(file));
    let start = text
        .find(&format!("pub enum {name} {{"))
        .unwrap_or_else(|| panic!("{file} declares `pub enum {name}`"));
    let body = &text[start..];
    let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with('#') && !l.is_empty())
        .map(|l| l.trim_end_matches(',').to_string())
        .collect()
}

/// Where `Enum::Variant` (or an alias of the enum) is named outside `home`.
fn named_outside(home: &str, names: &[&str], variants: &[String]) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&common::repo().join("src"), &mut files);
    let mut found = Vec::new();
    for file in files
        .iter()
        .filter(|f| !f.starts_with(common::repo().join(home)))
    {
        let text = common::read(file);
        for name in names {
            for variant in variants {
                let path = format!("{name}::{variant}");
                let hit = text.match_indices(&path).any(|(i, _)| {
                    let before = text[..i].chars().next_back();
                    let after = text[i + path.len()..].chars().next();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                        && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if hit {
                    found.push(format!("{} names {path}", file.display()));
                }
            }
        }
    }
    found
}

/// Adding a target or a backend touches its folder, one variant and docs:
/// no other code names a variant (dispatch on them lives in the folder).
#[test]
fn targets_and_backends_are_dispatched_only_in_their_folders() {
    let kinds = variants("src/emit/targets/mod.rs", "Kind");
    assert_eq!(
        kinds,
        ["Ingest", "Webhook", "RemoteWrite", "Influx", "AzureMonitor"]
    );
    let found = named_outside("src/emit/targets", &["Kind", "TargetKind"], &kinds);
    assert!(found.is_empty(), "{found:#?}");
    let backends = variants("src/check/observed/backend.rs", "Backend");
    assert_eq!(backends, ["Azure", "Promql", "Influxql"]);
    let found = named_outside("src/check/observed", &["Backend"], &backends);
    assert!(found.is_empty(), "{found:#?}");
}
