//! Printing a [`Report`](super::Report): aligned text for people, versioned
//! JSON for scripts, JUnit XML for CI. Each is a function of the report
//! alone, generic over the writer.

mod columns;
mod json;
mod junit;
mod table;
mod text;

#[cfg(test)]
pub(crate) use json::json_schema;
pub(crate) use json::{JsonReport, json};
pub(crate) use junit::{JunitCase, JunitSuite, junit, junit_document, junit_error};
pub(super) use table::table;

#[cfg(test)]
mod tests;
