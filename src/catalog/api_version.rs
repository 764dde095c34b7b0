//! The `api-version` values of the Call Automation REST API: the
//! `ApiVersion` request dimension and the callback `Version` dimension
//! (`data.version`). Stable versions are the folders of
//! `specification/communication/data-plane/CallAutomation/stable/` in
//! Azure/azure-rest-api-specs, previews those of `preview/` that the SDKs
//! shipped (real callbacks carry them in `data.version`).

use std::fmt;
use std::str::FromStr;

/// An api-version: its position in `VERSIONS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion(u8);

/// Every version with its wire id, the number the sink's log stores and
/// packed series keep in 4 bits: fixed per version, so a new version takes
/// the next unused number whatever its date or row.
const VERSIONS: &[(&str, u8)] = &[
    ("2023-03-06", 0),
    ("2023-10-15", 1),
    ("2024-04-15", 2),
    ("2024-09-15", 3),
    ("2025-05-15", 4),
    ("2025-06-15", 5),
    ("2026-03-12", 6),
    ("2024-06-15-preview", 7),
    ("2024-11-15-preview", 8),
    ("2025-03-30-preview", 9),
    ("2025-08-15-preview", 10),
    ("2023-10-03-preview", 11),
    ("2024-09-01-preview", 12),
];

/// Previews older than the first whose spec has every route of the stable
/// version before it: their sets are listed one by one (below), never
/// implied by a date.
const EARLY_PREVIEWS: [&str; 2] = ["2023-10-03-preview", "2024-09-01-preview"];

/// Wire ids fit 4 bits (packed series).
const WIRE_IDS: usize = 16;

/// Position in `VERSIONS` by wire id (`u8::MAX`: none).
const BY_WIRE_ID: [u8; WIRE_IDS] = {
    let mut by_id = [u8::MAX; WIRE_IDS];
    let mut i = 0;
    while i < VERSIONS.len() {
        let id = VERSIONS[i].1 as usize;
        assert!(id < WIRE_IDS, "an api-version's wire id is above 15");
        assert!(by_id[id] == u8::MAX, "two api-versions share a wire id");
        by_id[id] = i as u8;
        i += 1;
    }
    by_id
};

impl ApiVersion {
    /// How many versions the catalog knows.
    pub const COUNT: usize = VERSIONS.len();

    /// Every version, oldest first (a preview sorts by its date).
    pub fn all() -> impl Iterator<Item = ApiVersion> {
        let mut all: Vec<ApiVersion> = (0..VERSIONS.len() as u8).map(ApiVersion).collect();
        all.sort_by_key(|v| v.as_str());
        all.into_iter()
    }

    /// The number the sink's log stores for this version.
    pub fn wire_id(self) -> u8 {
        VERSIONS[self.0 as usize].1
    }

    /// The version a log's wire id names, if any.
    pub fn from_wire_id(id: u8) -> Option<ApiVersion> {
        let position = *BY_WIRE_ID.get(id as usize)?;
        (position != u8::MAX).then_some(ApiVersion(position))
    }

    pub fn as_str(self) -> &'static str {
        VERSIONS[self.0 as usize].0
    }

    pub fn is_preview(self) -> bool {
        is_preview(self.as_str())
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
            .position(|(v, _)| *v == s)
            .map(|i| ApiVersion(i as u8))
            .ok_or_else(|| {
                super::UnknownName::new("api version", s, VERSIONS.iter().map(|(v, _)| *v))
            })
    }
}

/// The versions an operation's route or an event's model exists in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Versions(u16);

const _: () = assert!(VERSIONS.len() <= 16);

impl Versions {
    pub const NONE: Versions = Versions(0);
    pub const ALL: Versions = Versions(u16::MAX >> (16 - VERSIONS.len()));

    // The sets the specs have: a route or model added in a stable version
    // is in every later one, and in the previews from the one named. The
    // 2024-06-15-preview spec was read only in part; it has every later
    // route read there, so it is taken to have the earlier ones too. The
    // two early previews (2023-10-03 and 2024-09-01, which recorded live
    // callbacks carry) have what their own specs list (docs/realism.md).
    pub const SINCE_2023_03_06: Versions = Versions::since("2023-03-06", "2024-06-15-preview")
        .with("2023-10-03-preview")
        .with("2024-09-01-preview");
    pub const SINCE_2023_10_15: Versions = Versions::since("2023-10-15", "2024-06-15-preview")
        .with("2023-10-03-preview")
        .with("2024-09-01-preview");
    /// PlayStarted: in neither early preview.
    pub const SINCE_2024_09_15: Versions = Versions::since("2024-09-15", "2024-06-15-preview");
    /// Hold, Unhold, HoldFailed, AnswerFailed, and PlayFailed's and
    /// RecognizeFailed's `failedPlaySourceIndex`: in both early previews.
    pub const HOLD: Versions = Versions::SINCE_2024_09_15
        .with("2023-10-03-preview")
        .with("2024-09-01-preview");
    /// Connect and ConnectFailed: 2024-09-01-preview has them, 2023-10-03 not.
    pub const CONNECT: Versions = Versions::SINCE_2024_09_15.with("2024-09-01-preview");
    /// CreateCallFailed: 2023-10-03-preview has it, 2024-09-01 not.
    pub const CREATE_CALL_FAILED: Versions = Versions::SINCE_2024_09_15.with("2023-10-03-preview");
    pub const SINCE_2025_05_15: Versions = Versions::since("2025-05-15", "2024-06-15-preview")
        .with("2023-10-03-preview")
        .with("2024-09-01-preview");
    pub const SINCE_2025_06_15: Versions = Versions::since("2025-06-15", "2025-03-30-preview");
    pub const SINCE_2026_03_12: Versions = Versions::since("2026-03-12", "2025-08-15-preview");

