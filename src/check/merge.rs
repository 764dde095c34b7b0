//! `callmetrics merge`: the expected files of N shards summed into the one
//! file of the whole workload, exactly. Files of different scenarios,
//! seeds, workloads or grains, or the same shard twice, are refused: any of
//! them would make a merged file that no correct pipeline matches.

use super::expected::ExpectedData;
use crate::catalog::Metric;
use crate::wire::metrics_response::{Aggregations, MetricSeries, ShowLabel};
use crate::wire::{MetricsResponse, Provenance};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("give at least one expected file")]
    Nothing,
    #[error(
        "{}: no `callmetrics` provenance (scenario, seed, shard); it was not written by this \
         callmetrics' generate or run --expected-out, so what it covers is unknown",
        .0.display()
    )]
    Unknown(PathBuf),
    #[error("{}: {reason}", path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "{} and {} come from different {what} ({a} vs {b}): shards to merge are one workload \
         split with --shard I/N",
        first.display(),
        other.display()
    )]
    Differ {
        what: &'static str,
        first: PathBuf,
        other: PathBuf,
        a: String,
        b: String,
    },
    #[error("{} and {} are both shard {shard}: merging it twice would count it twice", first.display(), other.display())]
    SameShard {
        shard: String,
        first: PathBuf,
        other: PathBuf,
    },
    #[error(
        "shard {} of the workload {} not among the files, so the merged file would not be the \
         whole workload's; give every shard's file, or --partial to merge these only",
        missing.join(", "),
        if missing.len() == 1 { "is" } else { "are" }
    )]
    Missing { missing: Vec<String> },
    #[error("the sum of {metric} {{{label}}} at {at} passes 2^64-1")]
    Overflow {
        metric: Metric,
        label: String,
        at: String,
    },
}

/// The merged file, and the shards of the workload none of the files is
/// (refused unless `partial`: the file would claim the whole workload).
pub fn merge(
    files: &[(PathBuf, MetricsResponse)],
    partial: bool,
) -> Result<(MetricsResponse, Vec<String>), MergeError> {
    let (first_path, first) = files.first().ok_or(MergeError::Nothing)?;
    let provenance = |path: &Path, r: &MetricsResponse| -> Result<Provenance, MergeError> {
        r.callmetrics
            .clone()
            .ok_or_else(|| MergeError::Unknown(path.to_path_buf()))
    };
    let base = provenance(first_path, first)?;
    let count = shard_count(&base.shard);
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut merged: BTreeMap<Metric, MetricSeries> = BTreeMap::new();
    let mut timespan = (i64::MAX, i64::MIN);
    let mut grain = None;
    let mut naming = None;
    for (path, response) in files {
        let p = provenance(path, response)?;
        let differ = |what, a: String, b: String| MergeError::Differ {
            what,
            first: first_path.clone(),
            other: path.clone(),
            a,
            b,
        };
        if p.scenario_sha256 != base.scenario_sha256 {
            return Err(differ(
                "scenarios",
                base.scenario.clone(),
                p.scenario.clone(),
            ));
        }
        if p.seed != base.seed {
            return Err(differ("seeds", base.seed.to_string(), p.seed.to_string()));
        }
        if p.workload != base.workload || shard_count(&p.shard) != count {
            return Err(differ("workloads", base.shard.clone(), p.shard.clone()));
        }
        if response.interval != first.interval {
            return Err(differ(
                "grains",
                first.interval.clone(),
                response.interval.clone(),
            ));
        }
        if let Some(other) = seen.insert(p.shard.clone(), path.clone()) {
            return Err(MergeError::SameShard {
                shard: p.shard,
                first: other,
                other: path.clone(),
            });
        }
        let data = ExpectedData::from_response(response).map_err(|e| MergeError::Unreadable {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        grain.get_or_insert(data.grain());
        naming.get_or_insert(data.naming());
        let (start, end) = data.timespan();
        timespan = (timespan.0.min(start), timespan.1.max(end));
        for (&metric, series) in data.metrics() {
            let into = merged.entry(metric).or_default();
            for (label, buckets) in series {
                let cells = into.entry(label.clone()).or_default();
                for (&at, a) in buckets {
                    match cells.get_mut(&at) {
                        None => {
                            cells.insert(at, *a);
                        }
                        Some(have) => {
                            let (Some(count), Some(total)) = (
                                have.count.checked_add(a.count),
                                have.total.checked_add(a.total),
                            ) else {
                                return Err(MergeError::Overflow {
                                    metric,
                                    label: ShowLabel(label).to_string(),
                                    at: crate::wire::metrics_response::time_stamp(at),
                                });
                            };
                            have.count = count;
                            have.total = total;
                            have.minimum = have.minimum.min(a.minimum);
                            have.maximum = have.maximum.max(a.maximum);
                        }
                    }
                }
            }
        }
    }
    let missing: Vec<String> = (0..count)
        .map(|i| format!("{i}/{count}"))
        .filter(|s| !seen.contains_key(s))
        .collect();
    if !missing.is_empty() && !partial {
        return Err(MergeError::Missing { missing });
    }
    let resource = first
        .value
        .first()
        .and_then(|m| m.id.split("/providers/").next())
        .unwrap_or("callmetrics")
        .to_string();
    let metrics: Vec<(Metric, MetricSeries)> = merged.into_iter().collect();
    let mut response = MetricsResponse::build(
        &metrics,
        grain.unwrap_or(crate::engine::Grain::MINUTE),
        timespan,
        naming.unwrap_or_default(),
        &resource,
        Aggregations::ALL,
    );
    // All shards make the whole workload; some make "0+2/3", which no
    // further merge takes for a shard of its own.
    let shard = if missing.is_empty() {
        "0/1".to_string()
    } else {
        let indices: Vec<&str> = seen.keys().filter_map(|s| s.split('/').next()).collect();
        format!("{}/{count}", indices.join("+"))
    };
    response.callmetrics = Some(Provenance { shard, ..base });
    Ok((response, missing))
}

fn shard_count(shard: &str) -> u32 {
    shard
        .split_once('/')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(1)
}
