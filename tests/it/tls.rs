//! HTTPS everywhere, on loopback, with certificates made here (rcgen): a
//! private CA signs the servers' and the client's certificates.
//! `callmetrics sink --tls-cert --tls-key` serves https://; `run` ingests
//! into it, delivers callbacks to it as to an HTTPS app, and checks it;
//! `check` reads it; a CA that did not sign it is refused with a clear
//! message; `--insecure` gets through with a warning. The same
//! certificates in front of a real Prometheus (mTLS) are
//! servers/tls.rs.

use crate::common::{SinkProcess, callmetrics};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// PEM files of a CA and of the certificates it signed, in a temp dir.
pub(crate) struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A CA, a server certificate for 127.0.0.1 and localhost, a client
    /// certificate; and a second CA that signed nothing of these.
    pub(crate) fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca("callmetrics test CA");
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", ca.pem());
        write("other-ca.pem", ca_pem("another CA"));
        for (name, sans) in [
            (
                "server",
                vec!["127.0.0.1".to_string(), "localhost".to_string()],
            ),
            ("client", vec!["callmetrics-client".to_string()]),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(sans).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.signed_by(&key, &ca).unwrap();
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        Pki { dir }
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn ca_pem(name: &str) -> String {
    ca(name).pem()
}

/// `callmetrics sink` serving https:// with the server certificate.
fn https_sink(pki: &Pki) -> SinkProcess {
    SinkProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &pki.path("server.pem"),
        "--tls-key",
        &pki.path("server.key"),
    ])
}

#[test]
fn run_and_check_speak_https_to_a_sink_behind_a_private_ca() {
    let pki = Pki::new();
    let sink = https_sink(&pki);
    assert!(sink.url.starts_with("https://127.0.0.1:"), "{}", sink.url);
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().join("expected.json");
    let cacert = pki.path("ca.pem");

    // Ingest over TLS, then the run's own check of the HTTPS query API.
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "50",
        "--max-rate",
        "--quiet",
        "--sink",
        &sink.url,
        "--check",
        "--cacert",
        &cacert,
        "--expected-out",
        expected.to_str().unwrap(),
    ])
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());

    // check on its own reads it too.
    let check = callmetrics(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--observed",
        &sink.url,
        "--cacert",
        &cacert,
    ])
    .expect_code(0);
    assert!(check.stdout.starts_with("PASS"), "{}", check.describe());

    // A CA that did not sign the sink's certificate: refused, saying how
    // to trust the right one.
    let wrong = callmetrics(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--observed",
        &sink.url,
        "--cacert",
        &pki.path("other-ca.pem"),
    ])
    .expect_code(2);
    assert!(
        wrong.stderr.contains("trust its CA with --cacert FILE"),
        "{}",
        wrong.describe()
    );
    // The system's roots do not know a private CA either.
    let system = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "5",
        "--max-rate",
        "--quiet",
        "--sink",
        &sink.url,
    ])
    .expect_code(2);
    assert!(
        system.stderr.contains("sink not reachable at https://")
            && system.stderr.contains("trust its CA with --cacert FILE"),
        "{}",
        system.describe()
    );
    // --insecure gets through, loudly.
    let insecure = callmetrics(&[
        "check",
        "--expected",
        expected.to_str().unwrap(),
        "--observed",
        &sink.url,
        "--insecure",
    ])
    .expect_code(0);
    assert!(
        insecure.stderr.contains("warning: --insecure"),
        "{}",
        insecure.describe()
    );
}

#[test]
fn callbacks_reach_an_https_app() {
    let pki = Pki::new();
    let sink = https_sink(&pki);
    // The sink takes callbacks at /callbacks as an app would.
    let run = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--target",
        "webhook",
        "--calls",
        "40",
        "--max-rate",
        "--quiet",
        "--sink",
        &format!("{}/callbacks", sink.url),
        "--check",
        "--cacert",
        &pki.path("ca.pem"),
    ])
    .expect_code(0);
    assert!(run.stdout.starts_with("PASS"), "{}", run.describe());
}

#[test]
fn flags_a_tls_setup_cannot_use_are_explained() {
    let pki = Pki::new();
    let missing = callmetrics(&[
        "sink",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &pki.path("nothing.pem"),
        "--tls-key",
        &pki.path("server.key"),
    ])
    .expect_code(2);
    assert!(
        missing.stderr.contains("--tls-cert ") && missing.stderr.contains("nothing.pem"),
        "{}",
        missing.describe()
    );
    let key_only = callmetrics(&[
        "check",
        "--expected",
        "x",
        "--observed",
        "https://127.0.0.1:1",
        "--key",
        "k.pem",
    ])
    .expect_code(2);
    assert!(
        key_only.stderr.contains("--cert"),
        "{}",
        key_only.describe()
    );
    let no_scheme = callmetrics(&[
        "run",
        "tests/fixtures/tiny.json",
        "--calls",
        "5",
        "--sink",
        "127.0.0.1:8650",
    ])
    .expect_code(2);
    assert!(
        no_scheme
            .stderr
            .contains("add one (e.g. http://127.0.0.1:8650)")
            && no_scheme.stderr.contains("http:// or https://"),
        "{}",
        no_scheme.describe()
    );
}
