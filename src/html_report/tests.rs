use super::*;
use crate::catalog::{Dimension, Metric};
use crate::check::Counted;
use crate::emit::deliver::Pacing;
use crate::model::Grain;
use std::collections::BTreeMap;

fn traffic(minutes: i64) -> Traffic {
    let counted = |n| Counted {
        expected: n,
        observed: Some(n),
        differs: false,
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
    assert_eq!(buckets[1], serde_json::json!([5000, 10, 10, false]));
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
    assert_eq!(values[0], serde_json::json!(["op 19", 119, 119, false]));
    // The 8 smallest, 100..=107.
    assert_eq!(d["others"]["values"], 8);
    assert_eq!(d["others"]["expected"], (100..108).sum::<u64>());
}

#[test]
fn quiet_stretches_are_drawn_as_empty_buckets() {
    let mut t = traffic(0);
    let one = Counted {
        expected: 4,
        observed: Some(3),
        differs: true,
    };
    // Seconds 0 and 9: ten bars, the eight between them empty.
    t.buckets = BTreeMap::from([(0, one), (9_000, one)]);
    let (_, data) = page_of(t, "t");
    let buckets = data["traffic"][0]["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 10);
    assert_eq!(buckets[0], serde_json::json!([0, 4, 3, true]));
    assert_eq!(buckets[5], serde_json::json!([5000, 0, 0, false]));
}

#[test]
fn a_span_no_grain_fits_takes_the_coarsest() {
    let mut t = traffic(0);
    let one = Counted {
        expected: 1,
        observed: None,
        differs: false,
    };
    // 400 days of seconds: even days are too many bars, so days, sparse.
    t.dimensions.clear();
    let day = 86_400_000;
    t.buckets = BTreeMap::from([(0, one), (1000, one), (400 * day, one)]);
    let (_, data) = page_of(t, "t");
    let metric = &data["traffic"][0];
    assert_eq!(metric["chartGrain"], "P1D");
    assert_eq!(
        metric["buckets"],
        serde_json::json!([[0, 2, null, false], [400 * day, 1, null, false]])
    );
}

#[test]
fn a_value_only_the_backend_has_is_among_the_top_values() {
    let mut t = traffic(0);
    let (_, operations) = &mut t.dimensions[0];
    operations.insert(
        "Mute Participant".into(),
        Counted {
            expected: 0,
            observed: Some(5000),
            differs: true,
        },
    );
    let (_, data) = page_of(t, "t");
    let top = &data["traffic"][0]["dimensions"][0]["values"][0];
    assert_eq!(*top, serde_json::json!(["Mute Participant", 0, 5000, true]));
}

// Issue #18, item 5: a threshold not met fails the page as it fails the
// run (exit 1), and the table's data is the summary's.
#[test]
fn a_threshold_not_met_fails_the_page() {
    let mut stats = Stats::new("ingest", Pacing::Max);
    stats.latency.record(400).unwrap();
    stats.thresholds = ["latency.p99<1us", "failed<1"]
        .iter()
        .map(|t| {
            t.parse::<crate::emit::deliver::Threshold>()
                .unwrap()
                .judge(&stats)
        })
        .collect();
    let page = Page {
        title: "t".into(),
        meta: Vec::new(),
        naming: Naming::Azure,
        run: Some(Run {
            stats: &stats,
            timeline: None,
        }),
        check: Checked::Skipped {
            why: "not checked: the sink is external".into(),
            traffic: Vec::new(),
        },
    };
    let data = data::page(&page);
    assert_eq!(data["verdict"], "fail");
    assert_eq!(
        data["verdictNote"],
        "not checked: the sink is external; thresholds not met: latency.p99<1us"
    );
    let thresholds = &data["summary"]["thresholds"];
    assert_eq!(thresholds[0]["passed"], false);
    assert_eq!(thresholds[1]["expression"], "failed<1");
    assert_eq!(thresholds[1]["passed"], true);
}

// Issue #18, item 6: the latency histogram's bars hold every attempt the
// percentiles are taken from, in log-spaced ranges that tile the axis.
#[test]
fn the_latency_histogram_holds_every_attempt_in_log_spaced_bars() {
    let mut latency = crate::emit::deliver::stats::micros_histogram();
    for (us, n) in [(90, 3), (100, 5), (1000, 40), (1010, 2), (250_000, 1)] {
        latency.record_n(us, n).unwrap();
    }
    let bars = data::latency_histogram(&latency);
    let bars = bars.as_array().unwrap();
    let count = |b: &serde_json::Value| b[2].as_u64().unwrap();
    let edge = |b: &serde_json::Value, i: usize| b[i].as_f64().unwrap();
    assert_eq!(bars.iter().map(count).sum::<u64>(), 51);
    for pair in bars.windows(2) {
        assert_eq!(edge(&pair[0], 1), edge(&pair[1], 0), "no gap, no overlap");
        let ratio = edge(&pair[1], 1) / edge(&pair[1], 0);
        assert!((ratio - 2f64.powf(0.25)).abs() < 1e-9, "{ratio}");
    }
    // From the bar of 90 µs to the bar of 250 ms, empty ones between.
    assert!(edge(&bars[0], 0) <= 0.090 && 0.090 < edge(&bars[0], 1));
    let last = bars.last().unwrap();
    assert!(edge(last, 0) <= 250.0 && 250.0 < edge(last, 1));
    assert_eq!(count(last), 1);
    let at = |ms: f64| bars.iter().find(|b| edge(b, 0) <= ms && ms < edge(b, 1));
    assert_eq!(count(at(1.0).unwrap()), 42, "1000 and 1010 µs share a bar");
    assert_eq!(count(at(10.0).unwrap()), 0);
    let empty = data::latency_histogram(&crate::emit::deliver::stats::micros_histogram());
    assert_eq!(empty, serde_json::json!([]));
}
