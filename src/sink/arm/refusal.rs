//! Azure Monitor's refusals: the status and code Azure answers with, the
//! message in the shape of Azure's text (what a person or a script may
//! look for), then what is allowed. Azure Resource Manager's own refusals
//! (api-version, paths) and the batch API's are wrapped,
//! `{"error":{"code","message"}}`; Metrics - List and its siblings answer
//! a flat `{"code","message"}` (docs/sources.md, "Errors").

use super::timespan::TimespanError;
use crate::catalog::{Metric, Naming};
use crate::model::Grain;
use crate::sink::filter::FilterError;
use crate::sink::query::{AZURE_GRAINS, QueryError};
use crate::wire::ErrorBody;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A refusal as Azure words it.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::sink) struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `{"error": {...}}` rather than the flat body.
    pub wrapped: bool,
}

impl Refusal {
    /// A question Azure Monitor refuses (flat body).
    pub(super) fn bad_request(message: String) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "BadRequest",
            message,
            wrapped: false,
        }
    }

    /// The same refusal in the batch API's wrapped body.
    pub(super) fn wrapped(self) -> Refusal {
        Refusal {
            wrapped: true,
            ..self
        }
    }

    /// A path that is none of the APIs served.
    pub(super) fn not_found(path: &str) -> Refusal {
        Refusal {
            status: StatusCode::NOT_FOUND,
            code: "NotFound",
            wrapped: true,
            message: format!(
                "no API at {path:?}; Azure Monitor's are {{resourceUri}}/providers/\
                 Microsoft.Insights/metrics, .../metricDefinitions and .../metricNamespaces \
                 (GET), /subscriptions/{{subscriptionId}}/metrics:getBatch (POST) and custom \
                 metrics at {{resourceUri}}/metrics (POST); the sink's own are /metrics, \
                 /ingest, /callbacks, /prometheus, /stats and /healthz",
                path = crate::wire::printable(path)
            ),
        }
    }

    /// A Metrics - List question refused.
    /// `metricnames` is the question's, for messages naming its metrics.
    pub(in crate::sink) fn of_query(refused: &QueryError, metricnames: Option<&String>) -> Refusal {
        let asked: Vec<&str> = metricnames
            .map(|names| names.split(',').map(str::trim).collect())
            .unwrap_or_default();
        let message = match refused {
            QueryError::UnknownMetric(name) => format!(
                "Failed to find metric configuration for provider: Microsoft.Communication, \
                 resource Type: CommunicationServices, metric: {name}, Valid metrics: {}",
                azure_metric_names()
            ),
            QueryError::Filter(FilterError::UnknownDimension(name)) => {
                unsupported_dimension(&asked, name)
            }
            QueryError::FilterDimension(FilterError::NotADimension { dimension, metric }) => {
                unsupported_dimension(&[metric], dimension)
            }
            QueryError::RollUp(name) => unsupported_dimension(&asked, name),
            QueryError::AzureInterval(interval) => format!(
                "Invalid time grain duration: {interval}, supported ones are: {}; write one of \
                 {} or FULL, or set AutoAdjustTimegrain=true for the nearest one",
                AZURE_GRAINS.map(dotnet_time_span).join(","),
                AZURE_GRAINS.join(", ")
            ),
            QueryError::Timespan(TimespanError::Shape(text) | TimespanError::Backwards(text)) => {
                format!(
                    "Detected invalid time interval input: {text}, supported Iso 8601 time \
                     interval format: (Datetime/Datetime, Datetime/Duration, Duration/Datetime, \
                     Duration); {refused}"
                )
            }
            other => other.to_string(),
        };
        Refusal::bad_request(message)
    }
}

/// Azure's text for a dimension a metric does not have.
fn unsupported_dimension(metrics: &[&str], dimension: &str) -> String {
    let supported: Vec<String> = Metric::ALL
        .iter()
        .filter(|m| metrics.contains(&m.name()))
        .map(|m| {
            let dims: Vec<&str> = m
                .dimensions()
                .iter()
                .map(|d| d.name(Naming::Azure))
                .collect();
            dims.join(",")
        })
        .collect();
    format!(
        "Metric: {} does not support requested dimension combination: {dimension}, supported \
         ones are: {}",
        metrics.join(","),
        supported.join("; ")
    )
}

/// A grain as .NET prints a TimeSpan (`00:01:00`, `1.00:00:00`), as
/// Azure lists the supported grains.
fn dotnet_time_span(grain: &str) -> String {
    let seconds = grain.parse::<Grain>().map_or(0, |g| g.millis() / 1000);
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if days > 0 {
        format!("{days}.{clock}")
    } else {
        clock
    }
}

/// The metrics Azure defines for a Communication Services resource.
fn azure_metric_names() -> String {
    let names: Vec<&str> = Metric::ALL
        .iter()
        .filter(|m| m.is_azure_metric())
        .map(|m| m.name())
        .collect();
    names.join(",")
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut body = ErrorBody::new(self.status, self.message);
        body.error.code = self.code.to_string();
        if self.wrapped {
            (self.status, axum::Json(body)).into_response()
        } else {
            (self.status, axum::Json(body.error)).into_response()
        }
    }
}
