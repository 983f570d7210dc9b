"""Cursor validation (issue 7, finding 2): `ack` and `since` take only ids that parse, do not
overflow and are not beyond the user's last stored event (3101 otherwise); a refused id
leaves the cursor as it was; a cursor poisoned in Redis before the fix does not break
`register`; no answer ever carries Redis error text."""
import json
import uuid

import pytest

from conftest import Tab, call_event, wait_until

MAX_PAIR = "18446744073709551615-18446744073709551615"
FORBIDDEN = ("ERR", "Invalid stream ID", "script", "@user_script")

MALFORMED = ["abc", "1-", "-1", "1-2-3", "", 12, "18446744073709551616-0",
             "99999999999999999999-0", "1-18446744073709551616", " 1-0", "1-0 ", "+1-0",
             "0x1-0", "1.5-0", "-", "1--1", None, ["1-0"], {"ms": 1}]


def check_message(frame):
    """No answer carries Redis internals."""
    msg = (frame.get("result") or {}).get("message") or ""
    for w in FORBIDDEN:
        assert w not in msg, "a message carries Redis text %r: %s" % (w, json.dumps(frame))
    assert "redis" not in msg.lower(), "a message names Redis: %s" % json.dumps(frame)


def recv(t, timeout=3):
    f = t.recv(timeout)
    check_message(f)
    return f


def expect_error(t, code, what):
    """The next frame (live events aside) is an error frame with code."""
    while True:
        f = recv(t)
        if f.get("op") != "event":
            break
    assert f.get("op") == "error" and f["result"]["code"] == code, \
        "%s: expected an error frame with code %d, got %s" % (what, code, json.dumps(f)[:500])
    return f


def register(t, limit=None, since=None, what="register"):
    """Sends register and returns its answer; an error frame instead fails (5000 included)."""
    frame = {"op": "register"}
    if limit is not None:
        frame["limit"] = limit
    if since is not None:
        frame["since"] = since
    t.send_raw(json.dumps(frame))
    while True:
        f = recv(t, timeout=5)
        if f.get("op") == "event":
            t.stash.append(f["event"])
            continue
        assert f.get("op") == "register", "%s: expected the register answer, got %s" % (
            what, json.dumps(f)[:500])
        assert f["result"]["code"] in (0, 109), "%s: %s" % (what, json.dumps(f)[:500])
        return f


def page_all(t, what="paging", limit=None):
    """Pages to 109; returns every event of the pages."""
    got = []
    for _ in range(50):
        ans = register(t, limit=limit, what=what)
        if ans["result"]["code"] == 109:
            return got
        got += ans["events"]
    raise AssertionError("%s: no 109 after 50 pages" % what)


def ack_raw(t, id_):
    t.send_raw(json.dumps({"op": "ack", "id": id_}))


def post(acme, ext, n, tag):
    evs = [call_event(ext, call_id="%s-%d-%s" % (tag, i, uuid.uuid4().hex[:6])) for i in range(n)]
    acme.post_ok(evs, accepted=n)
    return [e["call_id"] for e in evs]


def bump(id_, ms=0, seq=0):
    """The id just after id_ in its millisecond (seq=1), or at the next millisecond (ms=1)."""
    m, s = (int(x) for x in id_.split("-"))
    return "%d-0" % (m + ms) if ms else "%d-%d" % (m, s + seq)


def no_error_after(t, duration=0.3):
    """Nothing at all arrives for a short while (an ack that worked has no answer)."""
    t.expect_silence(duration)


# --------------------------------------------------------------------------- ack

@pytest.mark.parametrize("beyond", ["9999999999999-0", "last+1seq", "last+1ms"])
def test_ack_beyond_the_last_event_is_refused_and_hides_nothing(acme, beyond):
    post(acme, "101", 5, "old")
    stored = acme.env.stream_ids(acme.stream_key("101"))
    bad = {"last+1seq": bump(stored[-1], seq=1), "last+1ms": bump(stored[-1], ms=1)}.get(beyond, beyond)
    t = Tab(acme.channel_url("101"))
    assert [e["id"] for e in register(t)["events"]] == stored
    ack_raw(t, stored[1])
    wait_until(lambda: acme.env.redis.get(acme.cursor_key("101")) == stored[1], 3,
               what="the cursor to move to the acked id")
    ack_raw(t, bad)
    expect_error(t, 3101, "ack of %s (last stored id %s)" % (bad, stored[-1]))
    assert acme.env.redis.get(acme.cursor_key("101")) == stored[1], "a refused ack moved the cursor"
    assert t.ping()["result"]["code"] == 0, "the connection stays up"
    t.close()
    new = post(acme, "101", 5, "new")
    everything = acme.env.stream_ids(acme.stream_key("101"))
    t2 = Tab(acme.channel_url("101"))
    got = page_all(t2, "register without since after a refused ack")
    assert [e["id"] for e in got] == everything[2:], "events hidden by a refused ack"
    assert [e["call_id"] for e in got][-5:] == new


