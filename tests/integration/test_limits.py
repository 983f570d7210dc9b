"""Limits that keep one tenant or tab from hurting the others (docs/decisions.md, "Limits per
tenant and per tab"): websockets in total and per user, the Origin allow list, requests per
second per integration, the idle timeout, and a tab's outgoing queue bounded in bytes."""
import base64
import json
import os
import socket
import struct
import time
from urllib.parse import urlsplit

import pytest
import requests

from conftest import Tab, assert_result, call_event, metric, wait_until


def limited(broker, name):
    return metric(broker.metrics(), "callrelay_limited_total", {"limit": name})


def upgrade(url, headers=None, rcvbuf=None):
    """A raw upgrade: (status, headers dict, body bytes, socket). The socket stays open on a
    101 (the caller closes it); a refusal is read to its end."""
    u = urlsplit(url)
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect((u.hostname, u.port))
    extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    s.sendall(("GET %s?%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n"
               % (u.path, u.query, u.netloc, base64.b64encode(os.urandom(16)).decode(),
                  extra)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(1)
        assert chunk, "connection closed before the answer's head: %r" % data
        data += chunk
    lines = data.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {k.strip().lower(): v.strip() for k, v in
            (line.split(":", 1) for line in lines[1:] if ":" in line)}
    body = b""
    if status != 101:
        n = int(hdrs.get("content-length", "0"))
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                break
            body += chunk
        s.close()
        s = None
    return status, hdrs, body, s


def send_text(s, text):
    payload = text.encode()
    mask = os.urandom(4)
    assert len(payload) < 126
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask +
              bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def read_frames(s, timeout=10):
    """Every frame the server sends until it closes: [(opcode, payload)]."""
    s.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = s.recv(1 << 20)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    frames, i = [], 0
    while i + 2 <= len(data):
        op, n = data[i] & 0x0F, data[i + 1] & 0x7F
        i += 2
        if n == 126:
            n = struct.unpack(">H", data[i:i + 2])[0]
            i += 2
        elif n == 127:
            n = struct.unpack(">Q", data[i:i + 8])[0]
            i += 8
        frames.append((op, data[i:i + n]))
        i += n
    return frames


def close_of(frames):
    closes = [p for op, p in frames if op == 0x8]
    assert closes, "no close frame among %d frames: %s" % (
        len(frames), [op for op, _ in frames][-10:])
    return struct.unpack(">H", closes[0][:2])[0], closes[0][2:].decode()


def refusal(status, hdrs, body, want_status, want_code, want_limit):
    assert status == want_status, (status, body)
    assert hdrs.get("content-type") == "application/json", hdrs
    b = json.loads(body)
    assert b["result"]["code"] == want_code, b
    assert b["limit"]["name"] == want_limit, b  # as CALLRELAY_MAX_DELIVERIES's answers
    assert want_limit in b["result"]["message"], b
    return b


def test_websockets_per_user_and_in_total(world):
    b = world.start_broker(env={"CALLRELAY_MAX_WEBSOCKETS": "3",
                                "CALLRELAY_MAX_WEBSOCKETS_PER_USER": "2"})
    acme = world.provision("acme")
    for ext in ("101", "102", "103"):
        acme.add_user(ext)
    t1, t2 = acme.tab("101"), acme.tab("101")
    status, hdrs, body, _ = upgrade(acme.channel_url("101"))
    b429 = refusal(status, hdrs, body, 429, 3112, "CALLRELAY_MAX_WEBSOCKETS_PER_USER")
    assert b429["limit"]["max"] == 2 and b429["limit"]["requested"] == 3, b429
    acme.tab("102")  # another user of the same integration is not held back
    status, hdrs, body, _ = upgrade(acme.channel_url("103"))
    b503 = refusal(status, hdrs, body, 503, 5003, "CALLRELAY_MAX_WEBSOCKETS")
    assert b503["limit"]["max"] == 3 and b503["limit"]["requested"] == 4, b503
    assert hdrs.get("retry-after") == "1", hdrs
    t1.close()
    wait_until(lambda: metric(b.metrics(), "callrelay_sessions_open") == 2, 5,
               what="the closed tab to be counted out")
    t3 = acme.tab("103")  # room again, in total and for 101
    assert t3.ping()["result"]["code"] == 0
    t2.ping()
    assert limited(b, "websockets_per_user") == 1
    assert limited(b, "websockets_total") == 1


def test_origin_allow_list(world):
    b = world.start_broker(env={
        "CALLRELAY_ALLOWED_ORIGINS": "https://crm.example.com, http://localhost:3000"})
    acme = world.provision("acme")
    acme.add_user("101")
    status, hdrs, body, _ = upgrade(acme.channel_url("101"),
                                    {"Origin": "https://crm.example.com.evil.example"})
    refusal(status, hdrs, body, 403, 3108, "CALLRELAY_ALLOWED_ORIGINS")
    for origin in ("https://CRM.example.com", "http://localhost:3000", None):
        status, _, body, s = upgrade(acme.channel_url("101"),
                                     {"Origin": origin} if origin else {})
        assert status == 101, (origin, body)
        send_text(s, '{"op":"ping"}')
        s.close()
    assert limited(b, "origin") == 1


def test_a_bad_origin_setting_stops_the_broker(world):
    b = world.start_broker(env={"CALLRELAY_ALLOWED_ORIGINS": "https://crm.example.com/path"},
                           wait_ready=False)
    assert b.proc.wait(10) != 0
    assert "CALLRELAY_ALLOWED_ORIGINS" in b.stderr()
    b.stopped = True


@pytest.mark.serial  # a token bucket refills with time
def test_rate_per_integration_does_not_slow_another(world):
    b = world.start_broker(env={"CALLRELAY_RATE_LIMIT": "5", "CALLRELAY_RATE_BURST": "10"})
    a, z = world.provision("acme"), world.provision("zeta")
    a.add_user("101")
    z.add_user("101")
    time.sleep(2.5)  # the buckets are full again after the setup's calls
    a_status, z_status, retry = [], [], []
    for i in range(40):
        r = a.post([call_event("101")])
        a_status.append(r.status_code)
        if r.status_code == 429:
            body = assert_result(r, 429, 3112)
            assert "CALLRELAY_RATE_LIMIT" in body["result"]["message"], r.text
            retry.append(r.headers.get("Retry-After"))
        if i % 10 == 0:
            z_status.append(z.post([call_event("101")]).status_code)
    rest = b.post("/v1/channel", {"extension": "101"}, token=a.token)  # a REST call, same bucket
    assert rest.status_code == 429 and rest.headers.get("Retry-After"), rest.text
    z_status.append(b.post("/v1/channel", {"extension": "101"}, token=z.token).status_code)
    print("acme: %d answered 200, %d answered 429; zeta: %s" % (
        a_status.count(200), a_status.count(429), z_status))
    assert a_status.count(429) >= 20, a_status
    assert set(a_status) == {200, 429}, a_status
    assert all(v is not None and v.isdigit() and int(v) >= 1 for v in retry), retry
    assert z_status == [200] * len(z_status), z_status
    assert limited(b, "rate") == a_status.count(429) + 1


@pytest.mark.serial  # measures how long a silent tab lives
def test_a_silent_tab_is_closed_one_that_answers_pings_stays(world):
    b = world.start_broker(env={"CALLRELAY_WS_PING_INTERVAL": "1",
                                "CALLRELAY_WS_IDLE_TIMEOUT": "3"})
    acme = world.provision("acme")
    acme.add_user("101")
    alive = acme.tab("101")  # the websockets library answers pings by itself
    status, _, _, silent = upgrade(acme.channel_url("101"))
    assert status == 101
    started = time.monotonic()
    frames = read_frames(silent, timeout=10)  # never answers the pings it is sent
    lived = time.monotonic() - started
    code, reason = close_of(frames)
    assert code == 1008 and "CALLRELAY_WS_IDLE_TIMEOUT" in reason, (code, reason)
    assert 0x9 in [op for op, _ in frames], "no ping before the close"
    assert 2.5 <= lived <= 6, lived
    time.sleep(1)
    assert alive.ping()["result"]["code"] == 0  # 4.5 s without a frame of its own, pongs only
    assert limited(b, "idle") == 1


def stalled(acme, ext):
    status, _, _, s = upgrade(acme.channel_url(ext), rcvbuf=4096)
    assert status == 101
    send_text(s, '{"op":"register"}')
    return s


PAD = 60000  # large events: the socket buffers fill after a few, the frame bound stays far


def post_batch(acme, n):
    acme.post_ok([call_event("101", raw={"pad": "x" * PAD, "n": n + i}) for i in range(10)],
                 accepted=10)
    return n + 10


@pytest.mark.serial
def test_queue_over_its_hard_bound_is_closed_at_once(world):
    b = world.start_broker(env={"CALLRELAY_WS_QUEUE_HARD_BYTES": "3000000",  # over a batch: the healthy tab keeps up
                                "CALLRELAY_WS_QUEUE_SOFT_BYTES": "100000",
                                "CALLRELAY_WS_QUEUE_SOFT_SECONDS": "600"})
    acme = world.provision("acme")
    acme.add_user("101")
    s = stalled(acme, "101")
    healthy = acme.tab("101")
    n = 0
    while limited(b, "queue_hard") < 1:
        assert n < 2000, "the hard bound was not reached after %d events" % n
        n = post_batch(acme, n)
    code, reason = close_of(read_frames(s))
    assert code == 1008 and "CALLRELAY_WS_QUEUE_HARD_BYTES" in reason, (code, reason)
    got = healthy.events(n, timeout=20)  # the other tab of the user got everything
    assert [e["raw"]["n"] for e in got] == list(range(n))
    assert limited(b, "queue_soft") == 0
    assert metric(b.metrics(), "callrelay_sessions_culled_total") == 0
    assert world.redis.xlen(acme.stream_key("101")) == n


@pytest.mark.serial  # the soft bound must be exceeded for its seconds
def test_queue_over_its_soft_bound_for_its_seconds_is_closed(world):
    b = world.start_broker(env={"CALLRELAY_WS_QUEUE_HARD_BYTES": "100000000",
                                "CALLRELAY_WS_QUEUE_SOFT_BYTES": "100000",
                                "CALLRELAY_WS_QUEUE_SOFT_SECONDS": "3"})
    acme = world.provision("acme")
    acme.add_user("101")
    s = stalled(acme, "101")
    started = time.monotonic()
    n = 0
    while n < 200:  # 12 MB: far more than the socket buffers take
        n = post_batch(acme, n)
    posted = time.monotonic()
    wait_until(lambda: limited(b, "queue_soft") >= 1, 10, what="the soft bound to close the tab")
    closed = time.monotonic()
    code, reason = close_of(read_frames(s))
    assert code == 1008 and "CALLRELAY_WS_QUEUE_SOFT_BYTES" in reason, (code, reason)
    print("posted in %.1f s; closed %.1f s after the first post (soft seconds: 3)" % (
        posted - started, closed - started))
    assert closed - started >= 3, "closed before the soft bound's seconds were over"
    assert closed - posted <= 3 + 2, "the queue stayed over the soft bound too long"
    assert limited(b, "queue_hard") == 0


@pytest.mark.serial  # a token bucket refills with time
def test_requests_that_fail_authentication_spend_nothing(world):
    b = world.start_broker(env={"CALLRELAY_RATE_LIMIT": "1", "CALLRELAY_RATE_BURST": "3"})
    acme = world.provision("acme")
    time.sleep(3.5)  # provisioning is not charged; the bucket is full in any case
    for _ in range(10):  # a stranger posting to acme's hook URL
        r = b.post("/v1/hooks/acme/native", [call_event("101")], token="not-the-token")
        assert_result(r, 401)
        r = b.post("/v1/users/create", {"extension": "1"}, token="not-the-token")
        assert_result(r, 401)
    got = [acme.post([call_event("101")]).status_code for _ in range(6)]
    assert got[:3] == [200, 200, 200], got  # the burst is still whole
    assert 429 in got[3:], got
    assert limited(b, "rate") == got.count(429)
