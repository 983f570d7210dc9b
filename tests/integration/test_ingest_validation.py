"""POST /v1/hooks/I/native: bad input is refused whole with nothing stored; duplicates and
ignored events are counted."""
import copy
import json
import socket

import pytest

from conftest import assert_result, call_event, error_field


def good(**kw):
    e = call_event("101", call_id="c-fixed")
    e.update(kw)
    return e


def drop(path):
    def f(e):
        cur = e
        for p in path[:-1]:
            cur = cur[p]
        del cur[path[-1]]
    return f


def setv(path, value):
    def f(e):
        cur = e
        for p in path[:-1]:
            cur = cur[p]
        cur[path[-1]] = value
    return f


BAD_EVENTS = [
    ("missing kind", drop(["kind"]), "kind"),
    ("unknown kind", setv(["kind"], "sms"), "kind"),
    ("kind not a string", setv(["kind"], 5), "kind"),
    ("missing call_id", drop(["call_id"]), "call_id"),
    ("call_id number", setv(["call_id"], 12), "call_id"),
    ("no user", drop(["user"]), ("user", "users")),
    ("user number", setv(["user"], 101), "user"),
    ("user bad chars", setv(["user"], "1 01"), "user"),
    ("users empty", lambda e: (e.pop("user"), e.update(users=[])), "users"),
    ("users not strings", lambda e: (e.pop("user"), e.update(users=[101])), ("users", "users[0]")),
    ("missing call object", drop(["call"]), "call"),
    ("call not an object", setv(["call"], "ringing"), "call"),
    ("missing state", drop(["call", "state"]), "call.state"),
    ("bad state", setv(["call", "state"], "ringing"), "call.state"),
    ("bad direction", setv(["call", "direction"], "sideways"), "call.direction"),
    ("group flag not bool", setv(["call", "is_group_disconnect"], "yes"), "call.is_group_disconnect"),
    ("q850 too big", setv(["call", "disconnect"], {"code": 128, "text": "x"}), "call.disconnect.code"),
    ("q850 string", setv(["call", "disconnect"], {"code": "16"}), "call.disconnect.code"),
    ("ts not a date", setv(["ts"], "yesterday"), "ts"),
    ("key empty", setv(["key"], ""), "key"),
    ("key too long", setv(["key"], "k" * 201), "key"),
]


@pytest.mark.parametrize("name,mutate,field", BAD_EVENTS, ids=[b[0] for b in BAD_EVENTS])
def test_bad_event_refused_nothing_stored(acme, name, mutate, field):
    acme.post_ok(call_event("101"), accepted=1)  # something already stored
    before = acme.env.snapshot()
    ev = good()
    mutate(ev)
    r = acme.post(ev)
    body = assert_result(r, 400, 3101)
    f = error_field(body)
    assert f is not None and f.endswith(tuple(field) if isinstance(field, tuple) else field), "field should name %r: %s" % (field, r.text)
    field = field if isinstance(field, tuple) else (field,)
    # the same event inside an array: the path names its index
    r = acme.post([good(call_id="ok-0"), ev, good(call_id="ok-2")])
    body = assert_result(r, 400, 3101)
    f = error_field(body)
    assert f is not None and "[1]" in f and f.endswith(field), r.text
    assert acme.env.snapshot() == before, "refused input changed Redis"


BAD_OTHER_KINDS = [
    ("record without record", {"kind": "record", "user": "101", "call_id": "c"}, "record"),
    ("record bad status", {"kind": "record", "user": "101", "call_id": "c",
                           "record": {"status": "maybe"}}, "record.status"),
    ("record negative duration", {"kind": "record", "user": "101", "call_id": "c",
                                  "record": {"status": "available", "duration_s": -1}}, "record.duration_s"),
    ("ivr without state", {"kind": "ivr", "user": "101", "call_id": "c", "ivr": {}}, "ivr.state"),
    ("route_result without command_id", {"kind": "route_result", "user": "101", "call_id": "c",
                                         "route_result": {"result": 0}}, "route_result.command_id"),
    ("route_result result not int", {"kind": "route_result", "user": "101", "call_id": "c",
                                     "route_result": {"command_id": "x", "result": "ok"}},
     "route_result.result"),
]


