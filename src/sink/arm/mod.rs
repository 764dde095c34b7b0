//! Azure Monitor's REST surface, at Azure's own paths, so Azure's clients
//! (the SDKs' `MetricsQueryClient` and `MetricsClient`, dashboards and
//! exporters built on the Metrics REST API) read the sink as they read
//! Azure: Metrics - List, Metric Definitions, Metric Namespaces, the
//! regional batch API, and custom-metrics ingestion. Each refusal carries
//! the status and error code Azure answers with (docs/sources.md).
//!
//! The sink holds one resource's metrics: every Communication Services
//! resource id answers them.

mod api_version;
mod batch;
mod definitions;
mod refusal;
mod route;
pub(super) mod timespan;

use super::http::{AppState, DOCUMENTS, accept, run_query, unauthorized};
use super::query::{Dialect, Query};
use api_version::ApiVersions;
use axum::extract::{Query as QueryParams, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
pub(super) use refusal::Refusal;
use route::ArmRoute;
use std::collections::HashMap;
use std::sync::Arc;

/// The parameters Azure's APIs take, spelt as the sink reads them; a
/// client may write them in any case.
const PARAMETERS: [&str; 16] = [
    "api-version",
    "metricnames",
    "timespan",
    "interval",
    "aggregation",
    "$filter",
    "filter",
    "top",
    "orderby",
    "resultType",
    "metricnamespace",
    "AutoAdjustTimegrain",
    "ValidateDimensions",
    "rollupby",
    "starttime",
    "endtime",
];

/// Answers a request no other route took: one of Azure Monitor's APIs,
/// or Azure's 404.
pub(super) async fn serve(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let path = single_slashes(request.uri().path());
    let post = request.method() == Method::POST;
    if request.method() != Method::GET && !post {
        return Refusal::not_found(&path).into_response();
    }
    let Some(route) = ArmRoute::of(post, &path) else {
        return Refusal::not_found(&path).into_response();
    };
    if let Some(refused) = unauthorized(&state, request.headers()) {
        return refused;
    }
    let params = match QueryParams::<Vec<(String, String)>>::try_from_uri(request.uri()) {
        Ok(QueryParams(pairs)) => canonical(pairs),
        Err(e) => return Refusal::bad_request(format!("the query string: {e}")).into_response(),
    };
    match route {
        // Custom-metrics ingestion has no api-version: it takes what
        // the sink's POST /metrics takes, into the resource's own store.
        ArmRoute::Documents { resource } => {
            let store = match state.resources.get_or_make(resource) {
                Ok(store) => store,
                Err(e) => {
                    return Refusal {
                        status: StatusCode::INTERNAL_SERVER_ERROR,
                        code: "InternalServerError",
                        message: format!("cannot keep {resource}'s metrics: {e}"),
                        wrapped: true,
                    }
                    .into_response();
                }
            };
            let (parts, body) = request.into_parts();
            accept(state, store, parts.headers, body, &DOCUMENTS).await
        }
        ArmRoute::Metrics { resource } => {
            if let Err(refused) = ApiVersions::METRICS.check(&params) {
                return refused.into_response();
            }
            metrics(&state, &params, resource).await
        }
        ArmRoute::Definitions { resource } => {
            if let Err(refused) = ApiVersions::DEFINITIONS.check(&params) {
                return refused.into_response();
            }
            definitions::list(resource, &params, state.config.naming)
        }
        ArmRoute::Namespaces { resource } => {
            if let Err(refused) = ApiVersions::NAMESPACES.check(&params) {
                return refused.into_response();
            }
            definitions::namespaces(resource)
        }
        ArmRoute::Batch { subscription } => {
            if let Err(refused) = ApiVersions::BATCH.check(&params) {
                return refused.into_response();
            }
            batch::answer(state, params, subscription.to_string(), request).await
        }
    }
}

/// Metrics - List for `resource`.
async fn metrics(state: &AppState, params: &HashMap<String, String>, resource: &str) -> Response {
    let naming = state.config.naming;
    let query = match Query::parse(params, naming, Dialect::Azure { now: now_millis() }) {
        Ok(query) => query,
        Err(refused) => {
            return Refusal::of_query(&refused, params.get("metricnames")).into_response();
        }
    };
    let max = state.config.max_answer_points;
    let store = state.store_of(resource, params.get("metricnamespace"));
    let resource = resource.to_string();
    let metricnames = params.get("metricnames").cloned();
    run_query(state, move || {
        match store.read(|data| query.run(data, naming, max, &resource)) {
            Ok(answer) => axum::Json(answer).into_response(),
            Err(refused) => Refusal::of_query(&refused, metricnames.as_ref()).into_response(),
        }
    })
    .await
}

/// `path` with each run of slashes made one: the JavaScript client asks
/// for `/{resourceUri}/...` with the resource id's own leading slash
/// (`//subscriptions/...`), which Azure takes.
fn single_slashes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// The query's parameters under the names the sink reads them by.
fn canonical(pairs: Vec<(String, String)>) -> HashMap<String, String> {
    pairs
        .into_iter()
        .map(|(name, value)| {
            let known = PARAMETERS
                .iter()
                .find(|p| p.eq_ignore_ascii_case(&name))
                .map_or(name, |p| p.to_string());
            (known, value)
        })
        .collect()
}

/// Now, in Unix milliseconds: where a timespan given as a duration ends.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
