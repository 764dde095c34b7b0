//! Status codes and their classes (sub-codes and texts: `result_codes`). The class
//! is always derived from the code, so a (code, class) pair cannot disagree.

use std::fmt;

/// The series of a status code: the `StatusCodeClass` / `CodeClass` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum StatusClass {
    Success,
    ClientError,
    ServerError,
    GlobalError,
}

impl StatusClass {
    pub(crate) const ALL: &'static [StatusClass] = &[
        StatusClass::Success,
        StatusClass::ClientError,
        StatusClass::ServerError,
        StatusClass::GlobalError,
    ];

    /// The class of a code, or `None` for codes Call Automation never reports.
    pub(crate) fn of(code: u16) -> Option<StatusClass> {
        match code {
            200..=299 => Some(StatusClass::Success),
            400..=499 => Some(StatusClass::ClientError),
            500..=599 => Some(StatusClass::ServerError),
            600..=699 => Some(StatusClass::GlobalError),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StatusClass::Success => "2xx",
            StatusClass::ClientError => "4xx",
            StatusClass::ServerError => "5xx",
            StatusClass::GlobalError => "6xx",
        }
    }
}

impl fmt::Display for StatusClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Generic status codes the service answers with (troubleshooting codes page).
pub(crate) const STATUS_CODES: &[u16] = &[
    200, 201, 202, 204, 400, 401, 403, 404, 405, 406, 408, 409, 412, 413, 426, 429, 480, 481, 486,
    487, 500, 501, 502, 503, 504, 600, 603,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_series() {
        assert_eq!(StatusClass::of(202), Some(StatusClass::Success));
        assert_eq!(StatusClass::of(429), Some(StatusClass::ClientError));
        assert_eq!(StatusClass::of(503), Some(StatusClass::ServerError));
        assert_eq!(StatusClass::of(603), Some(StatusClass::GlobalError));
        assert_eq!(StatusClass::of(302), None);
    }
}
