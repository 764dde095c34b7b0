//! Formats on the wire that more than one side speaks: the Azure Monitor
//! Metrics - List response (expected.json, the sink's query answers, what
//! `check` reads), RFC 3339 times, the sink's JSON answers, Prometheus
//! remote write, and how a peer's text is printed. The sending
//! client, the receiving sink and the checker share these models, so the
//! three cannot drift apart.

pub mod answer;
pub mod metrics_response;
pub mod printable;
pub mod remote_write;
pub mod rfc3339;

pub use answer::{ErrorBody, ErrorDetail, IngestAck};
pub use metrics_response::{MetricsResponse, Provenance, expected_response, write_expected};
pub use printable::printable;
pub use rfc3339::parse_millis;
