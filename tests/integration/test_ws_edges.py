"""Websocket edges (issue 7, finding 6), with a raw socket client: an unmasked client frame
is closed with 1002 (RFC 6455 5.1), a binary frame with 1003, text that is not UTF-8 with 1007,
and a tab culled for reading too slowly gets a close frame (1013 with a reason) before the
connection ends, so that a client can tell a cull from a network failure.

RawWs is also used by test_ticket_single_use.py."""
import base64
import hashlib
import json
import os
import socket
import struct
from urllib.parse import urlsplit


from conftest import SCALE, Tab, call_event, metric, wait_until

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class RawWs:
    """A websocket client on a plain socket: it sends exactly the bytes a test asks for and
    parses every server frame itself (opcode, payload), close frames included."""

    def __init__(self, url, after_head=b"", rcvbuf=None, timeout=5):
        u = urlsplit(url)
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout * SCALE)
        self.sock.connect((u.hostname, u.port))
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        head = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, u.netloc, key))
        # after_head: bytes written in the same send as the upgrade request (frames sent
        # before the 101 came back)
        self.sock.sendall(head.encode() + after_head)
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head_in, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head_in.decode(errors="replace")
        first = self.head.split("\r\n", 1)[0].split(" ")
        assert len(first) >= 2 and first[1].isdigit(), "not an HTTP answer: %r" % self.head[:300]
        self.status = int(first[1])
        if self.status == 101:
            want = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            assert ("sec-websocket-accept: " + want).lower() in self.head.lower(), self.head
        self.eof = False

    # ---- sending
    @staticmethod
    def encode(opcode, payload, mask=True, fin=True, rsv=0):
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload)
        if n < 126:
            hdr = bytes([b0, (0x80 if mask else 0) | n])
        elif n < 65536:
            hdr = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack("!H", n)
        else:
            hdr = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack("!Q", n)
        if not mask:
            return hdr + payload
        key = os.urandom(4)
        return hdr + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))

    def send_frame(self, opcode, payload, mask=True, fin=True):
        if isinstance(payload, str):
            payload = payload.encode()
        self.sock.sendall(self.encode(opcode, payload, mask=mask, fin=fin))

    def send_json(self, obj):
        self.send_frame(OP_TEXT, json.dumps(obj))

    # ---- receiving
    def _fill(self, need):
        while len(self.buf) < need:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                self.eof = True
                return False
            self.buf += chunk
        return True

    def recv_frame(self):
        """(opcode, payload) of the next whole server message, or None at EOF. Raises
        socket.timeout when nothing comes in time."""
        if not self._fill(2):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "the server masked a frame: %r" % self.buf[:16]
        n, off = b1 & 0x7F, 2
        if n == 126:
            if not self._fill(4):
                return None
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self._fill(10):
                return None
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        if not self._fill(off + n):
            return None
        payload, self.buf = self.buf[off:off + n], self.buf[off + n:]
        assert b0 & 0x80, "fragmented server frames are not expected here (opcode %#x)" % (b0 & 0xF)
        return b0 & 0x0F, payload

    def frames_until_close(self, limit=100000):
        """Every frame up to and including a close frame (answered with a close, as RFC 6455
        asks), or up to EOF. Returns (frames, close) where close is (code, reason) or None."""
        frames = []
        while len(frames) < limit:
            f = self.recv_frame()
            if f is None:
                return frames, None
            frames.append(f)
            if f[0] == OP_CLOSE:
                code, reason = parse_close(f[1])
                try:
                    self.send_frame(OP_CLOSE, f[1][:2])
                except OSError:
                    pass
                return frames, (code, reason)
        raise AssertionError("more than %d frames without a close" % limit)

    def wait_eof(self):
        """Reads until the server ends the connection (after a close); returns the bytes read."""
        rest = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return rest
                rest += chunk
        except ConnectionResetError:
            return rest

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_close(payload):
    if len(payload) == 0:
        return None, ""
    assert len(payload) >= 2, "close payload of one byte: %r" % payload
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", errors="replace")


def texts(frames):
    return [json.loads(p) for op, p in frames if op == OP_TEXT]


def expect_close(ws, code, what):
    """The next frame is a close frame carrying code (no answer before it), then EOF."""
    try:
        f = ws.recv_frame()
    except socket.timeout:
        raise AssertionError("%s: neither an answer nor a close within %ss" % (
            what, ws.sock.gettimeout()))
    except ConnectionResetError:
        raise AssertionError("%s: the connection was reset without a close frame" % what)
    assert f is not None, "%s: the connection ended without a close frame" % what
    assert f[0] == OP_CLOSE, "%s: got a frame (opcode %#x) %r instead of a close frame" % (
        what, f[0], f[1][:300])
    close = parse_close(f[1])
    try:
        ws.send_frame(OP_CLOSE, f[1][:2])
    except OSError:
        pass
    assert close[0] == code, "%s: expected close code %d, got %r (reason %r)" % (
        what, code, close[0], close[1])
    ws.wait_eof()
    return close


# --------------------------------------------------------------------------- the raw client itself

def test_raw_client_masked_text_works(acme):
    """Control for the tests below: a masked text frame is answered normally."""
    ws = RawWs(acme.channel_url("101"))
    assert ws.status == 101
    ws.send_json({"op": "ping"})
    op, payload = ws.recv_frame()
    assert op == OP_TEXT and json.loads(payload)["op"] == "pong", (op, payload)
    ws.send_json({"op": "register"})
    op, payload = ws.recv_frame()
    assert op == OP_TEXT and json.loads(payload)["result"]["code"] == 109, (op, payload)
    ws.close()


# --------------------------------------------------------------------------- protocol violations

