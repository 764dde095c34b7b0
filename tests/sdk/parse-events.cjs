#!/usr/bin/env node
// Parses every callback event of a callmetrics JSONL file with the official
// JavaScript SDK (@azure/communication-call-automation, parseCallAutomationEvent)
// and checks that the SDK sees what the generator meant to send.
//
// Usage: node parse-events.cjs EVENTS.jsonl [--strict]
//   The SDK is resolved through NODE_PATH (or a node_modules next to the cwd).
//
// stdout: one JSON summary (per-kind counts, failures, warnings, SDK version).
// stderr: every failure (and warning), one per line.
// Exit:   0 all checks passed and all 33 kinds were seen; 1 otherwise;
//         2 usage error / unreadable input / SDK not found.
//
// Failures are the contract: kind, resultInformation code/subCode (against
// the line's dimensions), ids, operationContext, converted participant
// identifiers. Warnings are extra realism checks against the SDK's models
// (known enum values, fields the generated models declare, cross-event
// participant consistency);
// --strict (or CALLMETRICS_SDK_STRICT=1) turns them into failures.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const PREFIX = "Microsoft.Communication.";
const EXPECTED_KINDS = 33;
const SDK = "@azure/communication-call-automation";

const args = process.argv.slice(2);
const strict = args.includes("--strict") || process.env.CALLMETRICS_SDK_STRICT === "1";
const file = args.find((a) => !a.startsWith("--"));
if (!file) {
  process.stderr.write("usage: node parse-events.cjs EVENTS.jsonl [--strict]\n");
  process.exit(2);
}

let sdk;
try {
  sdk = require(SDK);
} catch (e) {
  process.stderr.write(`cannot load ${SDK} (set NODE_PATH to a node_modules that has it): ${e.message}\n`);
  process.exit(2);
}
const { parseCallAutomationEvent } = sdk;
if (typeof parseCallAutomationEvent !== "function") {
  process.stderr.write(`${SDK} has no parseCallAutomationEvent export\n`);
  process.exit(2);
}

/** The installed SDK version, found by walking up from the resolved entry. */
function sdkVersion() {
  let dir = path.dirname(require.resolve(SDK));
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, "package.json");
    if (fs.existsSync(p)) {
      const pkg = JSON.parse(fs.readFileSync(p, "utf8"));
      if (pkg.name === SDK) return pkg.version;
    }
    dir = path.dirname(dir);
  }
  return "unknown";
}

/**
 * Property names of each event model in the SDK's generated REST models
 * (generated/src/models/index.d.ts next to the resolved entry), so payload
 * fields the SDK does not know about can be reported. Empty when not found.
 */
function generatedModels() {
  const models = new Map();
  let dir = path.dirname(require.resolve(SDK));
  for (let i = 0; i < 3; i++) {
    const p = path.join(dir, "generated", "src", "models", "index.d.ts");
    if (fs.existsSync(p)) {
      const text = fs.readFileSync(p, "utf8");
      for (const m of text.matchAll(/^export interface (\w+) \{([\s\S]*?)^\}/gm)) {
        const props = new Set();
        for (const pm of m[2].matchAll(/^ {4}(?:readonly )?(\w+)\??:/gm)) props.add(pm[1]);
        models.set(m[1], props);
      }
      break;
    }
    dir = path.dirname(dir);
  }
  return models;
}
const MODELS = generatedModels();
// In every real callback's data although the generated models omit them.
// eventSource: live events of 2023-10-03-preview and RecordingStateChanged
// carry it (docs/realism.md, "Live events"), though no SDK model names it.
const ENVELOPE_DATA_FIELDS = new Set(["version", "publicEventType", "eventSource"]);

// Known values of the SDK's (extensible) enums, from its generated models.
const KNOWN = {
  tone: ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "a", "b", "c", "d", "pound", "asterisk"],
  recognitionType: ["dtmf", "speech", "choices"],
  recordingState: ["active", "inactive"],
  recordingKind: ["azureCommunicationServices", "teams", "teamsCompliance"],
  transcriptionStatus: ["transcriptionStarted", "transcriptionFailed", "transcriptionResumed", "transcriptionUpdated", "transcriptionStopped", "unspecifiedError"],
  mediaStreamingStatus: ["mediaStreamingStarted", "mediaStreamingFailed", "mediaStreamingStopped", "unspecifiedError"],
};

// Event kinds whose SDK model has a `participant` the parser converts.
const PARTICIPANT_KINDS = new Set([
  "AddParticipantSucceeded",
  "AddParticipantFailed",
  "RemoveParticipantSucceeded",
  "RemoveParticipantFailed",
]);

