// Reads a callmetrics sink with Azure's own JavaScript client
// (@azure/monitor-query), as a team's dashboard or exporter reads Azure
// Monitor, and compares every answer with the run's expected.json cell for
// cell: the twin of read_sink.py (which documents what is compared).
//
//     node read_sink.mjs ENDPOINT RESOURCE_ID EXPECTED_JSON
//
// The token is AZURE_ACCESS_TOKEN; the sink's CA is NODE_EXTRA_CA_CERTS.
// Prints a JSON summary; exits 1 on any difference, naming it.

import { readFileSync } from "node:fs";
import { MetricsClient, MetricsQueryClient } from "@azure/monitor-query";

const GRAINS = { PT1M: 60_000, PT1H: 3_600_000 };
const AGGREGATIONS = ["Count", "Total", "Minimum", "Maximum", "Average"];
const PLATFORM = "Microsoft.Communication/CommunicationServices";
const AZURE_METRICS = new Set([
  "APIRequestCallAutomation",
  "AcsCallAutomationCallbackEvent",
  "APIRequestCallRecording",
]);

const [endpoint, resource, expectedPath] = process.argv.slice(2);
const credential = {
  // A bearer token given up front, as `az account get-access-token` gives one.
  getToken: async () => ({
    token: process.env.AZURE_ACCESS_TOKEN,
    expiresOnTimestamp: Date.now() + 3_600_000,
  }),
};
const expected = JSON.parse(readFileSync(expectedPath, "utf8"));
const floor = (ms, grain) => Math.floor(ms / grain) * grain;
let [start, end] = expected.timespan.split("/").map((t) => Date.parse(t));
// Whole hours around the run, so both grains cover every event.
start = floor(start, GRAINS.PT1H);
end = floor(end - 1, GRAINS.PT1H) + GRAINS.PT1H;
const timespan = { startTime: new Date(start), endTime: new Date(end) };

const client = new MetricsQueryClient(credential, { endpoint, retryOptions: { maxRetries: 0 } });
const batch = new MetricsClient(endpoint, credential, { retryOptions: { maxRetries: 0 } });
const problems = [];
let cells = 0;
let queries = 0;
const totals = {};

// (dimension value or "", bucket start) -> [count, total, min, max]
function expectedCells(body, split, grain) {
  const out = new Map();
  for (const series of body.timeseries) {
    const values = Object.fromEntries(series.metadatavalues.map((m) => [m.name.value, m.value]));
    const value = split ? values[split] : "";
    for (const p of series.data) {
      const key = `${value}|${floor(Date.parse(p.timeStamp), grain)}`;
      const cell = out.get(key) ?? [0, 0, null, null];
      cell[0] += p.count;
      cell[1] += p.total;
      cell[2] = cell[2] === null ? p.minimum : Math.min(cell[2], p.minimum);
      cell[3] = cell[3] === null ? p.maximum : Math.max(cell[3], p.maximum);
      out.set(key, cell);
    }
  }
  return out;
}

// The client's parsed series as cells; buckets without data are skipped.
// MetricsQueryClient names a metadata value by a string, the batch client
// by Azure's {value, localizedValue}.
function observedCells(timeseries, split, where) {
  const out = new Map();
  for (const series of timeseries) {
    const metadata = series.metadataValues ?? series.metadatavalues ?? [];
    const values = Object.fromEntries(
      metadata.map((m) => [(typeof m.name === "string" ? m.name : m.name.value).toLowerCase(), m.value]),
    );
    const value = split ? values[split.toLowerCase()] : "";
    if (value === undefined) {
      problems.push(`${where}: a series without ${split}: ${JSON.stringify(metadata)}`);
      continue;
    }
    for (const p of series.data ?? []) {
      if (p.count === undefined && p.total === undefined) continue;
      const key = `${value}|${new Date(p.timeStamp).getTime()}`;
      if (out.has(key)) problems.push(`${where}: ${key} is answered twice`);
      out.set(key, p);
    }
  }
  return out;
}

