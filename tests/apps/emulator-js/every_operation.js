// Every Call Automation operation the official JavaScript SDK can call on
// a call, once, against
// `callmetrics emulate tests/fixtures/emulator/every-operation.json`: each
// answer must be deserialized by the SDK's own models (an error status or a
// body it cannot read rejects). Prints one line per operation,
// `ok <operation> <what the SDK returned>`, and exits 1 at the first
// failure with the SDK's error.
//
// With PORT set, it also serves POST /api/incomingCall on 127.0.0.1:PORT
// (Event Grid: the subscription validation, then IncomingCall events) and
// answers the first incoming call, redirects the second and rejects the
// third: run the emulator with
// `--incoming-call-url http://127.0.0.1:PORT/api/incomingCall --calls 3`.
//
// TAMPER=body changes each request's body after the SDK has signed it;
// TAMPER=date runs the SDK on a clock 20 minutes behind, so it signs with
// a stale x-ms-date: the emulator must refuse either with ACS's 401.
//
// Environment: ACS_CONNECTION_STRING (required), PORT, TAMPER (optional);
// trust the emulator's certificate with NODE_EXTRA_CA_CERTS=ca.pem.
"use strict";

const http = require("node:http");
const { CallAutomationClient } = require("@azure/communication-call-automation");

const connectionString = process.env.ACS_CONNECTION_STRING;
if (!connectionString) {
  console.error("set ACS_CONNECTION_STRING");
  process.exit(2);
}
if (process.env.TAMPER === "date") {
  // The SDK reads the clock with `new Date()` when it signs.
  const RealDate = Date;
  const behind = 20 * 60 * 1000;
  global.Date = class extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() - behind);
      else super(...args);
    }
    static now() {
      return RealDate.now() - behind;
    }
  };
}
// A per-retry policy runs after the SDK's signing policy (which the
// client adds without a phase): what it changes is sent unsigned.
const tamperBody = {
  position: "perRetry",
  policy: {
    name: "tamperBodyAfterSigning",
    sendRequest(request, next) {
      if (typeof request.body === "string") request.body = request.body.replace("+14255550123", "+14255550199");
      return next(request);
    },
  },
};
const acs = new CallAutomationClient(
  connectionString,
  process.env.TAMPER === "body" ? { additionalPolicies: [tamperBody] } : {},
);
// Nothing listens there: the fixture's steps draw no callback.
const CALLBACK = "http://127.0.0.1:9/api/callbacks";
const CALLEE = { phoneNumber: "+14255550123" };
const CALLER = { phoneNumber: "+14255550100" };
const AGENT = { communicationUserId: "8:acs:11111111-1111-1111-1111-111111111111_00000020-aaaa-bbbb-cccc-000000000002" };
const AUDIO = { kind: "fileSource", url: "https://example.invalid/prompt.wav" };
const PROMPT = { kind: "textSource", text: "Press one", voiceName: "en-US-NancyNeural" };

async function run(name, call) {
  let got;
  try {
    got = await call();
  } catch (e) {
    console.error(`FAILED ${name}: ${e.name} (${e.statusCode} ${e.code}): ${e.message}`);
    process.exit(1);
  }
  const what = got === undefined ? "undefined" : Object.keys(got).sort().join(",");
  console.log(`ok ${name} ${what}`);
  return got;
}

/** The Event Grid webhook: validates, then hands out each incoming call's context. */
function eventGrid(port) {
  const contexts = [];
  const waiting = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const events = JSON.parse(body);
      if (req.headers["aeg-event-type"] === "SubscriptionValidation") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ validationResponse: events[0].data.validationCode }));
      }
      for (const event of events) {
        const context = event.data.incomingCallContext;
        const take = waiting.shift();
        if (take) take(context);
        else contexts.push(context);
      }
      res.writeHead(200);
      res.end();
    });
  });
  server.listen(port, "127.0.0.1");
  const next = () =>
    contexts.length > 0
      ? Promise.resolve(contexts.shift())
      : new Promise((resolve, reject) => {
          waiting.push(resolve);
          setTimeout(() => reject(new Error("no IncomingCall within 30 s")), 30000).unref();
        });
  return { next, close: () => server.close() };
}

