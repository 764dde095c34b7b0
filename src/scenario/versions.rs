//! Which api-versions a flow can be made with. An SDK client is pinned to
//! one api-version, so a call of a flow uses one version for all of its
//! requests (a request with its own `apiVersions` excepted): only a
//! version whose spec has every route the flow calls. The validator says
//! when a mix names versions that cannot apply; the compiler draws from
//! the rest.

use super::model::{Step, VersionShare};
use crate::catalog::{ApiVersion, EventType, Operation, Versions};

/// The versions every request of `steps` without its own `apiVersions`
/// exists in, and the operation that narrows them most (for messages).
pub(super) fn flow_versions(steps: &[Step]) -> (Versions, Option<Operation>) {
    let mut all = Versions::default();
    let mut narrowest: Option<Operation> = None;
    walk(steps, &mut |step| {
        if let Step::Request(r) = step
            && r.api_versions.is_empty()
        {
            let have = r.operation.0.info().versions;
            all = all.and(have);
            let fewer =
                narrowest.is_none_or(|n| have.iter().count() < n.info().versions.iter().count());
            if fewer {
                narrowest = Some(r.operation.0);
            }
        }
    });
    (all, narrowest)
}

/// Every callback event `steps` can produce.
pub(super) fn flow_events(steps: &[Step]) -> Vec<EventType> {
    let mut events = Vec::new();
    walk(steps, &mut |step| match step {
        Step::Request(r) => r
            .outcomes
            .iter()
            .flat_map(|o| &o.callbacks)
            .for_each(|c| events.push(c.event.0)),
        Step::Callback(c) => events.push(c.event.0),
        _ => {}
    });
    events.sort();
    events.dedup();
    events
}

/// `shares` (or the default version when empty) limited to `usable`:
/// (version, weight) pairs, and the versions left out.
pub(super) fn usable_mix(
    shares: &[VersionShare],
    usable: Versions,
) -> (Vec<(ApiVersion, f64)>, Vec<ApiVersion>) {
    let mix: Vec<(ApiVersion, f64)> = if shares.is_empty() {
        vec![(ApiVersion::default_version(), 1.0)]
    } else {
        shares
            .iter()
            .map(|s| (s.version.0, s.probability))
            .collect()
    };
    let (kept, dropped): (Vec<_>, Vec<_>) = mix
        .into_iter()
        .filter(|(_, p)| *p > 0.0)
        .partition(|(v, _)| usable.contains(*v));
    (kept, dropped.into_iter().map(|(v, _)| v).collect())
}

fn walk<'a>(steps: &'a [Step], f: &mut impl FnMut(&'a Step)) {
    for step in steps {
        f(step);
        match step {
            Step::Branch(arms) => arms.iter().for_each(|a| walk(&a.steps, f)),
            Step::Repeat(r) => walk(&r.steps, f),
            Step::Parallel(arms) => arms.iter().for_each(|a| walk(a, f)),
            Step::Request(_) | Step::Wait(_) | Step::Callback(_) => {}
        }
    }
}