function compare(exp, got, where) {
  for (const key of new Set([...exp.keys(), ...got.keys()])) {
    const e = exp.get(key);
    const g = got.get(key);
    if (!e || !g) {
      problems.push(`${where} ${key}: expected ${JSON.stringify(e)}, got ${JSON.stringify(g)}`);
      continue;
    }
    const [count, total, minimum, maximum] = e;
    const average = total / count;
    const same =
      g.count === count &&
      g.total === total &&
      g.minimum === minimum &&
      g.maximum === maximum &&
      typeof g.average === "number" &&
      Math.abs(g.average - average) <= 1e-9 * Math.max(1, Math.abs(average));
    if (!same) {
      problems.push(
        `${where} ${key}: expected count ${count} total ${total} min ${minimum} max ${maximum} average ${average}, got ${JSON.stringify(g)}`,
      );
    }
  }
  return exp.size;
}

async function expectError(call, code, text, what) {
  try {
    await call();
  } catch (e) {
    const got = e.code ?? e.details?.error?.code;
    const message = e.message ?? "";
    if (got !== code || !message.includes(text)) {
      problems.push(`${what}: expected ${code} with ${JSON.stringify(text)}, got ${e.statusCode} ${got}: ${message}`);
    }
    return [e.statusCode, got];
  }
  problems.push(`${what}: expected an error, the query succeeded`);
  return [null, null];
}

for (const body of expected.value) {
  const name = body.name.value;
  if (!AZURE_METRICS.has(name)) continue;
  const dimensions = [...new Set(body.timeseries.flatMap((s) => s.metadatavalues.map((m) => m.name.value)))].sort();
  for (const [grainName, grain] of Object.entries(GRAINS)) {
    for (const split of [null, ...dimensions]) {
      const where = `${name} ${grainName} by ${split ?? "(none)"}`;
      const filter = split ? `${split} eq '*'` : undefined;
      const answer = await client.queryResource(resource, [name], {
        timespan,
        granularity: grainName,
        aggregations: AGGREGATIONS,
        filter,
        top: 1000,
      });
      queries += 1;
      if (answer.granularity !== grainName) problems.push(`${where}: answered at ${answer.granularity}`);
      const metric = answer.getMetricByName(name);
      const exp = expectedCells(body, split, grain);
      cells += compare(exp, observedCells(metric.timeseries, split, where), where);
      if (!split) totals[`${name} ${grainName}`] = [...exp.values()].reduce((a, c) => a + c[0], 0);
      if (split) {
        const [result] = await batch.queryResources([resource], [name], PLATFORM, {
          ...timespan,
          interval: grainName,
          aggregation: AGGREGATIONS.join(","),
          filter,
          top: 1000,
        });
        queries += 1;
        const got = observedCells(result.getMetricByName(name).timeseries, split, `batch ${where}`);
        cells += compare(exp, got, `batch ${where}`);
      }
    }
  }
}

const definitions = [];
for await (const d of client.listMetricDefinitions(resource)) {
  definitions.push(d.name);
  if (d.namespace !== PLATFORM || d.primaryAggregationType !== "Count") {
    problems.push(`metric definitions: ${JSON.stringify(d)}`);
  }
}
for (const body of expected.value) {
  if (AZURE_METRICS.has(body.name.value) && !definitions.includes(body.name.value)) {
    problems.push(`metric definitions: no ${body.name.value}`);
  }
}
const namespaces = [];
for await (const n of client.listMetricNamespaces(resource)) namespaces.push(n.metricNamespaceName);
if (JSON.stringify(namespaces) !== JSON.stringify([PLATFORM])) {
  problems.push(`metric namespaces: ${JSON.stringify(namespaces)}`);
}
const errors = {
  "unknown metric": await expectError(
    () => client.queryResource(resource, ["NoSuchMetric"], { timespan }),
    "BadRequest",
    "Failed to find metric configuration",
    "unknown metric",
  ),
  "unknown dimension": await expectError(
    () => client.queryResource(resource, ["APIRequestCallAutomation"], { timespan, filter: "EventTypeName eq '*'" }),
    "BadRequest",
    "does not support requested dimension combination",
    "unknown dimension",
  ),
};
console.log(
  JSON.stringify(
    { queries, cells, totals, definitions: definitions.sort(), errors, problems: problems.slice(0, 50), problemCount: problems.length },
    null,
    1,
  ),
);
process.exit(problems.length ? 1 : 0);
