//! A fake HTTP/1.1 app on a free loopback port, answering every request
//! as the test says (hostile bodies, refusals), for as long as the test's
//! runtime lives.

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

pub type Answer = http::Response<BoxBody<Bytes, Infallible>>;

/// Serves `answer(request)` to every request, its body read first.
pub async fn serve(
    answer: impl Fn(&http::request::Parts) -> Answer + Send + Sync + 'static,
) -> SocketAddr {
    serve_reading(move |parts, _| answer(parts)).await
}

/// Serves `answer(request, body)` to every request.
pub async fn serve_reading(
    answer: impl Fn(&http::request::Parts, &[u8]) -> Answer + Send + Sync + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let answer = answer.clone();
            let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let answer = answer.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    Ok::<_, Infallible>(answer(&parts, &body))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    addr
}

/// An answer with a body of `body`.
pub fn answer(status: u16, content_type: &str, body: &str) -> Answer {
    http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap()
}
