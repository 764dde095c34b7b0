#!/usr/bin/env python3
"""Every Call Automation operation the official Python SDK can call on a
call, once, against `callmetrics emulate tests/fixtures/emulator/every-operation.json`:
each answer must be parsed by the SDK's own models (an unknown shape, a
missing required field or an error status raises). Prints one line per
operation, `ok <operation> <what the SDK returned>`, and exits 1 at the
first failure with the SDK's error.

With PORT set, it also serves POST /api/incomingCall on 127.0.0.1:PORT
(Event Grid: the subscription validation, then IncomingCall events) and
answers the first incoming call, redirects the second and rejects the
third: run the emulator with
`--incoming-call-url http://127.0.0.1:PORT/api/incomingCall --calls 3`.

Environment: ACS_CONNECTION_STRING (required), PORT (optional); trust the
emulator's certificate with REQUESTS_CA_BUNDLE=ca.pem.
"""
import json
import os
import queue
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from azure.core.pipeline.transport import RequestsTransport

from azure.communication.callautomation import (
    CallAutomationClient,
    CommunicationUserIdentifier,
    DtmfTone,
    FileSource,
    PhoneNumberIdentifier,
    RecognizeInputType,
    ServerCallLocator,
    TextSource,
)

# TAMPER=body changes each request's body after the SDK has signed it
# (in the transport, below every policy); TAMPER=date makes the SDK sign
# with a clock 20 minutes behind (a stale x-ms-date): the emulator must
# refuse either with ACS's 401.
TAMPER = os.environ.get("TAMPER")
if TAMPER == "date":
    from email.utils import formatdate
    import time

    import azure.communication.callautomation._shared.policy as signing

    signing.get_current_utc_time = lambda: formatdate(time.time() - 20 * 60, usegmt=True)


class TamperingTransport(RequestsTransport):
    """Sends each request with its body changed after it was signed."""

    def send(self, request, **kwargs):
        if isinstance(request.body, str):
            request.body = request.body.replace("+14255550123", "+14255550199")
        return super().send(request, **kwargs)


ACS = CallAutomationClient.from_connection_string(
    os.environ.get("ACS_CONNECTION_STRING") or sys.exit("set ACS_CONNECTION_STRING"),
    **({"transport": TamperingTransport()} if TAMPER == "body" else {}),
)
# Nothing listens there: the fixture's steps draw no callback.
CALLBACK = "http://127.0.0.1:9/api/callbacks"
CALLEE = PhoneNumberIdentifier("+14255550123")
CALLER = PhoneNumberIdentifier("+14255550100")
AGENT = CommunicationUserIdentifier("8:acs:11111111-1111-1111-1111-111111111111_00000020-aaaa-bbbb-cccc-000000000002")
AUDIO = FileSource("https://example.invalid/prompt.wav")


class EventGrid(BaseHTTPRequestHandler):
    """The Event Grid webhook: validates, then queues each incoming call's context."""

    contexts = queue.Queue()

    def do_POST(self):
        events = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        if self.headers.get("aeg-event-type") == "SubscriptionValidation":
            body = json.dumps({"validationResponse": events[0]["data"]["validationCode"]}).encode()
        else:
            body = b""
            for event in events:
                EventGrid.contexts.put(event["data"]["incomingCallContext"])
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run(name, call):
    try:
        got = call()
        if hasattr(got, "__iter__") and not isinstance(got, (str, bytes, dict)):
            got = list(got)  # a pager fetches its pages only when iterated
    except Exception as e:  # noqa: BLE001 - the SDK's error is the finding
        print(f"FAILED {name}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"ok {name} {type(got).__name__}")
    return got


created = run("Create Call", lambda: ACS.create_call(CALLEE, CALLBACK, source_caller_id_number=CALLER))
call_id = created.call_connection_id
assert call_id, "Create Call returned no callConnectionId"
call = ACS.get_call_connection(call_id)

run("Get Call", call.get_call_properties)
participants = run("Get Participants", call.list_participants)
assert participants, "Get Participants returned no participant"
run("Get Participant", lambda: call.get_participant(participants[0].identifier))
added = run("Add Participants", lambda: call.add_participant(AGENT, operation_context="add"))
assert added.invitation_id, "Add Participants returned no invitationId"
run("Cancel Add Participant", lambda: call.cancel_add_participant_operation(added.invitation_id))
run("Remove Participants", lambda: call.remove_participant(AGENT))
run("Mute Participant", lambda: call.mute_participant(CALLEE))
run("Move Participants", lambda: call.move_participants([AGENT], "another-call-connection-id"))
run("Transfer Call To Participant", lambda: call.transfer_call_to_participant(AGENT))
run("Play", lambda: call.play_media(AUDIO, [CALLEE]))
prompt = TextSource(text="Press one", voice_name="en-US-NancyNeural")
run(
    "PlayPrompt",
    lambda: call.start_recognizing_media(RecognizeInputType.DTMF, CALLEE, play_prompt=prompt, dtmf_max_tones_to_collect=1),
)
run("Recognize", lambda: call.start_recognizing_media(RecognizeInputType.DTMF, CALLEE, dtmf_max_tones_to_collect=4))
run("Cancel All Media Operations", call.cancel_all_media_operations)
run("Start Continuous DTMF Recognition", lambda: call.start_continuous_dtmf_recognition(CALLEE))
run("Stop Continuous DTMF Recognition", lambda: call.stop_continuous_dtmf_recognition(CALLEE))
run("Send DTMF Tones", lambda: call.send_dtmf_tones([DtmfTone.ONE, DtmfTone.POUND], CALLEE))
run("Hold", lambda: call.hold(CALLEE, play_source=AUDIO))
run("Unhold", lambda: call.unhold(CALLEE))
run("Start Media Streaming", call.start_media_streaming)
run("Stop Media Streaming", call.stop_media_streaming)
run("Start Transcription", lambda: call.start_transcription(locale="en-US"))
run("Update Transcription", lambda: call.update_transcription(locale="en-GB"))
run("Stop Transcription", call.stop_transcription)
properties = call.get_call_properties()
recording = run("Start Recording", lambda: ACS.start_recording(ServerCallLocator(properties.server_call_id)))
assert recording.recording_id, "Start Recording returned no recordingId"
run("Get Recording", lambda: ACS.get_recording_properties(recording.recording_id))
run("Pause Recording", lambda: ACS.pause_recording(recording.recording_id))
run("Resume Recording", lambda: ACS.resume_recording(recording.recording_id))
run("Stop Recording", lambda: ACS.stop_recording(recording.recording_id))
run("HangUp Call", lambda: call.hang_up(is_for_everyone=False))
run("Terminate Call", lambda: call.hang_up(is_for_everyone=True))
connected = run("Connect", lambda: ACS.connect_call(CALLBACK, server_call_id=properties.server_call_id))
assert connected.call_connection_id, "Connect returned no callConnectionId"

if os.environ.get("PORT"):
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), EventGrid)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def next_context():
        try:
            return EventGrid.contexts.get(timeout=30)
        except queue.Empty:
            print("FAILED: no IncomingCall within 30 s", file=sys.stderr)
            sys.exit(1)

    answered = run("Answer Call", lambda: ACS.answer_call(next_context(), CALLBACK))
    assert answered.call_connection_id, "Answer Call returned no callConnectionId"
    run("Redirect Call", lambda: ACS.redirect_call(next_context(), CALLEE))
    run("Reject Call", lambda: ACS.reject_call(next_context(), call_reject_reason="busy"))
    server.shutdown()
