"""fake_api.py — what the fake PBX APIs (mango_api.py, twilio_api.py, ari_api.py) share: a
threaded HTTP/1.1 server on 127.0.0.1 that records every request it received, can be told to
never answer (a PBX that hangs), and is run either as a module or as a program.

A subclass implements answer(req) -> (status, headers, body) where req is a dict
{"method", "path", "query" (name -> value), "headers" (lower-case names), "body" (str),
"form" (name -> value, for a form body)}.

As a program: `/usr/bin/python3 tests/fakes/NAME.py [--port P] [options]` prints {"port": P} on
one line; GET /_records answers what was recorded, POST /_control {"hang": bool, "reset": true}
changes behaviour (plus what the subclass accepts in control())."""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def first_values(qs):
    return {k: v[0] if len(v) == 1 else v for k, v in qs.items()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _handle(self):
        fake = self.server.owner
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        u = urlsplit(self.path)
        body = raw.decode("utf-8", "replace")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        req = {"t": time.time(), "method": self.command, "path": u.path, "raw_query": u.query,
               "query": first_values(parse_qs(u.query, keep_blank_values=True)),
               "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body,
               "form": first_values(parse_qs(body, keep_blank_values=True))
               if ctype == "application/x-www-form-urlencoded" else {}}
        if u.path == "/_records" and self.command == "GET":
            return self._send(200, {"Content-Type": "application/json"},
                              json.dumps(fake.records()).encode())
        if u.path == "/_control" and self.command == "POST":
            fake.control(json.loads(body or "{}"))
            return self._send(200, {"Content-Type": "application/json"}, b"{}")
        fake._record(req)
        if fake.hanging:
            fake._stopping.wait(120)
            return
        status, headers, out = fake.answer(req)
        req["status"] = status
        self._send(status, headers, out)

    def _send(self, status, headers, body):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def json_answer(status, obj, extra=None):
    h = {"Content-Type": "application/json"}
    h.update(extra or {})
    return status, h, json.dumps(obj).encode()


class FakeApi:
    def __init__(self, port=0, host="127.0.0.1"):
        self.host = host
        self.port = port
        self.hanging = False
        self._lock = threading.Lock()
        self._records = []
        self._stopping = threading.Event()
        self._server = None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    def start(self):
        self._server = _Server((self.host, self.port), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self):
        self._stopping.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def hang(self, on=True):
        """Never answer (until stopped): a PBX that does not answer in time."""
        self.hanging = bool(on)

    def records(self, path_prefix=None):
        with self._lock:
            return [dict(r) for r in self._records
                    if path_prefix is None or r["path"].startswith(path_prefix)]

    def reset(self):
        with self._lock:
            self._records = []
        self.hanging = False

    def control(self, c):
        if c.get("reset"):
            self.reset()
        if "hang" in c:
            self.hang(c["hang"])

    def _record(self, req):
        with self._lock:
            self._records.append(req)

    def answer(self, req):
        raise NotImplementedError


def run_main(make, add_args=None):
    """Runs the fake made by make(args) until interrupted, printing {"port": P} first."""
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    if add_args:
        add_args(p)
    args = p.parse_args()
    fake = make(args)
    fake.port = args.port
    fake.start()
    print(json.dumps({"port": fake.port}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()
