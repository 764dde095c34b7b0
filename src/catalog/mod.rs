//! The fixed vocabulary of Call Automation metrics: operations, callback
//! event types, status classes, result codes, api versions and the metric
//! definitions. Everything else in callmetrics names dimension values through
//! these enums, so an unknown value is caught where text enters the program.

mod api_version;
mod event_type;
mod metric;
mod operation;
mod print;
mod result_codes;
mod status;
mod unknown_name;
mod wire_id;

pub use api_version::{ApiVersion, Versions};
pub use event_type::{EventType, ResultMix};
pub use metric::{Dimension, Metric, Naming};
pub use operation::{Method, Operation, OperationInfo};
pub use print::{CatalogFormat, print_catalog};
pub use result_codes::{
    RESULT_TEXTS, ResultText, SUB_CODE_NAMES, Source, documented, result_message,
};
pub use status::{STATUS_CODES, StatusClass};
pub use unknown_name::UnknownName;
