//! `callmetrics catalog`: the vocabulary as an aligned table for people or
//! JSON for scripts.

use super::callback_shape::{Events, FIELD_RULES, fields};
use super::{
    ApiVersion, EventType, Metric, Naming, Operation, RESULT_TEXTS, STATUS_CODES, SUB_CODE_NAMES,
    StatusClass, Versions,
};
use serde_json::{Value, json};
use std::io::{self, Write};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CatalogFormat {
    #[default]
    Table,
    Json,
}

pub(crate) fn print_catalog(
    out: &mut dyn Write,
    format: CatalogFormat,
    naming: Naming,
) -> io::Result<()> {
    match format {
        CatalogFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &catalog_json(naming))?;
            writeln!(out)
        }
        CatalogFormat::Table => print_table(out, naming),
    }
}

const AGGREGATIONS: &[&str] = &["Count", "Total", "Average", "Minimum", "Maximum"];

fn catalog_json(naming: Naming) -> Value {
    json!({
        "naming": naming,
        "metrics": Metric::ALL.iter().map(|m| json!({
            "name": m.name(),
            "displayName": m.display_name(),
            "unit": m.unit(),
            "azureMetric": m.is_azure_metric(),
            "aggregations": AGGREGATIONS,
            "dimensions": m.dimensions().iter().map(|d| d.name(naming)).collect::<Vec<_>>(),
            "grain": "PT1M",
        })).collect::<Vec<_>>(),
        "operations": Operation::ALL.iter().map(|op| {
            let info = op.info();
            json!({
                "name": info.name,
                "method": info.method.as_str(),
                "route": info.route,
                "successStatus": info.success_status,
                "listedInMetricsOverview": info.listed,
                "apiVersions": names(info.versions),
                "callbacks": info.callbacks.iter().map(|e| e.name()).collect::<Vec<_>>(),
                "description": info.description,
            })
        }).collect::<Vec<_>>(),
        "eventTypes": EventType::ALL.iter().map(|e| json!({
            "name": e.name(),
            "listedInMetricsOverview": e.listed(),
            "apiVersions": names(e.versions()),
            "unsolicited": e.can_be_unsolicited(),
            "defaultResults": e.default_results().iter().map(|r| json!({
                "code": r.code, "subCode": r.sub_code, "probability": r.probability,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "statusClasses": StatusClass::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "statusCodes": STATUS_CODES,
        "subCodes": SUB_CODE_NAMES.iter().map(|(c, m)| json!({"subCode": c, "name": m})).collect::<Vec<_>>(),
        "resultTexts": RESULT_TEXTS.iter().map(|r| json!({
            "eventType": r.event.name(),
            "code": r.code,
            "subCode": r.sub_code,
            "message": r.message,
            "source": r.source.citation(),
        })).collect::<Vec<_>>(),
        "callbackFields": callback_fields(),
        "sources": {
            "callbackFields": "each rule's source and confidence; `byEvent` lists the fields of `data` per event type and api-version",
            "apiVersions": "Azure/azure-rest-api-specs specification/communication/data-plane/CallAutomation/{stable,preview}/<version>/communicationservicescallautomation.json: each operation's route and each event's model in the versions listed (commits read: docs/realism.md)",
            "metrics": "Azure Monitor supported metrics of Microsoft.Communication/CommunicationServices (APIRequestCallAutomation, APIRequestCallRecording, AcsCallAutomationCallbackEvent) and the Call Automation metrics overview (MicrosoftDocs/azure-docs articles/communication-services/concepts/metrics.md) for the 17 operations and 33 event types",
            "resultTexts": "each row's source",
            "subCodes": "https://learn.microsoft.com/azure/communication-services/resources/troubleshooting/voice-video-calling/troubleshooting-codes (Call Automation section)",
        },
        "apiVersions": ApiVersion::all().map(|v| json!({
            "name": v.as_str(),
            "preview": v.is_preview(),
        })).collect::<Vec<_>>(),
    })
}

/// The callback shape table: its rules, and what they make of each event
/// at each version it exists in.
fn callback_fields() -> Value {
    let rules = FIELD_RULES.iter().map(|r| {
        let events = match r.events {
            Events::All => json!("all"),
            Events::Only(list) => json!(list.iter().map(|e| e.name()).collect::<Vec<_>>()),
            Events::AllBut(list) => {
                json!({"allBut": list.iter().map(|e| e.name()).collect::<Vec<_>>()})
            }
        };
        json!({
            "field": r.field,
            "events": events,
            "apiVersions": names(r.versions),
            "presence": r.presence.as_str(),
            "source": r.source.citation(),
            "confidence": r.confidence.as_str(),
            "why": r.why,
        })
    });
    let by_event: serde_json::Map<String, Value> = EventType::ALL
        .iter()
        .map(|&e| {
            let per_version: serde_json::Map<String, Value> = e
                .versions()
                .iter()
                .map(|v| {
                    let list: Vec<&str> = fields(e, v).map(|r| r.field).collect();
                    (v.as_str().to_string(), json!(list))
                })
                .collect();
            (e.name().to_string(), Value::Object(per_version))
        })
        .collect();
    json!({"rules": rules.collect::<Vec<_>>(), "byEvent": by_event})
}

fn names(versions: Versions) -> Vec<&'static str> {
    versions.iter().map(|v| v.as_str()).collect()
}

/// "2023-10-15+" for a set that is every stable version from one on, with
/// "(+ previews)"; the full list otherwise.
fn since(versions: Versions) -> String {
    let Some(first) = versions.first_stable() else {
        return names(versions).join(" ");
    };
    let mut stable = ApiVersion::all().filter(|v| !v.is_preview() && v.as_str() >= first.as_str());
    if stable.all(|v| versions.contains(v)) {
        let previews = versions.iter().filter(|v| v.is_preview()).count();
        format!("{first}+ ({previews} previews)")
    } else {
        names(versions).join(" ")
    }
}

fn print_table(out: &mut dyn Write, naming: Naming) -> io::Result<()> {
    print_metrics(out, naming)?;
    print_operations(out)?;
    print_event_types(out)?;
    let classes: Vec<_> = StatusClass::ALL.iter().map(|c| c.as_str()).collect();
    writeln!(out, "\nSTATUS CLASSES\n  {}", classes.join(" "))?;
    let codes: Vec<_> = STATUS_CODES.iter().map(|c| c.to_string()).collect();
    writeln!(out, "\nSTATUS CODES\n  {}", codes.join(" "))?;
    writeln!(out, "\nSUB-CODES (the troubleshooting page's names)")?;
    for (code, name) in SUB_CODE_NAMES {
        writeln!(out, "  {code:<6} {name}")?;
    }
    print_result_texts(out)?;
    let versions: Vec<_> = ApiVersion::all().map(|v| v.as_str()).collect();
    writeln!(out, "\nAPI VERSIONS\n  {}", versions.join(" "))
}

fn print_metrics(out: &mut dyn Write, naming: Naming) -> io::Result<()> {
    writeln!(out, "METRICS")?;
    for m in Metric::ALL {
        let dims: Vec<_> = m.dimensions().iter().map(|d| d.name(naming)).collect();
        writeln!(
            out,
            "  {:<32} {:<12} {}",
            m.name(),
            m.unit(),
            dims.join(", ")
        )?;
    }
    writeln!(
        out,
        "  aggregations: {}; base grain PT1M",
        AGGREGATIONS.join(", ")
    )
}

fn print_operations(out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "\nOPERATIONS (* = beyond the 17 in the metrics overview)"
    )?;
    let width = Operation::ALL
        .iter()
        .map(|o| o.name().len())
        .max()
        .unwrap_or(0);
    for op in Operation::ALL {
        let info = op.info();
        writeln!(
            out,
            "  {}{:<width$}  {:<6} {:<3}  {:<24} {}",
            if info.listed { ' ' } else { '*' },
            info.name,
            info.method.as_str(),
            info.success_status,
            since(info.versions),
            info.route,
        )?;
    }
    Ok(())
}

fn print_event_types(out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "\nCALLBACK EVENT TYPES (* = beyond the 33 in the metrics overview; versions; default code/subCode mix)"
    )?;
    let width = EventType::ALL
        .iter()
        .map(|e| e.name().len())
        .max()
        .unwrap_or(0);
    for e in EventType::ALL {
        let mix: Vec<_> = e
            .default_results()
            .iter()
            .map(|r| format!("{}/{} {}", r.code, r.sub_code, r.probability))
            .collect();
        writeln!(
            out,
            "  {}{:<width$}  {:<24} {}",
            if e.listed() { ' ' } else { '*' },
            e.name(),
            since(e.versions()),
            mix.join(", ")
        )?;
    }
    Ok(())
}

fn print_result_texts(out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "\nRESULT TEXTS (resultInformation.message per event, code and sub-code; sources in --format json)"
    )?;
    for r in RESULT_TEXTS {
        writeln!(
            out,
            "  {:<36} {}/{:<6} {}",
            r.event.short_name(),
            r.code,
            r.sub_code,
            r.message
        )?;
    }
    Ok(())
}