    /// Stable versions from `stable` on and previews from `preview` on
    /// (dates compare as text), as the specs add routes and never drop
    /// them.
    pub const fn since(stable: &str, preview: &str) -> Versions {
        let mut bits = 0u16;
        let mut i = 0;
        while i < VERSIONS.len() {
            let v = VERSIONS[i].0;
            let from = if is_preview(v) { preview } else { stable };
            if !less(v, from) && !is_early_preview(v) {
                bits |= 1 << i;
            }
            i += 1;
        }
        Versions(bits)
    }

    /// This set and `version` (a name in `VERSIONS`: anything else fails
    /// to compile where a constant uses it).
    pub const fn with(self, version: &str) -> Versions {
        let mut i = 0;
        while i < VERSIONS.len() {
            if equal(VERSIONS[i].0, version) {
                return Versions(self.0 | 1 << i);
            }
            i += 1;
        }
        panic!("no such api-version")
    }

    pub fn of(versions: impl IntoIterator<Item = ApiVersion>) -> Versions {
        Versions(versions.into_iter().fold(0, |bits, v| bits | 1 << v.0))
    }

    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, v: ApiVersion) -> bool {
        self.0 & 1 << v.0 != 0
    }

    /// Its versions, oldest first.
    pub fn iter(self) -> impl Iterator<Item = ApiVersion> {
        ApiVersion::all().filter(move |&v| self.contains(v))
    }

    pub const fn and(self, other: Versions) -> Versions {
        Versions(self.0 & other.0)
    }

    /// This set less `other`'s versions.
    pub const fn without(self, other: Versions) -> Versions {
        Versions(self.0 & !other.0)
    }

    /// The oldest stable version in the set.
    pub fn first_stable(self) -> Option<ApiVersion> {
        self.iter().find(|v| !v.is_preview())
    }
}

impl Default for Versions {
    /// Every version.
    fn default() -> Versions {
        Versions::ALL
    }
}

/// "2024-06-15-preview" against "2024-09-15": anything past the date.
const fn is_preview(v: &str) -> bool {
    v.len() > "YYYY-MM-DD".len()
}

const fn is_early_preview(v: &str) -> bool {
    let mut i = 0;
    while i < EARLY_PREVIEWS.len() {
        if equal(EARLY_PREVIEWS[i], v) {
            return true;
        }
        i += 1;
    }
    false
}

const fn equal(a: &str, b: &str) -> bool {
    !less(a, b) && !less(b, a)
}

/// `a < b` by bytes (`<` on `str` is not const).
const fn less(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: Versions) -> Vec<&'static str> {
        v.iter().map(|v| v.as_str()).collect()
    }

    #[test]
    fn version_sets_follow_the_spec_folders() {
        let transcription = Versions::since("2025-05-15", "2024-06-15-preview");
        assert_eq!(
            names(transcription),
            [
                "2024-06-15-preview",
                "2024-11-15-preview",
                "2025-03-30-preview",
                "2025-05-15",
                "2025-06-15",
                "2025-08-15-preview",
                "2026-03-12"
            ]
        );
        let all = Versions::default();
        assert_eq!(all.iter().count(), ApiVersion::COUNT);
        assert_eq!(all.first_stable().map(|v| v.as_str()), Some("2023-03-06"));
        assert!(names(Versions::CONNECT).contains(&"2024-09-01-preview"));
        assert!(!names(Versions::SINCE_2024_09_15).contains(&"2024-09-01-preview"));
        assert_eq!(names(Versions::HOLD)[0], "2023-10-03-preview");
        assert!(!names(Versions::CONNECT).contains(&"2023-10-03-preview"));
        let move_here = Versions::since("2026-03-12", "2025-08-15-preview");
        assert_eq!(names(move_here), ["2025-08-15-preview", "2026-03-12"]);
        assert_eq!(names(move_here.and(transcription)), names(move_here));
    }
}
