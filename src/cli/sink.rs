//! `sink`: serve the embedded metrics sink until SIGINT or SIGTERM.

use super::{Outcome, SinkArgs};
use crate::sink::{ConnectionLimits, OpenReport, RunningSink, SinkConfig, StoreOptions};
use anyhow::Context;
use std::io::Write;

pub(super) fn run(args: &SinkArgs) -> anyhow::Result<Outcome> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        anyhow::bail!("--fault-rate must be between 0 and 1");
    }
    let config = SinkConfig {
        listen: args.listen,
        token: args.token.clone(),
        data_dir: args.data_dir.clone(),
        max_body: args.max_body,
        fault_rate: args.fault_rate,
        naming: args.naming,
        store: StoreOptions {
            repair: args.repair,
            max_keys: args.max_idempotency_keys,
            compact_after: args.compact_after,
            max_series: args.max_series,
            max_cells: args.max_cells,
            time_window: args.time_window,
            per_second_retention: args.per_second_retention,
        },
        connections: ConnectionLimits {
            max_connections: args.max_connections,
            header_timeout: args.header_timeout,
            drain: None,
        },
        body_timeout: args.body_timeout,
        max_inflight_bytes: args.max_inflight_bytes,
        max_queries: args.max_queries,
        max_answer_points: args.max_answer_points,
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(crate::sink::ServerTls::load(cert, key)?),
            _ => None,
        },
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        if let Some(warning) = exposure_warning(args.listen, args.token.is_some()) {
            eprintln!("{warning}");
        }
        let sink = RunningSink::start(config).await?;
        if let (Some(report), Some(dir)) = (sink.opened(), &args.data_dir) {
            say_what_was_replayed(report, sink.stats().replayed_batches, dir, args.repair);
        }
        for resource in sink.resources_opened() {
            eprintln!("custom metrics of {}:", resource.resource);
            say_what_was_replayed(
                &resource.report,
                resource.batches,
                &resource.folder,
                args.repair,
            );
        }
        // Scripts and tests read the address (useful with port 0) from stdout.
        let mut out = std::io::stdout().lock();
        writeln!(out, "callmetrics sink listening on {}", sink.url())?;
        out.flush()?;
        drop(out);
        shutdown_signal().await;
        eprintln!("shutting down");
        sink.shutdown()
            .await
            .context("the sink stopped with an error")?;
        Ok(Outcome::Pass)
    })
}

/// A sink reachable from other hosts without a token takes anyone's data.
fn exposure_warning(listen: std::net::SocketAddr, token: bool) -> Option<String> {
    (!listen.ip().is_loopback() && !token).then(|| {
        format!(
            "warning: listening on {listen}, which other hosts can reach, without --token: \
             anyone who can connect can write and read metrics; set --token (or \
             CALLMETRICS_TOKEN), or listen on 127.0.0.1"
        )
    })
}

/// What the log held, and everything replay had to cut or move aside: in
/// numbers, so that lost idempotency keys are never a surprise.
fn say_what_was_replayed(report: &OpenReport, batches: u64, dir: &std::path::Path, repair: bool) {
    let log = dir.join("wal.log");
    if report.kept.records > 0 || !report.moved_aside.is_empty() {
        eprintln!(
            "replayed {} ({batches} batches) from {} ({} bytes)",
            report.kept,
            log.display(),
            report.bytes
        );
    }
    if let Some((offset, bytes)) = report.torn_tail {
        eprintln!(
            "trimmed a torn tail of {bytes} bytes at offset {offset} of {} (an append cut \
             short by a crash; it was never acknowledged)",
            log.display()
        );
    }
    let prefix = if repair { "repair: " } else { "" };
    for aside in &report.moved_aside {
        eprintln!("{prefix}{aside}");
    }
    if !report.moved_aside.is_empty() || report.damaged_header {
        eprintln!(
            "{prefix}kept every valid record ({}); {} now holds those and nothing else",
            report.kept,
            log.display()
        );
    }
    if report.legacy {
        eprintln!(
            "rewrote {} in the current log format (it was of version 1)",
            log.display()
        );
    }
}

pub(super) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

#[cfg(test)]
mod tests {
    use super::exposure_warning;

    // Issue #9, item 16.
    #[test]
    fn an_open_sink_on_a_reachable_address_is_warned_about() {
        let at = |a: &str| a.parse().unwrap();
        assert!(
            exposure_warning(at("0.0.0.0:8650"), false)
                .unwrap()
                .contains("without --token")
        );
        assert!(exposure_warning(at("[::]:8650"), false).is_some());
        assert!(exposure_warning(at("0.0.0.0:8650"), true).is_none());
        assert!(exposure_warning(at("127.0.0.1:8650"), false).is_none());
        assert!(exposure_warning(at("[::1]:8650"), false).is_none());
    }
}
