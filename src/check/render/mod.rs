//! Printing a [`Report`](super::Report): aligned text for people, versioned
//! JSON for scripts, JUnit XML for CI. Each is a function of the report
//! alone, generic over the writer.

mod columns;
mod json;
mod junit;
mod table;
mod text;

pub use json::{JsonReport, SCHEMA_VERSION, json, json_schema};
pub use junit::{JunitCase, JunitSuite, junit, junit_document, junit_error};
pub use table::table;

#[cfg(test)]
mod tests;