def test_ack_of_max_uint64_pair_is_refused_and_register_keeps_working(acme):
    post(acme, "101", 3, "a")
    stored = acme.env.stream_ids(acme.stream_key("101"))
    t = Tab(acme.channel_url("101"))
    assert len(register(t)["events"]) == 3
    ack_raw(t, MAX_PAIR)
    expect_error(t, 3101, "ack of the max uint64 pair")
    assert acme.env.redis.get(acme.cursor_key("101")) in (None, ""), "the cursor moved"
    # the same tab: with and without since
    ans = register(t, since=stored[0], what="register since after the refused ack")
    assert [e["id"] for e in ans["events"]] == stored[1:]
    assert register(t, what="next page")["result"]["code"] == 109
    ans = register(t, since=stored[-1], what="register since the last id")
    assert ans["result"]["code"] == 109
    # a new tab: without since, then with
    t2 = Tab(acme.channel_url("101"))
    ans = register(t2, what="new tab, register without since")
    assert ans["result"]["code"] in (0, 109)
    t3 = Tab(acme.channel_url("101"))
    ans = register(t3, since="0-0", what="new tab, register since 0-0")
    assert [e["id"] for e in ans["events"]] == stored
    # later events still flow: to the tab that pages (it has not had its 109 yet: in a page,
    # or held and sent after its 109), live to a tab past its 109, and as missed to a new tab
    page_all(t2, "t2 to its 109")
    new = post(acme, "101", 2, "later")
    got = page_all(t3, "t3 pages on") + t3.stash
    t3.stash.clear()
    got += t3.events(2 - len(got)) if len(got) < 2 else []
    assert [e["call_id"] for e in got] == new
    assert [e["call_id"] for e in t2.events(2)] == new
    t3.close()
    # (t3's paging counted them delivered) a new tab finds them after the old events
    t4 = Tab(acme.channel_url("101"))
    ans = register(t4, since=stored[-1], what="new tab after the refused ack")
    assert [e["call_id"] for e in ans["events"]] == new


def test_ack_of_an_id_that_does_not_parse_or_overflows_is_3101(acme):
    post(acme, "101", 2, "m")
    stored = acme.env.stream_ids(acme.stream_key("101"))
    t = Tab(acme.channel_url("101"))
    register(t)
    for bad in MALFORMED:
        ack_raw(t, bad)
        expect_error(t, 3101, "ack of %s" % json.dumps(bad))
    t.send_raw(json.dumps({"op": "ack"}))
    expect_error(t, 3101, "ack without id")
    assert acme.env.redis.get(acme.cursor_key("101")) in (None, ""), "the cursor moved"
    assert t.ping()["result"]["code"] == 0
    # the connection works on: a good ack is taken
    ack_raw(t, stored[0])
    wait_until(lambda: acme.env.redis.get(acme.cursor_key("101")) == stored[0], 3,
               what="a good ack after refused ones")


def test_ack_of_the_last_id_works(acme):
    post(acme, "101", 5, "x")
    stored = acme.env.stream_ids(acme.stream_key("101"))
    t = Tab(acme.channel_url("101"))
    register(t)
    ack_raw(t, stored[-1])
    wait_until(lambda: acme.env.redis.get(acme.cursor_key("101")) == stored[-1], 3,
               what="the cursor to move to the last id")
    no_error_after(t)
    assert t.ping()["result"]["code"] == 0
    t2 = Tab(acme.channel_url("101"))
    assert register(t2)["result"]["code"] == 109