async function main() {
  const grid = process.env.PORT ? eventGrid(Number(process.env.PORT)) : null;
  const created = await run("Create Call", () =>
    acs.createCall({ targetParticipant: CALLEE, sourceCallIdNumber: CALLER }, CALLBACK),
  );
  const callId = created.callConnectionProperties.callConnectionId;
  if (!callId) throw new Error("Create Call returned no callConnectionId");
  const call = acs.getCallConnection(callId);
  const media = call.getCallMedia();

  const properties = await run("Get Call", () => call.getCallConnectionProperties());
  const listed = await run("Get Participants", () => call.listParticipants());
  if (!listed.values || listed.values.length === 0) throw new Error("Get Participants listed no one");
  await run("Get Participant", () => call.getParticipant(listed.values[0].identifier));
  const added = await run("Add Participants", () =>
    call.addParticipant({ targetParticipant: AGENT }, { operationContext: "add" }),
  );
  if (!added.invitationId) throw new Error("Add Participants returned no invitationId");
  await run("Cancel Add Participant", () => call.cancelAddParticipantOperation(added.invitationId));
  await run("Remove Participants", () => call.removeParticipant(AGENT));
  await run("Mute Participant", () => call.muteParticipant(CALLEE));
  await run("Move Participants", () => call.moveParticipants([AGENT], "another-call-connection-id"));
  await run("Transfer Call To Participant", () => call.transferCallToParticipant(AGENT));
  await run("Play", () => media.play([AUDIO], [CALLEE]));
  await run("PlayPrompt", () =>
    media.startRecognizing(CALLEE, { kind: "callMediaRecognizeDtmfOptions", maxTonesToCollect: 1, playPrompt: PROMPT }),
  );
  await run("Recognize", () =>
    media.startRecognizing(CALLEE, { kind: "callMediaRecognizeDtmfOptions", maxTonesToCollect: 4 }),
  );
  await run("Cancel All Media Operations", () => media.cancelAllOperations());
  await run("Start Continuous DTMF Recognition", () => media.startContinuousDtmfRecognition(CALLEE));
  await run("Stop Continuous DTMF Recognition", () => media.stopContinuousDtmfRecognition(CALLEE));
  await run("Send DTMF Tones", () => media.sendDtmfTones(["one", "pound"], CALLEE));
  await run("Hold", () => media.hold(CALLEE, { playSource: AUDIO }));
  await run("Unhold", () => media.unhold(CALLEE));
  await run("Start Media Streaming", () => media.startMediaStreaming());
  await run("Stop Media Streaming", () => media.stopMediaStreaming());
  await run("Start Transcription", () => media.startTranscription({ locale: "en-US" }));
  await run("Update Transcription", () => media.updateTranscription("en-GB"));
  await run("Stop Transcription", () => media.stopTranscription());
  const recordings = acs.getCallRecording();
  const locator = { id: properties.serverCallId, kind: "serverCallLocator" };
  const recording = await run("Start Recording", () => recordings.start({ callLocator: locator }));
  if (!recording.recordingId) throw new Error("Start Recording returned no recordingId");
  await run("Get Recording", () => recordings.getState(recording.recordingId));
  await run("Pause Recording", () => recordings.pause(recording.recordingId));
  await run("Resume Recording", () => recordings.resume(recording.recordingId));
  await run("Stop Recording", () => recordings.stop(recording.recordingId));
  await run("HangUp Call", () => call.hangUp(false));
  await run("Terminate Call", () => call.hangUp(true));
  const connected = await run("Connect", () => acs.connectCall(locator, CALLBACK));
  if (!connected.callConnectionProperties.callConnectionId) throw new Error("Connect returned no callConnectionId");

  if (grid) {
    const answered = await run("Answer Call", async () => acs.answerCall(await grid.next(), CALLBACK));
    if (!answered.callConnectionProperties.callConnectionId) throw new Error("Answer Call returned no callConnectionId");
    await run("Redirect Call", async () => acs.redirectCall(await grid.next(), { targetParticipant: CALLEE }));
    await run("Reject Call", async () => acs.rejectCall(await grid.next(), { callRejectReason: "busy" }));
    grid.close();
  }
}

main().catch((e) => {
  console.error(`FAILED: ${e.message}`);
  process.exit(1);
});
