//! `api-version`: required on every Azure Monitor API but custom-metrics
//! ingestion; an unknown one is refused as Azure refuses it, naming the
//! versions there are (docs/sources.md, "api-version").

use super::Refusal;
use axum::http::StatusCode;
use std::collections::HashMap;

/// The api-versions one API answers, and its name in messages.
pub(super) struct ApiVersions {
    api: &'static str,
    versions: &'static [&'static str],
}

impl ApiVersions {
    pub(super) const METRICS: ApiVersions = ApiVersions {
        api: "metrics",
        versions: &[
            "2016-06-01",
            "2017-05-01-preview",
            "2018-01-01",
            "2019-07-01",
            "2021-05-01",
            "2023-10-01",
            "2024-02-01",
        ],
    };
    pub(super) const DEFINITIONS: ApiVersions = ApiVersions {
        api: "metricDefinitions",
        versions: &[
            "2016-03-01",
            "2017-05-01-preview",
            "2018-01-01",
            "2021-05-01",
            "2023-10-01",
            "2024-02-01",
        ],
    };
    pub(super) const NAMESPACES: ApiVersions = ApiVersions {
        api: "metricNamespaces",
        versions: &["2017-12-01-preview", "2023-10-01", "2024-02-01"],
    };
    pub(super) const BATCH: ApiVersions = ApiVersions {
        api: "metrics:getBatch",
        versions: &["2023-05-01-preview", "2023-10-01", "2024-02-01"],
    };

    /// The request's api-version, if this API has it.
    pub(super) fn check(&self, params: &HashMap<String, String>) -> Result<(), Refusal> {
        let Some(given) = params.get("api-version") else {
            return Err(Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "MissingApiVersionParameter",
                wrapped: true,
                message: format!(
                    "The api-version query parameter (?api-version=) is required for all \
                     requests; {} takes {}",
                    self.api,
                    self.versions.join(", ")
                ),
            });
        };
        if self.versions.contains(&given.as_str()) {
            return Ok(());
        }
        Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "NoRegisteredProviderFound",
            wrapped: true,
            message: format!(
                "No registered resource provider found for API version '{given}' and type \
                 '{}'. The supported api-versions are '{}'.",
                self.api,
                self.versions.join(", ")
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(version: &str) -> HashMap<String, String> {
        HashMap::from([("api-version".to_string(), version.to_string())])
    }

    #[test]
    fn the_versions_clients_send_are_taken_and_others_refused_naming_them() {
        assert!(ApiVersions::METRICS.check(&with("2024-02-01")).is_ok());
        assert!(ApiVersions::BATCH.check(&with("2024-02-01")).is_ok());
        assert!(
            ApiVersions::NAMESPACES
                .check(&with("2017-12-01-preview"))
                .is_ok()
        );
        let refused = ApiVersions::METRICS.check(&with("2099-01-01")).unwrap_err();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(refused.code, "NoRegisteredProviderFound");
        assert!(
            refused.message.contains("'2099-01-01'"),
            "{}",
            refused.message
        );
        assert!(
            refused.message.contains("2024-02-01"),
            "{}",
            refused.message
        );
        let missing = ApiVersions::DEFINITIONS.check(&HashMap::new()).unwrap_err();
        assert_eq!(missing.code, "MissingApiVersionParameter");
    }
}
