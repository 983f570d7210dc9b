"""twilio_api.py — a fake of Twilio's REST API for calls (../shared/ADAPTERS.md, "twilio"):
HTTP Basic with the account SID and auth token (else 401 {"code": 20003}), form-encoded.

    POST /2010-04-01/Accounts/{sid}/Calls.json        To, From, Twiml or Url -> 201 {"sid": "CA..."}
    POST /2010-04-01/Accounts/{sid}/Calls/{call}.json  Twiml / Url (redirect) or Status=completed
         unknown call -> 404 {"code": 20404}; a call no longer in progress -> 400 {"code": 21220}
    GET  /2010-04-01/Accounts/{sid}/Recordings/{rec}.wav -> the file, or 404 {"code": 20404}

Every error is Twilio's JSON {"code", "message", "more_info", "status"}. add_call(sid, status)
seeds a live call; calls(sid) shows what became of it; records() what arrived.
As a program: twilio_api.py --account-sid AC... --auth-token T [--port P]."""
import base64
import itertools
import re
import threading

from fake_api import FakeApi, json_answer, run_main

CALLS = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Calls\.json$")
CALL = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Calls/([^/]+)\.json$")
RECORDING = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Recordings/([^/]+)\.wav$")


def twilio_error(status, code, message):
    return json_answer(status, {"code": code, "message": message, "status": status,
                                "more_info": "https://www.twilio.com/docs/errors/%d" % code})


class TwilioApi(FakeApi):
    def __init__(self, account_sid, auth_token, **kw):
        super().__init__(**kw)
        self.sid, self.token = account_sid, auth_token
        self._calls = {}
        self.recordings = {}
        self._seq = itertools.count(1)
        self._calls_lock = threading.Lock()

    def add_call(self, sid, status="in-progress"):
        with self._calls_lock:
            self._calls[sid] = {"sid": sid, "status": status, "twiml": None}

    def add_recording(self, sid, data):
        self.recordings[sid] = data

    def calls(self, sid=None):
        with self._calls_lock:
            return dict(self._calls[sid]) if sid else {k: dict(v) for k, v in self._calls.items()}

    def control(self, c):
        super().control(c)
        for sid, status in (c.get("calls") or {}).items():
            self.add_call(sid, status)

    def _authorized(self, req):
        want = "Basic " + base64.b64encode(("%s:%s" % (self.sid, self.token)).encode()).decode()
        return req["headers"].get("authorization") == want

    def answer(self, req):
        if not self._authorized(req):
            return twilio_error(401, 20003, "Authenticate")
        path, m = req["path"], None
        for pattern, fn in ((CALLS, self._create), (CALL, self._update),
                            (RECORDING, self._recording)):
            m = pattern.match(path)
            if m:
                if m.group(1) != self.sid:
                    return twilio_error(404, 20404, "The requested resource was not found")
                return fn(req, *m.groups()[1:])
        return twilio_error(404, 20404, "The requested resource %s was not found" % path)

    def _create(self, req):
        f = req["form"]
        if req["method"] != "POST":
            return twilio_error(405, 20004, "Method not allowed")
        for name in ("To", "From"):
            if not f.get(name):
                return twilio_error(400, 21201 if name == "To" else 21213,
                                    "No '%s' number is specified" % name)
        if not f.get("Twiml") and not f.get("Url"):
            return twilio_error(400, 21205, "Url or Twiml parameter is required")
        sid = "CA%032x" % next(self._seq)
        with self._calls_lock:
            self._calls[sid] = {"sid": sid, "status": "queued", "to": f["To"], "from": f["From"],
                                "twiml": f.get("Twiml")}
        return json_answer(201, {"sid": sid, "account_sid": self.sid, "to": f["To"],
                                 "from": f["From"], "status": "queued"})

    def _update(self, req, call_sid):
        f = req["form"]
        if req["method"] != "POST":
            return twilio_error(405, 20004, "Method not allowed")
        with self._calls_lock:
            call = self._calls.get(call_sid)
            if call is None:
                return twilio_error(404, 20404, "The requested resource "
                                    "/2010-04-01/Accounts/%s/Calls/%s.json was not found"
                                    % (self.sid, call_sid))
            if call["status"] in ("completed", "busy", "failed", "no-answer", "canceled"):
                return twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
            if f.get("Status") == "completed":
                call["status"] = "completed"
            elif f.get("Twiml") or f.get("Url"):
                call["twiml"] = f.get("Twiml") or f.get("Url")
            else:
                return twilio_error(400, 21205, "Url, Twiml or Status is required")
            return json_answer(200, {"sid": call_sid, "status": call["status"]})

    def _recording(self, req, rec_sid):
        data = self.recordings.get(rec_sid)
        if data is None or req["method"] != "GET":
            return twilio_error(404, 20404, "The requested resource was not found")
        return 200, {"Content-Type": "audio/x-wav"}, data


if __name__ == "__main__":
    def add(p):
        p.add_argument("--account-sid", required=True)
        p.add_argument("--auth-token", required=True)
    run_main(lambda a: TwilioApi(a.account_sid, a.auth_token), add)
