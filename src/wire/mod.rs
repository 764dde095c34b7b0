//! Formats on the wire that more than one side speaks: the Azure Monitor
//! Metrics - List response (expected.json, the sink's query answers, what
//! `check` reads), RFC 3339 times, the sink's JSON answers, Prometheus
//! remote write, and how a peer's text is printed. The sending
//! client, the receiving sink and the checker share these models, so the
//! three cannot drift apart.

pub(crate) mod answer;
pub(crate) mod metrics_response;
pub(crate) mod printable;
pub mod remote_write;
pub(crate) mod resource_id;
pub(crate) mod rfc3339;

pub(crate) use answer::{ErrorBody, IngestAck};

/// The custom metrics namespace of the ingestion documents
/// (`generate --format azure-monitor`, `run --target azure-monitor`):
/// Azure keeps custom metrics apart from a resource's platform metrics.
pub(crate) const CUSTOM_METRICS_NAMESPACE: &str = "CallAutomation";
pub use metrics_response::expected_response;
pub use metrics_response::write_expected;
pub(crate) use metrics_response::{MetricsResponse, Provenance};
pub(crate) use printable::printable;
pub(crate) use rfc3339::parse_millis;
