"""What ingest.lua does with an event's declarations and the call it belongs to: order (stale
events dropped and counted), targets (one_online, call_parties, command), the call's state in
Redis (docs/redis-layout.md) and group disconnects.

Presence members are written into `P on` with redis-py: the hub keeps them for registered tabs,
and a test that opened tabs would race with it; the script only reads the sorted set."""
import time
import uuid

from conftest import assert_result, call_event, metric


def post(integ, body):
    return assert_result(integ.post(body), 200, 0)


def counts(b):
    return {k: b[k] for k in ("accepted", "duplicates", "ignored", "stale")}


def call_key(integ, call_id):
    return "cr:{%s}:call:%s" % (integ.name, call_id)


def uc_key(integ, ext):
    return "cr:{%s}:uc:%s" % (integ.name, ext)


def online_key(integ):
    return "cr:{%s}:on" % integ.name


def cid():
    return "c-" + uuid.uuid4().hex


def ordered(user, call_id, seq, state="appeared", key=None, order_key="leg-1"):
    ev = call_event(user, state=state, call_id=call_id, order={"key": order_key, "seq": seq})
    if key:
        ev["key"] = key
    return ev


def stream_len(integ, ext):
    return integ.env.redis.xlen(integ.stream_key(ext))


# --------------------------------------------------------------------------- order

def test_stale_order_is_dropped_and_counted(acme):
    t = acme.tab("101")
    c = cid()
    assert counts(post(acme, ordered("101", c, 5))) == dict(accepted=1, duplicates=0, ignored=0,
                                                            stale=0)
    assert t.next_event()["call"]["state"] == "appeared"
    # lower, then equal (other content, so not a duplicate): both stale
    b = post(acme, [ordered("101", c, 3, state="connected"), ordered("101", c, 5, state="on_hold")])
    assert counts(b) == dict(accepted=0, duplicates=0, ignored=0, stale=2)
    t.expect_silence(0.3)
    # another order key is independent; a higher seq passes (the two differ in content: what
    # differs only in its order is one fact, a duplicate)
    b = post(acme, [ordered("101", c, 1, state="on_hold", order_key="leg-2"),
                    ordered("101", c, 6, state="connected")])
    assert counts(b) == dict(accepted=2, duplicates=0, ignored=0, stale=0)
    assert [e["call"]["state"] for e in t.events(2)] == ["on_hold", "connected"]
    r = acme.env.redis
    assert r.hget(call_key(acme, c), "o:leg-1") == "6"
    assert r.hget(call_key(acme, c), "o:leg-2") == "1"
    assert r.xlen(acme.stream_key("101")) == 3
    assert metric(acme.env.broker.metrics(), "callrelay_events_stale_total") == 2


def test_stale_event_gives_its_key_back(acme):
    c = cid()
    post(acme, ordered("101", c, 9))
    b = post(acme, ordered("101", c, 8, key="late-8"))
    assert b["stale"] == 1
    assert not [k for k in acme.env.redis.scan_iter(match="cr:{acme}:k:*late-8")]


def test_one_fact_from_two_legs_is_one_event(acme):
    """FreeSWITCH posts a CDR per leg: the same fact under two order keys is a duplicate."""
    t = acme.tab("101")
    c = cid()
    b = post(acme, [ordered("101", c, 1, state="connected", order_key="a-leg"),
                    ordered("101", c, 1, state="connected", order_key="b-leg")])
    assert counts(b) == dict(accepted=1, duplicates=1, ignored=0, stale=0)
    assert t.next_event()["call"]["state"] == "connected"
    t.expect_silence(0.3)


def test_redelivered_event_is_a_duplicate_not_stale(acme):
    c = cid()
    ev = ordered("101", c, 4, key="pbx-4")
    assert counts(post(acme, ev)) == dict(accepted=1, duplicates=0, ignored=0, stale=0)
    assert counts(post(acme, ev)) == dict(accepted=0, duplicates=1, ignored=0, stale=0)
    assert stream_len(acme, "101") == 1


# --------------------------------------------------------------------------- one_online

