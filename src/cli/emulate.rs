//! `emulate`: serve a local Call Automation service until Ctrl-C, SIGTERM
//! or `--duration`, then print the summary and write the files asked for.

use super::{EmulateArgs, Outcome};
use crate::catalog::Naming;
use crate::check::{ExpectedData, Traffic};
use crate::emit::targets::webhook::sign::ACS_ISSUER;
use crate::emit::targets::webhook::{Signer, oidc};
use crate::emulate::{AccessKey, Config, Emulator, IncomingCalls, Summary};
use crate::engine::{LiveCall, Workload};
use crate::html_report::{self, Checked, Page};
use crate::model::Grain;
use crate::scenario::Scenario;
use crate::serve::ServerTls;
use crate::sink::{RunningSink, SinkConfig};
use crate::wire::{Provenance, expected_response, write_expected};
use anyhow::Context;
use std::io::Write;
use std::sync::Arc;

pub(super) fn run(args: &EmulateArgs) -> anyhow::Result<Outcome> {
    let scenario = crate::scenario::load(&args.scenario).map_err(super::validate::explain)?;
    // Every live call borrows its flow for as long as the process serves.
    let scenario: &'static _ = Box::leak(Box::new(scenario));
    let key = AccessKey::from_base64(&args.access_key).map_err(|e| {
        anyhow::anyhow!(
            "--access-key: not base64 ({e}); use the accesskey of the connection string, \
             e.g. $(head -c 32 /dev/urandom | base64)"
        )
    })?;
    let (tls, generated) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => (ServerTls::load(cert, key)?, None),
        _ => {
            let (tls, pem) = ServerTls::self_signed()?;
            (tls, Some(pem))
        }
    };
    if let (Some(path), Some(pem)) = (&args.ca_out, &generated) {
        std::fs::write(path, pem).with_context(|| format!("--ca-out {}", path.display()))?;
    }
    let incoming = incoming_calls(args, scenario)?;
    let signer = match (&args.acs_resource_id, args.sign) {
        (Some(audience), true) => Some(Arc::new(
            Signer::generate(audience, ACS_ISSUER).map_err(|e| anyhow::anyhow!("{e}"))?,
        )),
        _ => None,
    };
    let mut config = Config {
        scenario,
        seed: args.seed,
        key,
        clock_skew: args.clock_skew,
        callback_timeout: args.callback_timeout,
        incoming,
        signer,
        query: None,
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("--listen {}: cannot listen", args.listen))?;
        let address = listener.local_addr()?;
        let query = match args.query_listen {
            Some(listen) => Some(
                RunningSink::start(SinkConfig {
                    listen,
                    ..SinkConfig::embedded()
                })
                .await
                .map_err(|e| anyhow::anyhow!("--query-listen: {e}"))?,
            ),
            None => None,
        };
        config.query = query.as_ref().map(RunningSink::in_process);
        let emulator = Emulator::start(config, listener, tls)?;
        let control = match args.control {
            Some(listen) => Some(
                emulator
                    .serve_status(listen)
                    .await
                    .with_context(|| format!("--control {listen}: cannot listen"))?,
            ),
            None => None,
        };
        announce(args, address, generated.is_some(), query.as_ref())?;
        if let Some((addr, _)) = &control {
            println!("status: http://{addr}/status");
        }
        let stop = async {
            match args.duration {
                Some(d) => {
                    tokio::select! {
                        () = tokio::time::sleep(d) => {}
                        () = super::sink::shutdown_signal() => {}
                    }
                }
                None => super::sink::shutdown_signal().await,
            }
        };
        tokio::select! {
            () = stop => {}
            () = progress(&emulator) => {}
        }
        if let Some((_, server)) = control {
            server.shutdown().await?;
        }
        eprintln!(
            "stopping: callbacks due in the next {:?} are still sent",
            args.settle
        );
        let outcome = emulator.stop(args.settle).await?;
        if let Some(query) = query {
            query.shutdown().await?;
        }
        if let Some(path) = &args.expected_out {
            let provenance = Provenance {
                scenario: scenario.name.clone(),
                scenario_sha256: scenario.sha256.clone(),
                seed: args.seed,
                workload: "emulate".into(),
                shard: "0/1".into(),
            };
            let resource = format!("callmetrics/emulate/{}", scenario.name);
            super::output::write_file(path, |out| {
                write_expected(out, &outcome.counted, Naming::Azure, &resource, provenance)
            })?;
        }
        if let Some(path) = &args.summary_out {
            super::output::write_file(path, |out| {
                serde_json::to_writer_pretty(&mut *out, &outcome.summary)?;
                out.write_all(b"\n")
            })?;
        }
        if let Some(path) = &args.report {
            write_report(path, args.seed, address, scenario, &outcome)?;
        }
        // Files first: a closed stdout must not lose them.
        print_summary(&outcome.summary)?;
        Ok(Outcome::Pass)
    })
}

