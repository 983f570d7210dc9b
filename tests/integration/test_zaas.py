"""ZaaS through a real broker and the fake Voice API (tests/fakes/zaas_api.py): POST /v1/callback
places the call (Login, Call/Server, Call/Create), the poller follows it with Call/Status into
appeared, connected, disconnected for the operator; an expired token costs one login again; an
offline webphone is 409/4102; the polled call survives a broker killed with -9, and two brokers
deliver each transition once."""
import json
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import assert_result, assert_valid_event, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fakes"))
from zaas_api import CAMPAIGN, LOGIN, PASSWORD, ZaasApi  # noqa: E402

NUMBER = "5511980121511"


@pytest.fixture
def zaas():
    z = ZaasApi().start()
    yield z
    z.stop()


def provision(world, z, broker=None, **extra):
    settings = {"zaas": dict({"base_url": z.url, "login": LOGIN, "password": PASSWORD,
                              "cod_campaign": CAMPAIGN, "poll_interval_ms": 200}, **extra),
                "command_timeout_ms": 1000}
    integ = world.provision("acme", settings=settings, adapter="zaas", broker=broker)
    integ.add_user("101", broker=broker)
    return integ


def callback(integ, broker, to=NUMBER, status=200, code=0, **extra):
    body = dict({"extension": "101", "to_number": to}, **extra)
    r = broker.post("/v1/callback", body, token=integ.token)
    return assert_result(r, status, code)


def states(events):
    return [(e["call_id"], e["call"]["state"]) for e in events]


def stream_events(world, integ):
    return [json.loads(f["e"]) for _, f in world.redis.xrange(integ.stream_key("101"))]


def poll_key(world, call_id):
    return "cr:{acme}:p:%s" % call_id


def check_sequence(events, call_id):
    assert states(events) == [(call_id, "appeared"), (call_id, "connected"),
                              (call_id, "disconnected")], states(events)
    for e in events:
        assert e["source"] == "zaas"
        assert e["call"]["direction"] == "outbound"
        assert e["call"]["from"] == {"extension": "101"}
        assert e["call"]["to"] == {"number": NUMBER}
    assert events[2]["call"]["disconnect"]["code"] == 16


def test_callback_then_the_whole_sequence(world, zaas):
    b = world.start_broker()
    integ = provision(world, zaas)
    tab = integ.tab("101")
    ans = callback(integ, b)
    call_id = ans["call_id"]
    assert call_id in zaas.calls()
    got = tab.events(3, timeout=10)
    for e in got:
        assert_valid_event(e)
    check_sequence(got, call_id)
    tab.expect_silence(1.0)
    # what ZaaS was sent: login, server, create with the token first, then polls of that call
    paths = [r["path"] for r in zaas.records()]
    print("\nZaaS was sent: %s" % paths)
    print("operator 101 received: %s" % [(e["call"]["state"], e["call"].get("disconnect"))
                                         for e in got])
    assert paths[:3] == ["/Voice/Login", "/Voice/Call/Server", "/Voice/Call/Create"], paths
    create = zaas.records("/Call/Create")[0]["body"]
    assert list(create)[0] == "token"
    assert create["call_destination"] == NUMBER and create["call_type"] == "external"
    assert create["call_recorder"] == "1"
    assert all(r["body"]["_id"] == call_id for r in zaas.records("/Call/Status"))
    # forgotten once Finished: no more polls
    wait_until(lambda: not world.redis.exists(poll_key(world, call_id)), 5, what="call forgotten")
    assert world.redis.zcard("cr:pq") == 0
    n = len(zaas.records("/Call/Status"))
    time.sleep(0.8)
    assert len(zaas.records("/Call/Status")) == n