@pytest.mark.parametrize("name,ev,field", BAD_OTHER_KINDS, ids=[b[0] for b in BAD_OTHER_KINDS])
def test_bad_other_kinds(acme, name, ev, field):
    before = acme.env.snapshot()
    body = assert_result(acme.post(ev), 400, 3101)
    assert (error_field(body) or "").endswith(field), body
    assert acme.env.snapshot() == before


@pytest.mark.parametrize("raw,codes", [
    ('{"kind": "call",', (3100,)),
    ("", (3100,)),
    ("not json at all", (3100,)),
    ("[]", (3100, 3101)),
    ("42", (3100, 3101)),
    ('"text"', (3100, 3101)),
    ("null", (3100, 3101)),
    ('[{"kind":"call","user":"101","call_id":"c","call":{"state":"appeared"}}, 7]', (3100, 3101)),
])
def test_malformed_bodies(acme, raw, codes):
    before = acme.env.snapshot()
    r = acme.post(None, data=raw)
    assert r.status_code == 400, r.text
    assert r.json()["result"]["code"] in codes, r.text
    assert acme.env.snapshot() == before


def test_more_than_1000_events_refused(acme):
    before = acme.env.snapshot()
    evs = [call_event("101") for _ in range(1001)]
    r = acme.post(evs)
    assert r.status_code == 400, r.text[:300]
    assert r.json()["result"]["code"] in (3100, 3101)
    assert acme.env.snapshot() == before
    acme.post_ok(evs[:1000], accepted=1000)
    assert acme.env.redis.xlen(acme.stream_key("101")) == 1000


def raw_http(port, request, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data) < data.find(b"\r\n\r\n") + 4 + _clen(data):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else None
    return status, head.decode(errors="replace"), body


