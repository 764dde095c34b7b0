//! Which operation a request names, matched against the catalog's REST
//! routes (so a route added there is served here). Some routes carry two
//! operations the wire cannot tell apart (`DELETE .../{id}` is Hang Up
//! and Delete Call, `:recognize` is Recognize and PlayPrompt): the
//! handler decides (the body for a recognize, the call's flow otherwise).

use crate::catalog::{Method, Operation};
use std::sync::LazyLock;

/// A request's route: the operations it may be, and the ids in its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Route {
    pub operations: Vec<Operation>,
    /// `{callConnectionId}` or `{recordingId}`, as sent.
    pub resource: Option<String>,
}

/// The catalog's routes, split into segments once.
static ROUTES: LazyLock<Vec<(Method, Vec<&'static str>, Operation)>> = LazyLock::new(|| {
    Operation::ALL
        .iter()
        .map(|&op| {
            let info = op.info();
            (info.method, info.route.split('/').collect(), op)
        })
        .collect()
});

/// The route of `method` `path` (no query), `None` when no operation has
/// it.
pub(super) fn route(method: &str, path: &str) -> Option<Route> {
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        _ => return None,
    };
    let got: Vec<&str> = path.split('/').collect();
    let mut found: Option<Route> = None;
    for (m, wanted, op) in ROUTES.iter() {
        if *m != method {
            continue;
        }
        let Some(resource) = matches(wanted, &got) else {
            continue;
        };
        match &mut found {
            Some(route) => route.operations.push(*op),
            None => {
                found = Some(Route {
                    operations: vec![*op],
                    resource,
                })
            }
        }
    }
    found
}

/// Whether `got` (a path's segments) is an instance of `wanted` (a
/// template's); the first placeholder's value when it is.
fn matches(wanted: &[&str], got: &[&str]) -> Option<Option<String>> {
    if wanted.len() != got.len() {
        return None;
    }
    let mut first = None;
    for (w, g) in wanted.iter().zip(got) {
        let Some(rest) = w.strip_prefix('{') else {
            if w != g {
                return None;
            }
            continue;
        };
        let (_, action) = rest.split_once('}')?;
        let value = g.strip_suffix(action)?;
        // An id has no `:` of its own (raw ids come percent-encoded).
        if value.is_empty() || value.contains(':') {
            return None;
        }
        first.get_or_insert_with(|| value.to_string());
    }
    Some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(method: &str, path: &str) -> Vec<Operation> {
        route(method, path)
            .map(|r| r.operations)
            .unwrap_or_default()
    }

    #[test]
    fn every_catalog_route_is_found_with_its_ids() {
        for &op in Operation::ALL {
            let info = op.info();
            let path = info
                .route
                .replace("{callConnectionId}", "c1")
                .replace("{recordingId}", "r1")
                .replace("{participantRawId}", "8%3Aacs%3Ax");
            let r = route(info.method.as_str(), &path).expect(info.name);
            assert!(r.operations.contains(&op), "{}", info.name);
            if info.route.contains('{') {
                assert!(matches!(r.resource.as_deref(), Some("c1" | "r1")), "{r:?}");
            }
        }
    }

    #[test]
    fn shared_routes_name_both_operations() {
        assert_eq!(
            ops("DELETE", "/calling/callConnections/abc"),
            [Operation::HangUpCall, Operation::DeleteCall]
        );
        assert_eq!(
            ops("POST", "/calling/callConnections/abc:recognize"),
            [Operation::PlayPrompt, Operation::Recognize]
        );
        assert_eq!(
            ops("POST", "/calling/callConnections/abc:play"),
            [Operation::Play]
        );
        assert_eq!(
            ops("POST", "/calling/callConnections"),
            [Operation::CreateCall]
        );
    }

    #[test]
    fn other_paths_and_methods_name_none() {
        assert!(route("GET", "/calling/callConnections").is_none());
        assert!(route("POST", "/calling/callConnections/abc:dance").is_none());
        assert!(route("PUT", "/calling/callConnections/abc").is_none());
        assert!(route("POST", "/calling/callConnections/:play").is_none());
        assert!(route("GET", "/metrics").is_none());
    }
}
