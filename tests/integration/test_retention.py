"""Retention (MINID trimming, key expiry) and the dedupe window."""
import time

import pytest

from conftest import Tab, call_event

pytestmark = pytest.mark.serial  # retention windows of 1-2 s


def test_old_events_are_trimmed(world):
    world.start_broker(env={"CALLRELAY_RETENTION": "2"})
    acme = world.provision("acme")
    acme.add_user("101")
    acme.post_ok(call_event("101", call_id="old"), accepted=1)
    key = acme.stream_key("101")
    ttl = world.redis.ttl(key)
    assert 0 < ttl <= 2, "stream key should expire within the retention: TTL %s" % ttl
    time.sleep(3)
    acme.post_ok(call_event("101", call_id="new"), accepted=1)
    entries = world.redis.xrange(key)
    assert len(entries) == 1, "old entry not trimmed: %s" % entries
    assert '"new"' in entries[0][1]["e"]
    ttl = world.redis.ttl(key)
    assert 0 < ttl <= 2, ttl
    t = Tab(acme.channel_url("101"))
    ans = t.register()
    assert [e["call_id"] for e in ans["events"]] == ["new"]


def test_stream_expires_after_retention(world):
    world.start_broker(env={"CALLRELAY_RETENTION": "1"})
    acme = world.provision("acme")
    acme.add_user("101")
    acme.post_ok(call_event("101"), accepted=1)
    time.sleep(2.2)
    assert not world.redis.exists(acme.stream_key("101"))
    t = Tab(acme.channel_url("101"))
    assert t.register()["result"]["code"] == 109


def test_dedupe_window(world):
    world.start_broker(env={"CALLRELAY_DEDUPE_WINDOW": "1"})
    acme = world.provision("acme")
    acme.add_user("101")
    ev = call_event("101", key="k-1")
    acme.post_ok(ev, accepted=1)
    acme.post_ok(ev, duplicates=1, accepted=0)
    markers = list(world.redis.scan_iter(match="cr:{acme}:k:*"))
    assert markers and 0 < world.redis.pttl(markers[0]) <= 1000
    time.sleep(1.5)
    acme.post_ok(ev, accepted=1, duplicates=0)
    assert world.redis.xlen(acme.stream_key("101")) == 2


def test_stream_and_open_calls_keep_the_retention_after_each_write(world):
    # their expiry is refreshed (to the retention and a sixteenth) once it fell below the retention
    world.start_broker(env={"CALLRELAY_RETENTION": "600"})
    acme = world.provision("acme")
    acme.add_user("101")
    acme.post_ok(call_event("101", call_id="c1"), accepted=1)
    keys = [acme.stream_key("101"), "cr:{acme}:uc:101"]
    for k in keys:
        assert 600000 < world.redis.pttl(k) <= 637500, k
        world.redis.pexpire(k, 599000)  # as if written a second ago, long before
    acme.post_ok(call_event("101", call_id="c2"), accepted=1)
    for k in keys:
        assert 600000 < world.redis.pttl(k) <= 637500, k
