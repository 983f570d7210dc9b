"""The state of calls: GET /v1/calls/CALL_ID, the first register answer's `calls`, and `gap`
when retention removed events the user had not reached.

The call state is written by ingest.lua (docs/redis-layout.md), which another change brings;
these tests write the hashes and the user's open-call set directly with redis-py, exactly as
that document describes them, so that they test the read side on its own."""
import json
import time

import pytest

from conftest import Tab, assert_result, call_event, error_field, schema_errors, validator

CALL_VALIDATOR = validator("call-state.schema.json")


def put_call(world, integ, call_id, fields, open_for=(), changed_ms=None):
    r = world.redis
    r.hset("cr:{%s}:call:%s" % (integ.name, call_id), mapping=fields)
    for ext in open_for:
        r.zadd("cr:{%s}:uc:%s" % (integ.name, ext),
               {call_id: changed_ms or int(time.time() * 1000)})


def connected_call(ext="101"):
    return {
        "state": "connected", "kind": "call", "direction": "inbound", "line": "551130000000",
        "from": json.dumps({"number": "5511980121511"}, separators=(",", ":")),
        "to": json.dumps({"number": "551130000000", "extension": ext}, separators=(",", ":")),
        "ts": "2026-11-28T10:00:00.123Z", "u:" + ext: "connected", "answered": ext,
        "o:leg-1": "4",
    }


def get_call(integ, broker, call_id, status=200, code=0):
    r = broker.get("/v1/calls/" + call_id, token=integ.token)
    return assert_result(r, status, code)


def test_get_call(env, acme):
    put_call(env, acme, "c-1", connected_call())
    body = get_call(acme, env.broker, "c-1")
    assert not schema_errors(CALL_VALIDATOR, body["call"]), schema_errors(CALL_VALIDATOR, body["call"])
    assert body["call"] == {
        "call_id": "c-1", "state": "connected", "kind": "call", "direction": "inbound",
        "line": "551130000000", "from": {"number": "5511980121511"},
        "to": {"number": "551130000000", "extension": "101"},
        "users": {"101": "connected"}, "updated": "2026-11-28T10:00:00.123Z"}


def test_get_ended_call_with_cause_and_recording(env, acme):
    f = connected_call()
    f.update({"state": "disconnected", "u:101": "disconnected", "u:102": "disconnected",
              "code": "16", "text": "Normal call clearing", "rec_id": "r-9",
              "rec_url": "https://pbx.example/r-9.mp3", "rec_status": "available",
              "rec_duration": "61"})
    put_call(env, acme, "MToxMDAwMjQ6MTAx==", f)
    call = get_call(acme, env.broker, "MToxMDAwMjQ6MTAx==")["call"]
    assert not schema_errors(CALL_VALIDATOR, call)
    assert call["disconnect"] == {"code": 16, "text": "Normal call clearing"}
    assert call["recording"] == {"recording_id": "r-9", "url": "https://pbx.example/r-9.mp3",
                                 "status": "available", "duration_s": 61}
    assert call["users"] == {"101": "disconnected", "102": "disconnected"}


def test_unknown_call_is_404(env, acme):
    body = get_call(acme, env.broker, "nope", 404, 3310)
    assert error_field(body) == "call_id"
    other = env.provision("other")  # another integration's call is not visible
    put_call(env, other, "theirs", connected_call())
    get_call(acme, env.broker, "theirs", 404, 3310)
    assert get_call(other, env.broker, "theirs")["call"]["call_id"] == "theirs"


def test_get_call_needs_the_token_and_an_id(env, acme):
    put_call(env, acme, "c-1", connected_call())
    assert_result(env.broker.get("/v1/calls/c-1"), 401, 3103)
    assert_result(env.broker.get("/v1/calls/c-1", token="wrong"), 401, 3103)
    r = env.broker.get("/v1/calls/c-1", params={"token": acme.token})
    assert assert_result(r, 200, 0)["call"]["call_id"] == "c-1"
    body = assert_result(env.broker.get("/v1/calls/", token=acme.token), 400, 3101)
    assert error_field(body) == "call_id"
    for bad in ("x" * 201, "%ff%fe", "a%2Fb", "a%01b"):
        body = assert_result(env.broker.get("/v1/calls/" + bad, token=acme.token), 400)
        assert body["result"]["code"] in (3100, 3101), body
    put_call(env, acme, "a b:c=", connected_call())
    r = env.broker.get("/v1/calls/a%20b:c=", token=acme.token)
    assert assert_result(r, 200, 0)["call"]["call_id"] == "a b:c="
    assert env.broker.post("/v1/calls/c-1", {}, token=acme.token).status_code == 405


