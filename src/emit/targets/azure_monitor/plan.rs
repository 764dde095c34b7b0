//! What a run will send, known before it starts: the workload simulated
//! once (its expected aggregates per minute, as `generate` counts them),
//! each minute's documents rendered as the encoder renders them, so the
//! limits are held against the requests themselves.

use crate::catalog::Naming;
use crate::emit::files::azure_monitor::write_documents;
use crate::engine::{EventStream, Workload};
use crate::model::{AggregateTable, Grain};
use crate::scenario::Scenario;
use std::collections::{BTreeMap, BTreeSet};

/// What a run will send, known before it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    /// The first event: the schedule's origin.
    pub(super) first_event_ms: i64,
    /// The first and the last minute with documents (bucket starts).
    pub(super) first_minute: i64,
    pub(super) last_minute: i64,
    /// Distinct series over the run.
    pub(super) series: usize,
    /// The largest minute's request: its minute and its body's bytes.
    pub(super) largest: (i64, usize),
}

impl Plan {
    /// The workload simulated once, its aggregates per minute rendered as
    /// they will be sent; `None` when it has no events.
    pub(crate) fn of(scenario: &Scenario, workload: &Workload, naming: Naming) -> Option<Plan> {
        let first_event_ms = EventStream::new(scenario, workload).next()?.time_ms;
        let expected = crate::engine::expected_only(scenario, workload, Grain::MINUTE, 2);
        Plan::from_minutes(first_event_ms, &expected, naming)
    }

    /// The plan of a run whose aggregates per minute are `expected`.
    fn from_minutes(
        first_event_ms: i64,
        expected: &AggregateTable,
        naming: Naming,
    ) -> Option<Plan> {
        let mut minutes: BTreeMap<i64, AggregateTable> = BTreeMap::new();
        let mut series = BTreeSet::new();
        for (s, minute, aggregate) in expected.cells() {
            series.insert(s.pack());
            minutes
                .entry(minute)
                .or_insert_with(|| AggregateTable::new(Grain::MINUTE))
                .add_aggregate(s, minute, aggregate);
        }
        let (&first_minute, _) = minutes.first_key_value()?;
        let (&last_minute, _) = minutes.last_key_value()?;
        let mut body = Vec::new();
        let mut largest = (first_minute, 0);
        for (&minute, cells) in &minutes {
            body.clear();
            write_documents(&mut body, cells, naming).expect("writing to a Vec cannot fail");
            if body.len() > largest.1 {
                largest = (minute, body.len());
            }
        }
        Some(Plan {
            first_event_ms,
            first_minute,
            last_minute,
            series: series.len(),
            largest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emit::deliver::batcher::{Batcher, Compression, Cut};
    use crate::emit::targets::azure_monitor::DocumentEncoder;
    use std::time::Duration;

    #[test]
    fn the_plan_counts_series_and_the_largest_minute_as_sent() {
        let scenario = crate::scenario::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/contact-center.json"
        )))
        .unwrap();
        let workload = Workload::calls(5, 300, 2.0);
        let p = Plan::of(&scenario, &workload, Naming::Azure).unwrap();
        let expected = crate::engine::expected_only(&scenario, &workload, Grain::MINUTE, 1);
        let series: BTreeSet<_> = expected.cells().map(|(s, _, _)| s).collect();
        assert_eq!(p.series, series.len());
        let (first, last) = expected.time_range().unwrap();
        assert_eq!((p.first_minute, p.last_minute), (first, last));
        assert_eq!(p.first_minute, Grain::MINUTE.bucket(p.first_event_ms));
        // The largest request a run of this workload sends.
        let cut = Cut {
            max_events: 5000,
            window: Duration::from_millis(50),
            speed: None,
        };
        let encoder = DocumentEncoder::new(Naming::Azure);
        let mut batcher = Batcher::new(encoder, 1, cut, Compression::None, Grain::MINUTE);
        let mut bodies: Vec<_> = EventStream::new(&scenario, &workload)
            .filter_map(|e| batcher.push(&e))
            .collect();
        bodies.extend(batcher.finish());
        let largest = bodies.iter().max_by_key(|b| b.body.len()).unwrap();
        assert_eq!(
            p.largest,
            (Grain::MINUTE.bucket(largest.first_ms), largest.body.len())
        );
    }
}