@pytest.mark.parametrize("expiry", ["401", "text"])
def test_token_expiry_logs_in_once_more(world, expiry):
    z = ZaasApi(expiry=expiry, spelling="voice", login_shape="array").start()
    try:
        b = world.start_broker()
        integ = provision(world, z)
        tab = integ.tab("101")
        first = callback(integ, b)["call_id"]
        check_sequence(tab.events(3, timeout=10), first)
        wait_until(lambda: not world.redis.exists(poll_key(world, first)), 5, what="call forgotten")
        assert len(z.records("/Login")) == 1
        z.expire_tokens()
        second = callback(integ, b)["call_id"]  # no failed command
        assert len(z.records("/Login")) == 2  # once more, not per request
        creates = z.records("/Call/Create")
        assert len(creates) == 3, creates  # the first call's, the refused one, the one again
        assert creates[1]["status"] == 401 or "Token" in json.dumps(creates[1]["answer"])
        assert creates[2]["status"] == 200
        assert creates[2]["body"]["token"] != creates[1]["body"]["token"]
        check_sequence(tab.events(3, timeout=10), second)
        assert len(z.records("/Login")) == 2
    finally:
        z.stop()


@pytest.mark.parametrize("status", [200, 400])
def test_no_endpoint_registered_is_409(world, status):
    z = ZaasApi(no_endpoint_status=status).start()
    try:
        b = world.start_broker()
        integ = provision(world, z)
        z.no_endpoint.add("5511999990000")
        body = callback(integ, b, to="5511999990000", status=409, code=4102)
        assert "webphone" in body["result"]["message"]
        assert "call_id" not in body
        z.set_offline(True)
        callback(integ, b, status=409, code=4102)
        z.set_offline(False)
        assert callback(integ, b)["call_id"]
        assert world.redis.zcard("cr:pq") == 1  # only the call placed is polled
    finally:
        z.stop()


def test_killed_broker_restarted_mid_call(world, zaas):
    a = world.start_broker("a")
    integ = provision(world, zaas, broker=a)
    call_id = callback(integ, a)["call_id"]
    wait_until(lambda: len(stream_events(world, integ)) >= 1, 10, what="appeared stored")
    assert zaas.calls()[call_id]["index"] < 3  # not finished yet
    a.stop(signal.SIGKILL)
    polls = len(zaas.records("/Call/Status"))
    b = world.start_broker("b")
    # the dead instance's lease (4 x command_timeout_ms + 2 s) ends, then b polls the call on
    wait_until(lambda: len(stream_events(world, integ)) >= 3, 20, what="the whole sequence")
    assert len(zaas.records("/Call/Status")) > polls
    wait_until(lambda: not world.redis.exists(poll_key(world, call_id)), 5, what="call forgotten")
    check_sequence(stream_events(world, integ), call_id)
    print("\nkilled mid-call, restarted: stored %s; Call/Status polls %d before the kill, %d in "
          "all" % ([e["call"]["state"] for e in stream_events(world, integ)], polls,
                   len(zaas.records("/Call/Status"))))
    tab = integ.tab("101", broker=b)
    page = [e for e in tab.first_page.get("events", [])]
    assert states(page) == [(call_id, s) for s in ("appeared", "connected", "disconnected")]


def test_two_brokers_deliver_each_transition_once(world, zaas):
    a = world.start_broker("a")
    b = world.start_broker("b")
    integ = provision(world, zaas, broker=a)
    ta = integ.tab("101", broker=a)
    tb = integ.tab("101", broker=b)
    ids = [callback(integ, a if i % 2 == 0 else b)["call_id"] for i in range(4)]
    got_a = ta.events(12, timeout=20)
    got_b = tb.events(12, timeout=20)
    assert [e["id"] for e in got_a] == [e["id"] for e in got_b]
    for call_id in ids:
        mine = [e for e in got_a if e["call_id"] == call_id]
        check_sequence(mine, call_id)
    ta.expect_silence(1.0)
    tb.expect_silence(0.2)
    wait_until(lambda: world.redis.zcard("cr:pq") == 0, 5, what="every call forgotten")
    # a lease keeps two instances off one call: no two polls of one call overlap in time
    for call_id in ids:
        ts = [r["t"] for r in zaas.records("/Call/Status") if r["body"]["_id"] == call_id]
        assert len(ts) == 7  # two polls of each status, then Finished ends it
        gaps = [y - x for x, y in zip(ts, ts[1:])]
        assert min(gaps) > 0.1, gaps


