//! An independent recount of events.jsonl, written against the file format
//! only (serde_json::Value, no library types), to compare with expected.json.

use serde_json::Value;
use std::collections::BTreeMap;

/// (metric, dimension name=value pairs, bucket start) -> [count, total, min, max]
pub type Cells = BTreeMap<(String, Vec<(String, String)>, String), [u64; 4]>;

fn add(cells: &mut Cells, key: (String, Vec<(String, String)>, String), v: u64) {
    let c = cells.entry(key).or_insert([0, 0, u64::MAX, 0]);
    c[0] += 1;
    c[1] += v;
    c[2] = c[2].min(v);
    c[3] = c[3].max(v);
}

/// Minute bucket of an RFC 3339 ms timestamp: "2026-01-01T00:03:12.345Z" -> "2026-01-01T00:03:00Z".
fn minute(time: &str) -> String {
    format!("{}:00Z", &time[..16])
}

pub fn recount_jsonl(text: &str) -> Cells {
    let mut cells = Cells::new();
    for (i, line) in text.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let metric = v["metric"].as_str().unwrap().to_string();
        let mut dims: Vec<(String, String)> = v["dimensions"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        dims.sort();
        let bucket = minute(v["time"].as_str().unwrap());
        assert_eq!(v["value"], 1, "line {}: value", i + 1);
        add(
            &mut cells,
            (metric.clone(), dims.clone(), bucket.clone()),
            1,
        );
        if metric == "APIRequestCallAutomation" {
            let latency = v["latencyMs"].as_u64().unwrap();
            add(
                &mut cells,
                ("ApiRequestLatency".into(), dims, bucket),
                latency,
            );
        }
    }
    cells
}

pub fn cells_of_expected(text: &str) -> Cells {
    let v: Value = serde_json::from_str(text).unwrap();
    let mut cells = Cells::new();
    for metric in v["value"].as_array().unwrap() {
        let name = metric["name"]["value"].as_str().unwrap().to_string();
        for ts in metric["timeseries"].as_array().unwrap() {
            let mut dims: Vec<(String, String)> = ts["metadatavalues"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["name"]["value"].as_str().unwrap().to_string(),
                        m["value"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            dims.sort();
            for d in ts["data"].as_array().unwrap() {
                let count = d["count"].as_u64().unwrap();
                let total = d["total"].as_u64().unwrap();
                let avg = d["average"].as_f64().unwrap();
                assert_eq!(
                    avg,
                    total as f64 / count as f64,
                    "average of {name} {dims:?}"
                );
                let cell = [
                    count,
                    total,
                    d["minimum"].as_u64().unwrap(),
                    d["maximum"].as_u64().unwrap(),
                ];
                let key = (
                    name.clone(),
                    dims.clone(),
                    d["timeStamp"].as_str().unwrap().to_string(),
                );
                assert!(
                    cells.insert(key, cell).is_none(),
                    "duplicate cell in expected.json"
                );
            }
        }
    }
    cells
}
