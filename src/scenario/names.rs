//! Scenario-file spellings of catalog values and durations. Each parses
//! through the catalog, so a typo fails at the exact JSON path with a
//! "did you mean" hint, and each publishes its closed set in the schema.

use crate::catalog::{ApiVersion, EventType, Operation, UnknownName};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use std::borrow::Cow;
use std::time::Duration;

macro_rules! catalog_name {
    ($name:ident, $inner:ty, $values:expr) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        #[serde(try_from = "String")]
        pub(crate) struct $name(pub(crate) $inner);

        impl TryFrom<String> for $name {
            type Error = UnknownName;
            fn try_from(s: String) -> Result<Self, UnknownName> {
                s.parse().map($name)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let values: Vec<&str> = $values;
                json_schema!({ "type": "string", "enum": values })
            }
        }
    };
}

catalog_name!(
    OperationName,
    Operation,
    Operation::ALL.iter().map(|o| o.name()).collect()
);
catalog_name!(
    EventTypeName,
    EventType,
    EventType::ALL
        .iter()
        .flat_map(|e| [e.short_name(), e.name()])
        .collect()
);
catalog_name!(
    ApiVersionName,
    ApiVersion,
    ApiVersion::all().map(|v| v.as_str()).collect()
);

/// A non-negative duration written as text ("250ms", "2s", "1m 30s").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) struct DurationText(pub Duration);

impl TryFrom<String> for DurationText {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let trimmed = s.trim();
        if trimmed.starts_with('-') {
            return Err(format!(
                "negative duration {s:?}: delays run forward in time; use \"0ms\" or more"
            ));
        }
        humantime::parse_duration(trimmed)
            .map(DurationText)
            .map_err(|e| {
                format!(
                    "invalid duration {s:?} ({e}); write it like \"250ms\", \"2s\" or \"1m 30s\""
                )
            })
    }
}

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^\\s*([0-9]+(\\.[0-9]+)?\\s*[a-zA-Zµ]+\\s*)+$",
            "examples": ["250ms", "2s", "1m 30s"],
            "description": "A non-negative duration of at most 24h: a number (decimals allowed, e.g. 1.5s) and a unit (ms, s, m, h), repeated."
        })
    }
}