def _clen(data):
    head = data[:data.find(b"\r\n\r\n")].lower()
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def test_no_content_length_is_411(acme):
    before = acme.env.snapshot()
    body = json.dumps(call_event("101")).encode()
    req = (b"POST /v1/hooks/acme/native HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Authorization: Bearer " + acme.token.encode() + b"\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
           b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
    status, head, resp = raw_http(acme.env.broker.port, req)
    assert status == 411, head
    assert json.loads(resp)["result"]["code"] == 3107
    assert acme.env.snapshot() == before


def test_too_large_is_413(acme):
    before = acme.env.snapshot()
    # announced but never sent: the broker answers from the headers
    req = (b"POST /v1/hooks/acme/native HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           b"Authorization: Bearer " + acme.token.encode() + b"\r\n"
           b"Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n")
    status, head, resp = raw_http(acme.env.broker.port, req)
    assert status == 413, head
    assert json.loads(resp)["result"]["code"] == 3106
    assert acme.env.snapshot() == before


def test_max_body_setting(world):
    b = world.start_broker(env={"CALLRELAY_MAX_BODY": "2000"})
    acme = world.provision("acme")
    acme.add_user("101")
    ev = call_event("101", raw={"pad": "x" * 3000})
    r = acme.post(ev)
    assert_result(r, 413, 3106)
    assert not world.redis.exists(acme.stream_key("101"))
    acme.post_ok(call_event("101"), accepted=1)
    del b


def test_unauthenticated(acme):
    before = acme.env.snapshot()
    assert_result(acme.env.post_events("acme", None, call_event("101")), 401, 3103)
    assert_result(acme.env.post_events("acme", "x" * 43, call_event("101")), 401, 3103)
    from conftest import ADMIN_TOKEN
    assert_result(acme.env.post_events("acme", ADMIN_TOKEN, call_event("101")), 401, 3103)
    assert acme.env.snapshot() == before
    # the token query parameter is accepted
    r = acme.env.post_events("acme", None, call_event("101"), query="?token=" + acme.token)
    assert assert_result(r, 200, 0)["accepted"] == 1


def test_unknown_integration_or_adapter(acme):
    before = acme.env.snapshot()
    r = acme.env.post_events("nosuch", acme.token, call_event("101"))
    assert r.status_code in (401, 404), r.text
    r = acme.env.broker.post("/v1/hooks/acme/nosuchadapter", call_event("101"), token=acme.token)
    assert r.status_code == 404, r.text
    r = acme.env.broker.get("/v1/hooks/acme/native", token=acme.token)
    assert r.status_code == 405, r.text
    assert acme.env.snapshot() == before


def test_events_for_non_users_are_ignored(acme):
    before = acme.env.snapshot()
    acme.post_ok([call_event("999"), call_event(users=["998", "997"])], accepted=0, ignored=2,
                 duplicates=0)
    assert acme.env.snapshot() == before
    acme.post_ok([call_event("999"), call_event("101")], accepted=1, ignored=1)


def test_same_body_twice_stored_once(acme):
    ev = call_event("101")  # no ts, no key: the key is the hash of the content
    acme.post_ok(ev, accepted=1, duplicates=0)
    acme.post_ok(ev, accepted=0, duplicates=1)
    assert acme.env.redis.xlen(acme.stream_key("101")) == 1
    # the same events as an array: both duplicates
    ev2 = call_event("101")
    acme.post_ok([ev, ev2], accepted=1, duplicates=1)
    assert acme.env.redis.xlen(acme.stream_key("101")) == 2


def test_same_key_stored_once(acme):
    acme.post_ok(call_event("101", key="pbx-evt-1"), accepted=1)
    acme.post_ok(call_event("101", key="pbx-evt-1", call_id="different"), accepted=0, duplicates=1)
    acme.post_ok(call_event("102", key="pbx-evt-1"), accepted=0, duplicates=1)
    assert acme.env.redis.xlen(acme.stream_key("101")) == 1
    assert not acme.env.redis.exists(acme.stream_key("102"))
    marker = [k for k in acme.env.redis.scan_iter(match="cr:{acme}:k:*")]
    assert marker, "no dedupe marker cr:{acme}:k:KEY"
    ttl = acme.env.redis.ttl(marker[0])
    assert 0 < ttl <= 86400, ttl


def test_same_key_within_one_body(acme):
    acme.post_ok([call_event("101", key="k1"), call_event("101", key="k1")], accepted=1, duplicates=1)
    assert acme.env.redis.xlen(acme.stream_key("101")) == 1


def test_keys_are_per_integration(env):
    a = env.provision("acme")
    o = env.provision("other")
    a.add_user("101")
    o.add_user("101")
    ev = call_event("101", key="shared")
    a.post_ok(ev, accepted=1)
    o.post_ok(ev, accepted=1)


def test_allowed_networks(env):
    closed = env.provision("closed", settings={"allowed_networks": ["10.0.0.0/8", "192.168.0.0/16"]})
    closed.add_user("101")
    before = env.snapshot()
    body = assert_result(closed.post(call_event("101")), 403, 3108)
    assert body["result"]["message"]
    assert env.snapshot() == before
    open_ = env.provision("open", settings={"allowed_networks": ["10.0.0.0/8", "127.0.0.0/8"]})
    open_.add_user("101")
    open_.post_ok(call_event("101"), accepted=1)
    empty = env.provision("empty", settings={"allowed_networks": []})
    empty.add_user("101")
    empty.post_ok(call_event("101"), accepted=1)


def test_bad_allowed_networks_refused_at_create(env):
    r = env.broker.admin("/v1/integration/create", {"name": "x", "adapter": "native",
                                                    "settings": {"allowed_networks": ["not-a-cidr"]}})
    assert_result(r, 400, 3101)


def test_bad_webhook_secret_refused_at_create_and_update(env):
    """The native adapter checks its own setting; the field is named in full."""
    bad = {"webhook_secret": "plain-text"}
    r = env.broker.admin("/v1/integration/create", {"name": "x", "adapter": "native", "settings": bad})
    body = assert_result(r, 400, 3101)
    assert body["field"] == "settings.webhook_secret"
    assert "settings.webhook_secret" in body["result"]["message"]
    env.provision("y")
    r = env.broker.admin("/v1/integration/update", {"name": "y", "settings": bad})
    body = assert_result(r, 400, 3101)
    assert body["field"] == "settings.webhook_secret"