/// Where incoming calls go, when a flow answers one: a scenario that
/// needs them without --incoming-call-url is refused (its inbound flows
/// would never run), as is --incoming-call-url for one that has none.
fn incoming_calls(
    args: &EmulateArgs,
    scenario: &'static crate::scenario::Scenario,
) -> anyhow::Result<Option<IncomingCalls>> {
    let inbound = LiveCall::first_inbound_flow(scenario);
    let url = match (&args.incoming_call_url, inbound) {
        (None, None) => return Ok(None),
        (Some(url), Some(_)) => url.clone(),
        (None, Some((flow, operation))) => anyhow::bail!(
            "--incoming-call-url: required, as flow {flow:?} of {} starts with {} (an incoming \
             call); give the app's Event Grid webhook, e.g. \
             --incoming-call-url http://127.0.0.1:8080/api/incomingCall",
            args.scenario.display(),
            operation.name()
        ),
        (Some(_), None) => anyhow::bail!(
            "--incoming-call-url: no flow of {} starts with Answer, Redirect or Reject Call, so \
             no incoming call would be answered; drop the flag or use a scenario with an \
             inbound flow (e.g. scenarios/inbound-ivr.json)",
            args.scenario.display()
        ),
    };
    let workload = Workload {
        calls: args.calls,
        // Without --calls, arrivals last as long as the emulator serves.
        duration: args
            .calls
            .is_none()
            .then_some(std::time::Duration::from_secs(u32::MAX.into())),
        rate: args.rate,
        arrival: args.arrival,
        ..Workload::calls(args.seed, 0, args.rate.0)
    };
    workload
        .check()
        .map_err(|e| anyhow::anyhow!("--rate: {e}"))?;
    Ok(Some(IncomingCalls { url, workload }))
}

/// The address (scripts read it from stdout: useful with port 0), the
/// connection string and how to trust the certificate.
fn announce(
    args: &EmulateArgs,
    address: std::net::SocketAddr,
    generated: bool,
    query: Option<&RunningSink>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "callmetrics emulate listening on https://{address}")?;
    writeln!(
        out,
        "connection string: endpoint=https://{address}/;accesskey=<--access-key>"
    )?;
    let ca = match (&args.ca_out, &args.tls_cert) {
        (Some(path), _) => Some(path.display().to_string()),
        (None, Some(cert)) => Some(cert.display().to_string()),
        (None, None) => None,
    };
    match ca {
        Some(ca) => writeln!(
            out,
            "trust {ca}: NODE_EXTRA_CA_CERTS={ca} (Node), REQUESTS_CA_BUNDLE={ca} (Python), \
             SSL_CERT_FILE={ca} (.NET on Linux), keytool -importcert -file {ca} (Java)"
        )?,
        None if generated => writeln!(
            out,
            "the certificate is new and written nowhere: pass --ca-out FILE so the app can trust it"
        )?,
        None => {}
    }
    if let Some(query) = query {
        writeln!(
            out,
            "query API: {} (check --backend sink --observed {0})",
            query.url()
        )?;
    }
    if let (true, Some(audience)) = (args.sign, &args.acs_resource_id) {
        writeln!(
            out,
            "callbacks signed for audience {audience}; OpenID configuration: \
             https://{address}{}",
            oidc::CONFIGURATION_PATH
        )?;
    }
    out.flush()?;
    Ok(())
}

