//! The shared model below every stage: a series (a metric and a full
//! combination of its dimensions), the aggregate of a cell, time grains,
//! and the aggregate table that the engine fills with what a run sends and
//! the sink with what it received. It names values through `catalog`
//! only, so the generator, the wire formats, the sink and the checker can
//! share it without depending on one another.

mod aggregate;
mod grain;
mod series;
mod table;

pub(crate) use aggregate::Aggregate;
pub use grain::Grain;
pub(crate) use grain::LAST_EVENT_MS;
pub(crate) use series::{CallbackDims, RecordingDims, RequestDims, Series, SeriesParts};
pub use table::AggregateTable;
