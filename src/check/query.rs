//! One question to the sink: a metric at a grain over a timespan, split by
//! a set of dimensions (all of them, one, or none for the metric total).
//! Both the HTTP client and the in-memory reference answer the same
//! [`Query`], so the parameters are spelled out in one place.

use crate::catalog::{Dimension, Metric, Naming};
use crate::model::Grain;
use crate::wire::metrics_response::{MetadataValue, SeriesLabel, time_stamp};
use std::fmt;

/// Which dimensions a query splits by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Split {
    /// Every dimension of the metric: the full combinations.
    Full,
    /// One dimension: its marginal totals.
    One(Dimension),
    /// No dimension: the metric total.
    Total,
}

impl Split {
    /// The splits checked for `metric`: full, each dimension, total.
    pub fn all(metric: Metric) -> Vec<Split> {
        let mut splits = vec![Split::Full];
        splits.extend(metric.dimensions().iter().map(|&d| Split::One(d)));
        splits.push(Split::Total);
        splits
    }

    /// The dimensions of `metric` this split keeps, in the metric's order.
    pub fn dimensions(self, metric: Metric) -> Vec<Dimension> {
        match self {
            Split::Full => metric.dimensions().to_vec(),
            Split::One(d) => vec![d],
            Split::Total => Vec::new(),
        }
    }

    /// "by Operation, StatusCode" or "total".
    pub fn describe(self, metric: Metric, naming: Naming) -> String {
        match self {
            Split::Total => "total".to_string(),
            split => {
                let names: Vec<&str> = split
                    .dimensions(metric)
                    .iter()
                    .map(|d| d.name(naming))
                    .collect();
                format!("by {}", names.join(", "))
            }
        }
    }
}

/// A query for one metric, grain and split over `[start, end)` (Unix ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Query {
    pub metric: Metric,
    pub grain: Grain,
    pub split: Split,
    pub timespan: (i64, i64),
    /// One bucket for the whole timespan (at its start) instead of one per
    /// grain: what counters scraped at arbitrary times can prove exactly.
    pub totals: bool,
}

/// Points (series x buckets) one query is planned to ask for at most.
#[cfg(not(test))]
pub(super) const POINTS_PER_QUERY: usize = 250_000;
/// A tenth in unit tests: splitting works the same at any size, and a
/// long window of 260,000 cells took a test 9 s in a debug build.
#[cfg(test)]
pub(super) const POINTS_PER_QUERY: usize = 25_000;

impl Query {
    /// This query as consecutive pieces of its timespan, each asking for at
    /// most [`POINTS_PER_QUERY`] points of `series` series (the whole
    /// query when it is small enough, or when it asks for totals).
    pub fn pieces(self, series: usize) -> Vec<Query> {
        let (start, end) = self.timespan;
        let step = self.grain.millis();
        let buckets_per = (POINTS_PER_QUERY / series.max(1)).max(1) as i64;
        if self.totals || end - start <= buckets_per * step {
            return vec![self];
        }
        let mut out = Vec::new();
        let mut at = start;
        while at < end {
            let until = (at + buckets_per * step).min(end);
            out.push(Query {
                timespan: (at, until),
                ..self
            });
            at = until;
        }
        out
    }
}

/// The aggregations every query asks for.
pub(super) const AGGREGATIONS: &str = "Count,Total,Minimum,Maximum,Average";

impl Query {
    /// `timespan` parameter: "2026-01-01T00:00:00Z/2026-01-01T01:00:00Z".
    pub fn timespan_param(&self) -> String {
        format!(
            "{}/{}",
            time_stamp(self.timespan.0),
            time_stamp(self.timespan.1)
        )
    }