/// How often a progress line is printed while something happens.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// One line on stderr every [`PROGRESS_EVERY`] when the counts moved:
/// an emulator serves for hours, and a silent one looks hung.
async fn progress(emulator: &Emulator) {
    let mut last = None;
    loop {
        tokio::time::sleep(PROGRESS_EVERY).await;
        let status = emulator.status();
        let s = &status.summary;
        let requests: u64 = s.requests.values().flat_map(|by| by.values()).sum();
        let delivered: u64 = s.callbacks_delivered.values().sum();
        let failed: u64 = s.callbacks_failed.values().sum();
        let unexpected: u64 =
            s.unexpected.values().sum::<u64>() + s.unauthorized.values().sum::<u64>();
        let now = (
            s.calls_started,
            s.calls_ended,
            requests,
            delivered,
            failed,
            unexpected,
        );
        if last == Some(now) {
            continue;
        }
        last = Some(now);
        eprintln!(
            "{:.0}s: calls {} ({} live), requests {requests}, callbacks acknowledged {delivered}, \
             not acknowledged {failed}, refused or unexpected requests {unexpected}",
            status.serving_s,
            s.calls_started,
            s.calls_started.saturating_sub(s.calls_ended),
        );
    }
}

/// `--report`: the counted traffic charted as `check --report` charts an
/// expected side, with the summary's tallies under the title.
fn write_report(
    path: &std::path::Path,
    seed: u64,
    address: std::net::SocketAddr,
    scenario: &Scenario,
    outcome: &crate::emulate::Outcome,
) -> anyhow::Result<()> {
    let resource = format!("callmetrics/emulate/{}", scenario.name);
    let counted = expected_response(&outcome.counted, Naming::Azure, &resource);
    let data = ExpectedData::from_response(&counted)?;
    let s = &outcome.summary;
    let mut meta = vec![format!(
        "scenario {} (sha256 {}), seed {seed}, served on https://{address}",
        scenario.name,
        super::short_digest(&scenario.sha256),
    )];
    let requests: Vec<String> = s
        .requests
        .iter()
        .map(|(operation, by)| {
            let statuses: Vec<String> = by.iter().map(|(c, n)| format!("{c}: {n}")).collect();
            format!("{operation} ({})", statuses.join(", "))
        })
        .collect();
    meta.push(format!(
        "{} calls; requests: {}",
        s.calls_started,
        if requests.is_empty() {
            "none".to_string()
        } else {
            requests.join("; ")
        }
    ));
    for (title, list) in [
        ("callbacks not acknowledged", &s.callbacks_failed),
        ("refused for their signature", &s.unauthorized),
        ("not expected", &s.unexpected),
    ] {
        let n: u64 = list.values().sum();
        if n > 0 {
            let what: Vec<String> = list.iter().map(|(w, n)| format!("{n} x {w}")).collect();
            meta.push(format!("{title}: {}", what.join("; ")));
        }
    }
    let page = Page {
        title: format!("callmetrics emulate: {}", scenario.name),
        meta,
        naming: Naming::Azure,
        run: None,
        check: Checked::Skipped {
            why: "what the emulator counted (--expected-out): check your app's own \
                  metrics against it"
                .into(),
            traffic: Traffic::expected(&data, Grain::MINUTE),
        },
    };
    super::output::write_file(path, |out| html_report::write(&page, out))
}

fn print_summary(s: &Summary) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let requests: u64 = s.requests.values().flat_map(|by| by.values()).sum();
    let delivered: u64 = s.callbacks_delivered.values().sum();
    writeln!(
        out,
        "calls {} ({} ended), requests {requests}, callbacks acknowledged {delivered}, repeats \
         answered again {}",
        s.calls_started, s.calls_ended, s.replayed
    )?;
    if let Some(validation) = &s.incoming_validation {
        writeln!(
            out,
            "incoming calls acknowledged {}, of which {} rang a minute unanswered; \
             deliveries tried again {} (subscription validation: {validation})",
            s.incoming_calls_posted, s.incoming_calls_unanswered, s.incoming_call_retries
        )?;
    }
    for (operation, by_status) in &s.requests {
        let statuses: Vec<String> = by_status.iter().map(|(c, n)| format!("{c}: {n}")).collect();
        writeln!(out, "  {operation}: {}", statuses.join(", "))?;
    }
    for (title, list) in [
        ("callbacks not acknowledged", &s.callbacks_failed),
        ("requests refused for their signature", &s.unauthorized),
        ("requests the scenario did not expect", &s.unexpected),
        (
            "counts the query API refused (in --expected-out all the same)",
            &s.query_api_refused,
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        writeln!(out, "{title}:")?;
        for (what, n) in list {
            writeln!(out, "  {n} x {}", crate::wire::printable(what))?;
        }
    }
    Ok(())
}
