"""Provisioning with the admin token: create, update (rotate), delete, list; refusals."""
import json
import pathlib
import re

from conftest import ADMIN_TOKEN, assert_result, call_event, error_field


def test_create_list_update_delete(env):
    b = env.broker
    settings = {"webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "company_id": "77"}
    r = b.admin("/v1/integration/create", {"name": "acme", "adapter": "native", "settings": settings})
    body = assert_result(r, 200, 0)
    assert body["integration"] == "acme"
    token = body["token"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), token

    r = b.get("/v1/integration/list", token=ADMIN_TOKEN)
    body = assert_result(r, 200, 0)
    assert token not in r.text, "the list must never show the token"
    items = {i["name"]: i for i in body["integrations"]}
    assert items["acme"]["adapter"] == "native"
    assert items["acme"]["settings"] == settings
    assert "created" in items["acme"]

    r = b.admin("/v1/integration/update", {"name": "acme", "settings": {"company_id": "78"}})
    body = assert_result(r, 200, 0)
    assert body["integration"] == "acme" and "token" not in body
    items = {i["name"]: i for i in b.get("/v1/integration/list", token=ADMIN_TOKEN).json()["integrations"]}
    assert items["acme"]["settings"] == {"company_id": "78"}

    # the token still works after an update without rotation
    assert_result(b.get("/v1/users", token=token), 200, 0)

    r = b.admin("/v1/integration/delete", {"name": "acme"})
    assert_result(r, 200, 0)
    body = assert_result(b.get("/v1/integration/list", token=ADMIN_TOKEN), 200, 0)
    assert "acme" not in [i["name"] for i in body["integrations"]]
    assert_result(b.get("/v1/users", token=token), 401, 3103)


def test_create_twice_is_409(env):
    env.provision("acme")
    r = env.broker.admin("/v1/integration/create", {"name": "acme", "adapter": "native", "settings": {}})
    assert_result(r, 409, 3105)


def test_rotate_token(env):
    acme = env.provision("acme")
    r = env.broker.admin("/v1/integration/update", {"name": "acme", "rotate_token": True})
    body = assert_result(r, 200, 0)
    new = body["token"]
    assert new != acme.token and len(new) == 43
    assert_result(env.broker.get("/v1/users", token=acme.token), 401, 3103)
    assert_result(env.broker.get("/v1/users", token=new), 200, 0)


def test_update_and_delete_unknown_are_404(env):
    assert_result(env.broker.admin("/v1/integration/update", {"name": "nope", "settings": {}}), 404, 3104)
    assert_result(env.broker.admin("/v1/integration/delete", {"name": "nope"}), 404, 3104)


def test_delete_removes_users_streams_and_cursors(env):
    acme = env.provision("acme")
    other = env.provision("other")
    for integ in (acme, other):
        integ.add_user("101")
        integ.post_ok(call_event("101"), accepted=1)
    t = acme.tab("101")
    ev = t.first_page["events"] if t.first_page["result"]["code"] == 0 else []
    assert len(ev) == 1
    t.ack(ev[0]["id"])
    t.ping()  # the ack is processed before the pong
    t.close()
    assert env.redis.exists(acme.stream_key("101"))
    assert_result(env.broker.admin("/v1/integration/delete", {"name": "acme"}), 200, 0)
    # decisions.md: delete removes users, streams, cursors and open-call sets (dedupe markers,
    # used-ticket markers and call hashes, which cannot be enumerated, expire by themselves)
    left = [k for k in env.redis.scan_iter(match="*{acme}*")
            if ":k:" not in k and ":t:" not in k and ":call:" not in k]
    assert left == [], "keys of the deleted integration remain: %s" % left
    assert env.redis.exists(other.stream_key("101")), "another integration's stream was touched"


def test_bad_names_and_adapters(env):
    b = env.broker
    for name in ("Acme", "-acme", "ac me", "a{b}", "a:b", "", "a" * 65):
        r = b.admin("/v1/integration/create", {"name": name, "adapter": "native", "settings": {}})
        body = assert_result(r, 400, 3101)
        assert error_field(body) == "name", r.text
    r = b.admin("/v1/integration/create", {"adapter": "native", "settings": {}})
    assert error_field(assert_result(r, 400, 3101)) == "name"
    r = b.admin("/v1/integration/create", {"name": "acme", "adapter": "nosuchpbx", "settings": {}})
    body = assert_result(r, 400, 3101)
    assert "native" in body["result"]["message"], "message should list the known adapters: %s" % r.text
    r = b.admin("/v1/integration/create", {"name": "acme", "adapter": "native", "settings": "x"})
    assert_result(r, 400, 3101)
    r = b.post("/v1/integration/create", data='{"name": "acme",', token=ADMIN_TOKEN)
    assert_result(r, 400, 3100)
    assert env.redis.hlen("cr:integrations") == 0


def test_admin_auth(env):
    b = env.broker
    body = {"name": "acme", "adapter": "native", "settings": {}}
    assert_result(b.post("/v1/integration/create", body), 401, 3103)
    assert_result(b.post("/v1/integration/create", body, token="wrong"), 401, 3103)
    assert_result(b.get("/v1/integration/list"), 401, 3103)
    assert_result(b.get("/v1/integration/list", token="wrong"), 401, 3103)
    acme = env.provision("acme")
    # an integration token is not an admin token
    assert_result(b.get("/v1/integration/list", token=acme.token), 401, 3103)
    # alternatives from API.md: token in the JSON body, token query parameter on a GET
    r = b.post("/v1/integration/create", {"name": "beta", "adapter": "native", "settings": {},
                                          "token": ADMIN_TOKEN})
    assert_result(r, 200, 0)
    assert_result(b.get("/v1/integration/list", params={"token": ADMIN_TOKEN}), 200, 0)


def test_no_admin_token_configured_is_403(world):
    b = world.start_broker(admin_token=None)
    r = b.post("/v1/integration/create", {"name": "acme", "adapter": "native", "settings": {}},
               token="anything")
    body = assert_result(r, 403, 3108)
    assert "CALLRELAY_ADMIN_TOKEN" in body["result"]["message"]
    assert_result(b.get("/v1/integration/list", token="anything"), 403, 3108)


def test_wrong_method_is_405(env):
    r = env.broker.get("/v1/integration/create", token=ADMIN_TOKEN)
    assert r.status_code == 405, r.text
    r = env.broker.post("/v1/integration/list", {}, token=ADMIN_TOKEN)
    assert r.status_code == 405, r.text


def test_unknown_path_is_404(env):
    r = env.broker.get("/v1/nothing-here", token=ADMIN_TOKEN)
    assert_result(r, 404, 3104)


def test_recreated_integration_does_not_inherit_dedupe_markers(env):
    acme = env.provision("acme")
    acme.add_user("101")
    ev = call_event("101")
    acme.post_ok(ev, accepted=1)
    acme.post_ok(ev, accepted=0, duplicates=1)
    assert_result(env.broker.admin("/v1/integration/delete", {"name": "acme"}), 200, 0)
    again = env.provision("acme")
    again.add_user("101")
    again.post_ok(ev, accepted=1)


def test_notify_rules_are_checked_at_save(env):
    """settings.notify (API.md, the notify row): the seed rules of tests/fuzz are accepted; a bad
    rule is refused at create and update naming its field."""
    b = env.broker
    seeds = pathlib.Path(__file__).resolve().parents[1] / "fuzz" / "corpus" / "notify_rule"
    for i, path in enumerate(sorted(seeds.glob("*.json"))):
        settings = json.loads(path.read_text())
        r = b.admin("/v1/integration/create", {"name": "n%d" % i, "adapter": "native", "settings": settings})
        assert_result(r, 200, 0)
    finaz = {"id": "finaz", "method": "GET", "url": "https://crm/a?pid={crm_contact_id}"}
    cases = [
        ({"notify": [finaz, dict(finaz, url="https://crm/a?x={nope}")]}, "settings.notify[1].url", "{nope}"),
        ({"notify": [dict(finaz, url="https://{company_id}.crm/")]}, "settings.notify[0].url", "host"),
        ({"notify": [dict(finaz, on={"kind": "calls"})]}, "settings.notify[0].on.kind", "call"),
        ({"notify": [finaz, finaz, dict(finaz, id="x", body="{}")]}, "settings.notify[1].id", "earlier"),
        ({"notify": [dict(finaz, sign=True)]}, "settings.notify[0].sign", "notify_secret"),
    ]
    for settings, field, why in cases:
        r = b.admin("/v1/integration/create", {"name": "bad", "adapter": "native", "settings": settings})
        body = assert_result(r, 400, 3101)
        assert error_field(body) == field, r.text
        assert field in body["result"]["message"] and why in body["result"]["message"], r.text
    r = b.admin("/v1/integration/update", {"name": "n0", "settings": {"notify": [dict(finaz, method="GET", body="x")]}})
    assert error_field(assert_result(r, 400, 3101)) == "settings.notify[0].body", r.text
