//! `sink --tls-cert FILE --tls-key FILE`: the sink serves `https://`, so
//! the clients' TLS (a private CA, `--insecure`, client certificates) can
//! be tested against it, and so it can sit where only HTTPS is allowed.

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// A server certificate and its key, ready to accept handshakes.
#[derive(Clone)]
pub struct ServerTls {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTls")
    }
}

impl ServerTls {
    /// Reads a PEM certificate chain and its PEM private key; errors name
    /// the flag and the file.
    pub fn load(cert: &Path, key: &Path) -> Result<ServerTls, String> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
        if chain.is_empty() {
            return Err(format!(
                "--tls-cert {}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
                cert.display()
            ));
        }
        let private = PrivateKeyDer::from_pem_file(key).map_err(|e| {
            format!(
                "--tls-key {}: no PEM private key read from it ({e})",
                key.display()
            )
        })?;
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS: {e}"))?
                .with_no_client_auth()
                .with_single_cert(chain, private)
                .map_err(|e| {
                    format!(
                        "--tls-cert {} and --tls-key: not a certificate and its key ({e})",
                        cert.display()
                    )
                })?;
        Ok(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }
}
