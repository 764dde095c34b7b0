//! How every client speaks `https://`: one rustls configuration built from
//! the TLS flags, used by the reqwest clients (check's backends, the
//! reachability probe) and by the delivery engine's own connections alike,
//! so a private CA or a client certificate reaches every peer.
//!
//! Servers are verified against the system's roots by default, or against
//! `--cacert FILE` alone (as curl's --cacert does); `--insecure` skips
//! verification (the command warns loudly); `--cert FILE --key FILE`
//! present a client certificate to mTLS receivers. The ring provider is
//! used: it needs no C toolchain beyond what `cc` builds.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The TLS flags, as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust only the CAs in this PEM file.
    pub cacert: Option<PathBuf>,
    /// Accept any server certificate.
    pub insecure: bool,
    /// A client certificate chain (PEM) and its private key (PEM).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// Why the TLS flags describe no usable configuration; each variant names
/// the flag and the file.
#[derive(Debug, thiserror::Error)]
pub enum ClientTlsError {
    #[error("TLS: {0}")]
    Protocols(rustls::Error),
    #[error("{flag} {}: {reason}", path.display())]
    Unreadable {
        flag: &'static str,
        path: PathBuf,
        reason: rustls::pki_types::pem::Error,
    },
    #[error(
        "{flag} {}: no PEM certificate in it (-----BEGIN CERTIFICATE-----)",
        path.display()
    )]
    NoCertificate { flag: &'static str, path: PathBuf },
    #[error("--cacert {}: not a CA certificate ({reason})", path.display())]
    NotACa {
        path: PathBuf,
        reason: rustls::Error,
    },
    #[error("--key {}: no PEM private key read from it ({reason})", path.display())]
    NoKey {
        path: PathBuf,
        reason: rustls::pki_types::pem::Error,
    },
    #[error("--cert {} and --key: not a certificate and its key ({reason})", path.display())]
    NotAPair {
        path: PathBuf,
        reason: rustls::Error,
    },
    #[error("--cert needs --key (the certificate's key)")]
    CertWithoutKey,
    #[error("--key needs --cert (its certificate)")]
    KeyWithoutCert,
}

/// A client's TLS configuration, cheap to clone.
#[derive(Clone, Debug)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
}

impl ClientTls {
    /// The configuration the flags describe; errors name the flag and the
    /// file.
    pub fn new(options: &TlsOptions) -> Result<ClientTls, ClientTlsError> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(ClientTlsError::Protocols)?;
        let builder = if options.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
        } else {
            builder.with_root_certificates(roots(options.cacert.as_deref())?)
        };
        let config = match (&options.cert, &options.key) {
            (Some(cert), Some(key)) => {
                let chain = certificates("--cert", cert)?;
                let key =
                    PrivateKeyDer::from_pem_file(key).map_err(|reason| ClientTlsError::NoKey {
                        path: key.clone(),
                        reason,
                    })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|reason| ClientTlsError::NotAPair {
                        path: cert.clone(),
                        reason,
                    })?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(_), None) => return Err(ClientTlsError::CertWithoutKey),
            (None, Some(_)) => return Err(ClientTlsError::KeyWithoutCert),
        };
        Ok(ClientTls {
            config: Arc::new(config),
        })
    }

    /// Verification against the system's roots, no client certificate.
    pub fn system() -> ClientTls {
        ClientTls::new(&TlsOptions::default()).expect("the default configuration builds")
    }

    /// The rustls configuration (for the delivery engine's connections).
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The CAs of `cacert`, or the system's.
fn roots(cacert: Option<&Path>) -> Result<RootCertStore, ClientTlsError> {
    let mut roots = RootCertStore::empty();
    match cacert {
        Some(path) => {
            for cert in certificates("--cacert", path)? {
                roots.add(cert).map_err(|reason| ClientTlsError::NotACa {
                    path: path.to_path_buf(),
                    reason,
                })?;
            }
        }
        // A machine without a CA bundle verifies nothing: every https peer
        // then fails with "unknown issuer", which the error explains.
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(roots)
}

/// Every certificate of a PEM file; none is an error naming `flag`.
fn certificates(
    flag: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, ClientTlsError> {
    let unreadable = |reason| ClientTlsError::Unreadable {
        flag,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(unreadable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unreadable)?;
    if certs.is_empty() {
        return Err(ClientTlsError::NoCertificate {
            flag,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// `--insecure`: any certificate is accepted, but handshakes are still
/// checked for what they sign, so the connection is encrypted.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_that_cannot_work_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem").unwrap();
        let err = ClientTls::new(&TlsOptions {
            cacert: Some(empty.clone()),
            ..TlsOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("--cacert ") && err.contains("no PEM certificate"),
            "{err}"
        );
        let missing = dir.path().join("missing.pem");
        let err = ClientTls::new(&TlsOptions {
            cacert: Some(missing),
            ..TlsOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing.pem"), "{err}");
        let err = ClientTls::new(&TlsOptions {
            cert: Some(empty),
            ..TlsOptions::default()
        })
        .unwrap_err()
        .to_string();
        assert_eq!(err, "--cert needs --key (the certificate's key)");
        assert!(
            ClientTls::new(&TlsOptions {
                insecure: true,
                ..TlsOptions::default()
            })
            .is_ok()
        );
    }
}