def test_first_register_lists_open_calls(env, acme):
    now = int(time.time() * 1000)
    put_call(env, acme, "older", connected_call(), open_for=["101"], changed_ms=now - 5000)
    put_call(env, acme, "newer", dict(connected_call(), state="appeared", **{"u:101": "appeared"}),
             open_for=["101"], changed_ms=now)
    put_call(env, acme, "other-user", connected_call("102"), open_for=["102"])
    put_call(env, acme, "ended", dict(connected_call(), state="disconnected"))
    # still in the set but ended, and in the set with its hash gone: both left out
    put_call(env, acme, "ended-in-set", dict(connected_call(), state="disconnected"),
             open_for=["101"])
    env.redis.zadd("cr:{acme}:uc:101", {"expired": now})
    acme.post_ok(call_event("101", call_id="newer"), accepted=1)

    t = Tab(acme.channel_url("101"))
    first = t.register(limit=1)
    assert [c["call_id"] for c in first["calls"]] == ["newer", "older"]
    assert first["calls"][1] == get_call(acme, env.broker, "older")["call"]
    assert [e["call_id"] for e in first["events"]] == ["newer"]
    assert "gap" not in first
    again = t.register()
    assert again["result"]["code"] == 109
    assert "calls" not in again, "only the first answer of a connection carries calls"

    t102 = Tab(acme.channel_url("102"))
    assert [c["call_id"] for c in t102.register()["calls"]] == ["other-user"]
    t103 = Tab(acme.channel_url("103"))
    assert t103.register()["calls"] == []


@pytest.mark.serial  # a retention window of 2 s
def test_gap_when_retention_removed_what_the_cursor_had_not_reached(world):
    # Retention 3 s. The stream must live on (an event within each retention) for Redis to
    # remember what it trimmed: a stream that expired whole starts counting again.
    world.start_broker(env={"CALLRELAY_RETENTION": "3"})
    acme = world.provision("acme")
    acme.add_user("101")
    acme.post_ok(call_event("101", call_id="e1"), accepted=1)
    t = acme.tab("101")
    e1 = t.first_page["events"][0]["id"]
    assert "gap" not in t.first_page
    t.ack(e1)
    t.close()
    start = time.monotonic()
    acme.post_ok(call_event("101", call_id="e2"), accepted=1)  # missed, then trimmed
    time.sleep(2)
    acme.post_ok(call_event("101", call_id="e3"), accepted=1)  # missed, kept
    time.sleep(max(0, 3.6 - (time.monotonic() - start)))
    acme.post_ok(call_event("101", call_id="e4"), accepted=1)  # trims e1 and e2
    kept = [json.loads(f["e"])["call_id"] for _, f in world.redis.xrange(acme.stream_key("101"))]
    assert kept == ["e3", "e4"], kept
    # the cursor key expires with the retention too: put it back as the ack left it, as it
    # would still be with a retention of days
    world.redis.set(acme.cursor_key("101"), e1)

    ans = Tab(acme.channel_url("101")).register()
    assert [e["call_id"] for e in ans["events"]] == ["e3", "e4"]
    assert ans.get("gap") is True
    ans = Tab(acme.channel_url("101")).register(since=e1)
    assert ans.get("gap") is True
    e3 = ans["events"][0]["id"]
    ans = Tab(acme.channel_url("101")).register(since=e3)
    assert [e["call_id"] for e in ans["events"]] == ["e4"] and "gap" not in ans


@pytest.mark.serial  # a retention window of 2 s
def test_no_gap_when_what_was_trimmed_was_already_acknowledged(world):
    world.start_broker(env={"CALLRELAY_RETENTION": "3"})
    acme = world.provision("acme")
    acme.add_user("101")
    start = time.monotonic()
    acme.post_ok(call_event("101", call_id="e1"), accepted=1)
    time.sleep(2)
    acme.post_ok(call_event("101", call_id="e1b"), accepted=1)  # keeps the stream alive
    time.sleep(max(0, 3.6 - (time.monotonic() - start)))
    acme.post_ok(call_event("101", call_id="e2"), accepted=1)  # trims e1
    kept = [json.loads(f["e"])["call_id"] for _, f in world.redis.xrange(acme.stream_key("101"))]
    assert kept == ["e1b", "e2"], kept
    t = acme.tab("101")
    assert [e["call_id"] for e in t.first_page["events"]] == ["e1b", "e2"]
    assert t.first_page.get("gap") is True, "e1 was never delivered: the user cannot have it"
    t.ack(t.first_page["events"][-1]["id"])
    assert t.register()["result"]["code"] == 109
    ans = Tab(acme.channel_url("101")).register()
    assert ans["result"]["code"] == 109 and "gap" not in ans
    acme.post_ok(call_event("101", call_id="e3"), accepted=1)
    ans = Tab(acme.channel_url("101")).register()
    assert [e["call_id"] for e in ans["events"]] == ["e3"] and "gap" not in ans
