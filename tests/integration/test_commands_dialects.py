"""Commands carried out by the mango, twilio and asterisk dialects against fakes of their APIs
(tests/fakes/mango_api.py, twilio_api.py, ari_api.py): callback, route (Mango's outcome posted
back later to /result/route reaches the user's websocket as a route_result event; Twilio's and
ARI's at once), transfer, hang-up, the PBX's errors as result codes, a PBX that never answers
(504 after command_timeout_ms), and a repeated command_id reaching the PBX once."""
import hashlib
import json
import sys
import time
import types
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import TESTS, Tab, assert_result, error_field

sys.path.insert(0, str(TESTS / "fakes"))
from ari_api import AriApi  # noqa: E402
from mango_api import MangoApi  # noqa: E402
from twilio_api import TwilioApi  # noqa: E402

KEY, SALT = "mango-key", "mango-salt"
SID, TOKEN = "AC0123456789abcdef0123456789abcdef", "twilio-token"
ARI_USER, ARI_PASSWORD = "callrelay", "ari:secret"
TIMEOUT_MS = 600


def cid():
    return "cmd-" + uuid.uuid4().hex[:12]


def integration_with(env, adapter, settings, fake):
    integ = env.provision("acme", settings, adapter=adapter)
    for ext in ("101", "102"):
        integ.add_user(ext)
    return types.SimpleNamespace(env=env, integ=integ, fake=fake, post=lambda path, body: env.broker.post(
        path, body, token=integ.token))


def tab(w, ext):
    t = Tab(w.integ.channel_url(ext))
    assert t.register()["result"]["code"] in (0, 109)
    return t


