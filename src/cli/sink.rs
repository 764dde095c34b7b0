//! `sink`: serve the embedded metrics sink until SIGINT or SIGTERM.

use super::{Outcome, SinkArgs};
use crate::sink::{RunningSink, SinkConfig};
use anyhow::Context;
use std::io::Write;

pub fn run(args: &SinkArgs) -> anyhow::Result<Outcome> {
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
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let sink = RunningSink::start(config)
            .await
            .with_context(|| format!("cannot start the sink on {}", args.listen))?;
        let stats = sink.stats();
        // Scripts and tests read the address (useful with port 0) from stdout.
        let mut out = std::io::stdout().lock();
        writeln!(out, "callmetrics sink listening on {}", sink.url())?;
        out.flush()?;
        drop(out);
        if stats.replayed_batches > 0 {
            eprintln!(
                "replayed {} batches ({} samples) from {}",
                stats.replayed_batches,
                stats.samples,
                args.data_dir
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
        }
        shutdown_signal().await;
        eprintln!("shutting down");
        sink.shutdown()
            .await
            .context("the sink stopped with an error")?;
        Ok(Outcome::Pass)
    })
}

async fn shutdown_signal() {
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
