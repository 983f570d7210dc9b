"""Fixtures and helpers for the integration suite: a real redis-server, the real broker
(CALLRELAY_BIN, default build/callrelay), REST helpers and a websocket tab client that
validates every frame and every event against schemas/ as it arrives.

Run with Debian's python: /usr/bin/python3 -m pytest -q tests/integration
"""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import jsonschema
import pytest
import redis as redis_lib
import requests
import websockets

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
TESTS = ROOT / "tests"
BIN = os.environ.get("CALLRELAY_BIN", str(ROOT / "build" / "callrelay"))
ADMIN_TOKEN = "admin-token-for-tests-0123456789"
TICKET_SECRET = "ticket-secret-shared-by-all-instances-0123456789"
# Sanitizer builds start and answer more slowly: every bounded wait is multiplied by this.
SCALE = float(os.environ.get("CALLRELAY_TEST_TIMEOUT_SCALE") or
              (3 if ("asan" in BIN or os.environ.get("ASAN_OPTIONS")) else 1))
HTTP_TIMEOUT = 5 * SCALE
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")


# --------------------------------------------------------------------------- schemas

def _load_schemas():
    store = {}
    by_name = {}
    for p in sorted(SCHEMAS.glob("*.schema.json")):
        s = json.loads(p.read_text())
        jsonschema.Draft202012Validator.check_schema(s)
        store[s["$id"]] = s
        by_name[p.name] = s
    return store, by_name


SCHEMA_STORE, SCHEMA_BY_NAME = _load_schemas()


def validator(name):
    s = SCHEMA_BY_NAME[name]
    resolver = jsonschema.RefResolver.from_schema(s, store=SCHEMA_STORE)
    return jsonschema.Draft202012Validator(s, resolver=resolver)


EVENT_VALIDATOR = validator("event.schema.json")
SERVER_FRAME_VALIDATOR = validator("ws-server-frame.schema.json")
CLIENT_FRAME_VALIDATOR = validator("ws-client-frame.schema.json")
RESULT_VALIDATOR = validator("result.schema.json")
NATIVE_INPUT_VALIDATOR = validator("native-input.schema.json")


def schema_errors(v, instance):
    return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "<root>", e.message)
            for e in v.iter_errors(instance)]


def assert_valid_event(ev):
    errs = schema_errors(EVENT_VALIDATOR, ev)
    assert not errs, "event does not match schemas/event.schema.json: %s\nevent: %s" % (
        errs, json.dumps(ev))


def assert_valid_server_frame(frame):
    if isinstance(frame, dict):
        if frame.get("op") == "event" and isinstance(frame.get("event"), dict):
            assert_valid_event(frame["event"])
        if frame.get("op") == "register" and isinstance(frame.get("events"), list):
            for ev in frame["events"]:
                assert_valid_event(ev)
    errs = schema_errors(SERVER_FRAME_VALIDATOR, frame)
    if errs and isinstance(frame, dict):
        # oneOf messages are unhelpful: name the branch that should have matched.
        sub = SCHEMA_BY_NAME["ws-server-frame.schema.json"]["$defs"].get(str(frame.get("op")))
        if sub is not None:
            v = jsonschema.Draft202012Validator(
                dict(sub, **{"$id": SCHEMA_BY_NAME["ws-server-frame.schema.json"]["$id"],
                             "$defs": SCHEMA_BY_NAME["ws-server-frame.schema.json"]["$defs"]}),
                resolver=jsonschema.RefResolver.from_schema(
                    SCHEMA_BY_NAME["ws-server-frame.schema.json"], store=SCHEMA_STORE))
            errs = schema_errors(v, frame) or errs
    assert not errs, "frame does not match schemas/ws-server-frame.schema.json: %s\nframe: %s" % (
        errs, json.dumps(frame)[:2000])


def assert_result(resp, status, code=None):
    """Checks the HTTP status and the JSON body's result code; returns the body."""
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError("%s %s: body is not JSON: %r" % (resp.request.method, resp.url,
                                                              resp.text[:500]))
    assert resp.status_code == status, "%s %s: expected HTTP %d, got %d: %s" % (
        resp.request.method, resp.url, status, resp.status_code, resp.text[:1000])
    errs = schema_errors(RESULT_VALIDATOR, body)
    assert not errs, "answer does not match result.schema.json: %s: %s" % (errs, resp.text[:500])
    if code is not None:
        assert body["result"]["code"] == code, "expected result code %d, got %s" % (
            code, resp.text[:1000])
    if status >= 400:
        assert isinstance(body["result"].get("message"), str) and body["result"]["message"], \
            "error answer without a message: %s" % resp.text[:500]
    return body


