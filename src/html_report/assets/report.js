// Draws the report from the JSON in #callmetrics-data as inline SVG. No
// library and no request: the file is opened from disk, often offline, and
// must show the same thing years later. Each figure records what it drew
// (data-bars, data-sent, data-stored) so a headless browser can check the
// drawing against the run's numbers.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("callmetrics-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const W = 640;
  const PAD = { left: 64, right: 12, top: 10, bottom: 34 };

  function el(tag, attrs, parent, text) {
    const node = tag.startsWith("svg:")
      ? document.createElementNS(SVG, tag.slice(4))
      : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function int(n) {
    return n === null || n === undefined ? "-" : Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  function ms(v) {
    if (v === null || v === undefined) return "-";
    return v >= 100 ? int(v) + " ms" : v.toPrecision(3) + " ms";
  }

  function short(n) {
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toPrecision(3) + "G";
    if (a >= 1e6) return (n / 1e6).toPrecision(3) + "M";
    if (a >= 1e4) return (n / 1e3).toPrecision(3) + "k";
    return Number.isInteger(n) ? int(n) : n.toPrecision(3);
  }

  // Axis values 0, step, 2 step... past max; whole steps for counts.
  function ticks(max, counts) {
    if (!(max > 0)) return [0, 1];
    const raw = max / 4;
    const pow = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw);
    if (counts) step = Math.max(1, Math.round(step));
    const out = [];
    for (let v = 0; v <= max + step * 0.001; v += step) out.push(v);
    if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
    return out;
  }

  function utc(msSinceEpoch, withDate) {
    const iso = new Date(msSinceEpoch).toISOString();
    return withDate ? iso.slice(5, 10) + " " + iso.slice(11, 16) : iso.slice(11, 19).replace(/:00$/, "");
  }

  function clock(seconds) {
    const m = Math.floor(seconds / 60);
    const s = Math.round(seconds % 60);
    return m + ":" + String(s).padStart(2, "0");
  }

  function figure(parent, caption, note, attrs) {
    const fig = el("figure", Object.assign({ class: "chart" }, attrs), parent);
    const cap = el("figcaption", {}, fig, caption);
    if (note) el("span", { class: "note" }, cap, note);
    return fig;
  }

  function legend(fig, items) {
    const box = el("div", { class: "legend" }, fig);
    for (const [name, cls] of items) {
      const span = el("span", {}, box);
      el("i", { style: "background: var(--" + cls + ")" }, span);
      span.appendChild(document.createTextNode(name));
    }
  }

  // A chart over x positions: bar series side by side, then line series.
  // series: [{name, values, type: "bar"|"line", cls, flags?}] where flags
  // marks values drawn as differing.
  function xChart(fig, labels, series, yFormat, counts) {
    const H = 230;
    const svg = el("svg:svg", { viewBox: "0 0 " + W + " " + H, role: "img" }, fig);
    const plotW = W - PAD.left - PAD.right;
    const plotH = H - PAD.top - PAD.bottom;
    const n = Math.max(labels.length, 1);
    // reduce, not Math.max(...): a spread of many values overflows the stack.
    const max = series.reduce((m, s) => s.values.reduce((a, v) => (v !== null && v > a ? v : a), m), 0);
    const yt = ticks(max, counts);
    const top = yt[yt.length - 1] || 1;
    const y = (v) => PAD.top + plotH - (v / top) * plotH;
    const axis = el("svg:g", { class: "axis" }, svg);
    for (const t of yt) {
      el("svg:line", { x1: PAD.left, x2: W - PAD.right, y1: y(t), y2: y(t) }, axis);
      el("svg:text", { x: PAD.left - 6, y: y(t) + 4, "text-anchor": "end" }, axis, yFormat(t));
    }
    const slot = plotW / n;
    const every = Math.max(1, Math.ceil(n / 8));
    labels.forEach((label, i) => {
      if (i % every === 0) {
        el("svg:text", { x: PAD.left + slot * (i + 0.5), y: H - PAD.bottom + 16, "text-anchor": "middle" }, axis, label);
      }
    });
    const bars = series.filter((s) => s.type === "bar");
    const barW = Math.max(1, (slot * 0.8) / Math.max(bars.length, 1));
    let drawn = 0;
    bars.forEach((s, k) => {
      const g = el("svg:g", { class: "bars " + s.cls }, svg);
      s.values.forEach((v, i) => {
        if (v === null) return;
        const x = PAD.left + slot * i + slot * 0.1 + barW * k;
        const cls = "bar " + (s.flags && s.flags[i] ? "differs" : s.cls);
        const r = el("svg:rect", { class: cls, x: x, y: y(v), width: barW, height: Math.max(0, y(0) - y(v)) }, g);
        el("svg:title", {}, r, labels[i] + ": " + s.name + " " + yFormat(v, true));
        drawn++;
      });
    });
    series.filter((s) => s.type === "line").forEach((s) => {
      const points = [];
      s.values.forEach((v, i) => {
        if (v !== null) points.push([PAD.left + slot * (i + 0.5), y(v), i, v]);
      });
      const g = el("svg:g", { class: "series " + s.cls }, svg);
      if (points.length > 1) {
        el("svg:polyline", { class: "line " + s.cls, points: points.map((p) => p[0] + "," + p[1]).join(" ") }, g);
      }
      const dotCls = s.cls.replace(/^s/, "f");
      for (const [px, py, i, v] of points) {
        const bad = s.flags && s.flags[i];
        const dot = el("svg:circle", { class: "dot " + (bad ? "differs" : dotCls), cx: px, cy: py, r: bad ? 4 : n > 60 ? 1.5 : 2.5 }, g);
        el("svg:title", {}, dot, labels[i] + ": " + s.name + " " + yFormat(v, true));
      }
    });
    return drawn;
  }

  function sum(values) {
    return values.reduce((a, v) => a + (v || 0), 0);
  }

  function header() {
    document.title = data.title;
    const h = el("header", {}, document.body);
    const h1 = el("h1", {}, h, data.title);
    const cls = { pass: "pass", fail: "fail" }[data.verdict] || "none";
    el("span", { class: "verdict " + cls, id: "verdict" }, h1, data.verdict.toUpperCase());
    for (const line of data.meta) el("div", { class: "meta" }, h, line);
    if (data.verdictNote) el("div", { class: "meta", id: "verdict-note" }, h, data.verdictNote);
  }

  function tiles(main) {
    const box = el("section", { class: "tiles", id: "tiles" }, main);
    const tile = (id, label, value, bad) => {
      const t = el("div", { class: "tile" + (bad ? " bad" : ""), id: "tile-" + id }, box);
      el("div", { class: "label" }, t, label);
      el("div", { class: "value" }, t, value);
    };
    const s = data.summary;
    if (s) {
      tile("events", "events delivered", int(s.events));
      tile("requests", "requests", int(s.requests));
      tile("failed", "failed requests", int(s.failedRequests), s.failedRequests > 0);
      tile("retries", "retries", int(s.retries), s.retries > 0);
      tile("rate", "events / s", int(s.eventsPerSecond));
      tile("duration", "duration", (s.durationMs / 1000).toFixed(1) + " s");
      tile("latency", "latency p99", ms(s.latencyMs.p99));
      if (s.lagMs) tile("lag", "lag p99", ms(s.lagMs.p99));
      const missed = s.thresholds.filter((t) => !t.passed).length;
      if (s.thresholds.length) tile("thresholds", "thresholds met", (s.thresholds.length - missed) + " of " + s.thresholds.length, missed > 0);
    }
    const c = data.check;
    if (c) {
      tile("cells", "cells compared", int(c.summary.cells));
      tile("mismatches", "mismatched cells", int(c.summary.mismatches), c.summary.mismatches > 0);
    }
  }

  function traffic(main) {
    const [sent, stored] = data.sides;
    const sec = el("section", { id: "traffic" }, main);
    el("h2", {}, sec, "Events " + sent + " and " + stored);
    const grid = el("div", { class: "grid" }, sec);
    for (const t of data.traffic) {
      const withDate = t.buckets.length > 1 && t.buckets[t.buckets.length - 1][0] - t.buckets[0][0] >= 86400000;
      const labels = t.buckets.map((b) => (t.totals ? "window" : utc(b[0], withDate)));
      const sentValues = t.buckets.map((b) => b[1]);
      const storedValues = t.buckets.map((b) => b[2]);
      // Marked where the check found a mismatch (any aggregation, within
      // its tolerance), not where the counts alone differ.
      const flags = t.buckets.map((b) => b[3]);
      const note = t.totals ? "whole window" : "per " + t.chartGrainText + (t.observed ? "" : "; " + stored + " not observed");
      const fig = figure(grid, t.metric, note, { "data-chart": "traffic", "data-metric": t.metric });
      const series = [{ name: sent, values: sentValues, type: "bar", cls: "sent" }];
      if (t.observed) series.push({ name: stored, values: storedValues, type: "line", cls: "s1", flags: flags });
      const drawn = xChart(fig, labels, series, (v, full) => (full ? int(v) : short(v)), true);
      fig.setAttribute("data-bars", drawn);
      fig.setAttribute("data-sent", sum(sentValues));
      fig.setAttribute("data-stored", t.observed ? sum(storedValues) : "");
      fig.setAttribute("data-differs", flags.filter(Boolean).length);
      legend(fig, t.observed ? [[sent, "sent"], [stored, "stored"], ["differs", "bad"]] : [[sent, "sent"]]);
    }
  }

  function dimensions(main) {
    const [sent, stored] = data.sides;
    const sec = el("section", { id: "dimensions" }, main);
    el("h2", {}, sec, "Top values per dimension");
    const grid = el("div", { class: "grid" }, sec);
    for (const t of data.traffic) {
      for (const d of t.dimensions) {
        const rows = d.values.slice();
        if (d.others) rows.push(["(" + d.others.values + " more values)", d.others.expected, d.others.observed, d.others.differs]);
        const fig = figure(grid, t.metric + " by " + d.name, d.distinct + " values", {
          "data-chart": "dimension", "data-metric": t.metric, "data-dimension": d.name,
        });
        const rowH = 22;
        const labelW = 230;
        const H = rows.length * rowH + 8;
        const svg = el("svg:svg", { viewBox: "0 0 " + W + " " + H, role: "img" }, fig);
        const max = rows.reduce((m, r) => Math.max(m, r[1], r[2] || 0), 1);
        const scale = (W - labelW - 80) / max;
        let drawn = 0;
        rows.forEach(([value, exp, got, differs], i) => {
          const y0 = 4 + i * rowH;
          // Event types all start with the same namespace: show what differs.
          const name = value.replace(/^Microsoft\.Communication\./, "");
          const label = name.length > 34 ? name.slice(0, 33) + "…" : name;
          const text = el("svg:text", { x: labelW - 8, y: y0 + 14, "text-anchor": "end" }, svg, label);
          el("svg:title", {}, text, value);
          const a = el("svg:rect", { class: "bar sent", x: labelW, y: y0 + 2, width: exp * scale, height: t.observed ? 8 : 16 }, svg);
          el("svg:title", {}, a, value + ": " + sent + " " + int(exp));
          drawn++;
          if (t.observed) {
            const bad = differs;
            const b = el("svg:rect", { class: "bar " + (bad ? "differs" : "stored"), x: labelW, y: y0 + 10, width: (got || 0) * scale, height: 8 }, svg);
            el("svg:title", {}, b, value + ": " + stored + " " + int(got));
          }
          el("svg:text", { x: labelW + Math.max(exp, got || 0) * scale + 6, y: y0 + 14 }, svg,
            t.observed && (differs || got !== exp) ? int(exp) + " / " + int(got) : int(exp));
        });
        fig.setAttribute("data-bars", drawn);
        fig.setAttribute("data-sent", sum(rows.map((r) => r[1])));
        fig.setAttribute("data-stored", t.observed ? sum(rows.map((r) => r[2])) : "");
      }
    }
  }

  function overTime(main) {
    const tl = data.timeline;
    const sec = el("section", { id: "over-time" }, main);
    el("h2", {}, sec, "Over the run (wall time, " + tl.widthSeconds + " s per point)");
    const grid = el("div", { class: "grid" }, sec);
    const labels = tl.slots.map((_, i) => clock(i * tl.widthSeconds));
    const pick = (f) => tl.slots.map(f);
    // The last slot is only partly run: its rate is over the part that was.
    const covered = (i) => i < tl.slots.length - 1 ? tl.widthSeconds
      : Math.min(tl.widthSeconds, Math.max(1e-3, tl.elapsedSeconds - i * tl.widthSeconds));

    let fig = figure(grid, "Delivered events per second", null, { "data-chart": "rate" });
    let drawn = xChart(fig, labels, [
      { name: "delivered", values: tl.slots.map((s, i) => s.events / covered(i)), type: "bar", cls: "sent" },
      { name: "failed", values: tl.slots.map((s, i) => s.failedEvents / covered(i)), type: "bar", cls: "differs" },
    ], (v, full) => (full ? int(v) + " events/s" : short(v)));
    fig.setAttribute("data-bars", drawn);
    fig.setAttribute("data-sent", sum(pick((s) => s.events)));
    legend(fig, [["delivered", "sent"], ["failed", "bad"]]);

    const percentiles = (caption, key, chart, empty) => {
      const f = figure(grid, caption, null, { "data-chart": chart });
      if (!tl.slots.some((s) => s[key])) {
        el("div", { class: "empty" }, f, empty);
        f.setAttribute("data-bars", 0);
        return;
      }
      const n = xChart(f, labels, [
        { name: "p50", values: pick((s) => (s[key] ? s[key].p50 : null)), type: "line", cls: "s0" },
        { name: "p99", values: pick((s) => (s[key] ? s[key].p99 : null)), type: "line", cls: "s1" },
        { name: "max", values: pick((s) => (s[key] ? s[key].max : null)), type: "line", cls: "s3" },
      ], (v, full) => (full ? ms(v) : short(v)));
      f.setAttribute("data-bars", n);
      f.setAttribute("data-points", f.querySelectorAll("circle").length);
      legend(f, [["p50", "sent"], ["p99", "stored"], ["max", "violet"]]);
    };
    percentiles("Request latency (ms)", "latencyMs", "latency", "no requests");
    if (data.latencyHistogram) latencyHistogram(grid, data.latencyHistogram);
    // Lag is the time behind a schedule: a max-rate run has none to draw.
    if (data.summary.pacing !== "max") percentiles("Schedule lag (ms)", "lagMs", "lag", "no paced requests");

    fig = figure(grid, "Retries and failed requests", null, { "data-chart": "retries" });
    drawn = xChart(fig, labels, [
      { name: "retries", values: pick((s) => s.retries), type: "bar", cls: "f3" },
      { name: "failed requests", values: pick((s) => s.failedRequests), type: "bar", cls: "differs" },
    ], (v, full) => (full ? int(v) : short(v)), true);
    fig.setAttribute("data-bars", drawn);
    fig.setAttribute("data-retries", sum(pick((s) => s.retries)));
    fig.setAttribute("data-failed", sum(pick((s) => s.failedRequests)));
    legend(fig, [["retries", "violet"], ["failed requests", "bad"]]);
  }

  // "850 µs", "1.2 ms", "3.4 s".
  function span(v) {
    if (v < 1) return (v * 1000).toPrecision(2).replace(/\.0+$/, "") + " µs";
    if (v < 1000) return v.toPrecision(2).replace(/\.0+$/, "") + " ms";
    return (v / 1000).toPrecision(2) + " s";
  }

  // Every attempt's latency in log-spaced bars: what the percentile lines
  // summarise, so two humps (cache hits and misses, a retried connect)
  // show as two.
  function latencyHistogram(grid, bars) {
    const fig = figure(grid, "Request latency distribution", "attempts per latency range, log-spaced", { "data-chart": "latency-histogram" });
    if (!bars.length) {
      el("div", { class: "empty" }, fig, "no requests");
      fig.setAttribute("data-bars", 0);
      fig.setAttribute("data-count", 0);
      return;
    }
    const labels = bars.map((b) => span(b[0]) + " to " + span(b[1]));
    const axis = bars.map((b) => span(b[0]));
    const drawn = xChart(fig, axis, [{ name: "attempts", values: bars.map((b) => b[2]), type: "bar", cls: "sent" }],
      (v, full) => (full ? int(v) : short(v)), true);
    // The axis shows each bar's lower edge; its tooltip the whole range.
    fig.querySelectorAll("rect title").forEach((t, i) => { t.textContent = labels[i] + ": " + int(bars[i][2]) + " attempts"; });
    fig.setAttribute("data-bars", drawn);
    fig.setAttribute("data-count", sum(bars.map((b) => b[2])));
  }

  function table(parent, heads, rows, id) {
    const t = el("table", { id: id }, parent);
    const tr = el("tr", {}, el("thead", {}, t));
    for (const h of heads) el("th", {}, tr, h);
    const body = el("tbody", {}, t);
    for (const row of rows) {
      const r = el("tr", {}, body);
      for (const cell of row) {
        if (cell instanceof Node) el("td", {}, r).appendChild(cell);
        else el("td", typeof cell === "number" ? { class: "num" } : {}, r, typeof cell === "number" ? int(cell) : cell);
      }
    }
    return t;
  }

  function mismatches(main) {
    const c = data.check;
    const sec = el("section", { id: "mismatches" }, main);
    el("h2", {}, sec, "Mismatches");
    if (!c) {
      el("div", { class: "empty" }, sec, data.verdictNote || "not checked");
      return;
    }
    if (c.mismatches.length === 0) {
      el("div", { class: "empty" }, sec, "none: " + int(c.summary.cells) + " cells in " + int(c.summary.groups) + " groups matched exactly");
      return;
    }
    const rows = c.mismatches.map((m) => {
      const fields = document.createElement("div");
      for (const [name, f] of Object.entries(m.fields)) {
        const line = el("div", {}, fields, name + ": ");
        el("span", { class: "exp" }, line, "exp " + (f.expected === null ? "-" : f.expected));
        line.appendChild(document.createTextNode(" "));
        el("span", { class: "got" }, line, "got " + (f.observed === null ? "-" : f.observed));
      }
      const series = Object.entries(m.series).map(([d, v]) => d + "=" + v).join(", ") || "(total)";
      return [m.metric, m.grain, series, m.timeStamp, m.kind, fields];
    });
    table(sec, ["metric", "grain", "series", "bucket", "kind", "values"], rows, "mismatch-table");
    if (c.mismatchesTotal > c.mismatches.length) {
      el("p", { class: "legend" }, sec, "the first " + int(c.mismatches.length) + " of " + int(c.mismatchesTotal) +
        " mismatches; check --format json lists every one");
    }
  }

  function thresholds(main) {
    const s = data.summary;
    const sec = el("section", { id: "thresholds" }, main);
    el("h2", {}, sec, "Thresholds");
    const observed = (t) => {
      if (t.observed === null) return "not measured";
      const v = t.unit === "count" ? String(t.observed) : t.observed.toFixed(t.unit === "/s" ? 0 : 3);
      return t.unit === "count" ? v : v + " " + t.unit;
    };
    const rows = s.thresholds.map((t) => {
      const verdict = document.createElement("span");
      verdict.className = t.passed ? "met" : "missed";
      verdict.textContent = t.passed ? "met" : "not met";
      return [t.expression, observed(t), verdict];
    });
    table(sec, ["threshold", "observed", "result"], rows, "threshold-table");
  }

  function replies(main) {
    const s = data.summary;
    const sec = el("section", { id: "replies" }, main);
    el("h2", {}, sec, "Replies");
    table(sec, ["reply", "attempts"], Object.entries(s.replies).map(([k, n]) => [k, n]), "reply-table");
    // What the summary on the terminal says about the replies (the accept
    // backlog, for one), so the page is not the place that misses it.
    for (const h of s.hints) el("p", { class: "hint" }, sec, "hint: " + h);
    if (s.failures.length) {
      el("h2", {}, sec, "Failed requests");
      // What to look for in the receiver's logs: a webhook's CloudEvents
      // by id, type and call; other targets' batches by their time range.
      const carried = (f) => {
        const box = document.createElement("div");
        if (!f.cloudEvents) {
          box.textContent = "from " + f.firstEventTime + " to " + f.lastEventTime;
          return box;
        }
        for (const e of f.cloudEvents) {
          const line = el("div", { class: "carried" }, box);
          el("span", { class: "type" }, line, e.type);
          line.appendChild(document.createTextNode(" id "));
          el("code", { class: "id" }, line, e.id);
          line.appendChild(document.createTextNode(" callConnectionId "));
          el("code", { class: "call" }, line, e.callConnectionId);
        }
        return box;
      };
      table(sec, ["request", "events", "attempts", "last reply", "what it carried"],
        s.failures.map((f) => [f.id, f.events, f.attempts, f.reason, carried(f)]), "failure-table");
      if (s.failuresNotListed > 0) {
        el("p", { class: "legend" }, sec, "the first " + int(s.failures.length) + " of " + int(s.failedRequests) +
          " failed requests; --summary-out lists the same");
      }
    }
  }

  header();
  const main = el("main", {}, document.body);
  tiles(main);
  if (data.summary && data.summary.thresholds.length) thresholds(main);
  // Health first (what arrived, how the run went, what differed), then
  // the detail per dimension.
  if (data.traffic.length) traffic(main);
  if (data.timeline) overTime(main);
  mismatches(main);
  if (data.traffic.length) dimensions(main);
  if (data.summary) replies(main);
  document.body.setAttribute("data-rendered", "true");
})();