def ivr_event(call_id=None, state="appeared", **extra):
    ev = {"kind": "ivr", "target": "one_online", "call_id": call_id or cid(),
          "ivr": {"state": state, "from": {"number": "5511980121511"}, "line": "551130000000"}}
    ev.update(extra)
    return ev


def test_one_online_reaches_exactly_one_online_user(acme):
    r = acme.env.redis
    now_ms = int(time.time() * 1000)
    r.zadd(online_key(acme), {"101\tinst-a": now_ms + 60000, "102\tinst-b": now_ms + 60000,
                              "102\tinst-c": now_ms + 60000, "103\tinst-a": now_ms - 1000,
                              "nobody\tinst-a": now_ms + 60000})
    n = 40
    b = post(acme, [ivr_event() for _ in range(n)])
    assert counts(b) == dict(accepted=n, duplicates=0, ignored=0, stale=0)
    got = {ext: stream_len(acme, ext) for ext in ("101", "102", "103")}
    assert got["101"] + got["102"] == n, got  # each event exactly once
    assert got["101"] > 0 and got["102"] > 0, got  # chosen at random (2^-39 to fail by chance)
    assert got["103"] == 0, got  # expired presence is offline
    assert not r.exists(acme.stream_key("nobody"))
    for ext in ("101", "102"):
        for _, fields in r.xrange(acme.stream_key(ext)):
            assert '"user":"%s"' % ext in fields["e"]


def test_one_online_falls_back_to_fallback_extension(env):
    fb = env.provision("fb", settings={"fallback_extension": "103"})
    for ext in ("101", "103"):
        fb.add_user(ext)
    env.redis.zadd(online_key(fb), {"101\tgone": int(time.time() * 1000) - 5})  # expired
    c = cid()
    assert counts(post(fb, ivr_event(c))) == dict(accepted=1, duplicates=0, ignored=0, stale=0)
    assert stream_len(fb, "101") == 0
    t = fb.tab("103")  # a missed event: in the first page
    evs = t.first_page["events"]
    assert [(e["kind"], e["user"], e["call_id"]) for e in evs] == [("ivr", "103", c)]


def test_one_online_without_anyone_or_fallback_is_ignored(acme):
    b = post(acme, ivr_event())
    assert counts(b) == dict(accepted=0, duplicates=0, ignored=1, stale=0)
    assert not any(acme.env.redis.exists(acme.stream_key(x)) for x in ("101", "102", "103"))


# --------------------------------------------------------------------------- call_parties

def test_call_parties_reaches_the_calls_users(acme):
    t1, t2, t3 = acme.tab("101"), acme.tab("102"), acme.tab("103")
    c = cid()
    post(acme, [call_event("101", call_id=c), call_event("102", call_id=c)])
    t1.next_event()
    t2.next_event()
    rec = {"kind": "record", "target": "call_parties", "call_id": c,
           "record": {"status": "available", "recording_id": "rec-1",
                      "url": "https://pbx.example/rec-1.mp3", "duration_s": 42}}
    assert counts(post(acme, rec)) == dict(accepted=1, duplicates=0, ignored=0, stale=0)
    e1, e2 = t1.next_event(), t2.next_event()
    assert (e1["kind"], e1["user"], e1["call_id"]) == ("record", "101", c)
    assert (e2["kind"], e2["user"], e2["record"]) == ("record", "102", rec["record"])
    t3.expect_silence(0.3)
    h = acme.env.redis.hgetall(call_key(acme, c))
    assert (h["rec_id"], h["rec_url"], h["rec_status"], h["rec_duration"]) == (
        "rec-1", "https://pbx.example/rec-1.mp3", "available", "42")
    # a call-wide news does not move the legs; the call's end does, for every party
    post(acme, {"kind": "call", "target": "call_parties", "call_id": c,
                "call": {"state": "on_hold"}})
    assert [t.next_event()["call"]["state"] for t in (t1, t2)] == ["on_hold", "on_hold"]
    h = acme.env.redis.hgetall(call_key(acme, c))
    assert (h["state"], h["u:101"], h["u:102"]) == ("on_hold", "appeared", "appeared")
    post(acme, {"kind": "call", "target": "call_parties", "call_id": c,
                "call": {"state": "disconnected"}})
    assert [t.next_event()["call"]["state"] for t in (t1, t2)] == ["disconnected"] * 2
    h = acme.env.redis.hgetall(call_key(acme, c))
    assert (h["state"], h["u:101"], h["u:102"]) == ("disconnected",) * 3
    assert not acme.env.redis.exists(uc_key(acme, "101"), uc_key(acme, "102"))
    unknown = dict(rec, call_id=cid())
    assert counts(post(acme, unknown)) == dict(accepted=0, duplicates=0, ignored=1, stale=0)
    assert not acme.env.redis.exists(call_key(acme, unknown["call_id"]))


