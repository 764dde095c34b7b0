#!/usr/bin/env python3
"""A reference Call Automation app with the official Python SDK, to run
against `callmetrics emulate` (or Azure): it places appointment reminders
(FLOW=outbound) or answers an IVR line (FLOW=inbound), and counts every REST
call it makes and every callback it receives with prometheus_client, under
the dimensions of Azure's APIRequestCallAutomation and
AcsCallAutomationCallbackEvent metrics.

  outbound: create_call -> CallConnected: play the reminder
            -> PlayCompleted / PlayFailed: hang_up -> CallDisconnected
  inbound:  IncomingCall (Event Grid): answer_call -> CallConnected: recognize
            one DTMF tone with a prompt -> RecognizeCompleted: "1" transfers
            to TRANSFER_TARGET, anything else hangs up; RecognizeFailed and
            CallTransferFailed hang up -> CallDisconnected

Environment:
  ACS_CONNECTION_STRING  endpoint=https://127.0.0.1:PORT/;accesskey=KEY (required)
  PORT                   port of the callback server on 127.0.0.1 (default 0: a free one)
  FLOW                   outbound (default) | inbound
  CALLS                  outbound: how many calls to place (default 1)
  TARGET                 outbound: the phone number to call (default +14255550123)
  SOURCE                 outbound: the caller id (default +14255550100)
  TRANSFER_TARGET        inbound: where "1" transfers to (default +14255550199)
TLS: trust a private CA with REQUESTS_CA_BUNDLE=ca.pem (the SDK uses requests).

Serves POST /api/callbacks (CloudEvents), POST /api/incomingCall (Event Grid),
GET /metrics (Prometheus) and GET /status ({"flow","calls","finished"}).
stdout: "listening on http://127.0.0.1:PORT" once ready.
"""
import json
import os
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from azure.communication.callautomation import (
    CallAutomationClient,
    CommunicationUserIdentifier,
    FileSource,
    PhoneNumberIdentifier,
    RecognizeInputType,
)
from azure.core.exceptions import AzureError
from azure.core.pipeline.policies import SansIOHTTPPolicy
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, disable_created_metrics, generate_latest

FLOW = os.environ.get("FLOW", "outbound")
if FLOW not in ("outbound", "inbound"):
    sys.exit(f"FLOW must be outbound or inbound, not {FLOW}")
CALLS = int(os.environ.get("CALLS", "1"))
TARGET = PhoneNumberIdentifier(os.environ.get("TARGET", "+14255550123"))
SOURCE = PhoneNumberIdentifier(os.environ.get("SOURCE", "+14255550100"))
TRANSFER_TARGET = PhoneNumberIdentifier(os.environ.get("TRANSFER_TARGET", "+14255550199"))
# Nothing fetches these in the emulator; in Azure they must be reachable WAVs.
REMINDER_AUDIO = FileSource("https://example.invalid/reminder.wav")
MENU_AUDIO = FileSource("https://example.invalid/menu.wav")

# ---- counters ----------------------------------------------------------------

disable_created_metrics()  # no *_created series: only the counters
REGISTRY = CollectorRegistry()
API_REQUESTS = Counter(
    "acs_api_requests",  # exposed as acs_api_requests_total
    "Call Automation REST calls this app made, by the APIRequestCallAutomation dimensions.",
    ["operation", "status_code", "status_code_class", "api_version"],
    registry=REGISTRY,
)
CALLBACK_EVENTS = Counter(
    "acs_callback_events",  # exposed as acs_callback_events_total
    "Call Automation callbacks received, by the AcsCallAutomationCallbackEvent dimensions.",
    ["event_type", "code", "code_class", "sub_code", "version"],
    registry=REGISTRY,
)


def code_class(code):
    """The status class Azure Monitor reports for a code: 2xx, 4xx, 5xx, 6xx."""
    return f"{code // 100}xx" if 200 <= code < 700 and code // 100 != 3 else ""


# The Azure metric's Operation value of each route this app calls.
OPERATIONS = [
    ("POST", r"/calling/callConnections", "Create Call"),
    ("POST", r"/calling/callConnections:answer", "Answer Call"),
    ("POST", r"/calling/callConnections/[^/]+:play", "Play"),
    ("POST", r"/calling/callConnections/[^/]+:recognize", "Recognize"),
    ("POST", r"/calling/callConnections/[^/]+:transferToParticipant", "Transfer Call To Participant"),
    ("DELETE", r"/calling/callConnections/[^/]+", "HangUp Call"),
]


def plays_prompt(body):
    """A recognize that plays a prompt is the metric's PlayPrompt operation."""
    try:
        fields = json.loads(body or "{}")
    except (TypeError, ValueError):
        return False
    return bool(fields.get("playPrompt")) or bool(fields.get("playPrompts"))


class CountRequests(SansIOHTTPPolicy):
    """A per-call pipeline policy: it sees each SDK call once, with the status
    it finally got (after the SDK's retries) and the api-version it sent."""

    def on_response(self, request, response):
        method, url = request.http_request.method, urlparse(request.http_request.url)
        operation = next((name for m, path, name in OPERATIONS if m == method and re.fullmatch(path, url.path)), "Other")
        if operation == "Recognize" and plays_prompt(request.http_request.body):
            operation = "PlayPrompt"
        status = response.http_response.status_code
        API_REQUESTS.labels(
            operation, str(status), code_class(status), parse_qs(url.query).get("api-version", [""])[0]
        ).inc()


