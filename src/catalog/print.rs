//! `callmetrics catalog`: the vocabulary as an aligned table for people or
//! JSON for scripts.

use super::{
    ApiVersion, EventType, Metric, Naming, Operation, STATUS_CODES, SUB_CODES, StatusClass,
};
use serde_json::{Value, json};
use std::io::{self, Write};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum CatalogFormat {
    #[default]
    Table,
    Json,
}

pub fn print_catalog(out: &mut dyn Write, format: CatalogFormat, naming: Naming) -> io::Result<()> {
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
                "callbacks": info.callbacks.iter().map(|e| e.name()).collect::<Vec<_>>(),
                "description": info.description,
            })
        }).collect::<Vec<_>>(),
        "eventTypes": EventType::ALL.iter().map(|e| json!({
            "name": e.name(),
            "unsolicited": e.can_be_unsolicited(),
            "defaultResults": e.default_results().iter().map(|r| json!({
                "code": r.code, "subCode": r.sub_code, "probability": r.probability,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "statusClasses": StatusClass::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
        "statusCodes": STATUS_CODES,
        "subCodes": SUB_CODES.iter().map(|(c, m)| json!({"subCode": c, "message": m})).collect::<Vec<_>>(),
        "apiVersions": ApiVersion::all().map(|v| v.as_str()).collect::<Vec<_>>(),
    })
}

fn print_table(out: &mut dyn Write, naming: Naming) -> io::Result<()> {
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
    )?;

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
            "  {}{:<width$}  {:<6} {:<3}  {}",
            if info.listed { ' ' } else { '*' },
            info.name,
            info.method.as_str(),
            info.success_status,
            info.route,
        )?;
    }

    writeln!(out, "\nCALLBACK EVENT TYPES (default code/subCode mix)")?;
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
        writeln!(out, "  {:<width$}  {}", e.name(), mix.join(", "))?;
    }

    let classes: Vec<_> = StatusClass::ALL.iter().map(|c| c.as_str()).collect();
    writeln!(out, "\nSTATUS CLASSES\n  {}", classes.join(" "))?;
    let codes: Vec<_> = STATUS_CODES.iter().map(|c| c.to_string()).collect();
    writeln!(out, "\nSTATUS CODES\n  {}", codes.join(" "))?;
    writeln!(out, "\nSUB-CODES")?;
    for (code, message) in SUB_CODES {
        writeln!(out, "  {code:<5} {message}")?;
    }
    let versions: Vec<_> = ApiVersion::all().map(|v| v.as_str()).collect();
    writeln!(out, "\nAPI VERSIONS\n  {}", versions.join(" "))
}
