"""The `mapped` dialect on a running broker: tests/fixtures/mapped/ posted as the PBX sends them,
with the integration's own token in place of the fixtures' (Bearer, Basic or token=), each event
received over a websocket equal to the expected one plus what the broker adds; every refused
fixture answers its status and stores nothing; a bad mapping is refused naming the setting."""
import base64
import json

import pytest

from conftest import ROOT, assert_result, error_field

FIXTURES = ROOT / "tests" / "fixtures" / "mapped"
# The order a proxy posts them in: per call, order.seq only grows.
ACCEPTED = ["answered-invite", "answered-ringing", "answered-start", "answered-end", "recording",
            "busy-invite", "busy-failed", "cancel-failed", "failed-unmapped-code",
            "numbers-as-numbers", "same-user-twice", "anonymous-caller", "keepalive"]
REFUSED = sorted(p.name[:-len(".request.json")] for p in FIXTURES.glob("bad-*.request.json"))
FIXTURE_TOKEN = "crt_test_mapped_integration_token"


def settings():
    s = json.loads((FIXTURES / "settings.json").read_text())
    return {k: v for k, v in s.items() if not k.startswith("_")}


@pytest.fixture
def pbx(env):
    integ = env.provision("pbx", settings=settings(), adapter="mapped")
    for ext in ("101", "102"):
        integ.add_user(ext)
    return integ


def post_fixture(integ, name):
    """The fixture's request, its credentials swapped for the integration's token."""
    req = json.loads((FIXTURES / (name + ".request.json")).read_text())
    body = (FIXTURES / req["body_file"]).read_bytes()
    headers = dict(req["headers"])
    auth = headers.get("Authorization", "")
    if auth == "Bearer " + FIXTURE_TOKEN:
        headers["Authorization"] = "Bearer " + integ.token
    elif auth.startswith("Basic ") and base64.b64decode(auth[6:]).decode().endswith(FIXTURE_TOKEN):
        headers["Authorization"] = "Basic " + base64.b64encode(
            ("kamailio:" + integ.token).encode()).decode()
    query = req["query"].replace(FIXTURE_TOKEN, integ.token)
    path = "/v1/hooks/%s/mapped%s%s" % (integ.name, "/" + req["subpath"] if req["subpath"] else "",
                                        "?" + query if query else "")
    return req, integ.env.broker.post(path, data=body, headers=headers)


def stored_form(ev, integration, user):
    """What the broker stores of an adapter's event for one user."""
    out = {k: v for k, v in ev.items() if k not in ("users", "key", "order")}
    out.update(integration=integration, user=user)
    return out


def test_fixtures_reach_the_websocket(pbx):
    tab = pbx.tab("101")
    for name in ACCEPTED:
        req, r = post_fixture(pbx, name)
        assert_result(r, 200, 0)
        expected = json.loads((FIXTURES / (name + ".expected.json")).read_text())
        assert r.json()["accepted"] == len(expected), (name, r.text)
        for ev in expected:
            assert "101" in ev["users"], name
            got = tab.next_event()
            assert got.pop("id")
            assert got == stored_form(ev, "pbx", "101"), name
    tab.expect_silence(0.3)
    # the caller's number is in users but is no user: 101 alone got them
    assert pbx.tab("102").first_page["result"]["code"] == 109


def test_retry_is_a_duplicate(pbx):
    _, r = post_fixture(pbx, "answered-invite")
    assert r.json()["accepted"] == 1
    _, r = post_fixture(pbx, "answered-invite")
    b = assert_result(r, 200, 0)
    assert b["accepted"] == 0 and b["duplicates"] == 1


@pytest.mark.parametrize("name", REFUSED)
def test_refused_fixture_stores_nothing(pbx, name):
    before = pbx.env.snapshot()
    req, r = post_fixture(pbx, name)
    assert r.status_code == req["expect"]["status"], (name, r.status_code, r.text)
    if r.status_code == 400:
        assert error_field(r.json()), r.text  # names the body field
    assert pbx.env.snapshot() == before


def test_bad_mapping_refused_naming_the_setting(env):
    s = settings()
    s["mapped"]["fields"]["call_id"] = {"pointer": "call_id"}
    r = env.broker.admin("/v1/integration/create", {"name": "bad", "adapter": "mapped",
                                                    "settings": s})
    assert_result(r, 400)
    assert error_field(r.json()) == "settings.mapped.fields.call_id.pointer", r.text
    s["mapped"]["fields"]["call_id"] = {"pointer": "/call_id"}
    s["mapped"]["fields"]["state"]["map"]["invite"] = "ringing"
    r = env.broker.admin("/v1/integration/create", {"name": "bad", "adapter": "mapped",
                                                    "settings": s})
    assert_result(r, 400)
    assert error_field(r.json()) == "settings.mapped.fields.state.map.invite", r.text
    r = env.broker.admin("/v1/integration/create", {"name": "bad", "adapter": "mapped",
                                                    "settings": {}})
    assert error_field(r.json()) == "settings.mapped", r.text
