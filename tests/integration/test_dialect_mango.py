"""The Mango dialect against a running broker: the recorded fixtures (tests/fixtures/mango) are
posted as Mango posts them and their events arrive over the websocket, equal to the expected
ones plus what the broker adds; refused fixtures store nothing. New signs are made with
hashlib: Mango's sign is the documented sha256(vpbx_api_key + json + api_salt)."""
import hashlib
import json
import types
import urllib.parse

import pytest

from conftest import ROOT, Tab, assert_result, assert_valid_event

FIX = ROOT / "tests" / "fixtures" / "mango"
SETTINGS = {k: v for k, v in json.loads((FIX / "settings.json").read_text()).items()
            if not k.startswith("_")}
KEY, SALT = SETTINGS["mango"]["api_key"], SETTINGS["mango"]["api_salt"]

# Accepted fixtures whose events name their users, in the order a PBX sends them (not the
# stale replay nor the group call: their outcome is the per-call state's, tested elsewhere).
DELIVERED = ["inbound-appeared", "inbound-connected", "inbound-disconnected", "busy-appeared",
             "busy-disconnected", "noanswer-disconnected", "outbound-appeared",
             "outbound-connected", "outbound-disconnected", "recording-too-short"]
NOTHING_STORED = ["ping-empty", "ping-signed", "summary", "recording-started",
                  "recording-completed", "result-call-hangup"]
REFUSED = sorted(p.name[:-len(".request.json")] for p in FIX.glob("bad-*.request.json"))


def fixture(name):
    rq = json.loads((FIX / (name + ".request.json")).read_text())
    body = (FIX / rq["body_file"]).read_bytes()
    exp = FIX / (name + ".expected.json")
    return rq, body, json.loads(exp.read_text()) if exp.exists() else None


def post(env, subpath, body, headers=None, query=""):
    headers = dict(headers or {"Content-Type": "application/x-www-form-urlencoded"})
    path = "/v1/hooks/acme/mango/" + subpath + ("?" + query if query else "")
    return env.broker.post(path, data=body, headers=headers)


def post_fixture(env, name):
    rq, body, _ = fixture(name)
    return post(env, rq["subpath"], body, rq["headers"], rq.get("query", ""))


def stored(ev, user):
    """The expected event as the broker stores it: declarations dropped, user added."""
    out = {k: v for k, v in ev.items() if k not in ("users", "target", "order", "key")}
    out.update(integration="acme", user=user)
    return out


def everything(env):
    r = env.redis
    return {k: (r.type(k), r.xlen(k) if r.type(k) == "stream" else None)
            for k in r.scan_iter(match="*")}


@pytest.fixture
def mango(env):
    r = env.broker.admin("/v1/integration/create",
                         {"name": "acme", "adapter": "mango", "settings": SETTINGS})
    body = assert_result(r, 200, 0)
    for ext in ("101", "102", "103"):
        assert_result(env.broker.post("/v1/users/create", {"extension": ext},
                                      token=body["token"]), 200, 0)
    return types.SimpleNamespace(env=env, tab=lambda ext: registered_tab(env, body["token"], ext))


def registered_tab(env, token, ext):
    r = env.broker.post("/v1/channel", {"extension": ext}, token=token)
    t = Tab(assert_result(r, 200, 0)["url"])
    assert t.register()["result"]["code"] in (0, 109)
    return t


def test_fixtures_arrive_over_the_websocket(mango):
    tabs = {ext: mango.tab(ext) for ext in ("101", "102", "103")}
    for name in DELIVERED:
        _, _, expected = fixture(name)
        r = post_fixture(mango.env, name)
        assert r.status_code == 200, "%s: %s %s" % (name, r.status_code, r.text)
        assert assert_result(r, 200, 0)["accepted"] == len(expected)
        for ev in expected:
            for user in ev["users"]:
                got = tabs[user].next_event()
                assert_valid_event(got)
                assert got.pop("id")
                assert got == stored(ev, user), name
    for t in tabs.values():
        t.expect_silence(0.3)


@pytest.mark.parametrize("name", NOTHING_STORED)
def test_accepted_with_nothing_to_store(mango, name):
    before = everything(mango.env)
    r = post_fixture(mango.env, name)
    assert r.status_code == 200, r.text
    assert everything(mango.env) == before


def test_refused_fixtures_store_nothing(mango):
    before = everything(mango.env)
    for name in REFUSED:
        rq, _, _ = fixture(name)
        r = post_fixture(mango.env, name)
        want = [rq["expect"]["status"]] + rq["expect"].get("status_alternatives", [])
        assert r.status_code in want, "%s: %s %s" % (name, r.status_code, r.text)
        body = assert_result(r, r.status_code)
        if r.status_code == 400:
            assert body.get("field") is not None or body["result"]["message"], name
    assert everything(mango.env) == before


def signed_form(js, key=KEY, salt=SALT):
    sign = hashlib.sha256((key + js + salt).encode()).hexdigest()
    return urllib.parse.urlencode({"vpbx_api_key": key, "sign": sign, "json": js})


def test_a_new_signed_call_and_a_forged_one(mango):
    t, t101 = mango.tab("102"), mango.tab("101")
    js = json.dumps({"entry_id": "ZW50cnktbmV3", "call_id": "bGVnLW5ldw==", "location": "abonent",
                     "from": {"extension": "101", "number": "74951234567"},
                     "to": {"extension": "102"}, "timestamp": 1795447000, "seq": 1,
                     "call_state": "Connected"})
    r = post(mango.env, "events/call", signed_form(js))
    assert assert_result(r, 200, 0)["accepted"] == 1
    ev = t.next_event()
    assert_valid_event(ev)
    assert ev["call"]["direction"] == "internal" and ev["call_id"] == "ZW50cnktbmV3"
    assert ev["ts"] == "2026-11-23T15:16:40.000Z"
    assert t101.next_event()["user"] == "101"  # both employees of an internal call

    before = everything(mango.env)
    forged = signed_form(js.replace("Connected", "Disconnected"), salt="guessed-salt")
    body = assert_result(post(mango.env, "events/call", forged), 401)
    assert body.get("field") == "sign"
    assert everything(mango.env) == before
    t.expect_silence(0.3)


def test_a_path_mango_never_posts_to(mango):
    body = assert_result(post(mango.env, "events/nothing", signed_form("{}")), 404)
    assert "events/nothing" in body["result"]["message"]


@pytest.mark.parametrize("settings,field", [
    ({}, "settings.mango"),
    ({"mango": {"api_key": "k"}}, "settings.mango.api_salt"),
    ({"mango": {"api_key": "k", "api_salt": "s", "base_url": "not a url"}},
     "settings.mango.base_url"),
])
def test_settings_refused_naming_the_field(env, settings, field):
    r = env.broker.admin("/v1/integration/create",
                         {"name": "acme", "adapter": "mango", "settings": settings})
    assert assert_result(r, 400).get("field") == field
