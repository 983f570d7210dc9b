"""Redis stops: 503 with Retry-After, /readyz 503; Redis comes back: the broker recovers
by itself and delivers again."""
import time

import requests

from conftest import Closed, RedisServer, Tab, assert_result, call_event, metric, wait_until


def readyz(b):
    return requests.get(b.base + "/readyz", timeout=2).status_code


def test_outage_and_recovery(acme):
    env = acme.env
    b = env.broker
    t = acme.tab("101")
    acme.post_ok(call_event("101", call_id="before"), accepted=1)
    before = t.next_event()
    t.ack(before["id"])
    t.ping()

    env.redis_server.stop(save=True)  # the data comes back with the restart (dump.rdb)
    wait_until(lambda: readyz(b) == 503, 5, what="/readyz 503 after Redis stopped")
    assert requests.get(b.base + "/healthz", timeout=2).status_code == 200
    r = acme.post(call_event("101", call_id="during"))
    assert r.status_code == 503, r.text
    assert r.headers.get("Retry-After") == "1", r.headers
    assert r.json()["result"]["code"] == 5003
    m = b.metrics()
    assert m.get("callrelay_redis_connected") == 0

    env.redis_server.start()
    wait_until(lambda: readyz(b) == 200, 15, interval=0.1, what="/readyz 200 after Redis restarted")
    acme.post_ok(call_event("101", call_id="after"), accepted=1)
    try:
        ev = t.next_event(timeout=5)
    except Closed:
        t = Tab(acme.channel_url("101"))
        ans = t.register()
        assert ans["result"]["code"] == 0
        ev = ans["events"][-1]
    assert ev["call_id"] == "after"
    ids = env.stream_ids(acme.stream_key("101"))
    assert len(ids) == 2, "the refused event must not have been stored"
    assert b.metrics().get("callrelay_redis_connected") == 1


def test_broker_starts_without_redis_and_becomes_ready(world):
    port = world.redis_server.port
    world.redis_server.stop()
    b = world.start_broker(wait_ready=False)
    wait_until(lambda: requests.get(b.base + "/healthz", timeout=1).status_code == 200, 10,
               what="/healthz while Redis is down")
    assert readyz(b) == 503
    r = b.admin("/v1/integration/create", {"name": "acme", "adapter": "native", "settings": {}})
    assert_result(r, 503, 5003)
    assert r.headers.get("Retry-After") == "1"
    world.redis_server = RedisServer(world.tmp, port).start()
    wait_until(lambda: readyz(b) == 200, 15, interval=0.1, what="/readyz 200 once Redis is up")
    acme = world.provision("acme")
    acme.add_user("101")
    acme.post_ok(call_event("101"), accepted=1)


def test_connections_killed_by_redis_are_reopened(acme):
    """Redis closes the broker's connections (CLIENT KILL): the broker reconnects by itself."""
    env = acme.env
    b = env.broker
    t = acme.tab("101")
    killed = env.redis.client_kill_filter(_type="normal", skipme=True)
    killed += env.redis.client_kill_filter(_type="pubsub")
    assert killed >= 2, killed

    def accepted():
        r = acme.post(call_event("101", call_id="after-kill"))
        assert r.status_code in (200, 503), r.text
        return r.status_code == 200 and r.json()["accepted"] == 1
    wait_until(accepted, 10, interval=0.1, what="a POST accepted after CLIENT KILL")
    wait_until(lambda: readyz(b) == 200, 5, what="/readyz 200")
    try:
        ev = t.next_event(timeout=5)
    except Closed:
        t = Tab(acme.channel_url("101"))
        ev = t.register()["events"][-1]
    assert ev["call_id"] == "after-kill"


def test_pubsub_loss_does_not_lose_events_of_a_tab_on_an_empty_stream(acme):
    """A tab registered while its user's stream was empty, and another with history: events
    stored while the pub/sub feed is down reach both once it is back (read from the stream)."""
    env = acme.env
    acme.post_ok(call_event("102", call_id="history"), accepted=1)
    t1 = acme.tab("101")
    t2 = acme.tab("102")
    assert t1.first_page["result"]["code"] == 109
    assert [e["call_id"] for e in t2.first_page["events"]] == ["history"]
    assert t2.register()["result"]["code"] == 109  # live events follow the last page
    for n in range(3):
        env.redis.client_kill_filter(_type="pubsub")
        acme.post_ok([call_event("101", call_id="gap-101-%d" % n), call_event("102", call_id="gap-102-%d" % n)],
                     accepted=2)
        assert t1.next_event(timeout=10)["call_id"] == "gap-101-%d" % n
        assert t2.next_event(timeout=10)["call_id"] == "gap-102-%d" % n
        wait_until(lambda: metric(env.broker.metrics(), "callrelay_redis_pubsub_connected") == 1, 10,
                   what="the pub/sub feed back")
        acme.post_ok([call_event("101", call_id="live-101-%d" % n), call_event("102", call_id="live-102-%d" % n)],
                     accepted=2)
        assert t1.next_event(timeout=10)["call_id"] == "live-101-%d" % n
        assert t2.next_event(timeout=10)["call_id"] == "live-102-%d" % n
    t1.expect_silence(0.2)
    t2.expect_silence(0.2)


def test_script_cache_flushed_falls_back_to_eval(acme):
    """Redis forgot the scripts (SCRIPT FLUSH, a restart without persistence of the cache):
    EVALSHA answers NOSCRIPT and the broker sends the script itself; nothing is refused."""
    t = acme.tab("101")
    for n in range(3):
        acme.env.redis.script_flush()
        acme.post_ok(call_event("101", call_id="after-flush-%d" % n), accepted=1)
        assert t.next_event()["call_id"] == "after-flush-%d" % n
        page = Tab(acme.channel_url("101")).register(limit=1000)  # page.lua after a flush too
        assert page["result"]["code"] == 0
