//! `generate --out DIR`: a dataset is written into a new or empty
//! directory, or over a dataset with `--force`, which removes that
//! dataset's own files first and nothing else. Anything else in DIR is
//! refused: mixing an older dataset's files with a new one's (a stale
//! callbacks.csv beside a new requests.csv) would give an analyst numbers
//! of two runs as one.

use super::DatasetFormat;
use super::dataset::DatasetError;
use std::io;
use std::path::Path;

/// Names shown in a message before "and N more".
const SHOWN: usize = 8;

/// Makes `dir` ready for a dataset: created if missing; refused if it
/// holds anything that is not a dataset's file, or a dataset's files
/// without `force` (which removes them).
pub(crate) fn prepare_out_dir(dir: &Path, force: bool) -> Result<(), DatasetError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return std::fs::create_dir_all(dir).map_err(|source| DatasetError::Create {
                path: dir.to_path_buf(),
                source,
            });
        }
        Err(source) => {
            return Err(DatasetError::Create {
                path: dir.to_path_buf(),
                source,
            });
        }
    };
    let ours = DatasetFormat::every_dataset_file();
    let is_ours = |name: &str| {
        let name = name.strip_suffix(".partial").unwrap_or(name);
        ours.iter().any(|o| o == name)
    };
    let mut dataset = Vec::new();
    let mut foreign = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DatasetError::Create {
            path: dir.to_path_buf(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let file = entry.file_type().is_ok_and(|t| t.is_file());
        if file && is_ours(&name) {
            dataset.push(name);
        } else {
            foreign.push(if file { name } else { format!("{name}/") });
        }
    }
    dataset.sort();
    foreign.sort();
    if !foreign.is_empty() {
        return Err(DatasetError::NotADatasetDir {
            dir: dir.to_path_buf(),
            found: listed(&foreign),
        });
    }
    if dataset.is_empty() {
        return Ok(());
    }
    if !force {
        return Err(DatasetError::HoldsADataset {
            dir: dir.to_path_buf(),
            found: listed(&dataset),
        });
    }
    for name in &dataset {
        let path = dir.join(name);
        std::fs::remove_file(&path).map_err(|source| DatasetError::Write { path, source })?;
    }
    Ok(())
}

/// `a, b, c and 4 more`.
fn listed(names: &[String]) -> String {
    let shown = names[..names.len().min(SHOWN)].join(", ");
    match names.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{shown} and {more} more"),
        _ => shown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_and_empty_directories_are_taken_a_dataset_only_with_force_anything_else_never() {
        let root = tempfile::tempdir().unwrap();
        let new = root.path().join("new/deeper");
        prepare_out_dir(&new, false).unwrap();
        assert!(new.is_dir(), "a missing directory is made");
        prepare_out_dir(&new, false).unwrap();

        for file in ["manifest.json", "events.jsonl", "callbacks.csv.partial"] {
            std::fs::write(new.join(file), "x").unwrap();
        }
        let refused = prepare_out_dir(&new, false).unwrap_err().to_string();
        assert!(
            refused.contains(
                "already holds a dataset (callbacks.csv.partial, events.jsonl, manifest.json)"
            ) && refused.contains("--force"),
            "{refused}"
        );
        prepare_out_dir(&new, true).unwrap();
        assert_eq!(
            std::fs::read_dir(&new).unwrap().count(),
            0,
            "--force removed them"
        );

        std::fs::write(new.join("events.jsonl"), "x").unwrap();
        std::fs::write(new.join("notes.txt"), "mine").unwrap();
        std::fs::create_dir(new.join("plots")).unwrap();
        for force in [false, true] {
            let refused = prepare_out_dir(&new, force).unwrap_err().to_string();
            assert!(
                refused.contains("notes.txt, plots/") && refused.contains("not a dataset's"),
                "{refused}"
            );
        }
        assert_eq!(
            std::fs::read_to_string(new.join("notes.txt")).unwrap(),
            "mine"
        );
        assert!(
            new.join("events.jsonl").exists(),
            "nothing removed when refused"
        );
    }

    #[test]
    fn long_lists_are_cut() {
        let names: Vec<String> = (0..11).map(|i| format!("f{i}")).collect();
        assert_eq!(listed(&names), "f0, f1, f2, f3, f4, f5, f6, f7 and 3 more");
    }
}