ACS = CallAutomationClient.from_connection_string(
    os.environ.get("ACS_CONNECTION_STRING") or sys.exit("set ACS_CONNECTION_STRING"),
    per_call_policies=[CountRequests()],
)


def count_callback(event):
    """Python's SDK has no callback parser: read the CloudEvent's JSON."""
    data = event.get("data") or {}
    result = data.get("resultInformation") or {"code": 200, "subCode": 0}
    code = int(result.get("code", 200))
    CALLBACK_EVENTS.labels(
        event.get("type", ""), str(code), code_class(code), str(result.get("subCode", 0)), str(data.get("version", ""))
    ).inc()


# ---- the call flows ----------------------------------------------------------

LOCK = threading.Lock()
STATUS = {"flow": FLOW, "calls": 0, "finished": 0}
CALLERS = {}  # inbound: correlationId -> the caller's identifier
CALLBACK_URL = None  # set once the server listens


def log_error(what, e):
    status = getattr(e, "status_code", None) or "no response"
    print(f"{what}: {status}: {str(e).splitlines()[0]}", file=sys.stderr)


def bump(key):
    with LOCK:
        STATUS[key] += 1


def place_calls():
    for _ in range(CALLS):
        bump("calls")
        try:
            ACS.create_call(TARGET, CALLBACK_URL, source_caller_id_number=SOURCE, operation_context="reminder")
        except AzureError as e:
            bump("finished")
            log_error("create_call", e)


def identifier_of(model):
    if "phoneNumber" in model:
        return PhoneNumberIdentifier(model["phoneNumber"]["value"])
    return CommunicationUserIdentifier(model["rawId"])


def answer(incoming_call):
    bump("calls")
    CALLERS[incoming_call["correlationId"]] = identifier_of(incoming_call["from"])
    try:
        ACS.answer_call(incoming_call["incomingCallContext"], CALLBACK_URL, operation_context="ivr-answer")
    except AzureError as e:
        bump("finished")
        CALLERS.pop(incoming_call["correlationId"], None)
        log_error("answer_call", e)


def act(kind, data):
    """What the app does on each callback (kind: the type without its prefix)."""
    call = ACS.get_call_connection(data["callConnectionId"])
    if kind == "CallConnected" and FLOW == "outbound":
        call.play_media(REMINDER_AUDIO, play_to=[TARGET], operation_context="reminder-message")
    elif kind == "CallConnected":
        call.start_recognizing_media(
            RecognizeInputType.DTMF,
            CALLERS[data["correlationId"]],
            dtmf_max_tones_to_collect=1,
            play_prompt=MENU_AUDIO,
            operation_context="main-menu",
        )
    elif kind in ("PlayCompleted", "PlayFailed") and FLOW == "outbound":
        call.hang_up(is_for_everyone=False)
    elif kind == "RecognizeCompleted":
        tones = (data.get("dtmfResult") or {}).get("tones") or []
        if tones[:1] == ["one"]:
            call.transfer_call_to_participant(TRANSFER_TARGET, operation_context="transfer-to-queue")
        else:
            call.hang_up(is_for_everyone=False)
    elif kind in ("RecognizeFailed", "CallTransferFailed"):
        call.hang_up(is_for_everyone=False)
    elif kind in ("CallDisconnected", "CreateCallFailed", "AnswerFailed"):
        bump("finished")
        CALLERS.pop(data.get("correlationId"), None)


# ---- the HTTP server ---------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def reply(self, code, body=b"", content_type="text/plain"):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/metrics":
            self.reply(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        elif self.path == "/status":
            with LOCK:
                self.reply(200, json.dumps(STATUS).encode(), "application/json")
        else:
            self.reply(404, b"not found\n")

    def do_POST(self):
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            events = body if isinstance(body, list) else [body]
        except ValueError as e:
            return self.reply(400, f"{e}\n".encode())
        if self.path == "/api/callbacks":
            # Count, acknowledge, then act: ACS does not wait for the app.
            for event in events:
                count_callback(event)
            self.reply(200)
            for event in events:
                kind = event.get("type", "").removeprefix("Microsoft.Communication.")
                self.run(kind, act, kind, event.get("data") or {})
        elif self.path == "/api/incomingCall":
            if self.headers.get("aeg-event-type") == "SubscriptionValidation":
                code = events[0]["data"]["validationCode"]
                return self.reply(200, json.dumps({"validationResponse": code}).encode(), "application/json")
            self.reply(200)
            for event in events:
                if event.get("eventType") == "Microsoft.Communication.IncomingCall":
                    self.run("IncomingCall", answer, event["data"])
        else:
            self.reply(404, b"not found\n")

    @staticmethod
    def run(what, action, *args):
        try:
            action(*args)
        except AzureError as e:
            log_error(what, e)
        except (KeyError, TypeError, ValueError) as e:
            print(f"{what}: bad event: {e!r}", file=sys.stderr)


def main():
    global CALLBACK_URL
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("PORT", "0"))), Handler)
    port = server.server_address[1]
    CALLBACK_URL = f"http://127.0.0.1:{port}/api/callbacks"
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    if FLOW == "outbound":
        threading.Thread(target=place_calls, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