const counts = {};
const failures = [];
const warnings = [];
let lines = 0;
let callbacks = 0;

// Per call connection: participants known from the last ParticipantsUpdated
// and pending expectations from Add/RemoveParticipantSucceeded.
const calls = new Map();

function fail(where, msg) {
  failures.push(`${where}: ${msg}`);
}
function warn(where, msg) {
  warnings.push(`${where}: ${msg}`);
}
const show = (v) => JSON.stringify(v);

/** A CommunicationIdentifierModel as the service sends it (rawId + one of the typed members). */
function identifierModelProblem(m) {
  if (!m || typeof m !== "object") return `not an identifier model: ${show(m)}`;
  if (typeof m.rawId !== "string" || !m.rawId) return `identifier model without rawId: ${show(m)}`;
  if (m.phoneNumber) {
    if (typeof m.phoneNumber.value !== "string" || !/^\+\d{7,15}$/.test(m.phoneNumber.value)) return `bad phoneNumber.value: ${show(m)}`;
    if (m.rawId !== `4:${m.phoneNumber.value}`) return `phone rawId ${m.rawId} does not match ${m.phoneNumber.value}`;
    if (m.kind !== undefined && m.kind !== "phoneNumber") return `kind ${m.kind} on a phone number model`;
    return null;
  }
  if (m.communicationUser) {
    if (typeof m.communicationUser.id !== "string" || !m.communicationUser.id.startsWith("8:acs:")) return `bad communicationUser.id: ${show(m)}`;
    if (m.rawId !== m.communicationUser.id) return `ACS user rawId ${m.rawId} differs from id ${m.communicationUser.id}`;
    if (m.kind !== undefined && m.kind !== "communicationUser") return `kind ${m.kind} on a communication user model`;
    return null;
  }
  return `identifier model is neither a phone number nor an ACS user: ${show(m)}`;
}

/** Checks an identifier the SDK converted against the model it came from. */
function checkConverted(where, what, converted, model) {
  if (!converted || typeof converted !== "object") {
    fail(where, `${what} missing after parsing`);
    return;
  }
  if (converted.phoneNumber === undefined && converted.communicationUserId === undefined) {
    fail(where, `${what} was not converted to a phone number or ACS user identifier: ${show(converted)}`);
    return;
  }
  if (model && model.phoneNumber && converted.phoneNumber !== model.phoneNumber.value) {
    fail(where, `${what}.phoneNumber ${show(converted.phoneNumber)} != ${show(model.phoneNumber.value)}`);
  }
  if (model && model.communicationUser && converted.communicationUserId !== model.communicationUser.id) {
    fail(where, `${what}.communicationUserId ${show(converted.communicationUserId)} != ${show(model.communicationUser.id)}`);
  }
}

function rawIdOf(model) {
  return model && typeof model === "object" ? model.rawId : undefined;
}

function isIsoTime(s) {
  return typeof s === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) && !Number.isNaN(Date.parse(s));
}

function callState(id) {
  let call = calls.get(id);
  if (!call) {
    call = { pendingIn: [], pendingOut: [], lastSeq: 0, onHold: false };
    calls.set(id, call);
  }
  return call;
}

/** Hold/Unhold requests tell what the next ParticipantsUpdated should show. */
function trackRequest(line) {
  const req = line.request || {};
  const op = line.dimensions && line.dimensions.Operation;
  if (!req.callConnectionId || !(req.status >= 200 && req.status < 300)) return;
  if (op === "Hold") callState(req.callConnectionId).onHold = true;
  if (op === "Unhold") callState(req.callConnectionId).onHold = false;
}

