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
pub(crate) enum MergeError {
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
    #[error(
        "the counts or totals of {metric} over all shards add up past 2^64-1: `check` could not \
         compare their sums (coarser grains, totals), so no merged file is written"
    )]
    TotalOverflow { metric: Metric },
    #[error(
        "{}: shard {shard:?} is not one shard of a workload ({why}); `generate` and `run` write \
         I/N with 0 <= I < N, digits only",
        path.display()
    )]
    BadShard {
        path: PathBuf,
        shard: String,
        why: &'static str,
    },
}

/// A shard label "I/N" read strictly: canonical digits (no sign, no
/// leading zero, no spaces) and I < N. Labels are compared as numbers, so
/// a copy of shard 0 labelled "00/3", "+0/3" or "5/3" cannot pass for
/// another shard and be counted twice.
fn parse_shard(path: &Path, shard: &str) -> Result<(u32, u32), MergeError> {
    let bad = |why| MergeError::BadShard {
        path: path.to_path_buf(),
        shard: shard.to_string(),
        why,
    };
    let number = |text: &str| -> Option<u32> {
        let canonical = !text.is_empty()
            && text.bytes().all(|b| b.is_ascii_digit())
            && (text == "0" || !text.starts_with('0'));
        canonical.then(|| text.parse().ok()).flatten()
    };
    let (index, count) = shard.split_once('/').ok_or_else(|| bad("no \"/\""))?;
    let index = number(index).ok_or_else(|| bad("the index is not a plain number"))?;
    let count = number(count).ok_or_else(|| bad("the count is not a plain number"))?;
    if count == 0 {
        return Err(bad("a workload has at least one shard"));
    }
    if index >= count {
        return Err(bad("the index must be below the count"));
    }
    Ok((index, count))
}

/// The merged file, and the shards of the workload none of the files is
/// (refused unless `partial`: the file would claim the whole workload).
pub(crate) fn merge(
    files: &[(PathBuf, MetricsResponse)],
    partial: bool,
) -> Result<(MetricsResponse, Vec<String>), MergeError> {
    let (first_path, first) = files.first().ok_or(MergeError::Nothing)?;
    let base = provenance(first_path, first)?;
    let (_, count) = parse_shard(first_path, &base.shard)?;
    let workload = Workload {
        first_path,
        first,
        base: &base,
        count,
    };
    let mut seen: BTreeMap<u32, PathBuf> = BTreeMap::new();
    let mut merged: BTreeMap<Metric, MetricSeries> = BTreeMap::new();
    let mut timespan = (i64::MAX, i64::MIN);
    let mut grain = None;
    let mut naming = None;
    for (path, response) in files {
        let index = workload.shard_index(path, response)?;
        if let Some(other) = seen.insert(index, path.clone()) {
            return Err(MergeError::SameShard {
                shard: format!("{index}/{count}"),
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
        add_shard(&mut merged, &data)?;
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !seen.contains_key(i))
        .map(|i| format!("{i}/{count}"))
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
    check_grand_totals(&merged)?;
    let metrics: Vec<(Metric, MetricSeries)> = merged.into_iter().collect();
    let mut response = MetricsResponse::build(
        &metrics,
        grain.unwrap_or(crate::model::Grain::MINUTE),
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
        let indices: Vec<String> = seen.keys().map(u32::to_string).collect();
        format!("{}/{count}", indices.join("+"))
    };
    response.callmetrics = Some(Provenance { shard, ..base });
    Ok((response, missing))
}

fn provenance(path: &Path, r: &MetricsResponse) -> Result<Provenance, MergeError> {
    r.callmetrics
        .clone()
        .ok_or_else(|| MergeError::Unknown(path.to_path_buf()))
}

/// The workload the first file names, which every other file must share.
struct Workload<'a> {
    first_path: &'a PathBuf,
    first: &'a MetricsResponse,
    base: &'a Provenance,
    /// Its number of shards.
    count: u32,
}

impl Workload<'_> {
    /// Which shard of the workload a file is, once it is known to be one.
    fn shard_index(&self, path: &Path, response: &MetricsResponse) -> Result<u32, MergeError> {
        let (base, first) = (self.base, self.first);
        let p = provenance(path, response)?;
        let differ = |what, a: String, b: String| MergeError::Differ {
            what,
            first: self.first_path.clone(),
            other: path.to_path_buf(),
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
        let (index, shards) = parse_shard(path, &p.shard)?;
        if p.workload != base.workload || shards != self.count {
            return Err(differ("workloads", base.shard.clone(), p.shard.clone()));
        }
        if response.interval != first.interval {
            return Err(differ(
                "grains",
                first.interval.clone(),
                response.interval.clone(),
            ));
        }
        Ok(index)
    }
}

/// Adds one shard's cells to the sums: counts and totals added, minimums
/// and maximums kept.
fn add_shard(
    merged: &mut BTreeMap<Metric, MetricSeries>,
    data: &ExpectedData,
) -> Result<(), MergeError> {
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
    Ok(())
}

/// Every sum `check` makes of the merged file (coarser grains, one
/// dimension, the totals) is at most its metric's grand total, so the
/// file is refused when a grand total passes what `check` adds up in.
fn check_grand_totals(merged: &BTreeMap<Metric, MetricSeries>) -> Result<(), MergeError> {
    for (&metric, series) in merged {
        let (count, total) = series
            .values()
            .flat_map(|buckets| buckets.values())
            .fold((0u128, 0u128), |(c, t), a| {
                (c + u128::from(a.count), t + u128::from(a.total))
            });
        if count > u128::from(u64::MAX) || total > u128::from(u64::MAX) {
            return Err(MergeError::TotalOverflow { metric });
        }
    }
    Ok(())
}
