//! POST /callbacks: the CloudEvents JSON array ACS posts to an app's
//! callback URL. The callback metric's dimensions are derived from each
//! event itself (type, resultInformation.code/subCode, data.version), the
//! way a real app's webhook would count them.

use super::sample::{DimensionText, LineError, Sample, failing_field};
use crate::model::Series;
use crate::wire::parse_millis;
use serde::Deserialize;
use std::borrow::Cow;

#[derive(Deserialize)]
struct CloudEvent<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    time: Cow<'a, str>,
    #[serde(borrow)]
    data: Data<'a>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data<'a> {
    #[serde(borrow)]
    version: Cow<'a, str>,
    #[serde(default)]
    result_information: Option<ResultInformation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResultInformation {
    code: u16,
    sub_code: u32,
}

/// Parses a CloudEvents batch; errors name the event's 1-based position
/// (reported as the "line").
pub(super) fn parse_cloud_events(body: &[u8], out: &mut Vec<Sample>) -> Result<(), LineError> {
    let text = std::str::from_utf8(body).map_err(|e| LineError::Malformed {
        line: 1,
        field: Some("body".into()),
        message: format!("the body is not UTF-8 (byte {})", e.valid_up_to() + 1),
    })?;
    let events: Vec<CloudEvent> = serde_json::from_str(text).map_err(|e| LineError::Malformed {
        line: e.line(),
        field: Some(failing_field::<Vec<CloudEvent>>(text, "body")),
        message: format!("not a CloudEvents JSON array: {e}"),
    })?;
    if events.is_empty() {
        return Err(LineError::Malformed {
            line: 1,
            field: Some("body".into()),
            message: "the event array is empty".into(),
        });
    }
    for (i, event) in events.iter().enumerate() {
        let n = i + 1;
        let time_ms = parse_millis(&event.time).ok_or_else(|| {
            LineError::malformed(
                n,
                "time",
                format!("{:?} is not an RFC 3339 timestamp", event.time),
            )
        })?;
        // Events such as ParticipantsUpdated carry no resultInformation:
        // they report a state, which counts as success. A failure without
        // one has no code to count it under.
        if event.data.result_information.is_none() && event.kind.ends_with("Failed") {
            return Err(LineError::malformed(
                n,
                "data.resultInformation",
                format!(
                    "missing on {}: a failure event's code and subCode are the metric's \
                     dimensions",
                    event.kind
                ),
            ));
        }
        let (code, sub_code) = event
            .data
            .result_information
            .as_ref()
            .map_or((200, 0), |r| (r.code, r.sub_code));
        let (code, sub_code) = (code.to_string(), sub_code.to_string());
        let dims = DimensionText {
            event_type: Some(&event.kind),
            code: Some(&code),
            sub_code: Some(&sub_code),
            version: Some(&event.data.version),
            ..DimensionText::default()
        }
        .callback(n)?;
        out.push(Sample::one(Series::Callbacks(dims), time_ms, 1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, result: &str) -> String {
        format!(
            r#"[{{"id":"1","source":"calling/callConnections/c","type":"{kind}","time":"2026-01-01T00:00:00Z","data":{{"version":"2025-05-15"{result}}}}}]"#
        )
    }

    // Issue #9, item 15: a failure without resultInformation was counted
    // as Code 200.
    #[test]
    fn a_failure_needs_its_result_information() {
        let mut out = Vec::new();
        let err = parse_cloud_events(
            event("Microsoft.Communication.PlayFailed", "").as_bytes(),
            &mut out,
        )
        .unwrap_err();
        assert!(
            matches!(&err, LineError::Malformed { field: Some(f), .. } if f == "data.resultInformation"),
            "{err:?}"
        );
        let with = r#","resultInformation":{"code":400,"subCode":8535,"message":"x"}"#;
        parse_cloud_events(
            event("Microsoft.Communication.PlayFailed", with).as_bytes(),
            &mut out,
        )
        .unwrap();
        // A state report has none, and counts as success.
        parse_cloud_events(
            event("Microsoft.Communication.ParticipantsUpdated", "").as_bytes(),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn a_wrong_field_is_named_by_its_path() {
        let mut out = Vec::new();
        let body = r#"[{"type":"Microsoft.Communication.PlayCompleted","time":"2026-01-01T00:00:00Z","data":{"version":7}}]"#;
        let err = parse_cloud_events(body.as_bytes(), &mut out).unwrap_err();
        assert!(
            matches!(&err, LineError::Malformed { field: Some(f), .. } if f == "[0].data.version"),
            "{err:?}"
        );
        let body =
            r#"[{"type":"Microsoft.Communication.PlayCompleted","data":{"version":"2025-05-15"}}]"#;
        let err = parse_cloud_events(body.as_bytes(), &mut out).unwrap_err();
        assert!(
            matches!(&err, LineError::Malformed { field: Some(f), .. } if f == "[0].time"),
            "{err:?}"
        );
    }
}
