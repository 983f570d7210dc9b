"""GET /metrics: Prometheus text with the broker's counters."""
from conftest import call_event, metric, wait_until

NAMES = ["callrelay_events_accepted_total", "callrelay_events_ignored_total",
         "callrelay_events_duplicate_total", "callrelay_events_delivered_total",
         "callrelay_sessions_open", "callrelay_redis_connected"]


def test_metrics_format_and_names(env):
    r = env.broker.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    m = env.broker.metrics()  # parses every sample line or fails
    for n in NAMES:
        assert n in m, "%s missing from /metrics:\n%s" % (n, r.text)
    assert m["callrelay_redis_connected"] == 1
    assert metric(m, "callrelay_http_requests_total", {"status": "200"}) is not None, r.text
    for n in NAMES:
        assert "# TYPE %s " % n in r.text, "no TYPE line for %s" % n


def test_counters_move(env):
    acme = env.provision("acme")
    acme.add_user("101")
    m0 = env.broker.metrics()
    t = acme.tab("101")
    wait_until(lambda: env.broker.metrics()["callrelay_sessions_open"] == m0["callrelay_sessions_open"] + 1,
               3, what="callrelay_sessions_open +1")
    e1, e2, e3 = call_event("101"), call_event("101"), call_event("101")
    acme.post_ok([e1, e2, e3], accepted=3)
    acme.post_ok(e1, duplicates=1, accepted=0)
    acme.post_ok(call_event("999"), ignored=1, accepted=0)
    t.events(3)
    m = env.broker.metrics()
    d = lambda n: m[n] - m0[n]  # noqa: E731
    assert d("callrelay_events_accepted_total") == 3
    assert d("callrelay_events_duplicate_total") == 1
    assert d("callrelay_events_ignored_total") == 1
    assert d("callrelay_events_delivered_total") >= 3
    ok0 = metric(m0, "callrelay_http_requests_total", {"status": "200"}) or 0
    assert metric(m, "callrelay_http_requests_total", {"status": "200"}) >= ok0 + 4
    env.post_events("acme", "wrong", call_event("101"))
    m2 = env.broker.metrics()
    assert (metric(m2, "callrelay_http_requests_total", {"status": "401"}) or 0) >= 1
    t.close()
    wait_until(lambda: env.broker.metrics()["callrelay_sessions_open"] == m0["callrelay_sessions_open"],
               3, what="callrelay_sessions_open back")
