//! Emitting what the engine produces: to files (`files`: datasets), or over
//! the wire (`deliver`: one delivery engine with pacing, batching, retries
//! and stats, generic over `targets`: how events become requests for one
//! protocol, one folder each).

pub(crate) mod deliver;
pub(crate) mod files;
mod provenance;
pub(crate) mod targets;

pub use provenance::provenance;

pub(crate) use files::CsvLayout;
pub use files::DatasetFormat;
pub use files::DatasetOptions;
pub use files::Destination;
pub use files::JsonlEncoder;
pub use files::write_dataset;