def route_result_of(t, command_id, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        ev = t.next_event(timeout=max(0.1, end - time.time()))
        if ev.get("kind") == "route_result" and ev["route_result"]["command_id"] == command_id:
            return ev
    raise AssertionError("no route_result for %s" % command_id)


@pytest.fixture
def mango(env):
    fake = MangoApi(KEY, SALT, hook_url=env.broker.base + "/v1/hooks/acme/mango").start()
    w = integration_with(env, "mango", {"mango": {"api_key": KEY, "api_salt": SALT,
                                       "base_url": fake.url + "/vpbx"},
                             "command_timeout_ms": TIMEOUT_MS}, fake)
    yield w
    fake.stop()


@pytest.fixture
def twilio(env):
    fake = TwilioApi(SID, TOKEN).start()
    w = integration_with(env, "twilio", {"twilio": {"auth_token": TOKEN, "account_sid": SID,
                                         "public_url": env.broker.base + "/v1/hooks/acme/twilio",
                                         "api_base_url": fake.url, "caller_id": "+15550001111"},
                              "command_timeout_ms": TIMEOUT_MS}, fake)
    yield w
    fake.stop()


@pytest.fixture
def ari(env):
    fake = AriApi(ARI_USER, ARI_PASSWORD).start()
    w = integration_with(env, "asterisk", {"asterisk": {"ari_url": fake.url, "ari_user": ARI_USER,
                                             "ari_password": ARI_PASSWORD, "app": "callrelay",
                                             "endpoint": "PJSIP/{extension}",
                                             "context": "from-crm"},
                                "command_timeout_ms": TIMEOUT_MS}, fake)
    yield w
    fake.stop()


# --------------------------------------------------------------------------- mango

def mango_commands(fake):
    return [r for r in fake.records("/vpbx/") if "json" in r]


def test_mango_callback_signed_and_result_posted_back(mango):
    c = cid()
    r = mango.post("/v1/callback", {"extension": "101", "to_number": "5511980121511",
                                    "line_number": "74950000000", "command_id": c})
    assert assert_result(r, 200, 0)["command_id"] == c
    [rec] = mango_commands(mango.fake)
    assert rec["path"] == "/vpbx/commands/callback"
    form = rec["form"]
    assert form["vpbx_api_key"] == KEY
    assert form["sign"] == hashlib.sha256((KEY + form["json"] + SALT).encode()).hexdigest()
    assert rec["json"] == {"command_id": c, "from": {"extension": "101", "number": ""},
                           "to_number": "5511980121511", "line_number": "74950000000"}
    posted = mango.fake.wait_posted(1)
    assert posted[0]["path"] == "/result/callback" and posted[0]["status"] == 200, posted


def test_mango_route_result_reaches_the_user(mango):
    t = tab(mango, "101")
    c = cid()
    r = mango.post("/v1/route/async", {"call_id": "MToxMDE=", "to_extension": "102",
                                       "extension": "101", "command_id": c})
    assert_result(r, 200, 0)
    [rec] = mango_commands(mango.fake)
    assert rec["path"] == "/vpbx/commands/route"
    assert rec["json"] == {"command_id": c, "call_id": "MToxMDE=", "to_number": "102"}
    ev = route_result_of(t, c)
    assert ev["route_result"]["result"] == 0 and ev["user"] == "101", ev
    assert mango.fake.wait_posted(1)[0]["status"] == 200


def test_mango_route_failing_later(mango):
    t = tab(mango, "101")
    mango.fake.route_outcome("busy-call", 1121)
    c = cid()
    assert_result(mango.post("/v1/route/async", {"call_id": "busy-call", "to_extension": "102",
                                                 "extension": "101", "command_id": c}), 200, 0)
    assert route_result_of(t, c)["route_result"]["result"] == 1121


def test_mango_transfer_and_hangup(mango):
    r = mango.post("/v1/transfer", {"call_id": "X1", "extension": "101", "to_number": "103",
                                    "method": "hold"})
    assert_result(r, 200, 0)
    r = mango.post("/v1/hangup", {"call_id": "X1"})
    assert_result(r, 200, 0)
    recs = mango_commands(mango.fake)
    assert [x["path"] for x in recs] == ["/vpbx/commands/transfer", "/vpbx/commands/call/hangup"]
    assert recs[0]["json"]["initiator"] == "101" and recs[0]["json"]["method"] == "hold"
    assert recs[1]["json"]["call_id"] == "X1"


@pytest.mark.parametrize("code,shape,status,rc", [
    (3310, "result", 404, 3310), (3310, "code", 404, 3310), (4101, "code", 409, 4101),
    (4100, "result", 409, 4100), (3105, "result", 502, 5002), (5000, "code", 502, 5002)])
def test_mango_errors_mapped(mango, code, shape, status, rc):
    mango.fake.error("bad-call", code, shape)
    r = mango.post("/v1/hangup", {"call_id": "bad-call"})
    body = assert_result(r, status, rc)
    assert body["pbx_code"] == code and str(code) in body["result"]["message"], body


def test_mango_wrong_salt_is_a_pbx_error(env):
    fake = MangoApi(KEY, "other-salt").start()
    try:
        w = integration_with(env, "mango", {"mango": {"api_key": KEY, "api_salt": SALT,
                                           "base_url": fake.url + "/vpbx/"}}, fake)
        body = assert_result(w.post("/v1/hangup", {"call_id": "x"}), 502, 5002)
        assert body["pbx_code"] == 3102
    finally:
        fake.stop()


def test_mango_never_answers(mango):
    mango.fake.hang()
    t0 = time.time()
    r = mango.post("/v1/hangup", {"call_id": "slow"})
    assert_result(r, 504, 5004)
    assert TIMEOUT_MS / 1000.0 * 0.8 <= time.time() - t0 < 5, time.time() - t0


def test_mango_repeated_command_id_reaches_the_pbx_once(mango):
    c = cid()
    body = {"extension": "101", "to_number": "5511980121511", "command_id": c}
    first = mango.post("/v1/callback", body)
    second = mango.post("/v1/callback", body)
    assert_result(first, 200, 0)
    assert second.status_code == first.status_code and second.json() == first.json()
    assert len(mango_commands(mango.fake)) == 1


# --------------------------------------------------------------------------- twilio

def twilio_calls(fake):
    return [r for r in fake.records("/2010-04-01/")]


def test_repeat_while_the_first_runs_waits_for_its_answer(twilio):
    """A client that retries before the first attempt's answer: the repeat waits for it (the
    PBX never answers here, so both get its 504) and the PBX is asked once."""
    twilio.fake.hang()
    body = {"call_id": "CA1", "command_id": cid()}
    with ThreadPoolExecutor(2) as ex:
        first = ex.submit(twilio.post, "/v1/hangup", body)
        time.sleep(0.2)
        second = ex.submit(twilio.post, "/v1/hangup", body)
        r1, r2 = first.result(), second.result()
    assert_result(r1, 504, 5004)
    assert r2.status_code == 504 and r2.json() == r1.json()
    assert len(twilio_calls(twilio.fake)) == 1


def test_command_id_reused_for_another_command_is_409(twilio):
    c = cid()
    twilio.fake.add_call("CA1")
    assert_result(twilio.post("/v1/hangup", {"call_id": "CA1", "command_id": c}), 200, 0)
    r = twilio.post("/v1/hangup", {"call_id": "CA2", "command_id": c})
    assert error_field(assert_result(r, 409, 3111)) == "command_id"
    r = twilio.post("/v1/transfer", {"call_id": "CA1", "to_number": "5511", "command_id": c})
    assert_result(r, 409, 3111)
    assert len(twilio_calls(twilio.fake)) == 1


def test_twilio_callback_places_a_call(twilio):
    r = twilio.post("/v1/callback", {"extension": "101", "to_number": "+5511980121511"})
    body = assert_result(r, 200, 0)
    assert body["call_id"].startswith("CA"), body
    [rec] = twilio_calls(twilio.fake)
    assert rec["path"] == "/2010-04-01/Accounts/%s/Calls.json" % SID
    assert rec["form"] == {"To": "client:101", "From": "+15550001111",
                           "Twiml": '<Response><Dial callerId="+15550001111"><Number>'
                                    '+5511980121511</Number></Dial></Response>'}
    assert twilio.fake.calls(body["call_id"])["to"] == "client:101"


def test_twilio_route_result_at_once(twilio):
    twilio.fake.add_call("CA1")
    t = tab(twilio, "101")
    c = cid()
    r = twilio.post("/v1/route/async", {"call_id": "CA1", "to_extension": "102",
                                        "extension": "101", "command_id": c})
    assert_result(r, 200, 0)
    ev = route_result_of(t, c, timeout=3)
    assert ev["route_result"]["result"] == 0 and ev["route_result"]["to"] == {"extension": "102"}
    assert twilio.fake.calls("CA1")["twiml"] == "<Response><Dial><Client>102</Client></Dial></Response>"


def test_twilio_transfer_and_hangup(twilio):
    twilio.fake.add_call("CA2")
    assert_result(twilio.post("/v1/transfer", {"call_id": "CA2", "extension": "101",
                                               "to_number": "+5511", "method": "blind"}), 200, 0)
    assert twilio.fake.calls("CA2")["twiml"] == "<Response><Dial><Number>+5511</Number></Dial></Response>"
    assert_result(twilio.post("/v1/hangup", {"call_id": "CA2"}), 200, 0)
    assert twilio.fake.calls("CA2")["status"] == "completed"
    # the call is over: Twilio's 21220
    body = assert_result(twilio.post("/v1/hangup", {"call_id": "CA2"}), 409, 4101)
    assert body["pbx_code"] == 21220


def test_twilio_unknown_call(twilio):
    body = assert_result(twilio.post("/v1/hangup", {"call_id": "CAnope"}), 404, 3310)
    assert body["pbx_code"] == 20404


def test_twilio_credentials_refused(env):
    fake = TwilioApi(SID, "another-token").start()
    try:
        w = integration_with(env, "twilio", {"twilio": {"auth_token": TOKEN, "account_sid": SID,
                                             "public_url": "https://x.example/h",
                                             "api_base_url": fake.url}}, fake)
        body = assert_result(w.post("/v1/hangup", {"call_id": "CA1"}), 502, 5002)
        assert "credentials" in body["result"]["message"] and body["pbx_code"] == 20003
    finally:
        fake.stop()


def test_twilio_without_account_sid(env):
    fake = TwilioApi(SID, TOKEN).start()
    try:
        w = integration_with(env, "twilio", {"twilio": {"auth_token": TOKEN,
                                             "public_url": "https://x.example/h"}}, fake)
        r = w.post("/v1/hangup", {"call_id": "CA1"})
        assert r.status_code == 400 and error_field(r.json()) == "settings.twilio.account_sid", r.text
        assert fake.records() == []
    finally:
        fake.stop()


def test_twilio_never_answers(twilio):
    twilio.fake.hang()
    assert_result(twilio.post("/v1/hangup", {"call_id": "CA1"}), 504, 5004)


# --------------------------------------------------------------------------- asterisk

def test_ari_callback_originates(ari):
    body = assert_result(ari.post("/v1/callback", {"extension": "101", "to_number": "+551198",
                                                   "line_number": "4000"}), 200, 0)
    [rec] = ari.fake.records("/ari/")
    assert rec["method"] == "POST" and rec["path"] == "/ari/channels"
    assert rec["query"] == {"endpoint": "PJSIP/101", "extension": "+551198",
                            "context": "from-crm", "priority": "1", "callerId": "4000"}
    assert body["call_id"] in ari.fake.channels()


def test_ari_route_transfer_hangup(ari):
    ari.fake.add_channel("17.1")
    t = tab(ari, "101")
    c = cid()
    assert_result(ari.post("/v1/route/async", {"call_id": "17.1", "to_extension": "102",
                                               "extension": "101", "command_id": c}), 200, 0)
    assert route_result_of(t, c, timeout=3)["route_result"]["result"] == 0
    assert ari.fake.channels()["17.1"]["redirected_to"] == "PJSIP/102"
    assert_result(ari.post("/v1/transfer", {"call_id": "17.1", "extension": "101",
                                            "to_number": "200", "method": "blind"}), 200, 0)
    assert ari.fake.channels()["17.1"]["redirected_to"] == "PJSIP/200"
    assert_result(ari.post("/v1/hangup", {"call_id": "17.1"}), 200, 0)
    assert "17.1" not in ari.fake.channels()
    assert [(r["method"], r["path"]) for r in ari.fake.records("/ari/")] == [
        ("POST", "/ari/channels/17.1/redirect"), ("POST", "/ari/channels/17.1/redirect"),
        ("DELETE", "/ari/channels/17.1")]


def test_ari_errors_mapped(ari):
    ari.fake.add_channel("17.2", stasis=False)
    assert_result(ari.post("/v1/hangup", {"call_id": "17.404"}), 404, 3310)
    body = assert_result(ari.post("/v1/route/async", {"call_id": "17.2", "to_extension": "102",
                                                      "extension": "101"}), 409, 4101)
    assert "Stasis" in body["result"]["message"] and body["pbx_code"] == 409


def test_ari_never_answers_then_repeat_reaches_once(ari):
    ari.fake.add_channel("17.3")
    c = cid()
    ari.fake.hang()
    assert_result(ari.post("/v1/hangup", {"call_id": "17.3", "command_id": c}), 504, 5004)
    ari.fake.hang(False)
    c2 = cid()
    first = ari.post("/v1/hangup", {"call_id": "17.3", "command_id": c2})
    again = ari.post("/v1/hangup", {"call_id": "17.3", "command_id": c2})
    assert_result(first, 200, 0)
    assert again.status_code == 200 and again.json() == first.json()
    deletes = [r for r in ari.fake.records("/ari/") if r["method"] == "DELETE"]
    assert len(deletes) == 2  # the one that hung, and c2 once


# --------------------------------------------------------------------------- recordings
# GET /v1/record streams the file through the relay (broker/out/relay.c).

WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8


def get_record(w, recording_id):
    return w.env.broker.get("/v1/record", token=w.integ.token,
                            params={"recording_id": recording_id})


def test_mango_record_follows_the_redirect(mango):
    mango.fake.add_recording("MToxMDE=rec", WAV, "audio/wav")
    r = get_record(mango, "MToxMDE=rec")
    assert r.status_code == 200 and r.content == WAV, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("audio/wav")
    query, file_get = mango.fake.records()[-2:]
    assert query["path"] == "/vpbx/queries/recording/post"
    assert query["json"] == {"recording_id": "MToxMDE=rec", "action": "download"}
    assert file_get["path"].startswith("/files/") and "authorization" not in file_get["headers"]
    assert_result(get_record(mango, "nope"), 404, 3320)


def test_twilio_record(twilio):
    twilio.fake.add_recording("RE1", WAV)
    r = get_record(twilio, "RE1")
    assert r.status_code == 200 and r.content == WAV
    assert_result(get_record(twilio, "RE404"), 404, 3320)


def test_ari_record(ari):
    ari.fake.add_recording("rec-1", WAV)
    r = get_record(ari, "rec-1")
    assert r.status_code == 200 and r.content == WAV
    assert_result(get_record(ari, "rec-404"), 404, 3320)


def test_mango_record_error_in_a_200(mango):
    """Newer Mango clients see errors as 200 {"result": N}: not a file to pass on."""
    mango.fake.recording_error_shape = "result"
    r = get_record(mango, "nope")
    assert_result(r, 404, 3320)
