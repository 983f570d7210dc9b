"""Presence: who has a registered tab, on any instance (POST /v1/session/ping), kept in Redis
with an expiry that live instances refresh, so that a killed instance leaves no ghost beyond
CALLRELAY_PRESENCE_TTL."""
import signal
import time

import pytest

from conftest import assert_result, wait_until

TTL = 3  # seconds; instances refresh every second


def online(integ, broker):
    r = broker.post("/v1/session/ping", None, token=integ.token, data="")
    return assert_result(r, 200, 0)["online"]


def members(world, integ):
    return world.redis.zrange("cr:{%s}:on" % integ.name, 0, -1, withscores=True)


def two(world):
    env = {"CALLRELAY_PRESENCE_TTL": str(TTL)}
    a = world.start_broker("a", env=env)
    b = world.start_broker("b", env=env)
    acme = world.provision("acme", broker=a)
    for ext in ("101", "102", "103"):
        acme.add_user(ext, broker=a)
    return a, b, acme


def test_ping_lists_tabs_on_either_instance(world):
    a, b, acme = two(world)
    assert online(acme, a) == []
    t1 = acme.tab("102", broker=a)
    t2 = acme.tab("101", broker=b)
    t3 = acme.tab("101", broker=a)
    assert online(acme, a) == ["101", "102"]
    assert online(acme, b) == ["101", "102"]
    instances = {m.split("\t")[1] for m, _ in members(world, acme)}
    assert len(instances) == 2, members(world, acme)
    now_ms = time.time() * 1000
    assert all(now_ms < score <= now_ms + TTL * 1000 + 500 for _, score in members(world, acme))
    t3.close()  # 101 still has a tab on b
    wait_until(lambda: len(members(world, acme)) == 2, 3, what="a's member of 101 removed")
    assert online(acme, a) == ["101", "102"]
    t2.close()
    wait_until(lambda: online(acme, b) == ["102"], 3, what="101 offline after its last tab closed")
    assert t1.unregister()["result"]["code"] == 0
    wait_until(lambda: online(acme, a) == [], 3, what="102 offline after unregister")
    t1.register()  # registering again makes it present again
    assert online(acme, b) == ["102"]


def test_a_connected_but_unregistered_tab_is_not_online(world):
    a, b, acme = two(world)
    acme.tab("103", broker=a, register=False)
    time.sleep(0.3)
    assert online(acme, b) == []


@pytest.mark.serial  # a refresh every second against a TTL of 3 s
def test_live_instance_refreshes_past_the_ttl(world):
    a, b, acme = two(world)
    acme.tab("101", broker=a)
    time.sleep(TTL + 1.5)
    assert online(acme, b) == ["101"]


@pytest.mark.serial  # a TTL of 3 s
def test_killed_instance_member_expires(world):
    a, b, acme = two(world)
    acme.tab("101", broker=a)
    acme.tab("102", broker=b)
    assert online(acme, b) == ["101", "102"]
    a.stop(sig=signal.SIGKILL)
    assert online(acme, b) == ["101", "102"], "the member lives until its expiry"
    wait_until(lambda: online(acme, b) == ["102"], TTL + 2, what="a's member expired")
    # b prunes what dead instances left, now and then
    wait_until(lambda: len(members(world, acme)) == 1, 8, what="expired member pruned")


def test_drain_removes_the_instance_members(world):
    a, b, acme = two(world)
    acme.tab("101", broker=a)
    acme.tab("102", broker=b)
    assert a.stop() == 0
    assert online(acme, b) == ["102"]
    assert [m.split("\t")[0] for m, _ in members(world, acme)] == ["102"]


def test_ping_needs_the_integration_token(world):
    a, b, acme = two(world)
    r = a.post("/v1/session/ping", None, token="wrong-token", data="")
    assert_result(r, 401, 3103)
    r = a.post("/v1/session/ping", {"token": acme.token})
    assert assert_result(r, 200, 0)["online"] == []
    r = a.post("/v1/session/ping", None, token=acme.token, data="[1]")
    assert_result(r, 400, 3100)
    r = a.get("/v1/session/ping", token=acme.token)
    assert r.status_code == 405


def test_presence_ttl_setting_is_checked(world):
    b = world.start_broker("x", env={"CALLRELAY_PRESENCE_TTL": "1"}, wait_ready=False)
    assert b.proc.wait(10) != 0
    assert "CALLRELAY_PRESENCE_TTL" in b.stderr()
    b.stop()
