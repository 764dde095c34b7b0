//! The `api-version` values the Call Automation SDKs send; the `ApiVersion`
//! request dimension and the callback `Version` dimension (`data.version`).

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion(u8);

const VERSIONS: &[&str] = &[
    "2023-03-06",
    "2023-10-15",
    "2024-04-15",
    "2024-09-15",
    "2025-05-15",
    "2025-06-15",
    "2026-03-12",
];

impl ApiVersion {
    /// How many versions the catalog knows.
    pub const COUNT: usize = VERSIONS.len();

    pub fn all() -> impl Iterator<Item = ApiVersion> {
        (0..VERSIONS.len() as u8).map(ApiVersion)
    }

    /// Position in the catalog, for compact binary encodings.
    pub fn index(self) -> u8 {
        self.0
    }

    pub fn from_index(i: u8) -> Option<ApiVersion> {
        ((i as usize) < VERSIONS.len()).then_some(ApiVersion(i))
    }

    pub fn as_str(self) -> &'static str {
        VERSIONS[self.0 as usize]
    }

    /// The version scenarios use when they name none: the newest GA one the
    /// 1.6 SDKs default to.
    pub fn default_version() -> ApiVersion {
        ApiVersion(4)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiVersion {
    type Err = super::UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VERSIONS
            .iter()
            .position(|v| *v == s)
            .map(|i| ApiVersion(i as u8))
            .ok_or_else(|| super::UnknownName::new("api version", s, VERSIONS.iter().copied()))
    }
}
