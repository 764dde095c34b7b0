#!/usr/bin/env node
// A reference Call Automation app with the official JS SDK, to run against
// `callmetrics emulate` (or Azure): it places appointment reminders
// (FLOW=outbound) or answers an IVR line (FLOW=inbound), and counts every
// REST call it makes and every callback it receives with prom-client, under
// the dimensions of Azure's APIRequestCallAutomation and
// AcsCallAutomationCallbackEvent metrics.
//
//   outbound: createCall -> CallConnected: play the reminder
//             -> PlayCompleted / PlayFailed: hangUp -> CallDisconnected
//   inbound:  IncomingCall (Event Grid): answerCall -> CallConnected: recognize
//             one DTMF tone with a prompt -> RecognizeCompleted: "1" transfers
//             to TRANSFER_TARGET, anything else hangs up; RecognizeFailed and
//             CallTransferFailed hang up -> CallDisconnected
//
// Environment:
//   ACS_CONNECTION_STRING  endpoint=https://127.0.0.1:PORT/;accesskey=KEY (required)
//   PORT                   port of the callback server on 127.0.0.1 (default 0: a free one)
//   FLOW                   outbound (default) | inbound
//   CALLS                  outbound: how many calls to place (default 1)
//   TARGET                 outbound: the phone number to call (default +14255550123)
//   SOURCE                 outbound: the caller id (default +14255550100)
//   TRANSFER_TARGET        inbound: where "1" transfers to (default +14255550199)
// TLS: trust a private CA with NODE_EXTRA_CA_CERTS=ca.pem.
//
// Serves POST /api/callbacks (CloudEvents), POST /api/incomingCall (Event
// Grid), GET /metrics (Prometheus) and GET /status ({"flow","calls","finished"}).
// stdout: "listening on http://127.0.0.1:PORT" once ready.
"use strict";

const http = require("node:http");
const { CallAutomationClient, parseCallAutomationEvent } = require("@azure/communication-call-automation");
const prom = require("prom-client");

const connectionString = process.env.ACS_CONNECTION_STRING;
if (!connectionString) {
  process.stderr.write("set ACS_CONNECTION_STRING\n");
  process.exit(2);
}
const flow = process.env.FLOW || "outbound";
if (flow !== "outbound" && flow !== "inbound") {
  process.stderr.write(`FLOW must be outbound or inbound, not ${flow}\n`);
  process.exit(2);
}
const calls = Number(process.env.CALLS || 1);
const target = { phoneNumber: process.env.TARGET || "+14255550123" };
const source = { phoneNumber: process.env.SOURCE || "+14255550100" };
const transferTarget = { phoneNumber: process.env.TRANSFER_TARGET || "+14255550199" };
// Nothing fetches these in the emulator; in Azure they must be reachable WAVs.
const reminderAudio = { kind: "fileSource", url: "https://example.invalid/reminder.wav" };
const menuAudio = { kind: "fileSource", url: "https://example.invalid/menu.wav" };

// ---- counters ---------------------------------------------------------------

const registry = new prom.Registry();
const apiRequests = new prom.Counter({
  name: "acs_api_requests_total",
  help: "Call Automation REST calls this app made, by the APIRequestCallAutomation dimensions.",
  labelNames: ["operation", "status_code", "status_code_class", "api_version"],
  registers: [registry],
});
const callbackEvents = new prom.Counter({
  name: "acs_callback_events_total",
  help: "Call Automation callbacks received, by the AcsCallAutomationCallbackEvent dimensions.",
  labelNames: ["event_type", "code", "code_class", "sub_code", "version"],
  registers: [registry],
});

/** The status class Azure Monitor reports for a code: 2xx, 4xx, 5xx, 6xx. */
function codeClass(code) {
  return code >= 200 && code < 700 && Math.floor(code / 100) !== 3 ? `${Math.floor(code / 100)}xx` : "";
}

// The Azure metric's Operation value of each route this app calls.
const OPERATIONS = [
  ["POST", /^\/calling\/callConnections$/, "Create Call"],
  ["POST", /^\/calling\/callConnections:answer$/, "Answer Call"],
  ["POST", /^\/calling\/callConnections\/[^/]+:play$/, "Play"],
  ["POST", /^\/calling\/callConnections\/[^/]+:recognize$/, "Recognize"],
  ["POST", /^\/calling\/callConnections\/[^/]+:transferToParticipant$/, "Transfer Call To Participant"],
  ["DELETE", /^\/calling\/callConnections\/[^/]+$/, "HangUp Call"],
];

/** A recognize that plays a prompt is the metric's PlayPrompt operation. */
function playsPrompt(request) {
  try {
    const body = JSON.parse(request.body);
    return Boolean(body.playPrompt) || (Array.isArray(body.playPrompts) && body.playPrompts.length > 0);
  } catch {
    return false;
  }
}

function countRequest(request, status) {
  const url = new URL(request.url);
  const route = OPERATIONS.find(([method, path]) => method === request.method && path.test(url.pathname));
  let operation = route ? route[2] : "Other";
  if (operation === "Recognize" && playsPrompt(request)) operation = "PlayPrompt";
  apiRequests.inc({
    operation,
    status_code: String(status),
    status_code_class: codeClass(status),
    api_version: url.searchParams.get("api-version") ?? "",
  });
}

