//! The fixed vocabulary of Call Automation metrics: operations, callback
//! event types, status classes, result codes, api versions and the metric
//! definitions. Everything else in callmetrics names dimension values through
//! these enums, so an unknown value is caught where text enters the program.

mod api_version;
mod callback_shape;
mod event_type;
mod metric;
mod operation;
mod print;
mod result_codes;
mod status;
mod unknown_name;
mod wire_id;

pub(crate) use api_version::{ApiVersion, Versions};
pub(crate) use callback_shape::{has_field, success_has_no_result};
pub use event_type::EventType;
pub(crate) use event_type::ResultMix;
pub(crate) use metric::Dimension;
pub use metric::Metric;
pub use metric::Naming;
pub(crate) use operation::Method;
pub use operation::Operation;
pub(crate) use print::{CatalogFormat, print_catalog};
pub(crate) use result_codes::{
    RESULT_TEXTS, SUB_CODE_NAMES, documented_results, is_documented, result_message,
};
pub(crate) use status::{STATUS_CODES, StatusClass};
pub(crate) use unknown_name::UnknownName;