def error_field(body):
    """The field an error answer names (decisions.md: top-level "field")."""
    return body.get("field")


def id_tuple(i):
    ms, seq = i.split("-")
    return (int(ms), int(seq))


def assert_increasing(ids):
    t = [id_tuple(i) for i in ids]
    for a, b in zip(t, t[1:]):
        assert a < b, "ids not strictly increasing: %s then %s (all: %s)" % (a, b, ids)


# --------------------------------------------------------------------------- processes

# Ports come from a block of this process's own below the kernel's ephemeral range (32768 and
# up): a port the kernel handed out by bind(0) could be handed out again, to another pytest-xdist
# worker or to an outgoing connection, before the server we start binds it. Two suites run at
# once (make test runs the ASan one beside the plain one) take blocks from different bases.
_PORT_BLOCK = 1000
_PORT_BASE = int(os.environ.get("CALLRELAY_TEST_PORT_BASE") or 10000)


def _worker_index():
    w = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under pytest -n
    return int(w[2:]) + 1 if w.startswith("gw") and w[2:].isdigit() else 0


_PORT_LOW = _PORT_BASE + (_worker_index() % 11) * _PORT_BLOCK
_port_next = [random.randrange(_PORT_BLOCK)]


def _bindable(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_port():
    """A TCP and UDP port nothing holds now, from this worker's block, not given out twice in a row."""
    for _ in range(_PORT_BLOCK):
        port = _PORT_LOW + _port_next[0] % _PORT_BLOCK
        _port_next[0] += 1
        if _bindable(port):
            return port
    raise AssertionError("no free port in %d..%d" % (_PORT_LOW, _PORT_LOW + _PORT_BLOCK - 1))


def wait_until(pred, timeout, interval=0.05, what="condition"):
    timeout *= SCALE
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - polled condition
            last = e
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


class RedisServer:
    def __init__(self, tmp, port=None):
        self.dir = Path(tmp) / ("redis-%d" % (port or 0))
        self.port = port or free_port()
        self.dir = Path(tmp) / ("redis-%d" % self.port)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = None
        self.url = "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.log = open(self.dir / "redis.log", "ab")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=self.log, stderr=subprocess.STDOUT)
        def ping():
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited: %s" % (self.dir / "redis.log").read_text())
            return self.client().ping()
        wait_until(ping, 10, what="redis-server PING on %d" % self.port)
        return self

    def client(self):
        return redis_lib.Redis(host="127.0.0.1", port=self.port, db=0, decode_responses=True,
                               socket_timeout=3, socket_connect_timeout=1)

    def stop(self, save=False):
        if self.proc is None:
            return
        if save:
            self.client().save()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None
        self.log.close()


class Broker:
    def __init__(self, tmp, redis_url, name="a", env=None, args=None, admin_token=ADMIN_TOKEN):
        self.name = name
        self.dir = Path(tmp) / ("broker-" + name)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.ws_base = "ws://127.0.0.1:%d" % self.port
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CALLRELAY_")}
        self.env.update({
            "CALLRELAY_LISTEN": "127.0.0.1:%d" % self.port,
            "CALLRELAY_REDIS_URL": redis_url,
            "CALLRELAY_TICKET_SECRET": TICKET_SECRET,
        })
        if admin_token is not None:
            self.env["CALLRELAY_ADMIN_TOKEN"] = admin_token
        self.env.update(env or {})
        self.args = list(args or [])
        self.proc = None
        self.returncode = None
        self.stopped = False

    @property
    def stdout_path(self):
        return self.dir / "stdout.log"

    @property
    def stderr_path(self):
        return self.dir / "stderr.log"

    def start(self, wait_ready=True, timeout=10):
        if not os.access(BIN, os.X_OK):
            pytest.fail("broker binary %s not found or not executable (run make, or set CALLRELAY_BIN)" % BIN)
        self._out = open(self.stdout_path, "ab")
        self._err = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([BIN] + self.args, env=self.env, stdout=self._out,
                                     stderr=self._err, stdin=subprocess.DEVNULL, cwd=str(self.dir))
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=10):
        timeout *= SCALE

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("broker exited with %s during start\nstderr:\n%s" % (
                    self.proc.returncode, self.stderr()))
            return requests.get(self.base + "/readyz", timeout=1).status_code == 200
        try:
            wait_until(ready, timeout, what="GET /readyz 200 from broker %s" % self.name)
        except AssertionError as e:
            raise AssertionError("%s\nstderr:\n%s\nstdout (tail):\n%s" % (
                e, self.stderr()[-3000:], self.stdout()[-3000:]))

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stdout(self):
        try:
            return self.stdout_path.read_text(errors="replace")
        except OSError:
            return ""

    def send_signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends sig, waits, returns the exit code (does not assert it)."""
        if self.proc is None or self.stopped:
            return self.returncode
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            self.returncode = "killed after %ss without exiting on %s" % (timeout, sig)
        self.stopped = True
        self._out.close()
        self._err.close()
        return self.returncode

    def sanitizer_report(self):
        err = self.stderr()
        if any(m in err for m in SANITIZER_MARKERS):
            return err
        return None

    # ---- HTTP
    def get(self, path, token=None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return requests.get(self.base + path, headers=headers, timeout=HTTP_TIMEOUT, **kw)

    def post(self, path, body=None, token=None, data=None, **kw):
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = "Bearer " + token
        if data is None:
            data = json.dumps(body)
        if isinstance(data, str):
            data = data.encode()
        headers.setdefault("Content-Type", "application/json")
        return requests.post(self.base + path, data=data, headers=headers, timeout=HTTP_TIMEOUT,
                             **kw)

    def admin(self, path, body=None):
        return self.post(path, body, token=ADMIN_TOKEN)

    def metrics(self):
        r = self.get("/metrics")
        assert r.status_code == 200, r.text
        return parse_metrics(r.text)


_METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+-?[0-9]+)?$')


def parse_metrics(text):
    """Prometheus text format -> {'name' or 'name{a="b",c="d"}': value}. Fails on a bad line."""
    out = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = _METRIC_LINE.match(line.strip())
        assert m, "not a Prometheus sample line: %r" % line
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        labels = re.sub(r'\s*,\s*', ',', labels.replace('{ ', '{').replace(' }', '}'))
        out[name + labels] = float(value)
    return out


def metric(m, name, labels=None):
    if labels:
        want = "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in labels.items()))
        for k, v in m.items():
            if k == want:
                return v
            if k.startswith(name + "{") and all('%s="%s"' % kv in k for kv in labels.items()):
                return v
        return None
    return m.get(name)


# --------------------------------------------------------------------------- websocket tabs

class _Loop:
    """One asyncio loop in a daemon thread shared by every tab; tests call it synchronously."""
    _instance = None

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    @classmethod
    def get(cls):
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def run(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


class Closed(Exception):
    def __init__(self, code, reason=""):
        super().__init__("websocket closed by the broker (code %s %s)" % (code, reason))
        self.code = code


_CLOSED = object()
ALL_TABS = []


class Tab:
    """A websocket client. Every received frame is parsed and validated against
    ws-server-frame.schema.json (and every event against event.schema.json) as it arrives."""

    def __init__(self, url, subprotocols=None):
        self.url = url
        self.frames = queue.Queue()
        self.stash = []  # live events received while waiting for another answer
        self.errors = []
        self.close_code = None
        self.close_reason = None
        self.closed = threading.Event()
        self._loop = _Loop.get()
        self.ws = self._loop.run(self._connect(subprotocols), timeout=10)
        ALL_TABS.append(self)

    async def _connect(self, subprotocols):
        ws = await websockets.connect(self.url, open_timeout=5, close_timeout=2, max_size=None,
                                      ping_interval=None, subprotocols=subprotocols,
                                      max_queue=None)
        self._reader_task = asyncio.ensure_future(self._reader(ws))
        return ws

    async def _reader(self, ws):
        try:
            async for msg in ws:
                if isinstance(msg, bytes):
                    self.errors.append("binary frame received: %r" % msg[:100])
                    continue
                try:
                    frame = json.loads(msg)
                except ValueError:
                    self.errors.append("frame is not JSON: %r" % msg[:300])
                    continue
                try:
                    assert_valid_server_frame(frame)
                except AssertionError as e:
                    self.errors.append(str(e))
                self.frames.put(frame)
        except websockets.ConnectionClosed:
            pass
        except Exception as e:  # noqa: BLE001
            self.errors.append("reader failed: %r" % e)
        finally:
            self.close_code = ws.close_code
            self.close_reason = ws.close_reason
            self.closed.set()
            self.frames.put(_CLOSED)

    def _check(self):
        if self.errors:
            raise AssertionError("invalid frame(s) from the broker: " + "\n".join(self.errors))

    # ---- sending
    def send(self, frame):
        if isinstance(frame, dict) and frame.get("op") in ("register", "ack", "ping", "unregister"):
            errs = schema_errors(CLIENT_FRAME_VALIDATOR, frame)
            assert not errs, "test bug: client frame does not match ws-client-frame schema: %s" % errs
        self.send_raw(json.dumps(frame))

    def send_raw(self, text):
        self._loop.run(self.ws.send(text), timeout=5)

    # ---- receiving
    def recv(self, timeout=3):
        return self._recv(timeout * SCALE)

    def _recv(self, timeout):
        try:
            f = self.frames.get(timeout=timeout)
        except queue.Empty:
            self._check()
            raise AssertionError("no frame from the broker within %.1fs" % timeout)
        self._check()
        if f is _CLOSED:
            self.frames.put(_CLOSED)
            raise Closed(self.close_code, self.close_reason)
        return f

    def recv_op(self, op, timeout=3):
        """Next frame with this op; live events met on the way are stashed."""
        deadline = time.monotonic() + timeout * SCALE
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r frame within %.1fs (stashed events: %d)" % (
                    op, timeout, len(self.stash)))
            f = self._recv(left)
            if f.get("op") == op:
                return f
            if f.get("op") == "event":
                self.stash.append(f["event"])
                continue
            raise AssertionError("expected a %r frame, got %s" % (op, json.dumps(f)))

    def register(self, limit=None, since=None, timeout=5):
        frame = {"op": "register"}
        if limit is not None:
            frame["limit"] = limit
        if since is not None:
            frame["since"] = since
        self.send(frame)
        return self.recv_op("register", timeout)

    def ack(self, id_):
        self.send({"op": "ack", "id": id_})

    def ping(self, timeout=3):
        self.send({"op": "ping"})
        return self.recv_op("pong", timeout)

    def unregister(self, timeout=3):
        self.send({"op": "unregister"})
        return self.recv_op("unregister", timeout)

    def next_event(self, timeout=3):
        return self._next_event(timeout * SCALE)

    def _next_event(self, timeout):
        if self.stash:
            return self.stash.pop(0)
        f = self._recv(timeout)
        assert f.get("op") == "event", "expected an event frame, got %s" % json.dumps(f)
        return f["event"]

    def events(self, n, timeout=5):
        timeout *= SCALE
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("got %d of %d events within %.1fs; ids: %s" % (
                    len(out), n, timeout, [e["id"] for e in out]))
            out.append(self._next_event(left))
        return out

    def expect_silence(self, duration=0.5):
        assert not self.stash, "unexpected stashed events: %s" % self.stash
        try:
            f = self.frames.get(timeout=duration)
        except queue.Empty:
            self._check()
            return
        if f is _CLOSED:
            self.frames.put(_CLOSED)
            raise Closed(self.close_code, self.close_reason)
        raise AssertionError("expected nothing, got %s" % json.dumps(f)[:1000])

    def wait_closed(self, timeout=5):
        timeout *= SCALE
        assert self.closed.wait(timeout), "websocket not closed by the broker within %.1fs" % timeout
        return self.close_code

    def close(self):
        if not self.closed.is_set():
            try:
                self._loop.run(self.ws.close(), timeout=5)
            except Exception:  # noqa: BLE001 - closing anyway
                pass
            self.closed.wait(3)
        self._check()


def ws_upgrade_status(url, timeout=5):
    """Tries an upgrade over a raw socket; returns the HTTP status of the answer (101 when the
    upgrade was accepted; the socket is then closed). Raw, so that any HTTP version counts."""
    from urllib.parse import urlsplit
    u = urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, u.netloc, key))
    with socket.create_connection((u.hostname, u.port), timeout=timeout) as s:
        s.sendall(req.encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    line = data.split(b"\r\n", 1)[0].decode(errors="replace")
    parts = line.split(" ")
    assert len(parts) >= 2 and parts[0].startswith("HTTP/") and parts[1].isdigit(), \
        "not an HTTP answer to the upgrade: %r" % data[:200]
    return int(parts[1])


def make_ticket(integration, extension, expires_at, secret=TICKET_SECRET):
    """A ticket as broker/hub/ticket.h describes it: b64url(payload) "." b64url(HMAC-SHA256)."""
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    nonce = b64(os.urandom(12))  # every ticket differs: each opens one websocket
    payload = b64(("v2\n%s\n%s\n%d\n%s" % (integration, extension, expires_at, nonce)).encode())
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()
    return payload + "." + b64(mac)


# --------------------------------------------------------------------------- node tools

_NODE_READY = []


def node_tools():
    """Makes sure tests/node_modules is installed (npm ci from package-lock.json)."""
    if _NODE_READY:
        return
    if not (TESTS / "node_modules" / "standardwebhooks").is_dir() or \
            not (TESTS / "node_modules" / "@apidevtools" / "swagger-parser").is_dir() or \
            not (TESTS / "node_modules" / "@asyncapi" / "parser").is_dir():
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=str(TESTS),
                           capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, "npm ci in tests/ failed:\n%s\n%s" % (r.stdout, r.stderr)
    _NODE_READY.append(True)


def sign_webhook(secret, msg_id, timestamp, body):
    """Standard Webhooks headers computed by the published `standardwebhooks` npm library."""
    node_tools()
    if isinstance(body, bytes):
        body = body.decode()
    r = subprocess.run(["node", str(TESTS / "tools" / "sign_webhook.mjs")], cwd=str(TESTS),
                       input=json.dumps({"secret": secret, "id": msg_id, "timestamp": timestamp,
                                         "body": body}),
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, "sign_webhook.mjs failed: %s" % r.stderr
    return json.loads(r.stdout)


# --------------------------------------------------------------------------- events

def call_event(user=None, users=None, state="appeared", call_id=None, **extra):
    ev = {"kind": "call", "call_id": call_id or "c-" + uuid.uuid4().hex,
          "call": {"state": state, "direction": "inbound",
                   "from": {"number": "5511980121511"}, "to": {"extension": str(user or "x")},
                   "line": "551130000000"}}
    if users is not None:
        ev["users"] = users
    else:
        ev["user"] = user
    ev.update(extra)
    return ev


class Integration:
    def __init__(self, env, name, token, settings):
        self.env = env
        self.name = name
        self.token = token
        self.settings = settings

    def add_user(self, ext, name=None, broker=None):
        return self.env.add_user(self.token, ext, name, broker=broker)

    def post(self, body, broker=None, **kw):
        return self.env.post_events(self.name, self.token, body, broker=broker, **kw)

    def post_ok(self, body, broker=None, accepted=None, duplicates=None, ignored=None, **kw):
        r = self.post(body, broker=broker, **kw)
        b = assert_result(r, 200, 0)
        for k, v in (("accepted", accepted), ("duplicates", duplicates), ("ignored", ignored)):
            if v is not None:
                assert b.get(k) == v, "expected %s=%d: %s" % (k, v, r.text)
        return b

    def channel_url(self, ext, broker=None):
        return self.env.channel_url(self.token, ext, broker=broker)

    def tab(self, ext, broker=None, register=True):
        t = Tab(self.channel_url(ext, broker=broker))
        if register:
            ans = t.register()
            assert ans["result"]["code"] in (0, 109), ans
            t.first_page = ans
        return t

    def stream_key(self, ext):
        return "cr:{%s}:s:%s" % (self.name, ext)

    def cursor_key(self, ext):
        return "cr:{%s}:c:%s" % (self.name, ext)


class Env:
    """One test's world: a redis-server, brokers on it, REST and websocket helpers."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.redis_server = None
        self.brokers = []
        self.broker = None

    @property
    def redis(self):
        return self.redis_server.client()

    def start_redis(self, port=None):
        self.redis_server = RedisServer(self.tmp, port).start()
        return self.redis_server

    def start_broker(self, name=None, env=None, args=None, admin_token=ADMIN_TOKEN,
                     wait_ready=True, redis_url=None):
        b = Broker(self.tmp, redis_url or self.redis_server.url,
                   name=name or chr(ord("a") + len(self.brokers)), env=env, args=args,
                   admin_token=admin_token)
        self.brokers.append(b)
        b.start(wait_ready=wait_ready)
        if self.broker is None:
            self.broker = b
        return b

    # ---- REST helpers
    def provision(self, name, settings=None, adapter="native", broker=None):
        b = broker or self.broker
        r = b.admin("/v1/integration/create", {"name": name, "adapter": adapter,
                                               "settings": settings or {}})
        body = assert_result(r, 200, 0)
        assert body.get("integration") == name, r.text
        tok = body.get("token")
        assert isinstance(tok, str) and len(tok) == 43, "token should be 43 chars base64url: %r" % tok
        return Integration(self, name, tok, settings or {})

    def add_user(self, token, ext, name=None, broker=None):
        body = {"extension": ext}
        if name is not None:
            body["name"] = name
        r = (broker or self.broker).post("/v1/users/create", body, token=token)
        return assert_result(r, 200, 0)

    def channel_url(self, token, ext, broker=None):
        r = (broker or self.broker).post("/v1/channel", {"extension": ext}, token=token)
        body = assert_result(r, 200, 0)
        assert body.get("expires_in") == 60, r.text
        assert "/v1/ws?ticket=" in body["url"], r.text
        return body["url"]

    def post_events(self, integration, token, body, broker=None, headers=None, data=None,
                    query=""):
        b = broker or self.broker
        return b.post("/v1/hooks/%s/native%s" % (integration, query), body, token=token,
                      data=data, headers=dict(headers or {}))

    # ---- Redis inspection
    def snapshot(self):
        """Every stream with its length and last id, and every dedupe marker."""
        r = self.redis
        snap = {}
        for k in r.scan_iter(match="*", count=1000):
            t = r.type(k)
            if t == "stream":
                info = r.xinfo_stream(k)
                snap[k] = ("stream", info["length"], info["last-generated-id"])
            elif ":k:" in k:
                snap[k] = ("key", r.get(k) if t == "string" else t)
        return snap

    def stream_ids(self, key):
        return [i for i, _ in self.redis.xrange(key)]

    def teardown(self):
        failures = []
        for t in list(ALL_TABS):
            try:
                t.close()
            except AssertionError as e:
                failures.append(str(e))
        ALL_TABS.clear()
        for b in self.brokers:
            if not b.stopped:
                rc = b.stop()
                if rc != 0:
                    failures.append("broker %s exited with %r on SIGTERM (expected 0)\nstderr:\n%s" % (
                        b.name, rc, b.stderr()[-5000:]))
            rep = b.sanitizer_report()
            if rep is not None or (os.environ.get("ASAN_OPTIONS") and b.returncode not in (0, None)):
                failures.append("sanitizer report from broker %s:\n%s" % (b.name, (rep or b.stderr())[-20000:]))
        if self.redis_server:
            self.redis_server.stop()
        if failures:
            pytest.fail("\n\n".join(failures), pytrace=False)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "serial: measures time or memory, so make test runs it alone after the tests "
        "it runs in parallel (pytest -n, pytest-xdist)")


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def world(tmp_path, request):
    """Redis only; start brokers yourself with world.start_broker(...)."""
    w = Env(tmp_path)
    w.start_redis()
    yield w
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for b in w.brokers:  # shown under "Captured stdout teardown"
            print("---- broker %s stdout (tail) ----\n%s" % (b.name, b.stdout()[-4000:]))
            print("---- broker %s stderr (tail) ----\n%s" % (b.name, b.stderr()[-4000:]))
    w.teardown()


@pytest.fixture
def env(world):
    """Redis and one broker (admin token and ticket secret set)."""
    world.start_broker()
    return world


@pytest.fixture
def acme(env):
    """Integration "acme" (native adapter) with users 101, 102, 103."""
    integ = env.provision("acme")
    for ext in ("101", "102", "103"):
        integ.add_user(ext, "User " + ext)
    return integ
