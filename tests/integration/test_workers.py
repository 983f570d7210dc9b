"""CALLRELAY_WORKERS: several processes share one port and behave as one broker."""
import threading

import requests

from conftest import assert_increasing, call_event, metric


def test_two_workers_are_one_broker(world):
    b = world.start_broker(env={"CALLRELAY_WORKERS": "2"})
    # provisioning answered by one worker is usable at once on the other (new connections
    # land on either worker)
    for i in range(20):
        integ = world.provision("w%d" % i, broker=b)
        for ext in ("101", "102"):
            integ.add_user(ext, broker=b)
    acme = world.provision("acme", broker=b)
    acme.add_user("101", broker=b)
    tabs = [acme.tab("101", broker=b) for _ in range(6)]
    errors = []

    def post(n):
        try:
            for i in range(25):
                acme.post_ok(call_event("101", call_id="t%d-%d" % (n, i)), broker=b, accepted=1)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for t in tabs:
        got = t.events(100, timeout=10)
        assert_increasing([e["id"] for e in got])
        assert sorted(e["call_id"] for e in got) == sorted("t%d-%d" % (n, i) for n in range(4) for i in range(25))
    # metrics are shared: whichever worker answers counts every worker's work
    for _ in range(4):
        m = b.metrics()
        assert metric(m, "callrelay_workers") == 2
        assert metric(m, "callrelay_events_accepted_total") == 100
        assert metric(m, "callrelay_sessions_open") == 6


def test_worker_that_cannot_listen_stops_the_broker(world):
    a = world.start_broker("a")
    b = world.start_broker("b", env={"CALLRELAY_WORKERS": "2", "CALLRELAY_LISTEN": "127.0.0.1:%d" % a.port},
                           wait_ready=False)
    code = b.proc.wait(timeout=10)
    b.stopped, b.returncode = True, code  # it stopped by itself: teardown must not expect 0
    assert code != 0
    assert "cannot listen" in b.stderr()
    assert requests.get("http://127.0.0.1:%d/healthz" % a.port, timeout=5).status_code == 200
