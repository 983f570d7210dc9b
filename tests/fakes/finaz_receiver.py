"""finaz_receiver.py — a fake Finaz: serves GET /telephony-proxy/atendimentodiscador (the
"chamada atendida" notification of ../shared/reference/finaz-generic-telephony.txt), refuses a
request that lacks one of its parameters (400 naming it), records every request and can be told
to fail.

As a module (the integration tests):
    rx = FinazReceiver().start()          # 127.0.0.1, a free port; rx.url, rx.port
    rx.fail_next(2); rx.fail(True); rx.down(); rx.up(); rx.delay(20)
    rx.records() -> [{"t", "method", "path", "raw_query", "query", "headers", "body", "status"}]
    rx.stop()
As a program (by hand, or from a test in another language):
    /usr/bin/python3 tests/fakes/finaz_receiver.py [PORT]
prints {"port": P, "control_port": C} on one line; on the control port GET /_records and POST
/_control {"fail_next": N, "fail": bool, "down": bool, "delay_ms": X, "reset": true}.
"""
import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FINAZ_PATH = "/telephony-proxy/atendimentodiscador"
FINAZ_PARAMS = ("pid", "num", "cid", "ramal", "empresaId")


def finaz_problem(path, query):
    """None when the request is what Finaz asks for; else (status, message)."""
    if path != FINAZ_PATH:
        return 404, "no such path: %s" % path
    for name in FINAZ_PARAMS:
        values = query.get(name)
        if not values or not values[0]:
            return 400, "parameter %s is missing or empty" % name
        if len(values) != 1:
            return 400, "parameter %s given %d times" % (name, len(values))
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # two brokers open their connections at once

    def handle_error(self, request, client_address):
        # a client that went away mid-answer (a broker killed with -9) is part of the tests
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint; down() closes what is open

    def setup(self):
        super().setup()
        self.server.owner._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, False)

    def log_message(self, *args):
        pass

    def _handle(self):
        rx = self.server.owner
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        u = urlsplit(self.path)
        query = parse_qs(u.query, keep_blank_values=True, strict_parsing=False, encoding="utf-8",
                         errors="strict") if u.query else {}
        status, message = rx._decide(self.command, u.path, query)
        if rx._delay_s:
            time.sleep(rx._delay_s)
        rec = {"t": time.time(), "method": self.command, "path": u.path, "raw_query": u.query,
               "query": {k: v[0] if len(v) == 1 else v for k, v in query.items()},
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body.decode("utf-8", "replace"), "status": status}
        out = json.dumps({"ok": status == 200, "message": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
        self.wfile.flush()
        rec["t_answered"] = time.time()
        rx._record(rec)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class FinazReceiver:
    def __init__(self, port=0, host="127.0.0.1"):
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._records = []
        self._fail_next = 0
        self._fail = False
        self._delay_s = 0.0
        self._conns = set()
        self._server = None
        self._thread = None

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self.port)

    # ---- life
    def start(self):
        self._server = _Server((self.host, self.port), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def down(self):
        """Closes the listener (new connections are refused) and every open connection."""
        srv, self._server = self._server, None
        if srv is None:
            return
        srv.shutdown()
        srv.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)

    def up(self):
        if self._server is None:
            self.start()

    def stop(self):
        self.down()

    # ---- behaviour
    def fail_next(self, n):
        """Answer 500 to the next n requests."""
        with self._lock:
            self._fail_next = int(n)

    def fail(self, on=True):
        """Answer 500 until told otherwise."""
        with self._lock:
            self._fail = bool(on)

    def delay(self, ms):
        self._delay_s = max(0.0, ms / 1000.0)

    def reset(self):
        with self._lock:
            self._records = []
            self._fail_next = 0
            self._fail = False
        self._delay_s = 0.0

    # ---- what arrived
    def records(self):
        with self._lock:
            return list(self._records)

    def ok_records(self):
        return [r for r in self.records() if r["status"] == 200]

    # ---- internals
    def _decide(self, method, path, query):
        problem = finaz_problem(path, query) if method == "GET" else (405, "GET only")
        with self._lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return 500, "told to fail"
            if self._fail:
                return 500, "told to fail"
        return problem or (200, "ok")

    def _record(self, rec):
        with self._lock:
            self._records.append(rec)

    def _track(self, conn, add):
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)


# --------------------------------------------------------------------------- as a program

def _control_server(rx):
    class Control(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, obj, status=200):
            out = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def do_GET(self):
            if self.path == "/_records":
                return self._answer({"records": rx.records()})
            self._answer({"error": "GET /_records or POST /_control"}, 404)

        def do_POST(self):
            if self.path != "/_control":
                return self._answer({"error": "POST /_control"}, 404)
            try:
                c = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            except ValueError:
                return self._answer({"error": "body is not JSON"}, 400)
            if c.get("reset"):
                rx.reset()
            if "fail_next" in c:
                rx.fail_next(c["fail_next"])
            if "fail" in c:
                rx.fail(c["fail"])
            if "delay_ms" in c:
                rx.delay(float(c["delay_ms"]))
            if c.get("down") is True:
                rx.down()
            elif c.get("down") is False:
                rx.up()
            self._answer({"ok": True})

    return _Server(("127.0.0.1", 0), Control)


def main(argv):
    rx = FinazReceiver(port=int(argv[1]) if len(argv) > 1 else 0).start()
    ctl = _control_server(rx)
    print(json.dumps({"port": rx.port, "control_port": ctl.server_address[1]}), flush=True)
    try:
        ctl.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    rx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
