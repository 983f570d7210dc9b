"""Two instances on one Redis: cross-instance delivery, shared tickets, concurrent ingest order."""
import threading

from conftest import Tab, assert_increasing, call_event


def two(world):
    a = world.start_broker("a")
    b = world.start_broker("b")
    acme = world.provision("acme", broker=a)
    acme.add_user("101", broker=a)
    return a, b, acme


def test_event_posted_to_a_reaches_tab_on_b(world):
    a, b, acme = two(world)
    tb = acme.tab("101", broker=b)
    ta = acme.tab("101", broker=a)
    acme.post_ok(call_event("101", call_id="via-a"), broker=a, accepted=1)
    assert tb.next_event()["call_id"] == "via-a"
    assert ta.next_event()["call_id"] == "via-a"
    acme.post_ok(call_event("101", call_id="via-b"), broker=b, accepted=1)
    assert ta.next_event()["call_id"] == "via-b"
    assert tb.next_event()["call_id"] == "via-b"


def test_ticket_from_a_works_on_b(world):
    a, b, acme = two(world)
    url = acme.channel_url("101", broker=a)
    url_b = url.replace("127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port)
    t = Tab(url_b)
    assert t.register()["result"]["code"] == 109


def test_provisioning_on_a_is_seen_by_b(world):
    a, b, acme = two(world)
    acme.add_user("202", broker=b)
    acme.post_ok(call_event("202"), broker=b, accepted=1)
    other = world.provision("other", broker=a)
    other.add_user("1", broker=b)
    other.post_ok(call_event("1"), broker=b, accepted=1)


def test_concurrent_ingest_on_both_in_order(world):
    a, b, acme = two(world)
    tabs = [acme.tab("101", broker=a), acme.tab("101", broker=b)]
    n = 80
    errors = []

    def poster(broker, tag):
        try:
            for i in range(n):
                body = [call_event("101", call_id="%s-%03d-%d" % (tag, i, j)) for j in range(i % 3 + 1)]
                r = acme.post(body, broker=broker)
                if r.status_code != 200 or r.json().get("accepted") != len(body):
                    errors.append(r.text)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    total = sum(i % 3 + 1 for i in range(n)) * 2
    threads = [threading.Thread(target=poster, args=(a, "A")), threading.Thread(target=poster, args=(b, "B"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not errors, errors[:3]
    stored = world.stream_ids(acme.stream_key("101"))
    assert len(stored) == total
    for t in tabs:
        got = t.events(total, timeout=15)
        ids = [e["id"] for e in got]
        assert_increasing(ids)
        assert ids == stored, "tab missed or reordered events"
        t.expect_silence(0.2)


def test_pubsub_reconnect_loses_nothing(world):
    """Redis drops every pub/sub connection while events keep coming: each tab still gets every
    event, in order (after a pub/sub reconnect a session reads the stream from its last id)."""
    a, b, acme = two(world)
    tabs = [acme.tab("101", broker=a), acme.tab("101", broker=b)]
    stop = threading.Event()
    errors = []
    sent = []

    def poster():
        i = 0
        while not stop.is_set() and i < 400:
            r = acme.post(call_event("101", call_id="p-%d" % i), broker=a if i % 2 else b)
            if r.status_code == 200:
                sent.append(i)
            elif r.status_code != 503:
                errors.append(r.text)
            i += 1

    th = threading.Thread(target=poster)
    th.start()
    try:
        import time
        time.sleep(0.3)
        killed = world.redis.client_kill_filter(_type="pubsub")
        assert killed >= 2, "expected both instances' pub/sub connections, killed %s" % killed
        time.sleep(0.7)
    finally:
        stop.set()
        th.join(30)
    assert not errors, errors[:3]
    stored = world.stream_ids(acme.stream_key("101"))
    assert len(stored) == len(sent)
    for t in tabs:
        got = t.events(len(stored), timeout=15)
        assert [e["id"] for e in got] == stored
        t.expect_silence(0.2)


def test_changes_on_a_apply_on_b(world):
    import base64
    import json
    import os
    import time
    from conftest import assert_result, sign_webhook
    a, b, acme = two(world)
    # settings updated through A are used by B (a new webhook secret)
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    assert_result(a.admin("/v1/integration/update", {"name": "acme", "settings": {"webhook_secret": secret}}), 200, 0)

    def signed_post():
        body = json.dumps(call_event("101"))
        h = sign_webhook(secret, "msg_" + os.urandom(6).hex(), int(time.time()), body)
        return world.post_events("acme", None, None, broker=b, data=body, headers=h)
    from conftest import wait_until
    wait_until(lambda: signed_post().status_code == 200, 3, interval=0.1,
               what="instance B to accept the webhook secret set through A")
    # a token rotated through A is refused by B
    r = a.admin("/v1/integration/update", {"name": "acme", "rotate_token": True})
    new = assert_result(r, 200, 0)["token"]
    wait_until(lambda: b.get("/v1/users", token=acme.token).status_code == 401, 3, interval=0.1,
               what="instance B to refuse the rotated-away token")
    assert_result(b.get("/v1/users", token=new), 200, 0)
    # an integration deleted through A is gone on B
    assert_result(a.admin("/v1/integration/delete", {"name": "acme"}), 200, 0)
    wait_until(lambda: b.get("/v1/users", token=new).status_code == 401, 3, interval=0.1,
               what="instance B to forget the deleted integration")
