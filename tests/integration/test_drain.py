"""Graceful drain on SIGTERM (issue 11, part 3): /readyz answers 503 at once, the listener
refuses new connections, a webhook being stored still gets its 2xx and its event is stored,
tabs get 1001, and the process exits 0 within CALLRELAY_DRAIN_TIMEOUT; a request still open at
that timeout is cut, logged, and the exit is still 0.

Redis is made slow with CLIENT PAUSE: every client's commands wait (the PAUSE itself returns at
once), so the broker's ingest script is in flight for that long."""

import json
import signal
import socket
import sys
import threading
import time

import requests

from conftest import TESTS, assert_result, call_event, wait_until

sys.path.insert(0, str(TESTS / "fakes"))
from twilio_api import TwilioApi  # noqa: E402

SID, TOKEN = "AC" + "d" * 32, "drain-token"


def post_in_thread(acme, broker, body, out):
    def run():
        try:
            out["resp"] = acme.post(body, broker=broker, headers={"Connection": "close"})
        except requests.RequestException as e:  # the connection cut at the drain timeout
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def log_lines(broker, msg):
    out = []
    for line in broker.stdout().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("msg") == msg:
            out.append(rec)
    return out


def test_sigterm_lets_a_slow_webhook_finish(world):
    b = world.start_broker(env={"CALLRELAY_DRAIN_TIMEOUT": "10"})
    acme = world.provision("acme")
    acme.add_user("101")
    tab = acme.tab("101")
    kept = requests.Session()  # a load balancer's kept-alive connection
    assert kept.get(b.base + "/readyz", timeout=5).status_code == 200

    world.redis.execute_command("CLIENT", "PAUSE", "1500")
    out = {}
    poster = post_in_thread(acme, b, call_event(user="101", call_id="slow", key="slow-1"), out)
    time.sleep(0.3)  # the webhook reaches the broker and waits on Redis
    assert "resp" not in out and "error" not in out, out
    t0 = time.monotonic()
    b.send_signal(signal.SIGTERM)
    wait_until(lambda: log_lines(b, "stopping"), 5, what="the broker's 'stopping' line")
    r = kept.get(b.base + "/readyz", timeout=5)  # the same connection: the drain answers it
    assert r.status_code == 503 and r.json()["result"]["message"] == "draining", r.text
    assert r.headers.get("Connection", "").lower() == "close", r.headers
    assert refused(b.port), "a new connection was accepted during the drain"
    assert tab.wait_closed(5) == 1001

    poster.join(10)
    assert "error" not in out, out
    assert out["resp"].status_code == 200, out["resp"].text
    assert out["resp"].json()["accepted"] == 1, out["resp"].text
    rc = b.stop(timeout=15)
    elapsed = time.monotonic() - t0
    assert rc == 0, b.stderr()[-3000:]
    assert elapsed < 10, "exit %.1fs after SIGTERM, past the 10 s drain timeout" % elapsed
    assert elapsed >= 0.9, "exit %.1fs after SIGTERM: before Redis answered?" % elapsed

    stored = world.redis.xrange(acme.stream_key("101"))
    assert [json.loads(f["e"])["call_id"] for _, f in stored] == ["slow"], stored
    assert log_lines(b, "drained"), b.stdout()[-2000:]
    assert not log_lines(b, "drain timeout: requests still in flight are closed")


def test_drain_timeout_cuts_a_hanging_request(world):
    b = world.start_broker(env={"CALLRELAY_DRAIN_TIMEOUT": "1"})
    acme = world.provision("acme")
    acme.add_user("101")
    world.redis.execute_command("CLIENT", "PAUSE", "5000")
    out = {}
    poster = post_in_thread(acme, b, call_event(user="101", call_id="hang"), out)
    time.sleep(0.3)
    t0 = time.monotonic()
    b.send_signal(signal.SIGTERM)
    rc = b.stop(timeout=10)
    elapsed = time.monotonic() - t0
    assert rc == 0, b.stderr()[-3000:]
    assert 0.9 <= elapsed < 3, "exit %.1fs after SIGTERM with a 1 s drain timeout" % elapsed
    lines = log_lines(b, "drain timeout: requests still in flight are closed")
    assert lines and lines[0]["requests"] == 1 and lines[0]["seconds"] == 1, b.stdout()[-2000:]
    poster.join(10)
    # never a 2xx for a webhook whose storing was cut
    assert "error" in out or out["resp"].status_code >= 500, out
    wait_until(lambda: world.redis.ping(), 10, what="Redis unpaused")


def test_a_command_waiting_on_its_pbx_gets_its_timeout(world):
    """The PBX never answers: the command's own timeout (1.5 s) answers it, during the drain,
    and the process exits after that, not before."""
    b = world.start_broker(env={"CALLRELAY_DRAIN_TIMEOUT": "10"})
    fake = TwilioApi(SID, TOKEN).start()
    try:
        acme = world.provision("acme", {"twilio": {
            "auth_token": TOKEN, "account_sid": SID, "api_base_url": fake.url,
            "public_url": b.base + "/v1/hooks/acme/twilio", "caller_id": "+15550001111"},
            "command_timeout_ms": 1500}, adapter="twilio")
        acme.add_user("101")
        fake.hang()
        out = {}

        def hangup():
            out["resp"] = requests.post(b.base + "/v1/hangup", json={"call_id": "CA1"},
                                        headers={"Authorization": "Bearer " + acme.token},
                                        timeout=10)
        t = threading.Thread(target=hangup, daemon=True)
        t.start()
        wait_until(lambda: fake.records(), 5, what="the command reaching the PBX")
        t0 = time.monotonic()
        b.send_signal(signal.SIGTERM)
        rc = b.stop(timeout=15)
        elapsed = time.monotonic() - t0
        t.join(5)
        assert rc == 0, b.stderr()[-3000:]
        assert_result(out["resp"], 504, 5004)
        assert 0.5 <= elapsed < 10, "exit %.1fs after SIGTERM" % elapsed
        assert log_lines(b, "drained"), b.stdout()[-2000:]
    finally:
        fake.stop()
