//! `sink --tls-cert FILE --tls-key FILE`: the sink serves `https://`, so
//! the clients' TLS (a private CA, `--insecure`, client certificates) can
//! be tested against it, and so it can sit where only HTTPS is allowed.

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why `--tls-cert` and `--tls-key` make no server configuration; each
/// variant names the flag and the file.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    #[error("--tls-cert {}: {reason}", path.display())]
    Unreadable {
        path: PathBuf,
        reason: rustls::pki_types::pem::Error,
    },
    #[error(
        "--tls-cert {}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
        .0.display()
    )]
    NoCertificate(PathBuf),
    #[error("--tls-key {}: no PEM private key read from it ({reason})", path.display())]
    NoKey {
        path: PathBuf,
        reason: rustls::pki_types::pem::Error,
    },
    #[error("TLS: {0}")]
    Protocols(rustls::Error),
    #[error(
        "--tls-cert {} and --tls-key: not a certificate and its key ({reason})",
        path.display()
    )]
    NotAPair {
        path: PathBuf,
        reason: rustls::Error,
    },
    #[error("making a certificate for 127.0.0.1 and localhost: {0}")]
    Generate(String),
}

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
    pub fn load(cert: &Path, key: &Path) -> Result<ServerTls, ServerTlsError> {
        let chain = CertificateDer::pem_file_iter(cert)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|reason| ServerTlsError::Unreadable {
                path: cert.to_path_buf(),
                reason,
            })?;
        if chain.is_empty() {
            return Err(ServerTlsError::NoCertificate(cert.to_path_buf()));
        }
        let private =
            PrivateKeyDer::from_pem_file(key).map_err(|reason| ServerTlsError::NoKey {
                path: key.to_path_buf(),
                reason,
            })?;
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(ServerTlsError::Protocols)?
                .with_no_client_auth()
                .with_single_cert(chain, private)
                .map_err(|reason| ServerTlsError::NotAPair {
                    path: cert.to_path_buf(),
                    reason,
                })?;
        Ok(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    /// A new self-signed certificate for 127.0.0.1, ::1 and localhost
    /// (what `emulate` serves when given none), and its PEM text for
    /// clients to trust.
    pub fn self_signed() -> Result<(ServerTls, String), ServerTlsError> {
        let names = ["127.0.0.1", "::1", "localhost"].map(String::from).to_vec();
        let made = rcgen::generate_simple_self_signed(names)
            .map_err(|e| ServerTlsError::Generate(e.to_string()))?;
        let pem = made.cert.pem();
        let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())
            .map_err(|e| ServerTlsError::Generate(e.to_string()))?;
        let config =
            ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(ServerTlsError::Protocols)?
                .with_no_client_auth()
                .with_single_cert(vec![made.cert.der().clone()], key)
                .map_err(|e| ServerTlsError::Generate(e.to_string()))?;
        let tls = ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        };
        Ok((tls, pem))
    }
}
