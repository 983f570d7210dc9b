"""A PBX that misbehaves cannot reach past callrelay to its client: a command that takes longer
than the connection's default wait still gets its 504, an answer whose announced length
disagrees with its chunking is not passed on beyond what the client is told, a header value
with a bare CR does not become a header of the PBX's choosing, and an error answer of 100 MB is
not downloaded to find its first bytes. The PBXs here are small servers that misbehave on
purpose; the Twilio dialect asks them."""
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import TESTS, assert_result

sys.path.insert(0, str(TESTS / "fakes"))
from twilio_api import TwilioApi  # noqa: E402

SID, TOKEN = "AC" + "e" * 32, "hostile-token"


class Pbx:
    """A server whose GET handler is the test's."""

    def __init__(self, handler):
        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                handler(self)

            def do_POST(self):
                handler(self)
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def twilio_integration(env, api_base_url, timeout_ms=2000):
    integ = env.provision("acme", {"twilio": {
        "auth_token": TOKEN, "account_sid": SID, "api_base_url": api_base_url,
        "public_url": env.broker.base + "/v1/hooks/acme/twilio", "caller_id": "+15550001111"},
        "command_timeout_ms": timeout_ms}, adapter="twilio")
    integ.add_user("101")
    return integ


def raw_record(env, integ):
    """GET /v1/record as bytes off the socket, to see exactly what the client is sent."""
    host, port = env.broker.base.split("//")[1].split(":")
    s = socket.create_connection((host, int(port)))
    s.settimeout(5)
    s.sendall(("GET /v1/record?recording_id=RE1 HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\n\r\n" % integ.token).encode())
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except socket.timeout:
        pass
    finally:
        s.close()
    return data


def test_command_longer_than_the_default_wait_gets_its_504(env):
    fake = TwilioApi(SID, TOKEN).start()
    try:
        integ = twilio_integration(env, fake.url, timeout_ms=17000)
        fake.hang()
        t0 = time.monotonic()
        r = requests.post(env.broker.base + "/v1/hangup", json={"call_id": "CA1"},
                          headers={"Authorization": "Bearer " + integ.token}, timeout=40)
        assert_result(r, 504, 5004)
        assert time.monotonic() - t0 >= 16.5
    finally:
        fake.stop()


def test_length_and_chunking_disagreeing_pass_nothing_beyond(env):
    smuggled = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!"

    def handler(h):
        body = b"RIFF" + b"A" * 60 + smuggled
        h.send_response(200)
        h.send_header("Content-Type", "audio/wav")
        h.send_header("Content-Length", "10")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.write(b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    pbx = Pbx(handler)
    try:
        data = raw_record(env, twilio_integration(env, pbx.url))
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), data[:200]
        assert b"content-length: 10" not in head.lower()  # the length curl ignored is not told
        assert body == b"RIFF" + b"A" * 60 + smuggled  # all of it, as one body ended by close
        assert head.count(b"HTTP/1.1") == 1
    finally:
        pbx.stop()


def test_bare_cr_in_a_pbx_header_is_not_passed_on(env):
    def handler(h):
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\rSet-Cookie: evil=1\r\n"
                      b"Content-Length: 8\r\n\r\nRIFF0000")
    pbx = Pbx(handler)
    try:
        data = raw_record(env, twilio_integration(env, pbx.url))
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), data[:200]
        assert b"set-cookie" not in head.lower() and b"\r" not in head.replace(b"\r\n", b"")
        assert b"content-type: application/octet-stream" in head.lower()
        assert body == b"RIFF0000"
    finally:
        pbx.stop()


def test_an_error_page_is_not_downloaded_whole(env):
    sent = {"n": 0}
    size = 100 << 20

    def handler(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(size))
        h.end_headers()
        piece = b"x" * 65536
        try:
            for _ in range(size // len(piece)):
                h.wfile.write(piece)
                sent["n"] += len(piece)
        except OSError:
            pass
    pbx = Pbx(handler)
    try:
        integ = twilio_integration(env, pbx.url)
        r = requests.get(env.broker.base + "/v1/record?recording_id=RE1",
                         headers={"Authorization": "Bearer " + integ.token}, timeout=30)
        body = assert_result(r, 502, 5002)
        assert body["result"]["message"] != "ok"
        time.sleep(0.5)
        assert sent["n"] < 20 << 20, sent  # socket buffers, not the whole page
    finally:
        pbx.stop()


@pytest.mark.parametrize("status", [307, 308])
def test_a_signed_form_is_not_resent_where_a_redirect_points(env, status):
    """Mango's recording query is a signed POST; a 307/308 would make curl send the form (key
    and sign) on to the Location. It is not followed."""
    seen = []

    def elsewhere(h):
        seen.append((h.command, h.path))
        h.send_response(200)
        h.send_header("Content-Type", "audio/wav")
        h.send_header("Content-Length", "4")
        h.end_headers()
        h.wfile.write(b"RIFF")
    thief = Pbx(elsewhere)

    def mango(h):
        h.rfile.read(int(h.headers.get("Content-Length", "0")))
        h.send_response(status)
        h.send_header("Location", thief.url + "/steal")
        h.send_header("Content-Length", "0")
        h.end_headers()
    pbx = Pbx(mango)
    try:
        integ = env.provision("acme", {"mango": {"api_key": "k", "api_salt": "s",
                                                 "base_url": pbx.url + "/vpbx/"},
                                       "command_timeout_ms": 2000}, adapter="mango")
        r = requests.get(env.broker.base + "/v1/record?recording_id=rec-1",
                         headers={"Authorization": "Bearer " + integ.token}, timeout=10)
        assert_result(r, 502, 5002)
        assert seen == []
    finally:
        pbx.stop()
        thief.stop()


@pytest.mark.parametrize("call_id", ["..", "."])
def test_dot_segments_stay_in_the_path(env, call_id):
    fake = TwilioApi(SID, TOKEN).start()
    try:
        integ = twilio_integration(env, fake.url)
        r = requests.post(env.broker.base + "/v1/hangup", json={"call_id": call_id},
                          headers={"Authorization": "Bearer " + integ.token}, timeout=10)
        assert_result(r, 404, 3310)
        [rec] = fake.records("/2010-04-01/")
        assert rec["path"].endswith("/Calls/%s.json" % call_id.replace(".", "%2E")), rec["path"]
    finally:
        fake.stop()
