//! The OpenID configuration a signed run serves, so an app validates its
//! tokens exactly as it validates ACS's: from the metadata document
//! (`issuer`, `jwks_uri`) at the path ACS uses, and the key set it names.
//! Served with `serve`'s limits: whoever connects to it (anyone who can
//! reach `--oidc-listen`) cannot hold the end of the run.

use super::sign::Signer;
use crate::serve::{Background, ConnectionLimits};
use axum::routing::get;
use serde_json::json;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// The metadata path, as ACS serves it.
pub(crate) const CONFIGURATION_PATH: &str = "/calling/.well-known/acsopenidconfiguration";
/// The key set's path.
pub(crate) const KEYS_PATH: &str = "/calling/keys";

/// The configuration and key set of `signer`, served from `base` (the
/// scheme and authority apps reach it at): `run --sign` serves them on a
/// listener of their own, `emulate --sign` beside the REST API.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>(
    signer: &Signer,
    base: &str,
) -> axum::Router<S> {
    let configuration = json!({
        "issuer": signer.issuer(),
        "jwks_uri": format!("{base}{KEYS_PATH}"),
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
    });
    let keys = signer.jwks();
    axum::Router::new()
        .route(
            CONFIGURATION_PATH,
            get(move || async move { axum::Json(configuration) }),
        )
        .route(KEYS_PATH, get(move || async move { axum::Json(keys) }))
}

/// The metadata server, in the background of the current runtime.
pub struct OidcServer {
    addr: SocketAddr,
    server: Background,
}

impl OidcServer {
    /// Serves `signer`'s configuration and keys on `listen` (port 0: any).
    pub async fn start(listen: SocketAddr, signer: Arc<Signer>) -> io::Result<OidcServer> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let app = routes(&signer, &format!("http://{addr}"));
        let server = Background::spawn(listener, app, ConnectionLimits::RUN_SIDE, None);
        Ok(OidcServer { addr, server })
    }

    /// Where apps read the metadata.
    pub fn configuration_url(&self) -> String {
        format!("http://{}{CONFIGURATION_PATH}", self.addr)
    }

    /// Stops serving, within `ConnectionLimits::RUN_SIDE`'s drain.
    pub async fn shutdown(self) -> io::Result<()> {
        self.server.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_the_configuration_and_the_keys_it_names() {
        let signer = Arc::new(
            Signer::generate(
                "1b6f2c7a-2a54-4b7e-9f3c-0f1e2d3c4b5a",
                super::super::sign::ACS_ISSUER,
            )
            .unwrap(),
        );
        let server = OidcServer::start("127.0.0.1:0".parse().unwrap(), Arc::clone(&signer))
            .await
            .unwrap();
        let url: reqwest::Url = server.configuration_url().parse().unwrap();
        // The one client builder: a proxy in the environment must not
        // capture the loopback server.
        let client = crate::client::http::client(
            &url,
            None,
            &crate::client::tls::ClientTls::system(),
            1,
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        let config: serde_json::Value = client.get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(config["issuer"], signer.issuer());
        let keys: serde_json::Value = client
            .get(config["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(keys, signer.jwks());
        assert_eq!(keys["keys"][0]["kid"], signer.kid());
        server.shutdown().await.unwrap();
    }
}
