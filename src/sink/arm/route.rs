//! Which Azure Monitor request a path is: the resource-scoped APIs under
//! `{resourceUri}/providers/Microsoft.Insights/...`, the regional batch
//! API `/subscriptions/{id}/metrics:getBatch`, and custom-metrics
//! ingestion at `{resourceUri}/metrics`. Azure compares these segments
//! without regard to case (the Python client itself asks for
//! `microsoft.insights/metricNamespaces`).

/// An Azure Monitor API and the resource (or subscription) it is about.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ArmRoute<'a> {
    /// Metrics - List.
    Metrics { resource: &'a str },
    /// Metric Definitions - List.
    Definitions { resource: &'a str },
    /// Metric Namespaces - List.
    Namespaces { resource: &'a str },
    /// Custom metrics ingestion (POST).
    Documents { resource: &'a str },
    /// Metrics Batch (POST).
    Batch { subscription: &'a str },
}

/// Makes the route of a resource-scoped API from its resource URI.
type ResourceRoute = fn(&str) -> ArmRoute<'_>;

/// What follows a resource URI for each resource-scoped API.
const PROVIDER_APIS: [(&str, ResourceRoute); 3] = [
    ("/providers/microsoft.insights/metrics", |resource| {
        ArmRoute::Metrics { resource }
    }),
    (
        "/providers/microsoft.insights/metricdefinitions",
        |resource| ArmRoute::Definitions { resource },
    ),
    (
        "/providers/microsoft.insights/metricnamespaces",
        |resource| ArmRoute::Namespaces { resource },
    ),
];

use crate::wire::resource_id::is_resource_id;

impl<'a> ArmRoute<'a> {
    /// The API `path` asks for with `post` (true) or GET; `None` when it
    /// is none of them.
    pub(super) fn of(post: bool, path: &'a str) -> Option<ArmRoute<'a>> {
        let path = path.trim_end_matches('/');
        let lower = path.to_ascii_lowercase();
        if post {
            if let Some(subscription) = lower
                .strip_suffix("/metrics:getbatch")
                .and_then(|head| head.strip_prefix("/subscriptions/"))
                .filter(|id| !id.is_empty() && !id.contains('/'))
            {
                let at = "/subscriptions/".len();
                return Some(ArmRoute::Batch {
                    subscription: &path[at..at + subscription.len()],
                });
            }
            let resource = lower.strip_suffix("/metrics")?;
            return is_resource_id(resource).then(|| ArmRoute::Documents {
                resource: &path[..resource.len()],
            });
        }
        PROVIDER_APIS.iter().find_map(|(tail, route)| {
            let resource = lower.strip_suffix(tail)?;
            is_resource_id(resource).then(|| route(&path[..resource.len()]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACS: &str = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Communication/CommunicationServices/acs";

    #[test]
    fn the_paths_the_official_clients_ask() {
        let metrics = format!("{ACS}/providers/Microsoft.Insights/metrics");
        assert_eq!(
            ArmRoute::of(false, &metrics),
            Some(ArmRoute::Metrics { resource: ACS })
        );
        let definitions = format!("{ACS}/providers/Microsoft.Insights/metricDefinitions");
        assert_eq!(
            ArmRoute::of(false, &definitions),
            Some(ArmRoute::Definitions { resource: ACS })
        );
        let namespaces = format!("{ACS}/providers/microsoft.insights/metricNamespaces");
        assert_eq!(
            ArmRoute::of(false, &namespaces),
            Some(ArmRoute::Namespaces { resource: ACS })
        );
        assert_eq!(
            ArmRoute::of(true, "/subscriptions/0000/metrics:getBatch"),
            Some(ArmRoute::Batch {
                subscription: "0000"
            })
        );
        assert_eq!(
            ArmRoute::of(true, &format!("{ACS}/metrics")),
            Some(ArmRoute::Documents { resource: ACS })
        );
    }

    #[test]
    fn other_paths_are_none_of_them() {
        for path in [
            "/metrics",
            "/providers/Microsoft.Insights/metrics",
            "/subscriptions/0000/providers/Microsoft.Insights/metrics",
            "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Communication/CommunicationServices/providers/Microsoft.Insights/metrics",
            "/subscriptions//metrics:getBatch",
        ] {
            assert_eq!(ArmRoute::of(false, path), None, "{path}");
            assert_eq!(ArmRoute::of(true, path), None, "{path}");
        }
        let metrics = format!("{ACS}/providers/Microsoft.Insights/metrics");
        assert_eq!(ArmRoute::of(true, &metrics), None, "POST to Metrics - List");
    }
}
