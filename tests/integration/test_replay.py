"""Missed events: paging with limit and code 109, since, ack and the cursor."""
from conftest import Tab, assert_increasing, call_event


def post_n(integ, ext, n, prefix="m"):
    evs = [call_event(ext, call_id="%s-%03d" % (prefix, i)) for i in range(n)]
    for i in range(0, n, 1000):
        integ.post_ok(evs[i:i + 1000], accepted=len(evs[i:i + 1000]))
    return [e["call_id"] for e in evs]


def test_250_missed_paged_100_100_50_then_109(acme):
    posted = post_n(acme, "101", 250)
    stored = acme.env.stream_ids(acme.stream_key("101"))
    assert len(stored) == 250
    t = Tab(acme.channel_url("101"))
    got = []
    for size in (100, 100, 50):
        ans = t.register()
        assert ans["result"]["code"] == 0, ans["result"]
        assert len(ans["events"]) == size, [len(ans["events"]), size]
        got += ans["events"]
    ans = t.register()
    assert ans["result"]["code"] == 109 and ans["events"] == []
    assert [e["call_id"] for e in got] == posted
    assert [e["id"] for e in got] == stored
    assert all(e["user"] == "101" for e in got)
    t.close()
    # nothing is missed on the next connection
    t2 = Tab(acme.channel_url("101"))
    ans = t2.register()
    assert ans["result"]["code"] == 109 and ans["events"] == [], ans["result"]
    assert acme.env.redis.get(acme.cursor_key("101")) == stored[-1]


def test_limit(acme):
    post_n(acme, "101", 7)
    stored = acme.env.stream_ids(acme.stream_key("101"))
    t = Tab(acme.channel_url("101"))
    pages = []
    for _ in range(4):
        ans = t.register(limit=2)
        pages.append([e["id"] for e in ans["events"]])
    assert pages == [stored[0:2], stored[2:4], stored[4:6], stored[6:7]]
    assert t.register(limit=2)["result"]["code"] == 109


def test_second_register_counts_the_previous_page_delivered(acme):
    post_n(acme, "101", 5)
    stored = acme.env.stream_ids(acme.stream_key("101"))
    t = Tab(acme.channel_url("101"))
    assert [e["id"] for e in t.register(limit=2)["events"]] == stored[0:2]
    assert [e["id"] for e in t.register(limit=2)["events"]] == stored[2:4]
    t.close()
    # cursor is at the end of the first page (the second page was never confirmed)
    t2 = Tab(acme.channel_url("101"))
    assert [e["id"] for e in t2.register()["events"]] == stored[2:5]


def test_resume_with_since(acme):
    post_n(acme, "101", 10)
    stored = acme.env.stream_ids(acme.stream_key("101"))
    t = Tab(acme.channel_url("101"))
    ans = t.register(since=stored[4])
    assert [e["id"] for e in ans["events"]] == stored[5:]
    # since restarts paging after that id
    ans = t.register(since=stored[7], limit=1)
    assert [e["id"] for e in ans["events"]] == [stored[8]]
    ans = t.register(limit=5)
    assert [e["id"] for e in ans["events"]] == [stored[9]]
    assert t.register()["result"]["code"] == 109
    # since = the last id: nothing
    t2 = Tab(acme.channel_url("101"))
    assert t2.register(since=stored[-1])["result"]["code"] == 109
    # since = 0-0: everything
    t3 = Tab(acme.channel_url("101"))
    assert [e["id"] for e in t3.register(since="0-0", limit=1000)["events"]] == stored


def test_ack_moves_the_cursor_never_back(acme):
    post_n(acme, "101", 10)
    stored = acme.env.stream_ids(acme.stream_key("101"))
    t = Tab(acme.channel_url("101"))
    assert len(t.register()["events"]) == 10
    t.ack(stored[6])
    t.ping()
    t.close()
    assert acme.env.redis.get(acme.cursor_key("101")) == stored[6]
    t = Tab(acme.channel_url("101"))
    assert [e["id"] for e in t.register()["events"]] == stored[7:]
    # an older ack does not move it back
    t.ack(stored[2])
    t.ping()
    t.close()
    assert acme.env.redis.get(acme.cursor_key("101")) == stored[6]
    t = Tab(acme.channel_url("101"))
    assert [e["id"] for e in t.register()["events"]] == stored[7:]


def test_live_events_unacked_come_back_then_acked_do_not(acme):
    t = acme.tab("101")
    acme.post_ok([call_event("101", call_id="l%d" % i) for i in range(3)], accepted=3)
    live = t.events(3)
    t.close()
    t = Tab(acme.channel_url("101"))
    ans = t.register()
    assert [e["id"] for e in ans["events"]] == [e["id"] for e in live], \
        "live delivery must not move the cursor"
    t.ack(live[-1]["id"])
    t.ping()
    t.close()
    t = Tab(acme.channel_url("101"))
    assert t.register()["result"]["code"] == 109


def test_paging_and_live_interleave_without_loss(acme):
    post_n(acme, "101", 150, prefix="old")
    t = Tab(acme.channel_url("101"))
    first = t.register()
    acme.post_ok([call_event("101", call_id="new-%d" % i) for i in range(5)], accepted=5)
    pages = list(first["events"])
    while True:
        ans = t.register()
        if ans["result"]["code"] == 109:
            break
        pages += ans["events"]
    live = list(t.stash)
    t.stash.clear()
    deadline_extra = 5 - len(live)
    if deadline_extra > 0:
        try:
            live += t.events(deadline_extra, timeout=2)
        except AssertionError:
            pass
    seen = {}
    for e in pages + live:
        seen[e["id"]] = e
    stored = acme.env.stream_ids(acme.stream_key("101"))
    assert sorted(seen, key=lambda i: tuple(map(int, i.split("-")))) == stored
    assert_increasing([e["id"] for e in pages])
