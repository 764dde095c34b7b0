use super::*;
use crate::catalog::{Dimension, Metric};
use crate::check::Counted;
use crate::emit::deliver::Pacing;
use crate::engine::Grain;
use std::collections::BTreeMap;

fn traffic(minutes: i64) -> Traffic {
    let counted = |n| Counted {
        expected: n,
        observed: Some(n),
    };
    let mut t = Traffic::new(Metric::ApiRequests, Grain::SECOND, false);
    t.buckets = (0..minutes * 60).map(|s| (s * 1000, counted(2))).collect();
    let operations: BTreeMap<String, Counted> = (0..20)
        .map(|i| (format!("op {i:02}"), counted(100 + i)))
        .collect();
    t.dimensions.push((Dimension::Operation, operations));
    t
}

fn page_of(traffic: Traffic, title: &str) -> (String, serde_json::Value) {
    let stats = Stats::new("ingest", Pacing::Max);
    let page = Page {
        title: title.to_string(),
        meta: vec!["scenario </script><b>x</b>".into()],
        naming: Naming::Azure,
        run: Some(Run {
            stats: &stats,
            timeline: None,
        }),
        check: Checked::Skipped {
            why: "not checked: --no-check".into(),
            traffic: vec![traffic],
        },
    };
    let mut out = Vec::new();
    write(&page, &mut out).unwrap();
    let html = String::from_utf8(out).unwrap();
    let start = html.find(r#"id="callmetrics-data">"#).unwrap() + 22;
    let end = start + html[start..].find("</script>").unwrap();
    let data = serde_json::from_str(&html[start..end]).unwrap();
    (html, data)
}

#[test]
fn the_page_is_self_contained_and_its_data_cannot_close_the_script() {
    let (html, data) = page_of(traffic(3), "run {{CSS}} <i>");
    assert_eq!(data["meta"][0], "scenario </script><b>x</b>");
    assert_eq!(
        html.matches("</script>").count(),
        2,
        "the data's own </script> is escaped"
    );
    assert!(html.contains("<title>run {{CSS}} &lt;i&gt;</title>"));
    for fetch in [
        "src=",
        "href=",
        "url(",
        "@import",
        "fetch(",
        "XMLHttpRequest",
        "<link",
    ] {
        assert!(
            !html.contains(fetch),
            "the page must not load anything: {fetch}"
        );
    }
    assert_eq!(data["verdict"], "not checked");
    assert_eq!(data["sides"][0], "sent");
}

#[test]
fn long_traffic_is_summed_into_a_grain_a_chart_can_draw() {
    // 3 minutes of seconds: 180 bars fit. 10 minutes do not: per minute.
    let (_, short) = page_of(traffic(3), "t");
    assert_eq!(short["traffic"][0]["chartGrain"], "PT1S");
    assert_eq!(
        short["traffic"][0]["buckets"].as_array().unwrap().len(),
        180
    );
    let (_, long) = page_of(traffic(10), "t");
    let metric = &long["traffic"][0];
    assert_eq!(metric["chartGrain"], "PT5S");
    assert_eq!(metric["chartGrainText"], "5 seconds");
    let buckets = metric["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 120);
    assert_eq!(buckets[1], serde_json::json!([5000, 10, 10]));
    let total: u64 = buckets.iter().map(|b| b[1].as_u64().unwrap()).sum();
    assert_eq!(total, 1200, "no event lost in the summing");
}

#[test]
fn dimension_charts_keep_the_top_values_and_sum_the_rest() {
    let (_, data) = page_of(traffic(1), "t");
    let d = &data["traffic"][0]["dimensions"][0];
    assert_eq!(d["name"], "Operation");
    assert_eq!(d["distinct"], 20);
    let values = d["values"].as_array().unwrap();
    assert_eq!(values.len(), 12);
    assert_eq!(values[0], serde_json::json!(["op 19", 119, 119]));
    // The 8 smallest, 100..=107.
    assert_eq!(d["others"]["values"], 8);
    assert_eq!(d["others"]["expected"], (100..108).sum::<u64>());
}