def test_ack_of_an_id_within_the_stream_that_is_not_an_entry_works(acme):
    """Only ids beyond the last event are refused: the cursor is a position, not an entry."""
    for i in range(3):
        post(acme, "101", 1, "y%d" % i)
    stored = acme.env.stream_ids(acme.stream_key("101"))
    ms1, seq1 = (int(x) for x in stored[1].split("-"))
    between = "%d-%d" % (ms1, seq1 + 1)
    if between in stored:
        pytest.skip("entries 1 and 2 share a millisecond: no position between them")
    t = Tab(acme.channel_url("101"))
    register(t)
    ack_raw(t, between)
    wait_until(lambda: acme.env.redis.get(acme.cursor_key("101")) == between, 3,
               what="the cursor to move to %s (between %s and %s)" % (between, stored[1], stored[2]))
    no_error_after(t)
    t2 = Tab(acme.channel_url("101"))
    assert [e["id"] for e in register(t2)["events"]] == stored[2:]


def test_ack_on_a_user_without_events_is_refused(acme):
    t = acme.tab("101")
    ack_raw(t, "1-0")
    expect_error(t, 3101, "ack on a user whose stream has no events")
    assert acme.env.redis.get(acme.cursor_key("101")) in (None, "")
    new = post(acme, "101", 2, "z")
    assert [e["call_id"] for e in t.events(2)] == new
    t.close()
    t2 = Tab(acme.channel_url("101"))
    assert [e["call_id"] for e in page_all(t2)] == new


# --------------------------------------------------------------------------- since

@pytest.mark.parametrize("beyond", [MAX_PAIR, "9999999999999-0", "last+1seq"])
def test_register_since_beyond_the_last_event_is_3101(acme, beyond):
    post(acme, "101", 3, "s")
    stored = acme.env.stream_ids(acme.stream_key("101"))
    since = {"last+1seq": bump(stored[-1], seq=1)}.get(beyond, beyond)
    t = Tab(acme.channel_url("101"))
    t.send_raw(json.dumps({"op": "register", "since": since}))
    expect_error(t, 3101, "register since %s (last stored id %s)" % (since, stored[-1]))
    assert t.ping()["result"]["code"] == 0, "the connection stays up"
    # a normal register on the same connection works
    ans = register(t, what="register after a refused since")
    assert [e["id"] for e in ans["events"]] == stored
    assert register(t)["result"]["code"] == 109
    ans = register(t, since=stored[0], what="a valid since after a refused one")
    assert [e["id"] for e in ans["events"]] == stored[1:]
    assert register(t)["result"]["code"] == 109
    # refused on a live tab too, and the tab stays live
    t.send_raw(json.dumps({"op": "register", "since": since}))
    expect_error(t, 3101, "register since %s on a live tab" % since)
    new = post(acme, "101", 2, "live")
    assert [e["call_id"] for e in t.events(2)] == new, "a refused since stopped live events"
    assert register(t)["result"]["code"] == 109


def test_register_since_that_does_not_parse_or_overflows_is_3101(acme):
    post(acme, "101", 2, "p")
    t = Tab(acme.channel_url("101"))
    for bad in MALFORMED:
        if bad is None:
            continue  # since: null is the same as no since
        t.send_raw(json.dumps({"op": "register", "since": bad}))
        expect_error(t, 3101, "register since %s" % json.dumps(bad))
    assert len(register(t)["events"]) == 2


# --------------------------------------------------------------------------- poisoned cursors

@pytest.mark.parametrize("poison", [MAX_PAIR, "9999999999999-0"])
def test_cursor_poisoned_before_the_fix_does_not_break_register(acme, poison):
    old = post(acme, "101", 3, "before")
    acme.env.redis.set(acme.cursor_key("101"), poison)
    t = Tab(acme.channel_url("101"))
    ans = register(t, what="register without since on a cursor set to %s" % poison)
    assert ans["result"]["code"] in (0, 109)
    if ans["result"]["code"] == 0:
        page_all(t, "paging on a poisoned cursor")
    # events posted now come back: live to the registered tab, and as missed to a new tab
    new = post(acme, "101", 5, "after")
    assert [e["call_id"] for e in t.events(5)] == new
    t.close()
    t2 = Tab(acme.channel_url("101"))
    got = [e["call_id"] for e in page_all(t2, "a new tab on a poisoned cursor")]
    assert got[-5:] == new, "events posted after the poisoning are hidden: got %s" % got
    assert set(got) <= set(old + new)
    # and since works on it
    t3 = Tab(acme.channel_url("101"))
    assert [e["call_id"] for e in register(t3, since="0-0")["events"]] == old + new
