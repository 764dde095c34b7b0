//! Signing callbacks the way ACS does (`run --target webhook --sign`):
//! every request carries `Authorization: Bearer <JWT>`, RS256, a fresh
//! token per request that lives five minutes, `aud` the ACS resource's
//! immutable id (a GUID), `iss` the issuer its OpenID configuration names.
//! The key pair is made anew for each run; `oidc.rs` serves its public half.
//!
//! RSA signing costs about a millisecond of CPU per token, so a signed run
//! is bound by it (documented in docs/perf.md); unsigned runs pay nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use rsa::PrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The issuer of ACS callback tokens.
pub const ACS_ISSUER: &str = "https://acscallautomation.communication.azure.com";
/// How long a token is valid.
pub const LIFETIME: Duration = Duration::from_secs(300);
const KEY_BITS: usize = 2048;

/// Why no signer could be made.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(
        "--acs-resource-id {0:?} is not a GUID (the immutable resource id on the ACS resource's \
         overview page, e.g. 1b6f2c7a-2a54-4b7e-9f3c-0f1e2d3c4b5a)"
    )]
    NotAGuid(String),
    #[error("cannot make a signing key: {0}")]
    Key(rsa::Error),
}

/// Signs callback tokens with a key of its own.
pub struct Signer {
    key: SigningKey<Sha256>,
    /// The RFC 7638 thumbprint of the public key.
    kid: String,
    /// `base64url(header) + "."`, the same for every token.
    header: String,
    audience: String,
    issuer: String,
    /// The public key as a JWK.
    jwk: Value,
}

impl Signer {
    /// A new key pair for tokens with this audience (an ACS immutable
    /// resource id, a GUID) and issuer.
    pub fn generate(audience: &str, issuer: &str) -> Result<Signer, SignError> {
        if !is_guid(audience) {
            return Err(SignError::NotAGuid(audience.to_string()));
        }
        let private = PrivateKey::new(&mut rand::rng(), KEY_BITS).map_err(SignError::Key)?;
        let (n, e) = (B64.encode(private.n_bytes()), B64.encode(private.e_bytes()));
        // RFC 7638: the required members in lexicographic order, no spaces.
        let thumbprint = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = B64.encode(Sha256::digest(thumbprint.as_bytes()));
        let header = json!({"alg": "RS256", "kid": kid, "typ": "JWT"});
        Ok(Signer {
            key: SigningKey::new(private),
            header: format!("{}.", B64.encode(header.to_string())),
            jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e}),
            kid,
            audience: audience.to_string(),
            issuer: issuer.to_string(),
        })
    }

    /// A token issued at `now`, valid for [`LIFETIME`].
    pub fn token(&self, now: SystemTime) -> String {
        let iat = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = json!({
            "aud": self.audience,
            "iss": self.issuer,
            "iat": iat,
            "nbf": iat,
            "exp": iat + LIFETIME.as_secs(),
        });
        let mut token = self.header.clone();
        token.push_str(&B64.encode(claims.to_string()));
        let signature = self.key.sign(token.as_bytes());
        token.push('.');
        token.push_str(&B64.encode(signature.to_bytes()));
        token
    }

    /// The JSON Web Key Set an app validates tokens with.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.jwk]})
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// 8-4-4-4-12 hexadecimal digits.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::PublicKey;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    const AUDIENCE: &str = "1b6f2c7a-2a54-4b7e-9f3c-0f1e2d3c4b5a";

    fn public(jwk: &Value) -> PublicKey {
        let part = |k: &str| {
            let bytes = B64.decode(jwk[k].as_str().unwrap()).unwrap();
            rsa::BoxedUint::from_be_slice_vartime(&bytes)
        };
        PublicKey::new(part("n"), part("e")).unwrap()
    }

    #[test]
    fn tokens_verify_against_the_published_key() {
        let signer = Signer::generate(AUDIENCE, ACS_ISSUER).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let token = signer.token(now);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], signer.kid());
        let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], AUDIENCE);
        assert_eq!(claims["iss"], ACS_ISSUER);
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            300
        );

        let jwks = signer.jwks();
        let key = VerifyingKey::<Sha256>::new(public(&jwks["keys"][0]));
        let signature = Signature::try_from(B64.decode(parts[2]).unwrap().as_slice()).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(key.verify(signed.as_bytes(), &signature).is_ok());
        // One changed claim and the signature no longer holds.
        let forged = format!("{}.{}", parts[0], B64.encode(r#"{"aud":"x"}"#));
        assert!(key.verify(forged.as_bytes(), &signature).is_err());
        // Every token is fresh: a second later, another token.
        assert_ne!(signer.token(now + Duration::from_secs(1)), token);
    }

    #[test]
    fn the_audience_must_be_a_guid() {
        let err = Signer::generate("my-resource", ACS_ISSUER)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not a GUID"), "{err}");
        assert!(is_guid(AUDIENCE) && !is_guid("1b6f2c7a2a544b7e9f3c0f1e2d3c4b5a"));
    }
}
