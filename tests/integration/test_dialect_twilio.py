"""The twilio dialect on a running broker: recorded callbacks posted as Twilio sent them arrive
over the websocket as their expected events; refused ones store nothing; new signatures are made
by the published npm twilio package (tests/tools/sign_twilio.cjs), never by callrelay's code."""
import json
import subprocess
import urllib.parse

import pytest

from conftest import (TESTS, assert_result, assert_valid_event, error_field, node_tools)

FIXTURES = TESTS / "fixtures" / "twilio"
SETTINGS = {k: v for k, v in json.loads((FIXTURES / "settings.json").read_text()).items()
            if not k.startswith("_")}
SHARED_KEY = SETTINGS["twilio"]["shared_key"]
USERS = ("101", "102", "103")
# What the 400 fixtures' answers must name.
BAD_FIELDS = {"bad-call-status": "CallStatus", "bad-missing-call-sid": "CallSid",
              "bad-missing-call-status": "CallStatus", "bad-recording-duration": "RecordingDuration",
              "bad-sequence-number": "SequenceNumber"}


def fixture(name):
    req = json.loads((FIXTURES / (name + ".request.json")).read_text())
    body = (FIXTURES / req["body_file"]).read_bytes()
    expected = None
    if (FIXTURES / (name + ".expected.json")).exists():
        expected = json.loads((FIXTURES / (name + ".expected.json")).read_text())
    return req, body, expected


def names(prefix_bad):
    out = []
    for p in sorted(FIXTURES.glob("*.request.json")):
        n = p.name[:-len(".request.json")]
        if n.startswith("bad-") == prefix_bad:
            out.append(n)
    return out


def delivered_fixtures():
    """Accepted fixtures whose events name their users (no target; no group call)."""
    out = []
    for n in names(False):
        _, _, expected = fixture(n)
        if n.startswith("group-") or not expected:
            continue
        if all("users" in ev for ev in expected):
            out.append(n)
    return out


def provision(env, name, settings=SETTINGS):
    integ = env.provision(name, settings=settings, adapter="twilio")
    for ext in USERS:
        integ.add_user(ext, "User " + ext)
    return integ


def post(env, integration, subpath, query, headers, body):
    path = "/v1/hooks/%s/twilio%s%s" % (integration, "/" + subpath if subpath else "",
                                        "?" + query if query else "")
    return env.broker.post(path, data=body, headers=dict(headers))


def post_fixture(env, integration, name):
    req, body, _ = fixture(name)
    return post(env, integration, req["subpath"], req["query"], req["headers"], body)


def stored(ev, integration, user):
    """What a user receives for an adapter event: its declarations dropped, the broker's
    fields added (ts only when the PBX gave none)."""
    out = {k: v for k, v in ev.items() if k not in ("users", "order", "key", "target")}
    out.update({"integration": integration, "user": user})
    return out


def assert_twiml(r):
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/xml"), r.headers
    assert r.text == "<Response/>"


@pytest.mark.parametrize("name", delivered_fixtures())
def test_fixture_delivered(env, name):
    integ = provision(env, "tw")
    _, _, expected = fixture(name)
    tabs = {u: integ.tab(u) for u in USERS}
    assert_twiml(post_fixture(env, "tw", name))
    for ev in expected:
        for user in ev["users"]:
            if user not in tabs:
                continue
            got = tabs[user].next_event()
            assert_valid_event(got)
            want = stored(ev, "tw", user)
            if "ts" not in want:
                want["ts"] = got["ts"]
            assert {k: v for k, v in got.items() if k != "id"} == want
    for t in tabs.values():
        t.expect_silence(0.2)


@pytest.mark.parametrize("name", names(True))
def test_bad_fixture_refused_nothing_stored(env, name):
    provision(env, "tw")
    req, _, _ = fixture(name)
    before = env.snapshot()
    r = post_fixture(env, "tw", name)
    want = [req["expect"]["status"]] + req["expect"].get("status_alternatives", [])
    assert r.status_code in want, "%s: %d %s" % (name, r.status_code, r.text)
    body = assert_result(r, r.status_code)
    if r.status_code == 400 and name in BAD_FIELDS:
        assert BAD_FIELDS[name] in (error_field(body) or ""), r.text
    assert env.snapshot() == before


# ---- new signatures, made by the npm twilio package