function checkEvent(where, line, ce) {
  const dims = line.dimensions || {};
  const data = ce.data || {};
  const type = ce.type;
  if (typeof type !== "string" || !type.startsWith(PREFIX)) {
    fail(where, `cloudEvent.type ${show(type)} lacks the ${PREFIX} prefix`);
    return;
  }
  const expectedKind = type.slice(PREFIX.length);
  if (dims.EventTypeName !== type) fail(where, `dimension EventTypeName ${show(dims.EventTypeName)} != cloudEvent.type ${show(type)}`);

  // Envelope fields the SDK's CloudEvent mapper marks required.
  for (const k of ["id", "source", "type", "specversion"]) {
    if (typeof ce[k] !== "string" || !ce[k]) fail(where, `cloudEvent.${k} missing (required by the SDK's CloudEvent mapper)`);
  }
  if (ce.specversion !== "1.0") fail(where, `specversion ${show(ce.specversion)} != "1.0"`);
  if (!isIsoTime(ce.time)) fail(where, `cloudEvent.time ${show(ce.time)} is not an RFC 3339 time`);

  let parsed;
  try {
    parsed = parseCallAutomationEvent(JSON.stringify([ce]));
  } catch (e) {
    fail(where, `parseCallAutomationEvent threw: ${e && e.message}`);
    return;
  }
  counts[parsed.kind] = (counts[parsed.kind] || 0) + 1;

  if (parsed.kind !== expectedKind) fail(where, `kind ${show(parsed.kind)} != ${show(expectedKind)}`);

  // resultInformation: numbers in the payload, strings in the dimensions.
  const ri = parsed.resultInformation;
  if (ri === undefined && data.resultInformation === undefined) {
    // Early versions send call-state successes without one (live
    // recordings; docs/realism.md): they count as 200/0, never a failure.
    if (type.endsWith("Failed") || dims.Code !== "200" || dims.SubCode !== "0") {
      fail(where, `no resultInformation, yet counted as ${show(dims.Code)}/${show(dims.SubCode)}`);
    }
  } else if (!ri || typeof ri !== "object") {
    fail(where, "resultInformation missing after parsing");
  } else {
    if (typeof ri.code !== "number") fail(where, `resultInformation.code is ${typeof ri.code}, not a number`);
    if (typeof ri.subCode !== "number") fail(where, `resultInformation.subCode is ${typeof ri.subCode}, not a number`);
    if (String(ri.code) !== dims.Code || ri.code !== Number(dims.Code)) fail(where, `resultInformation.code ${show(ri.code)} != dimension Code ${show(dims.Code)}`);
    if (String(ri.subCode) !== dims.SubCode || ri.subCode !== Number(dims.SubCode)) fail(where, `resultInformation.subCode ${show(ri.subCode)} != dimension SubCode ${show(dims.SubCode)}`);
    // An empty message is what live CallConnected, ParticipantsUpdated and
    // RecordingStateChanged carry.
    if (typeof ri.message !== "string") fail(where, "resultInformation.message missing (the SDK model requires it)");
    const cls = `${String(ri.code)[0]}xx`;
    if (dims.CodeClass !== cls) fail(where, `dimension CodeClass ${show(dims.CodeClass)} != ${cls} for code ${ri.code}`);
  }
  if (dims.Version !== data.version) fail(where, `dimension Version ${show(dims.Version)} != data.version ${show(data.version)}`);

  for (const k of ["callConnectionId", "serverCallId", "correlationId"]) {
    if (typeof data[k] !== "string" || !data[k]) fail(where, `data.${k} missing`);
    else if (parsed[k] !== data[k]) fail(where, `${k} ${show(parsed[k])} != ${show(data[k])}`);
  }
  if (data.operationContext !== undefined) {
    if (parsed.operationContext !== data.operationContext) fail(where, `operationContext ${show(parsed.operationContext)} != ${show(data.operationContext)}`);
  }
  // A recording's events come from the recording (a recorded event in the
  // Python SDK's tests): calling/recordings/{serverCallId}/{recordingId}/RecordingStateChanged.
  const recordingSource = `calling/recordings/${data.serverCallId}/${data.recordingId}/RecordingStateChanged`;
  if (ce.type === "Microsoft.Communication.RecordingStateChanged") {
    if (ce.source !== recordingSource || ce.subject !== recordingSource) {
      fail(where, `cloudEvent.source/subject ${show(ce.source)} != ${recordingSource}`);
    }
  } else if (typeof ce.source === "string" && data.callConnectionId && !ce.source.endsWith(`/${data.callConnectionId}`)) {
    warn(where, `cloudEvent.source ${ce.source} does not end with the callConnectionId`);
  }
  if (data.publicEventType !== undefined && data.publicEventType !== type) {
    warn(where, `data.publicEventType ${show(data.publicEventType)} != type ${show(type)}`);
  }

  const kind = expectedKind;
  const call = callState(data.callConnectionId);
  if (kind === "HoldFailed") call.onHold = false;

  // Participant events: the SDK converts the model into an identifier.
  if (PARTICIPANT_KINDS.has(kind)) {
    if (data.participant === undefined) {
      fail(where, `${kind} without data.participant`);
    } else {
      const p = identifierModelProblem(data.participant);
      if (p) fail(where, `data.participant: ${p}`);
      checkConverted(where, "participant", parsed.participant, data.participant);
    }
    if (kind === "AddParticipantSucceeded") call.pendingIn.push(rawIdOf(data.participant));
    if (kind === "RemoveParticipantSucceeded") call.pendingOut.push(rawIdOf(data.participant));
  }

  // Fields the SDK's model of this event does not declare.
  const declared = MODELS.get(kind);
  if (declared) {
    for (const k of Object.keys(data)) {
      if (!declared.has(k) && !ENVELOPE_DATA_FIELDS.has(k)) warn(where, `data.${k} is not a field of the SDK's ${kind} model`);
    }
  }

  switch (kind) {
    case "ParticipantsUpdated": {
      if (!Array.isArray(data.participants)) {
        fail(where, "data.participants is not an array");
        break;
      }
      if (!Array.isArray(parsed.participants) || parsed.participants.length !== data.participants.length) {
        fail(where, `parsed participants ${show(parsed.participants && parsed.participants.length)} != ${data.participants.length}`);
        break;
      }
      if (data.participants.length === 0) fail(where, "ParticipantsUpdated with no participants");
      parsed.participants.forEach((pp, i) => {
        const model = data.participants[i] && data.participants[i].identifier;
        const p = identifierModelProblem(model);
        if (p) fail(where, `data.participants[${i}].identifier: ${p}`);
        checkConverted(where, `participants[${i}].identifier`, pp && pp.identifier, model);
        if (pp && typeof pp.isMuted !== "boolean") warn(where, `participants[${i}].isMuted is not a boolean`);
      });
      const raws = new Set(data.participants.map((p) => rawIdOf(p.identifier)));
      if (raws.size !== data.participants.length) warn(where, "ParticipantsUpdated lists a participant twice");
      if (typeof data.sequenceNumber !== "number") warn(where, "ParticipantsUpdated without a numeric sequenceNumber");
      else if (data.sequenceNumber <= call.lastSeq) warn(where, `sequenceNumber ${data.sequenceNumber} not above the previous ${call.lastSeq} of this call`);
      else call.lastSeq = data.sequenceNumber;
      for (const r of call.pendingIn) if (!raws.has(r)) warn(where, `participant ${r} was added (AddParticipantSucceeded) but is missing from the next ParticipantsUpdated`);
      for (const r of call.pendingOut) if (raws.has(r)) warn(where, `participant ${r} was removed (RemoveParticipantSucceeded) but is still in the next ParticipantsUpdated`);
      const held = data.participants.filter((p) => p.isOnHold === true).length;
      if (call.onHold && held === 0) warn(where, "ParticipantsUpdated after a successful Hold shows nobody on hold (isOnHold is false for all)");
      if (!call.onHold && held > 0) warn(where, `ParticipantsUpdated shows ${held} participant(s) on hold without a Hold`);
      call.pendingIn = [];
      call.pendingOut = [];
      break;
    }
    case "CallTransferAccepted":
      // The 1.6.0 parser passes these through as identifier models (it
      // does not convert them although the typings say CommunicationIdentifier).
      for (const k of ["transferee", "transferTarget"]) {
        if (parsed[k] === undefined || parsed[k] === null) fail(where, `${k} missing after parsing`);
        else {
          const p = identifierModelProblem(data[k]);
          if (p) fail(where, `data.${k}: ${p}`);
        }
      }
      break;
    case "CancelAddParticipantSucceeded":
    case "CancelAddParticipantFailed":
      if (typeof parsed.invitationId !== "string" || !parsed.invitationId) warn(where, "invitationId missing (the SDK model requires it)");
      break;
    case "ContinuousDtmfRecognitionToneReceived":
      if (typeof parsed.sequenceId !== "number") warn(where, "sequenceId missing (the SDK model requires it)");
      if (!KNOWN.tone.includes(parsed.tone)) warn(where, `tone ${show(parsed.tone)} is not a known Tone`);
      break;
    case "RecognizeCompleted": {
      const t = parsed.recognitionType;
      if (!KNOWN.recognitionType.includes(t)) warn(where, `recognitionType ${show(t)} is not a known RecognitionType`);
      const member = { dtmf: "dtmfResult", speech: "speechResult", choices: "choiceResult" }[t];
      if (member && !parsed[member]) warn(where, `recognitionType ${t} without ${member}`);
      if (t === "dtmf" && parsed.dtmfResult && !(parsed.dtmfResult.tones || []).every((x) => KNOWN.tone.includes(x))) {
        warn(where, `dtmfResult.tones has unknown tones: ${show(parsed.dtmfResult.tones)}`);
      }
      break;
    }
    case "RecordingStateChanged":
      if (typeof parsed.recordingId !== "string" || !parsed.recordingId) warn(where, "recordingId missing");
      if (!KNOWN.recordingState.includes(parsed.state)) warn(where, `state ${show(parsed.state)} is not a known RecordingState`);
      if (parsed.recordingKind !== undefined && !KNOWN.recordingKind.includes(parsed.recordingKind)) {
        warn(where, `recordingKind ${show(parsed.recordingKind)} is not a known RecordingKind (${KNOWN.recordingKind.join(", ")})`);
      }
      if (parsed.startDateTime !== undefined && !isIsoTime(parsed.startDateTime)) warn(where, `startDateTime ${show(parsed.startDateTime)} is not an RFC 3339 time`);
      break;
    case "TranscriptionStarted":
    case "TranscriptionStopped":
    case "TranscriptionUpdated":
    case "TranscriptionFailed": {
      const u = parsed.transcriptionUpdate;
      if (!u) warn(where, "transcriptionUpdate missing");
      else if (!KNOWN.transcriptionStatus.includes(u.transcriptionStatus)) warn(where, `transcriptionStatus ${show(u.transcriptionStatus)} unknown`);
      break;
    }
    case "MediaStreamingStarted":
    case "MediaStreamingStopped":
    case "MediaStreamingFailed": {
      const u = parsed.mediaStreamingUpdate;
      if (!u) warn(where, "mediaStreamingUpdate missing");
      else if (!KNOWN.mediaStreamingStatus.includes(u.mediaStreamingStatus)) warn(where, `mediaStreamingStatus ${show(u.mediaStreamingStatus)} unknown`);
      break;
    }
    default:
      break;
  }

  // The result class should agree with the event: *Failed never succeeds.
  if (ri && kind.endsWith("Failed") && ri.code < 300) fail(where, `${kind} with success code ${ri.code}`);
  if (ri && /(Succeeded|Completed|Started|Connected|Accepted|Stopped|Updated|Received|StateChanged)$/.test(kind) && ri.code >= 300) {
    warn(where, `${kind} with error code ${ri.code}`);
  }
}

