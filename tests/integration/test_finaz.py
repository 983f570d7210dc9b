"""The endpoints the Finaz CRM calls (API.md "Finaz-compatible endpoints"; Finaz's manual in
../shared/reference/): Click2Call answered with the call id as Finaz expects, the recording
download as WAV streamed from the PBX (never another format in disguise), the chave and the
source networks. The PBXs are the fakes in tests/fakes/ that speak their documented APIs."""
import hashlib
import json
import sys
import time

import pytest
import requests

from conftest import TESTS, assert_result, error_field

sys.path.insert(0, str(TESTS / "fakes"))
from mango_api import MangoApi, mango_sign  # noqa: E402
from twilio_api import TwilioApi  # noqa: E402

KEY, SALT = "finaz-mango-key", "finaz-mango-salt"
SID, TOKEN = "AC" + "f" * 32, "finaz-twilio-token"
CHAVE = "s3gr3d0-finaz"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 64


def finaz_settings(**kw):
    f = {"chave": CHAVE}
    f.update(kw)
    return f


@pytest.fixture
def twilio(env):
    fake = TwilioApi(SID, TOKEN).start()
    integ = env.provision("acme", {
        "twilio": {"auth_token": TOKEN, "account_sid": SID, "api_base_url": fake.url,
                   "public_url": env.broker.base + "/v1/hooks/acme/twilio",
                   "caller_id": "+554130000000"},
        "finaz": finaz_settings(), "command_timeout_ms": 2000}, adapter="twilio")
    integ.add_user("101")
    yield integ, fake
    fake.stop()


@pytest.fixture
def mango(env):
    fake = MangoApi(KEY, SALT, hook_url=env.broker.base + "/v1/hooks/acme/mango").start()
    integ = env.provision("acme", {
        "mango": {"api_key": KEY, "api_salt": SALT, "base_url": fake.url + "/vpbx/"},
        "finaz": finaz_settings(), "command_timeout_ms": 2000}, adapter="mango")
    integ.add_user("101")
    yield integ, fake
    fake.stop()


def click2call(env, body, integration="acme"):
    return requests.post(env.broker.base + "/finaz/%s/click2call" % integration,
                         data=json.dumps(body), headers={"Content-Type": "application/json"},
                         timeout=10)


def gravacao(env, **params):
    return requests.get(env.broker.base + "/finaz/acme/gravacao", params=params, timeout=20)


def mango_post(env, path, doc):
    js = json.dumps(doc)
    r = requests.post(env.broker.base + "/v1/hooks/acme/mango/" + path,
                      data={"vpbx_api_key": KEY, "sign": mango_sign(KEY, js, SALT), "json": js},
                      timeout=10)
    assert r.status_code == 200, r.text


def mango_call_with_recording(env, entry, recording_id):
    """A call answered by 101 whose recording Mango announces as available."""
    mango_post(env, "events/call", {
        "entry_id": entry, "call_id": entry + "-leg", "timestamp": int(time.time()), "seq": 1,
        "call_state": "Connected", "location": "abonent",
        "from": {"number": "5541988445566"}, "to": {"extension": "101"}})
    mango_post(env, "events/record/added", {
        "entry_id": entry, "recording_id": recording_id, "timestamp": int(time.time())})


# --------------------------------------------------------------------------- click2call

def test_click2call_places_the_call_and_answers_its_id(env, twilio):
    integ, fake = twilio
    r = click2call(env, {"ramal": "101", "telefone": "41988445566", "chave": CHAVE})
    assert r.status_code == 200, r.text
    callid = r.json()["callid"]
    assert r.json() == {"callid": callid}
    [rec] = [x for x in fake.records("/2010-04-01/") if x["method"] == "POST"]
    assert rec["form"]["To"] == "client:101" and "41988445566" in rec["form"]["Twiml"]
    assert callid in fake.calls()


def test_click2call_with_mango_answers_the_command_id_its_events_carry(env, mango):
    integ, fake = mango
    r = click2call(env, {"ramal": 101, "telefone": 41988445566, "chave": CHAVE})
    assert r.status_code == 200, r.text
    [cmd] = [x for x in fake.records("/vpbx/commands") if "json" in x]
    assert cmd["json"]["from"]["extension"] == "101"
    assert cmd["json"]["to_number"] == "41988445566"
    assert r.json() == {"callid": cmd["json"]["command_id"]}