def twilio_sign(key, url, params=None, body=None, algorithm="HMAC_SHA1"):
    node_tools()
    req = {"key": key, "url": url, "algorithm": algorithm}
    if body is not None:
        req["body"] = body
    else:
        req["params"] = params
    r = subprocess.run(["node", str(TESTS / "tools" / "sign_twilio.cjs")], cwd=str(TESTS),
                       input=json.dumps(req), capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, "sign_twilio.cjs failed: %s" % r.stderr
    return json.loads(r.stdout)


def call_params(sid_tail, status, seq, to="client:101", extra=()):
    return [("AccountSid", "AC000000000000000000000000c0ffee01"),
            ("CallSid", "CA9999999999999999999999999999%s" % sid_tail), ("CallStatus", status),
            ("From", "+14155550100"), ("To", to), ("Direction", "inbound"),
            ("SequenceNumber", str(seq)), ("Timestamp", "Sat, 28 Nov 2026 12:00:00 +0000")] + \
        list(extra)


def as_library_params(pairs):
    """The parameters as express.urlencoded gives them to twilio-node: repeats as arrays."""
    out = {}
    for k, v in pairs:
        out[k] = out[k] + [v] if isinstance(out.get(k), list) else [out[k], v] if k in out else v
    return out


PUBLIC = "https://relay.example.com/v1/hooks/tw/twilio"


@pytest.fixture
def tw(env):
    settings = {"twilio": {"auth_token": "live-token-for-the-npm-signer-0001",
                           "public_url": PUBLIC, "shared_key": "shared-key-for-the-npm-signer"}}
    return provision(env, "tw", settings)


@pytest.mark.parametrize("variant", ["sha1 sub-path and query", "sha256 shared key",
                                     "explicit :443", "repeated parameter"])
def test_form_signed_by_npm_twilio(env, tw, variant):
    t = tw.tab("101")
    pairs = call_params("0001", "in-progress", 1)
    key, algorithm, headers = tw.settings["twilio"]["auth_token"], "HMAC_SHA1", {}
    subpath, query, url_base = "status", "leg=child&tenant=acme", PUBLIC
    if variant == "sha256 shared key":
        key, algorithm = tw.settings["twilio"]["shared_key"], "HMAC_SHA256"
        headers["X-Twilio-Webhooks-Signature-Settings"] = "key=ks_1,algorithm=HMAC_SHA256"
    elif variant == "explicit :443":
        url_base = PUBLIC.replace("relay.example.com", "relay.example.com:443")
    elif variant == "repeated parameter":
        pairs += [("StirVerstat", "TN-Validation-Passed-B"), ("StirVerstat", "TN-Validation-Passed-A")]
    url = "%s/%s?%s" % (url_base, subpath, query)
    signed = twilio_sign(key, url, as_library_params(pairs), algorithm=algorithm)
    headers.update({"Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signed["signature"]})
    r = post(env, "tw", subpath, query, headers, urllib.parse.urlencode(pairs).encode())
    assert_twiml(r)
    ev = t.next_event()
    assert ev["call"]["state"] == "connected" and ev["call"]["to"] == {"extension": "101"}
    assert ev["call_id"] == "CA99999999999999999999999999990001"
    assert ev["ts"] == "2026-11-28T12:00:00.000Z" and ev["source"] == "twilio"


def test_json_body_signed_by_npm_twilio(env, tw):
    t = tw.tab("102")
    body = json.dumps(dict(call_params("0002", "busy", 1, to="client:102")))
    signed = twilio_sign(tw.settings["twilio"]["auth_token"], PUBLIC, body=body)
    query = urllib.parse.urlsplit(signed["url"]).query
    r = post(env, "tw", "", query, {"Content-Type": "application/json",
                                    "X-Twilio-Signature": signed["signature"]}, body.encode())
    assert_twiml(r)
    ev = t.next_event()
    assert ev["call"]["state"] == "disconnected"
    assert ev["call"]["disconnect"] == {"code": 17, "text": "user busy"}


@pytest.mark.parametrize("case", ["other token", "other sub-path", "body changed",
                                  "sha256 without header"])
def test_npm_signature_mismatch_is_401(env, tw, case):
    pairs = call_params("0003", "ringing", 0)
    key, algorithm, subpath, headers = tw.settings["twilio"]["auth_token"], "HMAC_SHA1", "", {}
    if case == "other token":
        key = "not-the-integration-token-000000"
    elif case == "sha256 without header":
        key, algorithm = tw.settings["twilio"]["shared_key"], "HMAC_SHA256"
    signed = twilio_sign(key, PUBLIC + ("/elsewhere" if case == "other sub-path" else ""),
                         as_library_params(pairs), algorithm=algorithm)
    if case == "body changed":
        pairs[2] = ("CallStatus", "in-progress")
    headers.update({"Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signed["signature"]})
    before = env.snapshot()
    r = post(env, "tw", subpath, "", headers, urllib.parse.urlencode(pairs).encode())
    body = assert_result(r, 401)
    assert error_field(body) == "X-Twilio-Signature", r.text
    assert env.snapshot() == before


@pytest.mark.parametrize("settings,field", [
    ({}, "settings.twilio"),
    ({"twilio": {"public_url": PUBLIC}}, "settings.twilio.auth_token"),
    ({"twilio": {"auth_token": "t"}}, "settings.twilio.public_url"),
    ({"twilio": {"auth_token": "t", "public_url": "relay.example.com/x"}},
     "settings.twilio.public_url"),
    ({"twilio": {"auth_token": "t", "public_url": PUBLIC, "sharedKey": "k"}},
     "settings.twilio.sharedKey"),
])
def test_settings_refused_naming_the_field(env, settings, field):
    r = env.broker.admin("/v1/integration/create", {"name": "tw", "adapter": "twilio",
                                                    "settings": settings})
    body = assert_result(r, 400)
    assert error_field(body) == field, r.text
