//! How a check reads the observed side: the flags `check` and `run --check`
//! share (which backend, where, how long to wait), refused where the
//! backend cannot use them, and the check attempted until it passes or
//! `--wait` runs out.

use super::any::AnyObserved;
use super::azure::Resource;
use super::{Backend, Limits, Where};
use crate::check::wait::{Attempt, Wait, check_until_pass};
use crate::check::{CheckError, CheckOptions, ExpectedData, Mapping, Report, Selector};
use crate::client::tls::ClientTls;
use crate::wire::MetricsResponse;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a check reads the observed side: `check`'s and `run --check`'s flags.
#[derive(Clone, Debug, clap::Args)]
pub struct ReadingFlags {
    /// What --observed speaks: azure, promql or influxql (see Backends below).
    #[arg(long, value_enum, default_value_t, hide_possible_values = true)]
    pub backend: Backend,
    /// How the pipeline names metrics, labels and label values (promql) [default:
    /// mappings/default.json, callmetrics' own naming].
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Only series matching this label selector, e.g. '{job="acs-app"}' (promql; influxql:
    /// the same as tag conditions), so other apps, HA replicas or earlier runs writing the
    /// same names are not summed in.
    #[arg(long = "match", value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Compare each series' total over the whole window (the expected file's start to now)
    /// instead of per grain bucket: what counters scraped at arbitrary times prove (promql).
    #[arg(long)]
    pub totals: bool,
    /// Check again until PASS or this long has passed (pipelines are eventually consistent:
    /// scrape intervals, remote-write queues, flushes), e.g. 60s; the report says how long it
    /// waited and, on failure, shows the last comparison.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait: Option<std::time::Duration>,
    /// How often --wait checks again.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = humantime::parse_duration)]
    pub poll_interval: std::time::Duration,
    /// Read this Azure resource's metrics at Azure Monitor's own paths (azure):
    /// --observed https://management.azure.com (or a sink, which serves them too) and
    /// /subscriptions/SUB/resourceGroups/GROUP/providers/Microsoft.Communication/
    /// CommunicationServices/NAME; the token from --token or AZURE_ACCESS_TOKEN
    /// (`az account get-access-token --query accessToken -o tsv`).
    #[arg(long, value_name = "ID")]
    pub resource_id: Option<String>,
    /// The metric namespace to read with --resource-id [default:
    /// Microsoft.Communication/CommunicationServices, the platform metrics]; CallAutomation
    /// for the custom metrics `run --target azure-monitor` sends.
    #[arg(long, value_name = "NAMESPACE", requires = "resource_id")]
    pub metric_namespace: Option<String>,
}

/// The observed side as the flags name it: which backend, where, and how
/// long to wait for it. Flags the backend cannot use are refused here,
/// before anything is asked.
pub(crate) struct Reading {
    backend: Backend,
    url: String,
    token: Option<String>,
    tls: ClientTls,
    mapping: Mapping,
    /// Where the mapping came from, for messages.
    mapping_path: String,
    selector: Option<Selector>,
    wait: Option<Wait>,
    limits: Limits,
    /// `--resource-id` and its namespace.
    resource: Option<Resource>,
}

impl Reading {
    pub(crate) fn new(
        args: &ReadingFlags,
        url: &str,
        token: Option<&str>,
        tls: ClientTls,
        limits: Limits,
    ) -> Result<Reading, CheckError> {
        args.backend.refuse_unusable(args)?;
        let mapping = match &args.mapping {
            Some(path) => Mapping::load(path).map_err(|reason| CheckError::Mapping {
                path: path.display().to_string(),
                reason: Box::new(reason),
            })?,
            None => Mapping::default_naming(),
        };
        let selector = args
            .selector
            .as_deref()
            .map(Selector::parse)
            .transpose()
            .map_err(CheckError::Selector)?;
        let wait = args
            .wait
            .map(|limit| Wait::new(limit, args.poll_interval))
            .transpose()?;
        let resource = args
            .resource_id
            .as_deref()
            .map(|id| Resource::new(id, args.metric_namespace.as_deref()))
            .transpose()?;
        // Azure's tokens come from `az account get-access-token`, kept in
        // their own variable by the az and azd tooling's users.
        let token = token.map(str::to_string).or_else(|| {
            resource
                .as_ref()
                .and_then(|_| std::env::var("AZURE_ACCESS_TOKEN").ok())
                .filter(|t| !t.is_empty())
        });
        Ok(Reading {
            backend: args.backend,
            url: url.to_string(),
            token,
            tls,
            mapping,
            mapping_path: args.mapping.as_ref().map_or_else(
                || "mappings/default.json".to_string(),
                |p| p.display().to_string(),
            ),
            selector,
            wait,
            limits,
            resource,
        })
    }

    /// A fresh reader of the backend, reading up to now; `mapping` knows
    /// the expected file's values.
    fn reader(&self, mapping: &Mapping) -> Result<AnyObserved, CheckError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        self.backend.reader(&Where {
            url: &self.url,
            token: self.token.as_deref(),
            tls: &self.tls,
            mapping,
            selector: self.selector.as_ref(),
            now_ms: now,
            limits: self.limits,
            resource: self.resource.as_ref(),
        })
    }

    /// The check, each attempt within `per_check`, waited for as asked;
    /// while waiting, a line on stderr per failed attempt.
    pub(crate) async fn check(
        &self,
        expected: &MetricsResponse,
        options: &CheckOptions,
        per_check: Duration,
    ) -> Result<Report, CheckError> {
        let platform_only;
        let expected = match &self.resource {
            Some(resource) if resource.is_platform() => {
                platform_only = resource.platform_metrics(expected);
                &platform_only
            }
            _ => expected,
        };
        let every = self.wait.map_or(Duration::ZERO, |w| w.every);
        // Value rewrites are turned back over every value the check
        // compares, so the expected file's codes and versions join the
        // catalog's (and a rewrite lossy over them is refused).
        let mut mapping = self.mapping.clone();
        if self.backend.reads_mapping() {
            let data = ExpectedData::from_response(expected)?;
            mapping
                .extend_domain_from(&data)
                .map_err(|reason| CheckError::Mapping {
                    path: self.mapping_path.clone(),
                    reason: Box::new(reason),
                })?;
        }
        check_until_pass(
            expected,
            || self.reader(&mapping),
            options,
            self.wait,
            per_check,
            |attempt, left| {
                let what = match attempt {
                    Attempt::Failed(report) => format!("{} mismatches", report.mismatches.len()),
                    Attempt::Error(e) => crate::error_text::error_text(e),
                };
                if left >= every {
                    eprintln!(
                        "check: {what}; checking again in {} ({} left of --wait)",
                        humantime::format_duration(every),
                        humantime::format_duration(Duration::from_secs(left.as_secs()))
                    );
                }
            },
        )
        .await
    }
}
