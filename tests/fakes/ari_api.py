"""ari_api.py — a fake of Asterisk's ARI REST interface for channels (../shared/ADAPTERS.md,
"asterisk"; rest-api/api-docs/channels.json of ARI 2.0.0): HTTP Basic (else 401), parameters
in the query string, errors as {"message": ...}.

    POST   /ari/channels?endpoint=&extension=&context=&priority=[&callerId=]  -> 200 Channel
           no endpoint -> 400; an endpoint of an unknown technology -> 400
    POST   /ari/channels/{id}/redirect?endpoint=   -> 204; unknown channel 404; a channel not
           in Stasis 409; no endpoint 400; an endpoint of an unknown technology 422
    DELETE /ari/channels/{id}                       -> 204; unknown 404
    GET    /ari/recordings/stored/{name}/file       -> the file, or 404

add_channel(id, stasis=True) seeds a live channel; channels() shows what became of them.
As a program: ari_api.py --user U --password P [--port P]."""
import base64
import itertools
import re
import threading
import urllib.parse

from fake_api import FakeApi, json_answer, run_main

TECHS = ("PJSIP", "SIP", "IAX2", "Local", "DAHDI")
CHANNEL = re.compile(r"^/ari/channels/([^/]+)$")
REDIRECT = re.compile(r"^/ari/channels/([^/]+)/redirect$")
STORED = re.compile(r"^/ari/recordings/stored/([^/]+)/file$")


def ari_error(status, message):
    return json_answer(status, {"message": message})


class AriApi(FakeApi):
    def __init__(self, user, password, **kw):
        super().__init__(**kw)
        self.user, self.password = user, password
        self._channels = {}
        self.recordings = {}
        self._seq = itertools.count(1)
        self._chan_lock = threading.Lock()

    def add_channel(self, channel_id, stasis=True):
        with self._chan_lock:
            self._channels[channel_id] = {"id": channel_id, "stasis": stasis, "state": "Up",
                                          "redirected_to": None}

    def add_recording(self, name, data):
        self.recordings[name] = data

    def channels(self):
        with self._chan_lock:
            return {k: dict(v) for k, v in self._channels.items()}

    def _authorized(self, req):
        want = "Basic " + base64.b64encode(("%s:%s" % (self.user, self.password)).encode()).decode()
        return req["headers"].get("authorization") == want

    def answer(self, req):
        if not self._authorized(req):
            return ari_error(401, "Authentication required")
        path, method = req["path"], req["method"]
        if path == "/ari/channels" and method == "POST":
            return self._originate(req["query"])
        m = REDIRECT.match(path)
        if m and method == "POST":
            return self._redirect(urllib.parse.unquote(m.group(1)), req["query"])
        m = CHANNEL.match(path)
        if m and method == "DELETE":
            return self._hangup(urllib.parse.unquote(m.group(1)))
        m = STORED.match(path)
        if m and method == "GET":
            data = self.recordings.get(urllib.parse.unquote(m.group(1)))
            if data is None:
                return ari_error(404, "Recording not found")
            return 200, {"Content-Type": "audio/wav"}, data
        return ari_error(404, "Resource not found")

    def _originate(self, q):
        endpoint = q.get("endpoint")
        if not endpoint:
            return ari_error(400, "Endpoint must be specified")
        if endpoint.split("/")[0] not in TECHS:
            return ari_error(400, "Endpoint is not a valid tech/resource")
        if not q.get("extension") and not q.get("app"):
            return ari_error(400, "Application or extension must be specified")
        cid = "1700000000.%d" % next(self._seq)
        with self._chan_lock:
            self._channels[cid] = {"id": cid, "stasis": True, "state": "Down",
                                   "endpoint": endpoint, "extension": q.get("extension"),
                                   "context": q.get("context"), "redirected_to": None}
        return json_answer(200, {"id": cid, "name": endpoint + "-00000001", "state": "Down",
                                 "caller": {"name": "", "number": q.get("callerId", "")},
                                 "connected": {"name": "", "number": ""}, "accountcode": "",
                                 "dialplan": {"context": q.get("context", "default"),
                                              "exten": q.get("extension", ""), "priority": 1},
                                 "creationtime": "2026-11-28T10:00:00.000+0000",
                                 "language": "en"})

    def _redirect(self, cid, q):
        endpoint = q.get("endpoint")
        with self._chan_lock:
            ch = self._channels.get(cid)
            if ch is None:
                return ari_error(404, "Channel not found")
            if not endpoint:
                return ari_error(400, "Required parameter endpoint not present")
            if not ch["stasis"]:
                return ari_error(409, "Channel not in Stasis application")
            if endpoint.split("/")[0] not in TECHS:
                return ari_error(422, "Endpoint parameter specified an unknown technology")
            ch["redirected_to"] = endpoint
        return 204, {}, b""

    def _hangup(self, cid):
        with self._chan_lock:
            if self._channels.pop(cid, None) is None:
                return ari_error(404, "Channel not found")
        return 204, {}, b""


if __name__ == "__main__":
    def add(p):
        p.add_argument("--user", required=True)
        p.add_argument("--password", required=True)
    run_main(lambda a: AriApi(a.user, a.password), add)
