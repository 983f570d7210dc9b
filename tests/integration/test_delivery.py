"""Live delivery over the websocket: fields, kinds, isolation, tabs, unregister, frames."""
import time

import pytest

from conftest import (Closed, Tab, assert_increasing, assert_result, call_event, make_ticket,
                      ws_upgrade_status)


def test_live_event_has_every_field(acme):
    t = acme.tab("101")
    assert t.first_page["result"]["code"] == 109 and t.first_page["events"] == []
    ev_in = call_event("101", state="disconnected", call_id="call-1",
                       ts="2026-01-02T03:04:05.678Z")
    ev_in["call"].update(is_group_disconnect=True, disconnect={"code": 16, "text": "Normal call clearing"},
                         campaign="camp-1", crm_contact_id="pid-9")
    ev_in["raw"] = {"pbx": ["original", 1]}
    acme.post_ok(ev_in, accepted=1, duplicates=0, ignored=0)
    ev = t.next_event()
    stored = acme.env.stream_ids(acme.stream_key("101"))
    assert ev["id"] == stored[-1]
    assert ev["kind"] == "call" and ev["integration"] == "acme" and ev["user"] == "101"
    assert ev["source"] == "native" and ev["call_id"] == "call-1"
    assert ev["ts"] == "2026-01-02T03:04:05.678Z"
    assert ev["call"] == ev_in["call"]
    assert ev["raw"] == ev_in["raw"]
    assert "key" not in ev and "users" not in ev
    t.expect_silence(0.3)


def test_every_kind_is_delivered(acme):
    t = acme.tab("101")
    evs = [
        call_event("101", state="appeared"),
        {"kind": "record", "user": "101", "call_id": "c-r",
         "record": {"status": "available", "recording_id": "rec-1",
                    "url": "https://pbx.example/rec-1.mp3", "duration_s": 42}},
        {"kind": "ivr", "user": "101", "call_id": "c-i",
         "ivr": {"state": "appeared", "from": {"number": "5511999999999"}, "to": {"number": "5511888888888"},
                 "line": "5511888888888"}},
        {"kind": "route_result", "user": "101", "call_id": "c-rr",
         "route_result": {"command_id": "cmd-1", "result": 0, "to": {"extension": "102"}}},
    ]
    acme.post_ok(evs, accepted=4)
    got = t.events(4)
    assert [e["kind"] for e in got] == ["call", "record", "ivr", "route_result"]
    assert got[1]["record"] == evs[1]["record"]
    assert got[2]["ivr"] == evs[2]["ivr"]
    assert got[3]["route_result"] == evs[3]["route_result"]
    assert_increasing([e["id"] for e in got])


