//! Azure Monitor's custom-metrics ingestion body: per minute and metric one
//! document, `{"time":..,"data":{"baseData":{"metric","namespace",
//! "dimNames","series":[{"dimValues","min","max","sum","count"}]}}}`, one
//! per line, so a dataset can be replayed into a real resource
//! (`POST https://REGION.monitoring.azure.com/RESOURCE_ID/metrics`;
//! `run --target azure-monitor` posts each minute's as it closes). The
//! values are the expected aggregates themselves: the same numbers
//! expected.json holds at PT1M.

use crate::catalog::{Metric, Naming};
use crate::model::{AggregateTable, Grain};
use crate::wire::CUSTOM_METRICS_NAMESPACE;
use crate::wire::metrics_response::time_stamp;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Writes one document per minute and metric, in time then metric order,
/// series sorted by their dimension values. `expected` must be at PT1M,
/// the only granularity the ingestion API takes.
pub(crate) fn write_documents(
    out: &mut dyn Write,
    expected: &AggregateTable,
    naming: Naming,
) -> io::Result<()> {
    debug_assert_eq!(expected.grain(), Grain::MINUTE);
    // (minute, metric) -> dimension values -> [min, max, sum, count]
    let mut documents: BTreeMap<(i64, Metric), BTreeMap<Vec<String>, [u64; 4]>> = BTreeMap::new();
    for (series, buckets) in expected.sorted() {
        let values: Vec<String> = series
            .dimension_values()
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        for (minute, a) in buckets {
            documents
                .entry((minute, series.metric()))
                .or_default()
                .insert(values.clone(), [a.minimum, a.maximum, a.total, a.count]);
        }
    }
    for ((minute, metric), series) in documents {
        let dim_names: Vec<&str> = metric.dimensions().iter().map(|d| d.name(naming)).collect();
        let series: Vec<_> = series
            .into_iter()
            .map(|(values, [min, max, sum, count])| {
                json!({"dimValues": values, "min": min, "max": max, "sum": sum, "count": count})
            })
            .collect();
        let document = json!({
            "time": time_stamp(minute),
            "data": {"baseData": {
                "metric": metric.name(),
                "namespace": CUSTOM_METRICS_NAMESPACE,
                "dimNames": dim_names,
                "series": series,
            }},
        });
        serde_json::to_writer(&mut *out, &document)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
