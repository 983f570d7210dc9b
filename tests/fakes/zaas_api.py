"""zaas_api.py — a fake ZaaS / FlexContact Voice API as ../shared/reference/zaas-voice-api.txt
documents it (and ../shared/ADAPTERS.md "zaas" for what it leaves open): POST Login, Call/Server,
Call/Create, Call/Status, JSON bodies, every method but Login with `token` as the FIRST field.

- Login {login, password} -> a token that expires token_ttl_s after it was issued; its answer
  is {"token": ...} or [{"token": ...}] (login_shape). Wrong credentials: 401.
- An expired or unknown token: HTTP 401, or 200 with [{"error": "Token invalido ou expirado"}]
  (expiry = "401" or "text").
- Call/Server {token, codCampaign} -> [{rtc..., "api_key": API_KEY, "agent_id": ...}].
- Call/Create {token, codCampaign, api_key, call_destination, call_type, call_cid,
  call_recorder} -> [{"_id": ...}]; NO_ENDPOINT_REGISTERED when the destination is in
  no_endpoint or the agent is offline (set_offline), as 200 [{"error": ...}] or as HTTP 400
  {"message": ...} (no_endpoint_status).
- Call/Status {token, codCampaign, _id} -> [{"_id", "status", "isdn_code", "isdn_reason"}], or
  with spelling = "voice" the document's own example's fields (voice_status,
  voice_code_result, voice_text_result), numbers as strings. Each call follows a script
  (default Setup, Dialing, Answered, Finished with ISDN 16): advance = "poll" moves it on after
  polls_per_status polls of one status; advance = "time" after step_s seconds per status.

As a module (the integration tests):
    z = ZaasApi(token_ttl_s=3, expiry="401").start()      # z.url is the base URL (".../Voice")
    z.no_endpoint.add("5511999990000"); z.set_offline(True); z.fail_status(2)
    z.records() -> [{"t", "path", "body" (parsed JSON or None), "status", "answer"}]
    z.calls() -> {id: {"destination", "polls", "index", "script"}}
    z.stop()
As a program: /usr/bin/python3 tests/fakes/zaas_api.py [PORT] prints {"port": P, "url": U}.
"""
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOGIN, PASSWORD, CAMPAIGN = "flex", "12345678", "0"
API_KEY = "OMN-04-2908-000-000000"
DEFAULT_SCRIPT = (("Setup", None, None), ("Dialing", None, None), ("Answered", None, None),
                  ("Finished", 16, "Normal call clearing"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # a broker killed with -9 mid-request is part of the tests
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802 (http.server's naming)
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        z = self.server.owner
        try:
            body = json.loads(raw.decode()) if raw else None
        except ValueError:
            body = None
        status, answer = z._handle(self.path, body)
        data = json.dumps(answer).encode()
        z._record(self.path, body, status, answer)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        self.send_response(405)
        self.send_header("Content-Length", "0")
        self.end_headers()


class ZaasApi:
    def __init__(self, token_ttl_s=3600.0, expiry="401", login_shape="object", spelling="isdn",
                 advance="poll", polls_per_status=2, step_s=0.5, no_endpoint_status=200,
                 script=DEFAULT_SCRIPT, prefix="/Voice"):
        assert expiry in ("401", "text") and login_shape in ("object", "array")
        assert spelling in ("isdn", "voice") and advance in ("poll", "time")
        self.token_ttl_s = token_ttl_s
        self.expiry = expiry
        self.login_shape = login_shape
        self.spelling = spelling
        self.advance = advance
        self.polls_per_status = polls_per_status
        self.step_s = step_s
        self.no_endpoint_status = no_endpoint_status
        self.script = list(script)
        self.prefix = prefix
        self.no_endpoint = set()  # destinations whose Call/Create answers NO_ENDPOINT_REGISTERED
        self._offline = False
        self._fail_status = 0
        self._lock = threading.Lock()
        self._tokens = {}  # token -> expiry (monotonic)
        self._calls = {}
        self._records = []
        self._server = None

    # ---- control
    def start(self, port=0):
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.owner = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return "http://127.0.0.1:%d%s" % (self.port, self.prefix)

    def set_offline(self, offline):
        """The agent's webphone is (not) registered: every Call/Create fails while offline."""
        with self._lock:
            self._offline = offline

    def fail_status(self, n):
        """The next n Call/Status requests answer 500."""
        with self._lock:
            self._fail_status = n

    def expire_tokens(self):
        with self._lock:
            for t in self._tokens:
                self._tokens[t] = 0

    def records(self, path=None):
        with self._lock:
            return [dict(r) for r in self._records if path is None or r["path"] == self.prefix + path]

    def calls(self):
        with self._lock:
            return json.loads(json.dumps(self._calls))

    # ---- the API
    def _record(self, path, body, status, answer):
        with self._lock:
            self._records.append({"t": time.time(), "path": path, "body": body, "status": status,
                                  "answer": answer})

    def _handle(self, path, body):
        if not path.startswith(self.prefix + "/"):
            return 404, {"message": "no such method"}
        method = path[len(self.prefix) + 1:]
        if method == "Login":
            return self._login(body)
        handler = {"Call/Server": self._server_info, "Call/Create": self._create,
                   "Call/Status": self._status}.get(method)
        if handler is None:
            return 404, {"message": "no such method: %s" % method}
        if not isinstance(body, dict) or not body or next(iter(body)) != "token":
            return 400, {"message": "token must be the first field of the JSON"}
        with self._lock:
            expiry = self._tokens.get(body["token"])
            valid = expiry is not None and time.monotonic() < expiry
        if not valid:
            if self.expiry == "401":
                return 401, {"message": "Unauthorized"}
            return 200, [{"error": "Token invalido ou expirado"}]
        if body.get("codCampaign") != CAMPAIGN:
            return 400, [{"error": "codCampaign invalido"}]
        return handler(body)

    def _login(self, body):
        if not isinstance(body, dict) or body.get("login") != LOGIN or body.get("password") != PASSWORD:
            return 401, {"message": "login ou senha invalidos"}
        token = secrets.token_hex(12)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.token_ttl_s
        return 200, ({"token": token} if self.login_shape == "object" else [{"token": token}])

    def _server_info(self, body):
        return 200, [{"rtcSignalingServer": "rtc1.example", "rtcMediaServer": "rtc1.example",
                      "rtcSignalingPort": "5060", "rtcWsServer": "wss://rtc1.example:8089/ws",
                      "rtcURIAddr": "sip:agent@rtc1.example", "rtcUAUsername": "agent",
                      "rtcUAPassword": "123456", "api_key": API_KEY,
                      "caller_ident_external": "554800037656", "agent_id": "5d67e9cce687049f9866d000"}]

    def _create(self, body):
        if body.get("api_key") != API_KEY:
            return 400, [{"error": "api_key invalida"}]
        dest = body.get("call_destination")
        if not isinstance(dest, str) or not dest:
            return 400, [{"error": "call_destination obrigatorio"}]
        if body.get("call_type") not in ("external", "internal"):
            return 400, [{"error": "call_type invalido"}]
        if body.get("call_recorder") not in ("0", "1", "2"):
            return 400, [{"error": "call_recorder invalido"}]
        with self._lock:
            offline = self._offline or dest in self.no_endpoint
        if offline:
            if self.no_endpoint_status == 200:
                return 200, [{"error": "NO_ENDPOINT_REGISTERED"}]
            return self.no_endpoint_status, {"message": "Call failed: NO_ENDPOINT_REGISTERED"}
        call_id = secrets.token_hex(12)
        with self._lock:
            self._calls[call_id] = {"destination": dest, "cid": body.get("call_cid"),
                                    "created": time.monotonic(), "polls": 0, "index": 0,
                                    "served": 0, "script": [s[0] for s in self.script]}
        return 200, [{"_id": call_id}]

    def _current(self, c):
        """The script step a poll sees now, moving the call on as configured."""
        last = len(self.script) - 1
        if self.advance == "time":
            c["index"] = min(int((time.monotonic() - c["created"]) / self.step_s), last)
            return self.script[c["index"]]
        step = self.script[c["index"]]
        c["served"] += 1
        if c["served"] >= self.polls_per_status and c["index"] < last:
            c["index"] += 1
            c["served"] = 0
        return step

    def _status(self, body):
        call_id = body.get("_id")
        with self._lock:
            if self._fail_status > 0:
                self._fail_status -= 1
                return 500, {"message": "internal error"}
            c = self._calls.get(call_id)
            if c is None:
                return 404, [{"error": "chamada nao encontrada"}]
            c["polls"] += 1
            status, code, reason = self._current(c)
        if self.spelling == "isdn":
            out = {"_id": call_id, "status": status}
            if code is not None:
                out.update({"isdn_code": code, "isdn_reason": reason})
        else:
            out = {"_id": call_id, "voice_status": status}
            if code is not None:
                out.update({"voice_code_result": str(code), "voice_text_result": reason})
        return 200, [out]


if __name__ == "__main__":
    z = ZaasApi().start(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(json.dumps({"port": z.port, "url": z.url}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        z.stop()
