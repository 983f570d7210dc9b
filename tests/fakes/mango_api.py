"""mango_api.py — a fake Mango Office VPBX API (../shared/ADAPTERS.md, "mango"): takes the
signed form (vpbx_api_key, sign = sha256(key + json + salt), json) at /vpbx/commands/callback,
/vpbx/commands/route, /vpbx/commands/transfer, /vpbx/commands/call/hangup and
/vpbx/queries/recording/post; answers {"result": 1000}, and a moment later posts the outcome
to the external system as Mango does: /result/callback, /result/route, /result/transfer,
/result/call/hangup with {"command_id", "result"}, signed the same way, to the hook URL given
at start (the broker's /v1/hooks/INTEGRATION/mango).

Errors are scripted per call_id: error(call_id, 3310) answers 200 {"result": 3310}, and
error(call_id, 4101, shape="code") answers 420 {"code": 4101} (the PDF's shape). A route's later
outcome is route_outcome(call_id, code) (1000 by default). A wrong key answers {"result": 3105},
a wrong sign {"result": 3102}. The recording query answers 302 to a file URL on this server for
a recording added with add_recording(id, data, content_type), else 420 {"code": 3320} (or 200
{"result": 3320} with recording_error_shape = "result").

    fake = MangoApi("KEY", "SALT", hook_url="http://127.0.0.1:8080/v1/hooks/acme/mango").start()
    fake.url + "/vpbx/"  -> settings.mango.base_url
    fake.records("/vpbx/commands")  -> what arrived, each with "json" (the decoded command)
    fake.posted  -> the results posted back: [{"path", "json", "status"}]
As a program: mango_api.py --key K --salt S --hook-url URL [--port P] [--result-delay-ms N]."""
import hashlib
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from fake_api import FakeApi, json_answer, run_main

COMMANDS = {"commands/callback": "callback", "commands/route": "route",
            "commands/transfer": "transfer", "commands/call/hangup": "call/hangup"}


def mango_sign(key, js, salt):
    return hashlib.sha256((key + js + salt).encode()).hexdigest()


class MangoApi(FakeApi):
    def __init__(self, key, salt, hook_url=None, result_delay_ms=200, **kw):
        super().__init__(**kw)
        self.key, self.salt, self.hook_url = key, salt, hook_url
        self.result_delay_s = result_delay_ms / 1000.0
        self.errors = {}      # call_id -> (code, shape)
        self.outcomes = {}    # call_id -> route/transfer outcome code posted later
        self.recordings = {}  # recording_id -> (bytes, content type)
        self.recording_error_shape = "code"  # an unknown recording: 420 {"code"}, or "result"
        self.posted = []
        self._posting = []

    # ---- behaviour
    def error(self, call_id, code, shape="result"):
        self.errors[call_id] = (int(code), shape)

    def route_outcome(self, call_id, code):
        self.outcomes[call_id] = int(code)

    def add_recording(self, recording_id, data, content_type="audio/mpeg"):
        self.recordings[recording_id] = (data, content_type)

    def control(self, c):
        super().control(c)
        for call_id, code in (c.get("errors") or {}).items():
            self.error(call_id, code)
        if "hook_url" in c:
            self.hook_url = c["hook_url"]

    def wait_posted(self, n, timeout=5):
        end = time.time() + timeout
        while len(self.posted) < n and time.time() < end:
            time.sleep(0.02)
        return list(self.posted)

    # ---- the API
    def answer(self, req):
        path = req["path"]
        if path.startswith("/files/"):
            rec = self.recordings.get(urllib.parse.unquote(path[len("/files/"):]))
            if not rec:
                return 404, {"Content-Type": "text/plain"}, b"gone"
            return 200, {"Content-Type": rec[1]}, rec[0]
        if req["method"] != "POST" or not path.startswith("/vpbx/"):
            return 404, {"Content-Type": "text/plain"}, b"not a Mango path"
        name = path[len("/vpbx/"):]
        if req["headers"].get("content-type", "").split(";")[0] != \
                "application/x-www-form-urlencoded":
            return json_answer(200, {"result": 3100})
        problem = self._check_sign(req)
        if problem:
            return json_answer(200, {"result": problem})
        try:
            doc = json.loads(req["form"]["json"])
        except ValueError:
            return json_answer(200, {"result": 3100})
        req["json"] = doc
        if name == "queries/recording/post":
            return self._recording(doc)
        if name not in COMMANDS:
            return json_answer(404, {"result": 3100})
        scripted = self.errors.get(doc.get("call_id"))
        if scripted:
            code, shape = scripted
            return json_answer(420, {"code": code}) if shape == "code" else \
                json_answer(200, {"result": code})
        self._post_later(COMMANDS[name], doc)
        return json_answer(200, {"result": 1000})

    def _check_sign(self, req):
        f = req["form"]
        if f.get("vpbx_api_key") != self.key:
            return 3105
        if f.get("sign") != mango_sign(self.key, f.get("json", ""), self.salt):
            return 3102
        return None

    def _recording(self, doc):
        rid = doc.get("recording_id")
        if doc.get("action") != "download" or rid not in self.recordings:
            return json_answer(200, {"result": 3320}) if self.recording_error_shape == "result" \
                else json_answer(420, {"code": 3320})
        return 302, {"Location": self.url + "/files/" + urllib.parse.quote(rid, safe=""),
                     "Content-Type": "text/plain"}, b""

    # ---- the later result, as Mango posts it
    def _post_later(self, command, doc):
        if not self.hook_url or "command_id" not in doc:
            return
        code = self.outcomes.get(doc.get("call_id"), 1000)
        body = {"command_id": doc["command_id"], "result": code}
        t = threading.Timer(self.result_delay_s, self._post, ("result/" + command, body))
        t.daemon = True
        t.start()

    def _post(self, path, doc):
        js = json.dumps(doc, separators=(",", ":"))
        form = urllib.parse.urlencode({"vpbx_api_key": self.key,
                                       "sign": mango_sign(self.key, js, self.salt), "json": js})
        url = self.hook_url.rstrip("/") + "/" + path
        rq = urllib.request.Request(url, data=form.encode(), method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(rq, timeout=5) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError:
            status = 0
        self.posted.append({"path": "/" + path, "json": doc, "status": status})


if __name__ == "__main__":
    def add(p):
        p.add_argument("--key", required=True)
        p.add_argument("--salt", required=True)
        p.add_argument("--hook-url")
        p.add_argument("--result-delay-ms", type=int, default=200)
    run_main(lambda a: MangoApi(a.key, a.salt, a.hook_url, a.result_delay_ms), add)