// A per-call pipeline policy sees each SDK call once, with the status it
// finally got (after the SDK's retries) and the api-version it sent.
const countRequests = {
  name: "countCallAutomationRequests",
  async sendRequest(request, next) {
    try {
      const response = await next(request);
      countRequest(request, response.status);
      return response;
    } catch (e) {
      if (e.statusCode) countRequest(request, e.statusCode); // no status: no answer to count
      throw e;
    }
  },
};

const acs = new CallAutomationClient(connectionString, {
  additionalPolicies: [{ policy: countRequests, position: "perCall" }],
});

function countCallback(cloudEvent, event) {
  const result = event.resultInformation || { code: 200, subCode: 0 };
  callbackEvents.inc({
    event_type: cloudEvent.type,
    code: String(result.code),
    code_class: codeClass(result.code),
    sub_code: String(result.subCode ?? 0),
    version: cloudEvent.data?.version ?? "",
  });
}

// ---- the call flows ---------------------------------------------------------

function logError(what, e) {
  process.stderr.write(`${what}: ${e.statusCode ?? "no response"}: ${e.message ?? e}\n`);
}

const status = { flow, calls: 0, finished: 0 };
const callers = new Map(); // inbound: correlationId -> the caller's identifier
let callbackUri;

async function placeCalls() {
  for (let i = 0; i < calls; i += 1) {
    status.calls += 1;
    try {
      await acs.createCall({ targetParticipant: target, sourceCallIdNumber: source }, callbackUri, {
        operationContext: "reminder",
      });
    } catch (e) {
      status.finished += 1;
      logError("createCall", e);
    }
  }
}

function identifierOf(model) {
  return model.phoneNumber ? { phoneNumber: model.phoneNumber.value } : { communicationUserId: model.rawId };
}

async function answer(incomingCall) {
  status.calls += 1;
  callers.set(incomingCall.correlationId, identifierOf(incomingCall.from));
  try {
    await acs.answerCall(incomingCall.incomingCallContext, callbackUri, { operationContext: "ivr-answer" });
  } catch (e) {
    status.finished += 1;
    callers.delete(incomingCall.correlationId);
    logError("answerCall", e);
  }
}

/** What the app does on each callback. */
async function act(event) {
  const call = acs.getCallConnection(event.callConnectionId);
  switch (event.kind) {
    case "CallConnected":
      if (flow === "outbound") {
        return call.getCallMedia().play([reminderAudio], [target], { operationContext: "reminder-message" });
      }
      return call.getCallMedia().startRecognizing(callers.get(event.correlationId), {
        kind: "callMediaRecognizeDtmfOptions",
        maxTonesToCollect: 1,
        playPrompt: menuAudio,
        operationContext: "main-menu",
      });
    case "PlayCompleted":
    case "PlayFailed":
      return flow === "outbound" ? call.hangUp(false) : undefined;
    case "RecognizeCompleted":
      if (event.dtmfResult?.tones?.[0] === "one") {
        return call.transferCallToParticipant(transferTarget, { operationContext: "transfer-to-queue" });
      }
      return call.hangUp(false);
    case "RecognizeFailed":
    case "CallTransferFailed":
      return call.hangUp(false);
    case "CallDisconnected":
    case "CreateCallFailed":
    case "AnswerFailed":
      status.finished += 1;
      callers.delete(event.correlationId);
      return undefined;
    default:
      return undefined;
  }
}

// ---- the HTTP server --------------------------------------------------------

function reply(res, code, body = "", type = "text/plain") {
  res.writeHead(code, { "content-type": type });
  res.end(body);
}

async function route(req, res, body) {
  if (req.method === "POST" && req.url === "/api/callbacks") {
    // Parse and count, acknowledge, then act: ACS does not wait for the app.
    const cloudEvents = [].concat(JSON.parse(body));
    const events = cloudEvents.map((cloudEvent) => {
      const event = parseCallAutomationEvent(cloudEvent);
      countCallback(cloudEvent, event);
      return event;
    });
    reply(res, 200);
    for (const event of events) {
      act(event).catch((e) => logError(event.kind, e));
    }
    return;
  }
  if (req.method === "POST" && req.url === "/api/incomingCall") {
    const gridEvents = [].concat(JSON.parse(body));
    if (req.headers["aeg-event-type"] === "SubscriptionValidation") {
      const validationResponse = gridEvents[0].data.validationCode;
      return reply(res, 200, JSON.stringify({ validationResponse }), "application/json");
    }
    reply(res, 200);
    for (const e of gridEvents.filter((e) => e.eventType === "Microsoft.Communication.IncomingCall")) {
      await answer(e.data);
    }
    return;
  }
  if (req.method === "GET" && req.url === "/metrics") {
    return reply(res, 200, await registry.metrics(), registry.contentType);
  }
  if (req.method === "GET" && req.url === "/status") {
    return reply(res, 200, JSON.stringify(status), "application/json");
  }
  return reply(res, 404, "not found\n");
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    route(req, res, Buffer.concat(chunks).toString("utf8")).catch((e) => {
      process.stderr.write(`${req.method} ${req.url}: ${e.message}\n`);
      if (!res.headersSent) reply(res, 400, `${e.message}\n`);
    });
  });
});

server.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  const { port } = server.address();
  callbackUri = `http://127.0.0.1:${port}/api/callbacks`;
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
  if (flow === "outbound") placeCalls();
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
