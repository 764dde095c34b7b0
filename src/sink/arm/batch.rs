//! The regional batch API, `POST /subscriptions/{id}/metrics:getBatch`
//! with `{"resourceids": [...]}`: Metrics - List for several resources of
//! one subscription at once (what `MetricsClient.query_resources` asks).
//! Its parameters are Metrics - List's with `starttime`/`endtime` for
//! `timespan` and `filter` for `$filter`; each answer carries its
//! resource's id and the time range as `starttime`/`endtime`.

use super::{Refusal, now_millis};
use crate::sink::http::{AppState, run_query};
use crate::sink::query::{Dialect, Query};
use crate::wire::metrics_response::time_stamp;
use crate::wire::resource_id::is_resource_id;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// Resource ids one batch may name (docs/sources.md, "Batch").
const MAX_RESOURCES: usize = 50;

/// The largest body read: 50 resource ids fit in a few KiB.
const MAX_BODY: usize = 64 << 10;

#[derive(Deserialize)]
struct Body {
    resourceids: Vec<String>,
}

pub(super) async fn answer(
    state: Arc<AppState>,
    mut params: HashMap<String, String>,
    subscription: String,
    request: Request,
) -> Response {
    let bytes = match axum::body::to_bytes(request.into_body(), MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            return Refusal::bad_request(format!("the body: {e}"))
                .wrapped()
                .into_response();
        }
    };
    let resources = match resource_ids(&bytes, &subscription) {
        Ok(resources) => resources,
        Err(refused) => return refused.wrapped().into_response(),
    };
    if !params.contains_key("metricnamespace") {
        return Refusal::bad_request(
            "metricnamespace is required, e.g. metricnamespace=Microsoft.Communication/\
             CommunicationServices"
                .into(),
        )
        .wrapped()
        .into_response();
    }
    if params.contains_key("timespan") {
        return Refusal::bad_request(
            "Detected invalid time range parameters for API version 2024-02-01. Please use only \
             starttime and endtime to specify a time range."
                .into(),
        )
        .wrapped()
        .into_response();
    }
    if let Some(filter) = params.remove("filter") {
        params.insert("$filter".into(), filter);
    }
    let now = now_millis();
    // endtime defaults to now; with neither, the last hour (the spec's
    // text for starttime).
    match (params.remove("starttime"), params.remove("endtime")) {
        (Some(start), end) => {
            let end = end.unwrap_or_else(|| time_stamp(now));
            params.insert("timespan".into(), format!("{start}/{end}"));
        }
        (None, Some(_)) => {
            return Refusal::bad_request(
                "endtime needs starttime: give both, starttime alone (ending now) or neither \
                 (the last hour)"
                    .into(),
            )
            .wrapped()
            .into_response();
        }
        (None, None) => {}
    }
    let naming = state.config.naming;
    let metricnames = params.get("metricnames").cloned();
    let query = match Query::parse(&params, naming, Dialect::Azure { now }) {
        Ok(query) => query,
        Err(refused) => {
            return Refusal::of_query(&refused, metricnames.as_ref())
                .wrapped()
                .into_response();
        }
    };
    let max = state.config.max_answer_points;
    let namespace = params.get("metricnamespace");
    let stores: Vec<_> = resources
        .iter()
        .map(|r| (r.clone(), state.store_of(r, namespace)))
        .collect();
    run_query(&state, move || {
        let mut values = Vec::with_capacity(stores.len());
        for (resource, store) in &stores {
            match store.read(|data| query.run(data, naming, max, resource)) {
                Ok(answer) => values.push(batch_entry(answer, resource)),
                Err(refused) => {
                    return Refusal::of_query(&refused, metricnames.as_ref())
                        .wrapped()
                        .into_response();
                }
            }
        }
        axum::Json(json!({ "values": values })).into_response()
    })
    .await
}

/// The body's resource ids: at least one, at most [`MAX_RESOURCES`], each
/// a resource of `subscription`.
fn resource_ids(body: &[u8], subscription: &str) -> Result<Vec<String>, Refusal> {
    let body: Body = serde_json::from_slice(body).map_err(|e| {
        Refusal::bad_request(format!(
            "the body must be {{\"resourceids\": [\"/subscriptions/...\", ...]}}: {e}"
        ))
    })?;
    if body.resourceids.is_empty() || body.resourceids.len() > MAX_RESOURCES {
        return Err(Refusal::bad_request(format!(
            "resourceids holds {} ids; a batch takes 1 to {MAX_RESOURCES}",
            body.resourceids.len()
        )));
    }
    let prefix = format!("/subscriptions/{}/", subscription.to_ascii_lowercase());
    for id in &body.resourceids {
        let lower = id.to_ascii_lowercase();
        if !is_resource_id(&lower) || !lower.starts_with(&prefix) {
            return Err(Refusal::bad_request(format!(
                "resourceids: {id:?} is not a resource id of subscription {subscription} \
                 (/subscriptions/{subscription}/resourceGroups/GROUP/providers/NAMESPACE/TYPE/NAME)"
            )));
        }
    }
    Ok(body.resourceids)
}

/// One resource's answer in the batch's shape: `starttime`/`endtime` for
/// `timespan`, and `resourceid`.
fn batch_entry(answer: crate::wire::MetricsResponse, resource: &str) -> Value {
    let (start, end) = answer
        .timespan
        .split_once('/')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or_default();
    json!({
        "starttime": start,
        "endtime": end,
        "interval": answer.interval,
        "value": answer.value,
        "namespace": answer.namespace,
        "resourceregion": answer.resourceregion,
        "resourceid": resource,
    })
}
