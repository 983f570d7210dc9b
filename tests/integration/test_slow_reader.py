"""A tab that stops reading is disconnected once its outgoing queue is full; its events stay in
Redis and come back when it resumes. Other tabs of the user are not held back."""
import base64
import os
import socket
import time
from urllib.parse import urlparse

import pytest

from conftest import Tab, call_event, metric, wait_until

pytestmark = pytest.mark.serial  # a tab must keep up with a flood within a bound


def stalled_tab(url):
    """A websocket client that registers and then never reads (a small receive buffer)."""
    u = urlparse(url)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((u.hostname, u.port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET %s?%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
               % (u.path, u.query, u.netloc, key)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    payload = b'{"op":"register"}'
    mask = os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask +
              bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return s


def test_reader_too_slow_is_closed_and_events_wait_in_redis(acme):
    stalled = stalled_tab(acme.channel_url("101"))
    healthy = acme.tab("101")
    time.sleep(0.2)
    pad = "x" * 6000  # large events fill the socket buffers quickly
    per_post, posts = 120, 25
    for p in range(posts):
        acme.post_ok([call_event("101", raw={"pad": pad, "n": p * per_post + i}) for i in range(per_post)],
                     accepted=per_post)
        got = healthy.events(per_post, timeout=10)  # the healthy tab keeps up
        assert [e["raw"]["n"] for e in got] == list(range(p * per_post, (p + 1) * per_post))
    total = per_post * posts
    wait_until(lambda: metric(acme.env.broker.metrics(), "callrelay_sessions_culled_total") >= 1, 10,
               what="the stalled tab to be culled")
    # the server closed it: reading drains what was sent, then the connection ends
    stalled.settimeout(10)
    while stalled.recv(1 << 20):
        pass
    stalled.close()
    assert acme.env.redis.xlen(acme.stream_key("101")) == total
    # nothing was acknowledged: a new tab pages through every event
    t = Tab(acme.channel_url("101"))
    seen = []
    while True:
        page = t.register(limit=1000, timeout=10)
        if page["result"]["code"] == 109:
            break
        seen += [e["raw"]["n"] for e in page["events"]]
    assert seen == list(range(total))
