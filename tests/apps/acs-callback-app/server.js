#!/usr/bin/env node
// A Call Automation callback app, as a team would write one, for
// callmetrics' integration tests: it receives the CloudEvents ACS posts to
// its callback URL, parses each with the official SDK
// (parseCallAutomationEvent), counts it with a prom-client counter labelled
// by the five callback-metric dimensions, and serves /metrics for
// Prometheus to scrape.
//
// With OIDC_CONFIGURATION_URL and AUDIENCE set it validates every
// callback's `Authorization: Bearer <JWT>` the way Microsoft documents for
// Call Automation (OpenID configuration + audience, here with the `jose`
// library) and answers 401 to a missing, tampered or expired token.
//
// Environment:
//   PORT           port on 127.0.0.1 (default 0: a free one)
//   CALLBACK_PATH  where callbacks are POSTed (default /api/callbacks)
//   METRIC_NAME    the counter (default acs_callback_events_total)
//   EVENT_TYPE     "type" (default): label events with the CloudEvent type
//                  (Microsoft.Communication.PlayCompleted); "kind": with the
//                  SDK's short name (PlayCompleted), as many apps do
//   DROP_EVERY     acknowledge but do not count every Nth event (fault
//                  injection for tests; GET /dropped tells how many)
//   OIDC_CONFIGURATION_URL, AUDIENCE
//                  validate tokens against this OpenID configuration and
//                  audience (the ACS immutable resource id)
//
// stdout: "listening on http://127.0.0.1:PORT" once ready.
"use strict";

const http = require("node:http");
const { parseCallAutomationEvent } = require("@azure/communication-call-automation");
const client = require("prom-client");
const jose = require("jose");

const port = Number(process.env.PORT || 0);
const callbackPath = process.env.CALLBACK_PATH || "/api/callbacks";
const dropEvery = Number(process.env.DROP_EVERY || 0);
const shortEventTypes = process.env.EVENT_TYPE === "kind";

const registry = new client.Registry();
const events = new client.Counter({
  name: process.env.METRIC_NAME || "acs_callback_events_total",
  help: "Call Automation callback events received, by the callback metric's dimensions.",
  labelNames: ["event_type", "code", "code_class", "sub_code", "version"],
  registers: [registry],
});

let received = 0;
let dropped = 0;
let rejected = 0;

const oidcUrl = process.env.OIDC_CONFIGURATION_URL;
const audience = process.env.AUDIENCE;
// Read once, on the first callback: the metadata names the issuer and the
// key set (whose keys jose fetches and caches).
let validation;
function validator() {
  validation ??= fetch(oidcUrl)
    .then((r) => {
      if (!r.ok) throw new Error(`${oidcUrl}: HTTP ${r.status}`);
      return r.json();
    })
    .then((meta) => ({ issuer: meta.issuer, keys: jose.createRemoteJWKSet(new URL(meta.jwks_uri)) }))
    .catch((e) => {
      validation = undefined;
      throw e;
    });
  return validation;
}

/** Throws unless the request carries a valid token for our audience. */
async function authenticate(req) {
  if (!oidcUrl) return;
  const header = req.headers.authorization || "";
  const token = header.startsWith("Bearer ") ? header.slice(7) : "";
  if (!token) throw new Error("no bearer token");
  const { issuer, keys } = await validator();
  await jose.jwtVerify(token, keys, { issuer, audience, algorithms: ["RS256"] });
}

/** The status class Azure Monitor reports for a code: 2xx, 4xx, 5xx, 6xx. */
function codeClass(code) {
  return code >= 200 && code < 700 && Math.floor(code / 100) !== 3
    ? `${Math.floor(code / 100)}xx`
    : "";
}

function count(cloudEvent) {
  const parsed = parseCallAutomationEvent(cloudEvent);
  if (!parsed || !parsed.kind) {
    throw new Error(`the SDK does not know ${cloudEvent.type}`);
  }
  received += 1;
  if (dropEvery > 0 && received % dropEvery === 0) {
    dropped += 1;
    return;
  }
  const result = parsed.resultInformation || { code: 200, subCode: 0 };
  events.inc({
    event_type: shortEventTypes ? parsed.kind : cloudEvent.type,
    code: String(result.code),
    code_class: codeClass(result.code),
    sub_code: String(result.subCode ?? 0),
    version: cloudEvent.data.version,
  });
}

function reply(res, status, body, type = "text/plain") {
  res.writeHead(status, { "content-type": type });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", async () => {
    try {
      if (req.method === "POST" && req.url === callbackPath) {
        try {
          await authenticate(req);
        } catch (e) {
          rejected += 1;
          return reply(res, 401, `invalid token: ${e.message}\n`);
        }
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (!Array.isArray(body)) throw new Error("the body is not a CloudEvents array");
        body.forEach(count);
        return reply(res, 200, "");
      }
      if (req.method === "GET" && req.url === "/metrics") {
        return reply(res, 200, await registry.metrics(), registry.contentType);
      }
      if (req.method === "GET" && req.url === "/dropped") {
        return reply(res, 200, JSON.stringify({ received, dropped, rejected }), "application/json");
      }
      return reply(res, 404, "not found\n");
    } catch (e) {
      process.stderr.write(`refused a callback: ${e.message}\n`);
      return reply(res, 400, `${e.message}\n`);
    }
  });
});
server.keepAliveTimeout = 60_000;

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
