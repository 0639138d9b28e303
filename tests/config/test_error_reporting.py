"""Error reports (SENTRY_DSN) carry no personal data: a real sentry-sdk client sends to a local
HTTP receiver standing in for Sentry/GlitchTip, and what arrives is searched for the patient."""

import gzip
import json
import threading
import urllib.error
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest
import sentry_sdk
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.error_reporting import init_error_reporting
from tests.factories import UserFactory

PATIENT = "Amelia Pond"
MRN = "RX-0042-881"
pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@csrf_exempt  # a bug in any form view; the token is not what this is about
def failing_view(request: HttpRequest) -> HttpResponse:
    patient_name = request.POST.get("name", "")  # a local variable holding the name
    raise ValueError(f"could not save {patient_name} ({request.GET.get('mrn')})")


urlpatterns = [path("boom/", failing_view)]


class Receiver(BaseHTTPRequestHandler):
    """Sentry's envelope endpoint: keeps every body it is sent (decompressed)."""

    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            pytest.fail("brotli-compressed envelope: install nothing, ask the SDK for gzip")
        self.received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture
def sentry():
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    init_error_reporting(f"http://publickey@127.0.0.1:{server.server_port}/1", environment="test")
    yield Receiver.received
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: reporting off again for the other tests
    server.shutdown()


def events(envelopes: list[bytes]) -> list[dict]:
    found = []
    for envelope in envelopes:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


def test_an_error_arrives_without_the_patient_the_user_or_the_request(sentry, live_server):
    """Through the real WSGI handler (a live server), where sentry-sdk collects the request."""
    user = UserFactory(username="amelia.pond.mum", email="pond.family@example.org")
    client = Client()
    client.force_login(user)
    session_id = client.cookies["sessionid"].value
    query = urlencode({"q": PATIENT, "mrn": MRN})
    request = urllib.request.Request(  # noqa: S310 (the live server on loopback)
        f"{live_server.url}/boom/?{query}",
        data=urlencode({"name": PATIENT, "mrn": MRN}).encode(),
        headers={
            "Cookie": f"sessionid={session_id}",
            "X-Patient": PATIENT,
            "Referer": f"{live_server.url}/patients/?{query}",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as failed:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 (the live server on loopback)
    assert failed.value.code == 500
    sentry_sdk.flush(timeout=10)

    [event] = events(sentry)
    [exception] = event["exception"]["values"]
    assert exception["type"] == "ValueError"
    assert exception["value"] == "[redacted]"
    assert exception["stacktrace"]["frames"][-1]["function"] == "failing_view"
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])
    assert event["request"] == {"method": "POST", "url": f"{live_server.url}/boom/"}
    assert "user" not in event
    raw = b"".join(sentry).decode()
    for secret in (PATIENT, "Amelia", "Pond", MRN, session_id, "amelia.pond.mum", "pond.family"):
        assert secret not in raw, secret


def test_a_log_line_keeps_its_text_not_its_arguments(sentry):
    import logging

    logging.getLogger("monitoring.tasks").error("digest for user %s failed: %s", 7, PATIENT)
    sentry_sdk.flush(timeout=10)
    [event] = events(sentry)
    assert event["logentry"] == {"message": "digest for user %s failed: %s", "params": []}
    assert PATIENT not in b"".join(sentry).decode()
