//! A time series: a metric and a full combination of its dimensions, and
//! the five numbers that name one. Those numbers are written once, here:
//! packed series keys and the sink's log both take them from
//! [`Series::parts`] and give them back through [`Series::from_parts`].

use crate::catalog::{ApiVersion, Dimension, EventType, Metric, Operation, StatusClass};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestDims {
    pub operation: Operation,
    pub status: u16,
    pub version: ApiVersion,
}

/// A request to the recording routes: Azure counts them without ApiVersion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordingDims {
    pub operation: Operation,
    pub status: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallbackDims {
    pub event: EventType,
    pub code: u16,
    pub sub_code: u32,
    pub version: ApiVersion,
}

/// One time series: a metric and a full combination of its dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Series {
    Requests(RequestDims),
    Latency(RequestDims),
    Callbacks(CallbackDims),
    Recordings(RecordingDims),
}

/// A series as numbers: what packed keys and the sink's log hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesParts {
    /// 0 API requests, 1 their latency, 2 callback events, 3 recording
    /// requests.
    pub tag: u8,
    /// The operation's wire id (tags 0, 1, 3) or the event type's (tag 2).
    pub subject: u8,
    /// Status code (tags 0, 1, 3) or result code (tag 2).
    pub code: u16,
    /// Result sub-code (tag 2; 0 otherwise).
    pub sub_code: u32,
    /// The api-version's wire id (0 for tag 3, which has none).
    pub version: u8,
}

impl Series {
    /// The numbers naming this series.
    pub fn parts(self) -> SeriesParts {
        let request = |tag, d: RequestDims| SeriesParts {
            tag,
            subject: d.operation.wire_id(),
            code: d.status,
            sub_code: 0,
            version: d.version.wire_id(),
        };
        match self {
            Series::Requests(d) => request(0, d),
            Series::Latency(d) => request(1, d),
            Series::Callbacks(d) => SeriesParts {
                tag: 2,
                subject: d.event.wire_id(),
                code: d.code,
                sub_code: d.sub_code,
                version: d.version.wire_id(),
            },
            Series::Recordings(d) => SeriesParts {
                tag: 3,
                subject: d.operation.wire_id(),
                code: d.status,
                sub_code: 0,
                version: 0,
            },
        }
    }

    /// The series `parts` name, if the tag and every wire id are known
    /// (the version's too, even for tag 3, which ignores it).
    pub fn from_parts(p: SeriesParts) -> Option<Series> {
        let version = ApiVersion::from_wire_id(p.version)?;
        let request = |operation| RequestDims {
            operation,
            status: p.code,
            version,
        };
        Some(match p.tag {
            0 => Series::Requests(request(Operation::from_wire_id(p.subject)?)),
            1 => Series::Latency(request(Operation::from_wire_id(p.subject)?)),
            2 => Series::Callbacks(CallbackDims {
                event: EventType::from_wire_id(p.subject)?,
                code: p.code,
                sub_code: p.sub_code,
                version,
            }),
            3 => Series::Recordings(RecordingDims {
                operation: Operation::from_wire_id(p.subject)?,
                status: p.code,
            }),
            _ => return None,
        })
    }

    /// A lossless one-word key of the series: aggregation looks a series up
    /// per sample, and hashing and comparing the enum field by field showed
    /// in profiles. Bits: tag 0-1, subject 2-7 (wire ids are below 64),
    /// version 8-11 (below 16), code 12-27, sub-code 28-59.
    pub fn pack(self) -> u64 {
        let p = self.parts();
        p.tag as u64
            | (p.subject as u64) << 2
            | (p.version as u64) << 8
            | (p.code as u64) << 12
            | (p.sub_code as u64) << 28
    }

    /// The series [`Series::pack`] made `bits` from.
    pub fn unpack(bits: u64) -> Series {
        Series::from_parts(SeriesParts {
            tag: (bits & 3) as u8,
            subject: (bits >> 2 & 0x3f) as u8,
            version: (bits >> 8 & 0xf) as u8,
            code: (bits >> 12) as u16,
            sub_code: (bits >> 28) as u32,
        })
        .expect("packed from a catalog series")
    }
}

impl Series {
    pub fn metric(self) -> Metric {
        match self {
            Series::Requests(_) => Metric::ApiRequests,
            Series::Latency(_) => Metric::ApiRequestLatency,
            Series::Callbacks(_) => Metric::CallbackEvents,
            Series::Recordings(_) => Metric::RecordingRequests,
        }
    }

    /// Dimension values in the metric's dimension order.
    pub fn dimension_values(self) -> Vec<(Dimension, String)> {
        let class = |code| {
            StatusClass::of(code)
                .map_or("", StatusClass::as_str)
                .to_string()
        };
        match self {
            Series::Requests(d) | Series::Latency(d) => vec![
                (Dimension::Operation, d.operation.name().to_string()),
                (Dimension::StatusCode, d.status.to_string()),
                (Dimension::StatusCodeClass, class(d.status)),
                (Dimension::ApiVersion, d.version.as_str().to_string()),
            ],
            Series::Recordings(d) => vec![
                (Dimension::Operation, d.operation.name().to_string()),
                (Dimension::StatusCode, d.status.to_string()),
                (Dimension::StatusCodeClass, class(d.status)),
            ],
            Series::Callbacks(d) => vec![
                (Dimension::EventTypeName, d.event.name().to_string()),
                (Dimension::Code, d.code.to_string()),
                (Dimension::CodeClass, class(d.code)),
                (Dimension::SubCode, d.sub_code.to_string()),
                (Dimension::Version, d.version.as_str().to_string()),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_pack_and_unpack_losslessly() {
        let version = ApiVersion::all().last().unwrap();
        let req = RequestDims {
            operation: *Operation::ALL.last().unwrap(),
            status: u16::MAX,
            version,
        };
        let cb = CallbackDims {
            event: *EventType::ALL.last().unwrap(),
            code: 599,
            sub_code: u32::MAX,
            version,
        };
        let rec = RecordingDims {
            operation: Operation::GetRecording,
            status: u16::MAX,
        };
        for s in [
            Series::Requests(req),
            Series::Latency(req),
            Series::Callbacks(cb),
            Series::Recordings(rec),
        ] {
            assert_eq!(Series::unpack(s.pack()), s);
            assert_eq!(Series::from_parts(s.parts()), Some(s));
        }
    }

    #[test]
    fn parts_naming_nothing_are_refused() {
        let ok = Series::Requests(RequestDims {
            operation: Operation::CreateCall,
            status: 201,
            version: ApiVersion::default_version(),
        })
        .parts();
        assert!(Series::from_parts(ok).is_some());
        for bad in [
            SeriesParts { tag: 4, ..ok },
            SeriesParts { subject: 63, ..ok },
            SeriesParts { version: 15, ..ok },
        ] {
            assert_eq!(Series::from_parts(bad), None, "{bad:?}");
        }
    }
}