def test_ts_is_stamped_and_normalized(acme):
    t = acme.tab("101")
    before = time.time()
    e1 = call_event("101")
    e2 = call_event("101", ts="2026-01-02T03:04:05+03:00")
    acme.post_ok([e1, e2], accepted=2)
    a, b = t.events(2)
    import datetime
    stamped = datetime.datetime.strptime(a["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert before - 2 <= stamped <= time.time() + 2, a["ts"]
    assert b["ts"] == "2026-01-02T00:04:05.000Z"


def test_unknown_top_level_fields_are_ignored(acme):
    t = acme.tab("101")
    ev = call_event("101", foo=1, integration="evil", source="evil", id="1-1", bar={"x": 1})
    acme.post_ok(ev, accepted=1)
    got = t.next_event()
    assert got["integration"] == "acme" and got["source"] == "native" and got["id"] != "1-1"
    assert "foo" not in got and "bar" not in got
    raw = acme.env.redis.xrange(acme.stream_key("101"))[-1][1]["e"]
    assert "foo" not in raw and "evil" not in raw


def test_isolation_between_users(acme):
    t1 = acme.tab("101")
    t2 = acme.tab("102")
    acme.post_ok([call_event("101", call_id="for-101"), call_event("102", call_id="for-102")], accepted=2)
    assert t1.next_event()["call_id"] == "for-101"
    assert t2.next_event()["call_id"] == "for-102"
    t1.expect_silence(0.4)
    t2.expect_silence(0.1)


def test_isolation_between_integrations(env):
    a = env.provision("acme")
    o = env.provision("other")
    a.add_user("101")
    o.add_user("101")
    ta = a.tab("101")
    to = o.tab("101")
    a.post_ok(call_event("101", call_id="acme-call"), accepted=1)
    got = ta.next_event()
    assert got["integration"] == "acme" and got["call_id"] == "acme-call"
    to.expect_silence(0.4)
    o.post_ok(call_event("101", call_id="other-call"), accepted=1)
    assert to.next_event()["integration"] == "other"
    ta.expect_silence(0.3)
    # a token of one integration cannot post to another
    r = env.post_events("acme", o.token, call_event("101"))
    assert r.status_code in (401, 403), r.text


def test_users_array_fans_out(acme):
    t1 = acme.tab("101")
    t2 = acme.tab("102")
    t3 = acme.tab("103")
    acme.post_ok(call_event(users=["101", "102", "101", "nobody"], call_id="conf"), accepted=1)
    e1, e2 = t1.next_event(), t2.next_event()
    assert (e1["user"], e2["user"]) == ("101", "102")
    assert e1["call_id"] == e2["call_id"] == "conf"
    t1.expect_silence(0.3)  # 101 named twice: stored once
    t3.expect_silence(0.1)
    assert acme.env.redis.xlen(acme.stream_key("101")) == 1
    assert not acme.env.redis.exists(acme.stream_key("nobody"))


def test_three_tabs_get_every_event_in_order(acme):
    tabs = [acme.tab("101") for _ in range(3)]
    posted = []
    for batch in range(5):
        evs = [call_event("101", call_id="c%d-%d" % (batch, i)) for i in range(6)]
        posted += [e["call_id"] for e in evs]
        acme.post_ok(evs if batch % 2 else evs[0], accepted=len(evs) if batch % 2 else 1)
        if not batch % 2:
            for e in evs[1:]:
                acme.post_ok(e, accepted=1)
    stored = acme.env.stream_ids(acme.stream_key("101"))
    assert len(stored) == 30
    for t in tabs:
        got = t.events(30, timeout=8)
        assert [e["id"] for e in got] == stored
        assert [e["call_id"] for e in got] == posted
        t.expect_silence(0.2)


def test_unregister_stops_live_events(acme):
    t = acme.tab("101")
    other = acme.tab("101")
    assert t.unregister()["result"]["code"] == 0
    acme.post_ok(call_event("101", call_id="while-unregistered"), accepted=1)
    assert other.next_event()["call_id"] == "while-unregistered"
    t.expect_silence(0.5)
    # it comes back as missed on the next register
    ans = t.register()
    assert ans["result"]["code"] == 0
    assert [e["call_id"] for e in ans["events"]] == ["while-unregistered"]


def test_no_live_events_before_register(acme):
    t = acme.tab("101", register=False)
    acme.post_ok(call_event("101"), accepted=1)
    t.expect_silence(0.5)


def test_ping_and_bad_frames(acme):
    t = acme.tab("101", register=False)
    assert t.ping()["result"]["code"] == 0
    t.send({"op": "ack", "id": "1-0"})
    assert t.recv_op("error")["result"]["code"] == 3110
    t.send({"op": "unregister"})
    assert t.recv_op("error")["result"]["code"] == 3110
    t.register()
    cases = [
        ('{"op": "register"', 3100),
        ('[1, 2]', 3100),
        ('{"op": "dance"}', 3109),
        ('{"noop": 1}', None),
        ('{"op": "ack", "id": "not-an-id"}', 3101),
        ('{"op": "ack"}', 3101),
        ('{"op": "register", "limit": 0}', 3101),
        ('{"op": "register", "limit": 1001}', 3101),
        ('{"op": "register", "limit": "ten"}', 3101),
        ('{"op": "register", "since": "yesterday"}', 3101),
    ]
    for text, code in cases:
        t.send_raw(text)
        f = t.recv_op("error")
        if code is None:
            assert f["result"]["code"] in (3100, 3101, 3109), (text, f)
        else:
            assert f["result"]["code"] == code, (text, f)
        assert t.ping()["result"]["code"] == 0  # the connection stays up
    acme.post_ok(call_event("101"), accepted=1)
    assert t.next_event()["user"] == "101"


def test_ws_with_token_and_extension(acme):
    url = acme.env.broker.ws_base + "/v1/ws?token=%s&extension=101" % acme.token
    t = Tab(url)
    assert t.register()["result"]["code"] == 109
    acme.post_ok(call_event("101", call_id="backend"), accepted=1)
    assert t.next_event()["call_id"] == "backend"
    # the optional subprotocol
    t2 = Tab(url, subprotocols=["callrelay.v1"])
    assert t2.ws.subprotocol == "callrelay.v1"
    assert t2.ping()["result"]["code"] == 0


def test_ws_token_refusals(acme):
    base = acme.env.broker.ws_base + "/v1/ws"
    assert ws_upgrade_status(base + "?token=%s&extension=101" % ("x" * 43)) in (401, 403)
    assert ws_upgrade_status(base) in (401, 403)
    assert ws_upgrade_status(base + "?extension=101") in (401, 403)
    # extension that is not a user: error frame 3104 then close 1008
    t = Tab(base + "?token=%s&extension=999" % acme.token)
    f = t.recv(3)
    assert f["op"] == "error" and f["result"]["code"] == 3104, f
    assert t.wait_closed(3) == 1008


def test_forged_and_expired_tickets_are_refused(acme):
    b = acme.env.broker
    url = acme.channel_url("101")
    ticket = url.split("ticket=", 1)[1].split("&")[0]
    base = b.ws_base + "/v1/ws?ticket="
    # tampered: flip one character of the signature, and of the payload
    sig_flip = ticket[:-2] + ("A" if ticket[-2] != "A" else "B") + ticket[-1]
    assert ws_upgrade_status(base + sig_flip) in (401, 403)
    pay_flip = ("A" if ticket[0] != "A" else "B") + ticket[1:]
    assert ws_upgrade_status(base + pay_flip) in (401, 403)
    assert ws_upgrade_status(base + "garbage") in (401, 403)
    assert ws_upgrade_status(base) in (401, 403)
    now = int(time.time())
    # signed with another secret
    assert ws_upgrade_status(base + make_ticket("acme", "101", now + 60, secret="other")) in (401, 403)
    # the ticket format of broker/hub/ticket.h with the shared secret: valid, then expired
    assert ws_upgrade_status(base + make_ticket("acme", "101", now + 60)) == 101, \
        "a ticket made per broker/hub/ticket.h with CALLRELAY_TICKET_SECRET was refused"
    assert ws_upgrade_status(base + make_ticket("acme", "101", now - 5)) in (401, 403)
    # the real one still works
    assert ws_upgrade_status(url) == 101


def test_ticket_for_deleted_user_or_integration(acme):
    url = acme.channel_url("102")
    assert_result(acme.env.broker.post("/v1/users/delete", {"extension": "102"}, token=acme.token), 200, 0)
    try:
        t = Tab(url)
    except Exception as e:  # refused at upgrade: fine
        assert "401" in str(e) or "403" in str(e) or "404" in str(e), e
        return
    f = t.recv(3)
    assert f["op"] == "error" and f["result"]["code"] == 3104, f
    assert t.wait_closed(3) == 1008