def test_failed_polls_back_off(world):
    z = ZaasApi().start()
    try:
        b = world.start_broker()
        integ = provision(world, z)
        tab = integ.tab("101")
        z.fail_status(3)
        call_id = callback(integ, b)["call_id"]
        check_sequence(tab.events(3, timeout=15), call_id)
        ts = [r["t"] for r in z.records("/Call/Status")]
        gaps = [y - x for x, y in zip(ts, ts[1:4])]
        # after the n-th failure in a row: 200 ms doubled n times (the adapter asks 400 at least)
        # lower bounds only: a loaded machine may poll later, never sooner
        assert gaps[0] > 0.35 and gaps[1] > 0.7 and gaps[2] > 1.5, gaps
        assert gaps[2] < 10, gaps  # capped growth, not stuck
    finally:
        z.stop()


REDIS_DIR = Path(__file__).resolve().parents[2] / "broker" / "store" / "redis"


def script(name):
    return (REDIS_DIR / name).read_text()


def test_poll_scripts_lease_and_forget(world):
    """The scripts alone: a lease hides a call until it ends, an outcome of an expired lease is
    not applied, a call older than the limit is forgotten."""
    r = world.redis
    add, claim, done = script("poll_add.lua"), script("poll_claim.lua"), script("poll_done.lua")
    assert r.eval(add, 0, "t:", "acme", "c1", "101", "55", "0", "300", "60000") == 1
    assert r.eval(add, 0, "t:", "acme", "c1", "999", "55", "0", "300", "60000") == 0  # kept
    got = r.eval(claim, 0, "t:", "10", "i1", "60000")
    assert got[2:] == ["acme", "c1", "101", "55", "", "0", "0", "1"]
    assert r.eval(claim, 0, "t:", "10", "i2", "60000")[2:] == []  # leased to i1
    time.sleep(0.4)  # the lease (300 ms) ends: another instance takes the call
    got = r.eval(claim, 0, "t:", "10", "i2", "60000")
    assert got[2:] == ["acme", "c1", "101", "55", "", "0", "0", "2"]
    # i1's late outcome changes nothing; i2's is applied
    assert r.eval(done, 0, "t:", "acme", "c1", "1", "ok", "Setup", "1", "0") == 0
    assert r.eval(done, 0, "t:", "acme", "c1", "2", "fail", "", "0", "0") == 1
    assert r.hget("t:{acme}:p:c1", "f") == "1"
    got = r.eval(claim, 0, "t:", "10", "i1", "60000")
    assert got[2:] == ["acme", "c1", "101", "55", "", "0", "1", "3"]
    assert r.eval(done, 0, "t:", "acme", "c1", "3", "ok", "Dialing", "1", "0") == 1
    assert r.hmget("t:{acme}:p:c1", "l", "s", "f") == ["Dialing", "1", "0"]
    got = r.eval(claim, 0, "t:", "10", "i1", "60000")
    assert r.eval(done, 0, "t:", "acme", "c1", got[-1], "done", "Finished", "2", "0") == 1
    assert not r.exists("t:{acme}:p:c1") and r.zcard("t:pq") == 0
    # too old: forgotten by the claim instead of leased
    r.eval(add, 0, "t:", "acme", "c2", "101", "55", "0", "300", "60000")
    time.sleep(0.05)
    assert r.eval(claim, 0, "t:", "10", "i1", "10")[2:] == []
    assert not r.exists("t:{acme}:p:c2") and r.zcard("t:pq") == 0


def test_progression_on_time_with_the_documents_spelling(world):
    """The call moves on with time (not per poll) and Call/Status answers with voice_status,
    voice_code_result as a string: the same three events."""
    z = ZaasApi(advance="time", step_s=0.5, spelling="voice", login_shape="array").start()
    try:
        b = world.start_broker()
        integ = provision(world, z, call_type="internal", caller_id="554830037656", recorder=2)
        tab = integ.tab("101")
        call_id = callback(integ, b, line_number="554800000001")["call_id"]
        check_sequence(tab.events(3, timeout=10), call_id)
        tab.expect_silence(0.8)
        create = z.records("/Call/Create")[0]["body"]
        assert (create["call_type"], create["call_cid"], create["call_recorder"]) == \
            ("internal", "554800000001", "2")
        assert any("voice_status" in r["answer"][0] for r in z.records("/Call/Status"))
    finally:
        z.stop()
