//! Metric Definitions and Metric Namespaces: what Azure Monitor says a
//! Communication Services resource has: each metric with its dimensions,
//! unit, aggregations and time grains, as the supported-metrics table
//! defines them (docs/sources.md), and the namespace that holds them.

use super::Refusal;
use crate::catalog::{Metric, Naming};
use crate::sink::query::{AZURE_GRAINS, AZURE_NAMESPACES};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The namespace of a Communication Services resource's platform metrics.
const PLATFORM_NAMESPACE: &str = "Microsoft.Communication/CommunicationServices";

/// How long Azure keeps platform metrics at every grain.
const RETENTION: &str = "P93D";

/// Metric Definitions - List of `resource` (`metricnamespace` narrows it;
/// the custom namespace's metrics are defined by the documents sent).
pub(super) fn list(resource: &str, params: &HashMap<String, String>, naming: Naming) -> Response {
    if let Some(namespace) = params.get("metricnamespace")
        && !AZURE_NAMESPACES
            .iter()
            .any(|n| n.eq_ignore_ascii_case(namespace))
    {
        return Refusal::bad_request(format!(
            "metricnamespace {namespace:?} is not a namespace of this resource; it has {}",
            AZURE_NAMESPACES.join(" and ")
        ))
        .into_response();
    }
    let value: Vec<Value> = Metric::ALL
        .iter()
        .filter(|m| m.is_azure_metric())
        .map(|&m| definition(resource, m, naming))
        .collect();
    axum::Json(json!({ "value": value })).into_response()
}

fn definition(resource: &str, metric: Metric, naming: Naming) -> Value {
    let dimensions: Vec<Value> = metric
        .dimensions()
        .iter()
        .map(|d| json!({ "value": d.name(naming), "localizedValue": d.name(naming) }))
        .collect();
    let availabilities: Vec<Value> = AZURE_GRAINS
        .iter()
        .map(|grain| json!({ "timeGrain": grain, "retention": RETENTION }))
        .collect();
    json!({
        "id": format!("{resource}/providers/microsoft.insights/metricdefinitions/{}", metric.name()),
        "resourceId": resource,
        "namespace": PLATFORM_NAMESPACE,
        "name": { "value": metric.name(), "localizedValue": metric.display_name() },
        "displayDescription": metric.description(),
        "category": "Traffic",
        "metricClass": "Transactions",
        "isDimensionRequired": false,
        "unit": metric.unit(),
        "primaryAggregationType": "Count",
        "supportedAggregationTypes": ["None", "Average", "Minimum", "Maximum", "Total", "Count"],
        "metricAvailabilities": availabilities,
        "dimensions": dimensions,
    })
}

/// Metric Namespaces - List of `resource`: its platform namespace.
pub(super) fn namespaces(resource: &str) -> Response {
    let name = PLATFORM_NAMESPACE.replace('/', "-");
    axum::Json(json!({
        "value": [{
            "id": format!("{resource}/providers/microsoft.insights/metricNamespaces/{name}"),
            "name": name,
            "type": "Microsoft.Insights/metricNamespaces",
            "classification": "Platform",
            "properties": { "metricNamespaceName": PLATFORM_NAMESPACE },
        }]
    }))
    .into_response()
}