# --------------------------------------------------------------------------- command

def route_result(command_id, call_id=None):
    ev = {"kind": "route_result", "target": "command",
          "route_result": {"command_id": command_id, "result": 0, "to": {"extension": "103"}}}
    if call_id:
        ev["call_id"] = call_id
    return ev


def test_command_target_reaches_the_commands_user_with_its_call(acme):
    r = acme.env.redis
    # the command API (next issue) writes this hash; here it is written by hand
    r.hset("cr:{acme}:cmd:cmd-1", mapping={"user": "102", "call_id": "call-9"})
    t1, t2 = acme.tab("101"), acme.tab("102")
    assert counts(post(acme, route_result("cmd-1"))) == dict(accepted=1, duplicates=0, ignored=0,
                                                              stale=0)
    ev = t2.next_event()
    assert (ev["kind"], ev["user"], ev["call_id"]) == ("route_result", "102", "call-9")
    assert ev["route_result"]["command_id"] == "cmd-1"
    # a call_id of its own is kept
    post(acme, route_result("cmd-1", call_id="own-call"))
    assert t2.next_event()["call_id"] == "own-call"
    t1.expect_silence(0.3)
    # no such command: nobody
    assert counts(post(acme, route_result("cmd-none"))) == dict(accepted=0, duplicates=0,
                                                                 ignored=1, stale=0)
    t2.expect_silence(0.2)


# --------------------------------------------------------------------------- call state

def test_call_hash_and_open_calls_follow_the_call(acme):
    r = acme.env.redis
    c = cid()
    before = int(time.time() * 1000)
    post(acme, call_event("101", call_id=c, ts="2026-01-02T03:04:05.000Z"))
    h = r.hgetall(call_key(acme, c))
    assert h == {"kind": "call", "state": "appeared", "direction": "inbound",
                 "from": '{"number":"5511980121511"}', "to": '{"extension":"101"}',
                 "line": "551130000000", "ts": "2026-01-02T03:04:05.000Z", "u:101": "appeared"}
    score = r.zscore(uc_key(acme, "101"), c)
    assert score is not None and before - 1000 <= score <= time.time() * 1000 + 1000
    ttl = r.pttl(call_key(acme, c))
    assert 0 < ttl <= 1209600 * 1000
    # a user's open calls live the retention and up to a sixteenth more (docs/redis-layout.md)
    assert 1209600 * 1000 - 60000 < r.pttl(uc_key(acme, "101")) <= 1209600 * 1000 * 17 // 16

    post(acme, call_event("101", state="connected", call_id=c))
    h = r.hgetall(call_key(acme, c))
    assert (h["state"], h["u:101"], h["answered"]) == ("connected", "connected", "101")
    assert r.zscore(uc_key(acme, "101"), c) is not None

    ev = call_event("101", state="disconnected", call_id=c)
    ev["call"]["disconnect"] = {"code": 16, "text": "Normal call clearing"}
    post(acme, ev)
    h = r.hgetall(call_key(acme, c))
    assert (h["state"], h["u:101"], h["code"], h["text"]) == (
        "disconnected", "disconnected", "16", "Normal call clearing")
    assert r.zscore(uc_key(acme, "101"), c) is None


