//! Emitting what the engine produces: to files (`files`: datasets), or over
//! the wire (`deliver`: one delivery engine with pacing, batching, retries
//! and stats, generic over `targets`: how events become requests for one
//! protocol, one folder each).

pub mod deliver;
pub mod files;
mod provenance;
pub mod targets;

pub use provenance::provenance;

pub use files::{
    DatasetFormat, DatasetOptions, DatasetSummary, Destination, JsonlEncoder, write_dataset,
};
