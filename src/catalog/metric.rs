//! The metrics and their dimensions, under both namings: Azure Monitor's
//! (the default, what the Metrics REST API returns) and the metrics
//! overview's, which calls the request class `StatusSubClass`.

use std::fmt;

/// Which spelling of dimension names to use in output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Naming {
    /// Azure Monitor metric reference: StatusCodeClass.
    #[default]
    Azure,
    /// Call Automation metrics overview: StatusSubClass.
    Overview,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    Operation,
    StatusCode,
    StatusCodeClass,
    ApiVersion,
    EventTypeName,
    Code,
    CodeClass,
    SubCode,
    Version,
}

impl Dimension {
    /// Every dimension: the request metric's, then the callback metric's.
    pub const ALL: &'static [Dimension] = &[
        Dimension::Operation,
        Dimension::StatusCode,
        Dimension::StatusCodeClass,
        Dimension::ApiVersion,
        Dimension::EventTypeName,
        Dimension::Code,
        Dimension::CodeClass,
        Dimension::SubCode,
        Dimension::Version,
    ];

    /// The dimension called `name` under either naming (StatusCodeClass or
    /// StatusSubClass), ignoring ASCII case as Azure does.
    pub fn from_name(name: &str) -> Option<Dimension> {
        Self::ALL.iter().copied().find(|d| {
            [Naming::Azure, Naming::Overview]
                .iter()
                .any(|&n| d.name(n).eq_ignore_ascii_case(name))
        })
    }

    pub fn name(self, naming: Naming) -> &'static str {
        match (self, naming) {
            (Dimension::StatusCodeClass, Naming::Overview) => "StatusSubClass",
            (Dimension::Operation, _) => "Operation",
            (Dimension::StatusCode, _) => "StatusCode",
            (Dimension::StatusCodeClass, Naming::Azure) => "StatusCodeClass",
            (Dimension::ApiVersion, _) => "ApiVersion",
            (Dimension::EventTypeName, _) => "EventTypeName",
            (Dimension::Code, _) => "Code",
            (Dimension::CodeClass, _) => "CodeClass",
            (Dimension::SubCode, _) => "SubCode",
            (Dimension::Version, _) => "Version",
        }
    }
}

/// A metric callmetrics generates and checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    /// One sample (value 1) per API request.
    ApiRequests,
    /// Companion of `ApiRequests`: the request latency in milliseconds, so
    /// Total/Average/Minimum/Maximum carry information.
    ApiRequestLatency,
    /// One sample (value 1) per callback event.
    CallbackEvents,
    /// One sample (value 1) per request to the recording routes
    /// (`/calling/recordings...`), which Azure Monitor counts apart from
    /// Call Automation's, without ApiVersion (docs/realism.md).
    RecordingRequests,
}

const REQUEST_DIMENSIONS: &[Dimension] = &[
    Dimension::Operation,
    Dimension::StatusCode,
    Dimension::StatusCodeClass,
    Dimension::ApiVersion,
];
const RECORDING_DIMENSIONS: &[Dimension] = &[
    Dimension::Operation,
    Dimension::StatusCode,
    Dimension::StatusCodeClass,
];
const CALLBACK_DIMENSIONS: &[Dimension] = &[
    Dimension::EventTypeName,
    Dimension::Code,
    Dimension::CodeClass,
    Dimension::SubCode,
    Dimension::Version,
];

impl Metric {
    pub const ALL: &'static [Metric] = &[
        Metric::ApiRequests,
        Metric::ApiRequestLatency,
        Metric::CallbackEvents,
        Metric::RecordingRequests,
    ];

    /// The Azure Monitor REST name (`name.value`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::ApiRequests => "APIRequestCallAutomation",
            Metric::ApiRequestLatency => "ApiRequestLatency",
            Metric::CallbackEvents => "AcsCallAutomationCallbackEvent",
            Metric::RecordingRequests => "APIRequestCallRecording",
        }
    }

    /// The portal name (`name.localizedValue`).
    pub fn display_name(self) -> &'static str {
        match self {
            Metric::ApiRequests => "Call Automation API Requests",
            Metric::ApiRequestLatency => "Call Automation API Request Latency",
            Metric::CallbackEvents => "Call Automation Callback Event",
            Metric::RecordingRequests => "Call Recording API Requests",
        }
    }

    /// The description Azure's supported-metrics table gives
    /// (docs/sources.md).
    pub fn description(self) -> &'static str {
        match self {
            Metric::ApiRequests => {
                "Count of all requests against the Communication Call Automation endpoint."
            }
            Metric::ApiRequestLatency => {
                "callmetrics' own: the latency of each Call Automation API request."
            }
            Metric::CallbackEvents => "Count of the Communication Call Automation Callback events.",
            Metric::RecordingRequests => {
                "Count of all requests against the Communication Services Call Recording endpoint."
            }
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::ApiRequestLatency => "Milliseconds",
            _ => "Count",
        }
    }

    pub fn dimensions(self) -> &'static [Dimension] {
        match self {
            Metric::ApiRequests | Metric::ApiRequestLatency => REQUEST_DIMENSIONS,
            Metric::CallbackEvents => CALLBACK_DIMENSIONS,
            Metric::RecordingRequests => RECORDING_DIMENSIONS,
        }
    }

    /// True for the metrics Azure Monitor itself defines.
    pub fn is_azure_metric(self) -> bool {
        self != Metric::ApiRequestLatency
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        Self::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// callmetrics' own Prometheus name (`mappings/default.json`): a
    /// counter for the counts, a summary's base name for the latency
    /// (`_count` and `_sum`).
    pub fn prometheus_name(self) -> &'static str {
        match self {
            Metric::ApiRequests => "acs_callautomation_api_requests_total",
            Metric::ApiRequestLatency => "acs_callautomation_api_request_latency_milliseconds",
            Metric::CallbackEvents => "acs_callautomation_callback_events_total",
            Metric::RecordingRequests => "acs_callrecording_api_requests_total",
        }
    }
}

impl Dimension {
    /// callmetrics' own Prometheus label name (`mappings/default.json`).
    pub fn prometheus_label(self) -> &'static str {
        match self {
            Dimension::Operation => "operation",
            Dimension::StatusCode => "status_code",
            Dimension::StatusCodeClass => "status_code_class",
            Dimension::ApiVersion => "api_version",
            Dimension::EventTypeName => "event_type_name",
            Dimension::Code => "code",
            Dimension::CodeClass => "code_class",
            Dimension::SubCode => "sub_code",
            Dimension::Version => "version",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
