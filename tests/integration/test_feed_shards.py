"""The feed of wake-ups by user shard (broker/lib/feed_shard.h): an instance subscribes to the
channel of a shard only while it has a tab of a user in it, so what it receives grows with its
own tabs, not with every instance's events; a tab reads its first page only once its shard's
feed is on, so nothing published meanwhile is missed."""

import time

from conftest import call_event, wait_until


def feed_shard(integration, extension):
    """broker/lib/feed_shard.h, written again."""
    h = 0
    for b in (integration + "\t" + extension).encode():
        h = (h * 131 + b) % 2147483647
    return h % 1024


def subscribers(r, integration, ext):
    ch = "cr:ev:%d" % feed_shard(integration, ext)
    return dict(r.pubsub_numsub(ch))[ch]


def users_in_distinct_shards(integration, n):
    seen, out = set(), []
    for i in range(100, 10000):
        s = feed_shard(integration, str(i))
        if s not in seen:
            seen.add(s)
            out.append(str(i))
        if len(out) == n:
            return out


def test_an_instance_listens_only_to_the_shards_of_its_tabs(world):
    a, b = world.start_broker("a"), world.start_broker("b")
    acme = world.provision("acme", broker=a)
    u1, u2, u3 = users_in_distinct_shards("acme", 3)
    for u in (u1, u2, u3):
        acme.add_user(u, broker=a)
    r = world.redis
    assert [subscribers(r, "acme", u) for u in (u1, u2, u3)] == [0, 0, 0]
    assert r.pubsub_numsub("cr:control")[0][1] == 2

    tab_a = acme.tab(u1, broker=a)
    tab_b = acme.tab(u2, broker=b)
    assert [subscribers(r, "acme", u) for u in (u1, u2, u3)] == [1, 1, 0]
    # a second tab of the same user, and a tab of the same user on the other instance
    tab_a2 = acme.tab(u1, broker=a)
    tab_b1 = acme.tab(u1, broker=b)
    assert subscribers(r, "acme", u1) == 2

    # Events through either instance reach every tab of their user, wherever it is.
    acme.post_ok(call_event(u1, call_id="x1"), broker=b, accepted=1)
    acme.post_ok(call_event(u2, call_id="x2"), broker=a, accepted=1)
    acme.post_ok(call_event(u3, call_id="x3"), broker=a, accepted=1)  # nobody listens: stored
    for t in (tab_a, tab_a2, tab_b1):
        assert [e["call_id"] for e in t.events(1)] == ["x1"]
    assert [e["call_id"] for e in tab_b.events(1)] == ["x2"]

    # The last tab of a shard on an instance gone: that instance leaves the shard's channel.
    tab_b1.close()
    wait_until(lambda: subscribers(r, "acme", u1) == 1, 5, what="b unsubscribed from u1's shard")
    tab_b.close()
    wait_until(lambda: subscribers(r, "acme", u2) == 0, 5, what="b unsubscribed from u2's shard")
    tab_a.close()
    assert subscribers(r, "acme", u1) == 1  # tab_a2 is still there
    acme.post_ok(call_event(u1, call_id="x4"), broker=b, accepted=1)
    assert [e["call_id"] for e in tab_a2.events(1)] == ["x4"]
    tab_a2.expect_silence(0.2)


def test_tabs_coming_and_going_miss_nothing(world):
    """Each new tab subscribes its shard afresh (the last tab left it), registers, and must get
    every event: what was posted before it in its pages, what is posted after it live, nothing
    twice. (Paging on commits the page before, so a tab's pages start after the last one's.)"""
    a, b = world.start_broker("a"), world.start_broker("b")
    acme = world.provision("acme", broker=a)
    acme.add_user("201", broker=a)
    r = world.redis
    for i in range(15):
        acme.post_ok(call_event("201", call_id="p-%d" % i), broker=a, accepted=1)
        assert subscribers(r, "acme", "201") == 0
        tab = acme.tab("201", broker=b, register=False)
        paged = []
        page = tab.register(limit=100)
        while True:
            paged += [e["call_id"] for e in page["events"]]
            if page["result"]["code"] == 109:
                break
            page = tab.register(limit=100)
        assert paged[-1:] == ["p-%d" % i] and len(set(paged)) == len(paged), (i, paged)
        acme.post_ok(call_event("201", call_id="q-%d" % i), broker=a, accepted=1)
        assert [e["call_id"] for e in tab.events(1)] == ["q-%d" % i]
        tab.expect_silence(0.1)
        tab.close()
        wait_until(lambda: subscribers(r, "acme", "201") == 0, 5, what="b left the shard")


def test_feed_back_after_the_pubsub_connection_is_killed(world):
    a, b = world.start_broker("a"), world.start_broker("b")
    acme = world.provision("acme", broker=a)
    u1, u2 = users_in_distinct_shards("acme", 2)
    acme.add_user(u1, broker=a)
    acme.add_user(u2, broker=a)
    tabs = [acme.tab(u1, broker=b), acme.tab(u2, broker=b)]
    r = world.redis
    killed = r.client_kill_filter(_type="pubsub")
    assert killed >= 2
    # Meanwhile events: the tabs get them when b is subscribed again (resync from the stream).
    acme.post_ok(call_event(u1, call_id="k1"), broker=a, accepted=1)
    wait_until(lambda: subscribers(r, "acme", u1) == 1 and subscribers(r, "acme", u2) == 1, 10,
               what="b subscribed again to both shards")
    acme.post_ok(call_event(u2, call_id="k2"), broker=a, accepted=1)
    assert [e["call_id"] for e in tabs[0].events(1, timeout=10)] == ["k1"]
    assert [e["call_id"] for e in tabs[1].events(1, timeout=10)] == ["k2"]
    time.sleep(0.2)
    for t in tabs:
        t.expect_silence(0.2)


def legacy_lines(world, broker, acme, call_id):
    """What an instance of a version before the shards hears: the channel cr:events."""
    sub = world.redis.pubsub()
    sub.subscribe("cr:events")
    assert sub.get_message(timeout=5)["type"] == "subscribe"
    acme.post_ok(call_event("201", call_id=call_id), broker=broker, accepted=1)
    msg = sub.get_message(timeout=2)
    sub.close()
    return msg["data"] if msg else None


def test_a_rolling_upgrade_wakes_the_old_instances_with_feed_both(world):
    """CALLRELAY_FEED=both publishes every wake-up on cr:events too, where instances from before
    the shards listen; the default does not (found by the review of this change)."""
    a = world.start_broker("a")
    both = world.start_broker("b", env={"CALLRELAY_FEED": "both"})
    acme = world.provision("acme", broker=a)
    acme.add_user("201", broker=a)
    tab = acme.tab("201", broker=both)  # an upgraded instance's tab: told once, not twice
    assert legacy_lines(world, a, acme, "up-1") is None
    data = legacy_lines(world, both, acme, "up-2")
    assert data and data.startswith("acme\t201\t") and '"call_id":"up-2"' in data, data
    assert [e["call_id"] for e in tab.events(2)] == ["up-1", "up-2"]
    tab.expect_silence(0.3)