def test_unmasked_client_frame_is_closed_with_1002(acme):
    ws = RawWs(acme.channel_url("101"))
    assert ws.status == 101
    ws.send_frame(OP_TEXT, json.dumps({"op": "ping"}), mask=False)
    expect_close(ws, 1002, "unmasked text frame")


def test_unmasked_frame_after_a_good_one_is_closed_with_1002(acme):
    ws = RawWs(acme.channel_url("101"))
    ws.send_json({"op": "ping"})
    op, payload = ws.recv_frame()
    assert op == OP_TEXT and json.loads(payload)["op"] == "pong"
    ws.send_frame(OP_TEXT, json.dumps({"op": "register"}), mask=False)
    expect_close(ws, 1002, "unmasked text frame after a masked one")


def test_unmasked_control_frame_is_closed_with_1002(acme):
    """RFC 6455 5.1: the server closes on any unmasked client frame, control frames included."""
    ws = RawWs(acme.channel_url("101"))
    ws.send_json({"op": "register"})
    op, payload = ws.recv_frame()
    assert op == OP_TEXT and json.loads(payload)["op"] == "register"
    ws.send_frame(OP_PING, b"are you there", mask=False)
    expect_close(ws, 1002, "unmasked ping control frame")


def test_binary_frame_is_closed_with_1003(acme):
    acme.post_ok(call_event("101"), accepted=1)
    ws = RawWs(acme.channel_url("101"))
    assert ws.status == 101
    ws.send_frame(OP_BINARY, json.dumps({"op": "register"}).encode())
    expect_close(ws, 1003, "binary frame with JSON in it")


def test_binary_frame_after_register_is_closed_with_1003(acme):
    ws = RawWs(acme.channel_url("101"))
    ws.send_json({"op": "register"})
    op, payload = ws.recv_frame()
    assert op == OP_TEXT and json.loads(payload)["result"]["code"] == 109
    ws.send_frame(OP_BINARY, json.dumps({"op": "ping"}).encode())
    expect_close(ws, 1003, "binary frame on a registered tab")


def test_text_frame_not_utf8_is_closed_with_1007(acme):
    ws = RawWs(acme.channel_url("101"))
    assert ws.status == 101
    ws.send_frame(OP_TEXT, b'{"op":"ping","x":"\xff\xfe"}')
    expect_close(ws, 1007, "text frame that is not UTF-8")


def test_other_tabs_unaffected_by_a_closed_violator(acme):
    good = acme.tab("101")
    bad = RawWs(acme.channel_url("101"))
    bad.send_frame(OP_TEXT, b'{"op":"ping"}', mask=False)
    expect_close(bad, 1002, "unmasked text frame")
    acme.post_ok(call_event("101", call_id="after-violation"), accepted=1)
    assert good.next_event()["call_id"] == "after-violation"
    assert good.ping()["result"]["code"] == 0


# --------------------------------------------------------------------------- a culled slow reader

def test_culled_slow_reader_gets_a_close_frame_with_a_reason(acme):
    ws = RawWs(acme.channel_url("101"), rcvbuf=4096)
    assert ws.status == 101
    ws.send_json({"op": "register"})
    # the register answer (109) reaches the socket before the flood
    pad = "x" * 6000
    per_post = 150
    culled = lambda: metric(acme.env.broker.metrics(), "callrelay_sessions_culled_total") or 0
    posted = 0
    for p in range(40):  # at most 6000 events of 6 KB: far more than a queue of 1024 frames
        acme.post_ok([call_event("101", raw={"pad": pad, "n": posted + i}) for i in range(per_post)],
                     accepted=per_post)
        posted += per_post
        if culled() >= 1:
            break
    wait_until(lambda: culled() >= 1, 10, what="the stalled tab to be culled")
    # read at once: everything the broker had queued, then a close frame, then EOF
    ws.sock.settimeout(10 * SCALE)
    frames, close = ws.frames_until_close()
    got = texts(frames)
    assert got and got[0].get("op") == "register", got[:1]
    assert len(got) < posted + 1, "the tab was not culled: it got every event"
    assert close is not None, (
        "the culled tab got %d frames and then the connection ended without a close frame "
        "(a client cannot tell a cull from a network failure)" % len(frames))
    assert close[0] == 1013, "expected close code 1013 for a cull, got %r (reason %r)" % close
    assert close[1].strip(), "the close frame for a cull carries no reason"
    # the events stay in Redis: a new tab pages through all of them
    assert acme.env.redis.xlen(acme.stream_key("101")) == posted
    t = Tab(acme.channel_url("101"))
    n = 0
    while True:
        page = t.register(limit=1000, timeout=10)
        if page["result"]["code"] == 109:
            break
        n += len(page["events"])
    assert n == posted


def test_unmasked_frame_sent_with_the_upgrade_is_closed_with_1002(acme):
    """A client that does not wait for the 101 (RFC 6455 4.1) and sends an unmasked frame in
    the same write as its upgrade: the broker follows the connection from the upgrade's head,
    so the frame is found all the same."""
    frame = RawWs.encode(OP_TEXT, json.dumps({"op": "register"}).encode(), mask=False)
    ws = RawWs(acme.channel_url("101"), after_head=frame)
    assert ws.status == 101
    expect_close(ws, 1002, "unmasked register sent with the upgrade")


def test_masked_frame_sent_with_the_upgrade_is_answered(acme):
    frame = RawWs.encode(OP_TEXT, json.dumps({"op": "register"}).encode())
    ws = RawWs(acme.channel_url("101"), after_head=frame)
    assert ws.status == 101
    op, payload = ws.recv_frame()
    assert op == OP_TEXT and json.loads(payload)["op"] == "register"
