//! The HTTP client side, shared by everything that sends or asks: the
//! replay's delivery engine (`emit::deliver`) and `check`'s backends. Which
//! replies are retried and how long to wait is decided once, in [`retry`];
//! how a client is built (no proxy for loopback, no redirects followed,
//! timeouts) and how its errors read, in [`http`]; how it speaks TLS, in
//! [`tls`].

pub(crate) mod http;
pub(crate) mod retry;
pub(crate) mod tls;

pub(crate) use retry::{Reply, RetryAction, RetryPolicy, Retryable, TransportFailure, classify};
