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