def test_ivr_call_then_a_users_leg(acme):
    r = acme.env.redis
    r.zadd(online_key(acme), {"103\tinst-a": int(time.time() * 1000) + 60000})
    c = cid()
    post(acme, ivr_event(c))
    h = r.hgetall(call_key(acme, c))
    assert (h["kind"], h["state"]) == ("ivr", "appeared")
    assert not [f for f in h if f.startswith("u:")]  # an IVR notice is nobody's leg
    assert not r.exists(uc_key(acme, "103"))
    post(acme, call_event("102", call_id=c))
    h = r.hgetall(call_key(acme, c))
    assert (h["kind"], h["u:102"]) == ("call", "appeared")
    assert r.zscore(uc_key(acme, "102"), c) is not None


def test_group_call_disconnects(acme):
    r = acme.env.redis
    t1, t2 = acme.tab("101"), acme.tab("102")
    c = cid()
    post(acme, [call_event("101", call_id=c), call_event("102", call_id=c)])
    t1.next_event()
    t2.next_event()
    post(acme, call_event("101", state="connected", call_id=c))
    assert t1.next_event()["call"]["state"] == "connected"
    post(acme, call_event("102", state="disconnected", call_id=c))
    other = t2.next_event()
    assert other["call"]["state"] == "disconnected"
    assert other["call"]["is_group_disconnect"] is True
    h = r.hgetall(call_key(acme, c))
    assert h["state"] == "connected"  # 101 still talks
    assert r.zscore(uc_key(acme, "102"), c) is None
    assert r.zscore(uc_key(acme, "101"), c) is not None
    post(acme, call_event("101", state="disconnected", call_id=c))
    own = t1.next_event()
    assert own["call"]["state"] == "disconnected"
    assert "is_group_disconnect" not in own["call"]
    h = r.hgetall(call_key(acme, c))
    assert (h["state"], h["answered"], h["u:101"], h["u:102"]) == (
        "disconnected", "101", "disconnected", "disconnected")
    assert r.zscore(uc_key(acme, "101"), c) is None
    # the adapter's own verdict is kept
    c2 = cid()
    post(acme, [call_event("101", call_id=c2), call_event("102", call_id=c2),
                call_event("101", state="connected", call_id=c2)])
    t1.events(2)
    t2.next_event()
    ev = call_event("102", state="disconnected", call_id=c2)
    ev["call"]["is_group_disconnect"] = False
    post(acme, ev)
    assert t2.next_event()["call"]["is_group_disconnect"] is False


def test_command_target_on_a_call_event_is_refused_whole(acme):
    """Only a route_result follows a command; a batch with one such call event is a 400 naming
    it, and nothing of the batch is stored (it was a 500, and 503 for ever as a batch)."""
    before = acme.env.snapshot()
    bad = {"kind": "call", "target": "command", "call_id": cid(), "call": {"state": "appeared"}}
    r = acme.post([call_event("101"), bad])
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "events[1].target", r.text
    assert acme.env.snapshot() == before


def test_deleted_user_leaves_no_open_calls_to_its_successor(acme):
    """A user created again with the extension of a deleted one must not see its calls."""
    c = cid()
    post(acme, ordered("101", c, 1))
    r = acme.env.redis
    assert r.zcard("cr:{acme}:uc:101") == 1
    resp = acme.env.broker.post("/v1/users/delete", {"extension": "101"}, token=acme.token)
    assert resp.status_code == 200, resp.text
    assert not r.exists("cr:{acme}:uc:101")
    acme.add_user("101")
    t = acme.tab("101", register=False)
    ans = t.register()
    assert ans.get("calls") == [], ans


def test_a_sequenced_leg_hears_each_state_once(acme):
    """ARI reports one change from several sources under different order keys: a user whose leg
    is connected already is not told again; an unsequenced event is the PBX's to repeat."""
    t = acme.tab("101")
    c = cid()
    post(acme, ordered("101", c, 1, state="connected"))
    assert t.next_event()["call"]["state"] == "connected"
    again = ordered("101", c, 7, state="connected", order_key="bridge")
    again["call"]["line"] = "other source"
    assert counts(post(acme, again)) == dict(accepted=0, duplicates=1, ignored=0, stale=0)
    t.expect_silence(0.3)
    plain = call_event("101", state="connected", call_id=c, key="unsequenced-repeat")
    assert counts(post(acme, plain))["accepted"] == 1
    assert t.next_event()["call"]["state"] == "connected"
