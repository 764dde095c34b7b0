//! A fake backend for the backends' tests: one canned answer to every
//! request, and a record of what each request asked, so a test can assert
//! both what the backend made of an answer and what it sent.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What one request carried.
#[derive(Clone, Debug)]
pub(super) struct Asked {
    /// The URL's query parameters.
    pub params: BTreeMap<String, String>,
    pub authorization: Option<String>,
}

pub(super) struct Fake {
    pub url: String,
    asked: Arc<Mutex<Vec<Asked>>>,
}

impl Fake {
    /// The requests so far, in order.
    pub(super) fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }
}

/// Serves `body` with `status` on a free loopback port until the test's
/// runtime ends.
pub(super) async fn serve(status: u16, body: &'static str) -> Fake {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&asked);
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let record = Arc::clone(&record);
        async move {
            let params = reqwest::Url::parse(&format!("http://fake{}", request.uri()))
                .map(|u| u.query_pairs().into_owned().collect())
                .unwrap_or_default();
            let authorization = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            record.lock().unwrap().push(Asked {
                params,
                authorization,
            });
            (axum::http::StatusCode::from_u16(status).unwrap(), body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Fake { url, asked }
}