@pytest.mark.parametrize("chave, status, code", [(None, 401, 3103), ("wrong", 401, 3103)])
def test_click2call_needs_the_chave(env, twilio, chave, status, code):
    integ, fake = twilio
    body = {"ramal": "101", "telefone": "41988445566"}
    if chave:
        body["chave"] = chave
    r = click2call(env, body)
    assert error_field(assert_result(r, status, code)) == "chave"
    assert fake.records("/2010-04-01/") == []


def test_click2call_names_finaz_fields(env, twilio):
    r = click2call(env, {"ramal": "1 01", "telefone": "41988445566", "chave": CHAVE})
    assert error_field(assert_result(r, 400, 3101)) == "ramal"
    r = click2call(env, {"ramal": "101", "chave": CHAVE})
    assert error_field(assert_result(r, 400, 3101)) == "telefone"
    assert_result(click2call(env, {"ramal": "101", "telefone": "1", "chave": CHAVE},
                             integration="nobody"), 404, 3104)


def test_click2call_source_networks(env, twilio):
    integ, fake = twilio
    admin = {"name": "acme", "settings": dict(integ.settings,
                                              finaz={"allowed_networks": ["10.9.0.0/16"]})}
    assert_result(env.broker.admin("/v1/integration/update", admin), 200, 0)
    body = {"ramal": "101", "telefone": "41988445566"}
    assert_result(click2call(env, body), 403, 3108)
    admin["settings"]["finaz"] = {"allowed_networks": ["127.0.0.0/8"]}
    assert_result(env.broker.admin("/v1/integration/update", admin), 200, 0)
    assert click2call(env, body).status_code == 200


def test_finaz_endpoints_closed_without_chave_or_networks(env, twilio):
    integ, fake = twilio
    settings = dict(integ.settings)
    del settings["finaz"]
    assert_result(env.broker.admin("/v1/integration/update",
                                   {"name": "acme", "settings": settings}), 200, 0)
    r = click2call(env, {"ramal": "101", "telefone": "41988445566"})
    assert "closed" in assert_result(r, 403, 3108)["result"]["message"]
    # the integration's own token still opens it
    r = requests.post(env.broker.base + "/finaz/acme/click2call",
                      json={"ramal": "101", "telefone": "41988445566"},
                      headers={"Authorization": "Bearer " + integ.token}, timeout=10)
    assert r.status_code == 200, r.text
    assert fake.records("/2010-04-01/")


# --------------------------------------------------------------------------- gravacao

def test_gravacao_streams_the_wav(env, mango):
    integ, fake = mango
    fake.add_recording("rec-1", WAV, "audio/wav")
    mango_call_with_recording(env, "entry-1", "rec-1")
    r = gravacao(env, callid="entry-1", telefone="41988445566", chave=CHAVE)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "audio/wav"
    assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(WAV).hexdigest()
    query = [x for x in fake.records("/vpbx/queries") if "json" in x]
    assert query[-1]["json"] == {"recording_id": "rec-1", "action": "download"}


def test_gravacao_never_disguises_another_format(env, mango):
    integ, fake = mango
    fake.add_recording("rec-2", b"ID3" + b"\x00" * 4000, "audio/mpeg")
    mango_call_with_recording(env, "entry-2", "rec-2")
    r = gravacao(env, callid="entry-2", chave=CHAVE)
    body = assert_result(r, 406, 3321)
    assert "audio/mpeg" in body["result"]["message"]
    # /v1/record passes the PBX's format on as it is
    r = env.broker.get("/v1/record", token=integ.token, params={"call_id": "entry-2"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "audio/mpeg"


def test_gravacao_unknown_call_or_no_recording(env, mango):
    integ, fake = mango
    assert error_field(assert_result(gravacao(env, callid="nope", chave=CHAVE), 404, 3310)) \
        == "call_id"
    mango_post(env, "events/call", {
        "entry_id": "entry-3", "call_id": "leg-3", "timestamp": int(time.time()), "seq": 1,
        "call_state": "Connected", "location": "abonent",
        "from": {"number": "5541988445566"}, "to": {"extension": "101"}})
    assert_result(gravacao(env, callid="entry-3", chave=CHAVE), 404, 3320)
    assert error_field(assert_result(gravacao(env, chave=CHAVE), 400, 3101)) == "callid"
    assert_result(gravacao(env, callid="entry-3", chave="wrong"), 401, 3103)