    /// `$filter` parameter splitting by the query's dimensions
    /// ("Operation eq '*' and StatusCode eq '*'"), or `None` for the total.
    /// Uses Azure Monitor's dimension names, which the REST API documents.
    pub fn filter_param(&self) -> Option<String> {
        let dims = self.split.dimensions(self.metric);
        (!dims.is_empty()).then(|| {
            dims.iter()
                .map(|d| format!("{} eq '*'", d.name(Naming::Azure)))
                .collect::<Vec<_>>()
                .join(" and ")
        })
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.totals {
            "over the window".to_string()
        } else {
            format!("at {}", self.grain)
        };
        write!(
            f,
            "{} {at} {}",
            self.metric,
            self.split.describe(self.metric, Naming::Azure)
        )
    }
}

/// The dimension of `metric` called `name` under either naming
/// (StatusCodeClass or StatusSubClass), ignoring ASCII case as Azure does.
pub(crate) fn dimension_named(metric: Metric, name: &str) -> Option<Dimension> {
    Dimension::from_name(name).filter(|d| metric.dimensions().contains(d))
}

/// A series label from `metadatavalues`, in the metric's dimension order.
/// Fails on a name that is not a dimension of `metric`, or a repeated one.
pub(crate) fn parse_label(metric: Metric, values: &[MetadataValue]) -> Result<SeriesLabel, String> {
    let mut label = Vec::with_capacity(values.len());
    for v in values {
        let dim = dimension_named(metric, &v.name.value).ok_or_else(|| {
            let known: Vec<&str> = metric
                .dimensions()
                .iter()
                .map(|d| d.name(Naming::Azure))
                .collect();
            format!(
                "{metric} has no dimension {:?} (its dimensions: {})",
                v.name.value,
                known.join(", ")
            )
        })?;
        label.push((dim, v.value.clone()));
    }
    label.sort_by_key(|(d, _)| *d);
    if let Some(w) = label.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!(
            "a series of {metric} lists dimension {} twice",
            w[0].0.name(Naming::Azure)
        ));
    }
    Ok(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_windows_are_asked_for_in_pieces() {
        let q = Query {
            metric: Metric::CallbackEvents,
            grain: Grain::MINUTE,
            split: Split::Total,
            timespan: (0, 1_000 * 60_000),
            totals: false,
        };
        assert_eq!(q.pieces(1), vec![q]);
        // 100 series x 250 buckets is POINTS_PER_QUERY (the unit tests' tenth).
        let pieces = q.pieces(100);
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces[0].timespan, (0, 250 * 60_000));
        assert_eq!(pieces[3].timespan, (750 * 60_000, 1_000 * 60_000));
        assert!(
            pieces
                .windows(2)
                .all(|w| w[0].timespan.1 == w[1].timespan.0)
        );
        assert_eq!(Query { totals: true, ..q }.pieces(1_000_000).len(), 1);
    }

    #[test]
    fn parameters() {
        let q = Query {
            metric: Metric::ApiRequests,
            grain: Grain::MINUTE,
            split: Split::Full,
            timespan: (1_767_225_600_000, 1_767_229_200_000),
            totals: false,
        };
        assert_eq!(
            q.timespan_param(),
            "2026-01-01T00:00:00Z/2026-01-01T01:00:00Z"
        );
        assert_eq!(
            q.filter_param().unwrap(),
            "Operation eq '*' and StatusCode eq '*' and StatusCodeClass eq '*' and ApiVersion eq '*'"
        );
        let one = Query {
            split: Split::One(Dimension::StatusCodeClass),
            ..q
        };
        assert_eq!(one.filter_param().unwrap(), "StatusCodeClass eq '*'");
        assert_eq!(
            Query {
                split: Split::Total,
                ..q
            }
            .filter_param(),
            None
        );
        assert_eq!(
            Split::all(Metric::CallbackEvents).len(),
            Metric::CallbackEvents.dimensions().len() + 2
        );
    }

    #[test]
    fn dimension_names() {
        let m = Metric::ApiRequests;
        assert_eq!(
            dimension_named(m, "StatusSubClass"),
            Some(Dimension::StatusCodeClass)
        );
        assert_eq!(
            dimension_named(m, "statuscodeclass"),
            Some(Dimension::StatusCodeClass)
        );
        assert_eq!(dimension_named(m, "EventTypeName"), None);
    }
}