let text;
try {
  text = fs.readFileSync(file, "utf8");
} catch (e) {
  process.stderr.write(`cannot read ${file}: ${e.message}\n`);
  process.exit(2);
}

for (const raw of text.split("\n")) {
  if (!raw.trim()) continue;
  lines++;
  const where = `line ${lines}`;
  let line;
  try {
    line = JSON.parse(raw);
  } catch (e) {
    fail(where, `not JSON: ${e.message}`);
    continue;
  }
  if (line.metric === "APIRequestCallAutomation") {
    trackRequest(line);
    continue;
  }
  if (line.metric !== "AcsCallAutomationCallbackEvent") continue;
  callbacks++;
  if (!line.cloudEvent || typeof line.cloudEvent !== "object") {
    fail(where, "callback line without cloudEvent");
    continue;
  }
  try {
    checkEvent(`${where} (${line.cloudEvent.type})`, line, line.cloudEvent);
  } catch (e) {
    fail(where, `checker crashed: ${e && e.stack}`);
  }
}

const kinds = Object.keys(counts).length;
if (kinds < EXPECTED_KINDS) {
  failures.push(`only ${kinds} distinct event kinds were seen, expected ${EXPECTED_KINDS}`);
}
if (strict) failures.push(...warnings.map((w) => `(strict) ${w}`));

// Group warnings by message shape so the summary stays short.
const warningKinds = {};
for (const w of warnings) {
  const key = w.replace(/^line \d+ /, "").replace(/[0-9a-f]{8}-[0-9a-f-]{27}|\+\d+|\d+/g, "#");
  warningKinds[key] = (warningKinds[key] || 0) + 1;
}

const sorted = {};
for (const k of Object.keys(counts).sort()) sorted[k] = counts[k];
process.stdout.write(
  JSON.stringify(
    {
      sdk: `${SDK}@${sdkVersion()}`,
      modelsFound: MODELS.size,
      lines,
      callbacks,
      kinds,
      counts: sorted,
      failures: failures.length,
      warnings: warnings.length,
      warningKinds,
    },
    null,
    2,
  ) + "\n",
);
for (const f of failures) process.stderr.write(`FAIL ${f}\n`);
for (const w of strict ? [] : warnings) process.stderr.write(`WARN ${w}\n`);
// exitCode rather than exit(): node flushes piped stdout/stderr before it
// exits on its own, while process.exit() can cut long output short.
process.exitCode = failures.length ? 1 : 0;
