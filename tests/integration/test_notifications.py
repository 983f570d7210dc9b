"""Outbound notifications (issue 9; API.md "Outbound notifications", /work/notify-contract.md):
the Finaz GET and a signed JSON POST arrive as their receivers (tests/fakes/) ask, retries keep
the webhook-id, nothing is lost through receiver outages or brokers killed with -9, dead ones
are replayed, the circuit breaker opens and closes, order per call, rate limit, bad rules
refused at save, metrics."""
import base64
import datetime
import json
import os
import select
import signal
import subprocess
import sys
import time

from urllib.parse import parse_qs

import pytest
import requests

from conftest import (ADMIN_TOKEN, SCALE, TESTS, assert_result, call_event, error_field,
                      node_tools, wait_until)

sys.path.insert(0, str(TESTS / "fakes"))
from finaz_receiver import FINAZ_PATH, FinazReceiver  # noqa: E402

FINAZ_QUERY = "?pid={crm_contact_id}&num={number}&cid={call_id}&ramal={extension}&empresaId={company_id}"
FAST_RETRY = {"base_ms": 100, "max_delay_ms": 300}


# --------------------------------------------------------------------------- helpers

@pytest.fixture
def rx():
    r = FinazReceiver().start()
    yield r
    r.stop()


def finaz_rule(rx, rule_id="finaz", extra_query="", **kw):
    rule = {"id": rule_id, "on": {"kind": "call", "state": "connected", "dialer": True},
            "method": "GET", "url": rx.url + FINAZ_PATH + FINAZ_QUERY + extra_query}
    rule.update(kw)
    return rule


def dialer_call(user, state="connected", call_id=None, **kw):
    ev = call_event(user, state=state, call_id=call_id, **kw)
    ev["call"]["campaign"] = "camp-1"
    ev["call"]["crm_contact_id"] = "pid-" + ev["call_id"]
    return ev


def provision(env, settings, users=("101",), name="acme"):
    integ = env.provision(name, settings)
    for u in users:
        integ.add_user(u)
    return integ


def notifications(integ, status="pending", broker=None):
    r = (broker or integ.env.broker).get("/v1/notifications?status=%s&limit=1000" % status,
                                         token=integ.token)
    body = assert_result(r, 200, 0)
    assert isinstance(body.get("notifications"), list), r.text
    return body["notifications"]


def notification(integ, nid, broker=None):
    r = (broker or integ.env.broker).get("/v1/notifications/" + nid, token=integ.token)
    return assert_result(r, 200, 0)["notification"]


def retry(integ, body):
    return assert_result(integ.env.broker.post("/v1/notifications/retry", body, token=integ.token),
                         200, 0)


def rfc3339(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ok_cids(rx):
    return {r["query"].get("cid") for r in rx.ok_records()}


def by_webhook_id(records):
    out = {}
    for r in records:
        out.setdefault(r["headers"].get("webhook-id"), []).append(r)
    return out


def metric_sum(m, name):
    """Sum of every sample named exactly name, whatever its labels."""
    return sum(v for k, v in m.items() if k == name or k.startswith(name + "{"))


class CrmReceiver:
    """tests/fakes/crm_receiver.mjs in a subprocess."""

    def __init__(self, secret, tmp):
        self.secret = secret
        self.err_path = tmp / "crm_receiver.err"

    def start(self):
        node_tools()
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(["node", str(TESTS / "fakes" / "crm_receiver.mjs"), self.secret],
                                     cwd=str(TESTS), stdout=subprocess.PIPE, stderr=self._err)
        ready, _, _ = select.select([self.proc.stdout], [], [], 15 * SCALE)
        line = self.proc.stdout.readline() if ready else b""
        assert line, "crm_receiver.mjs did not start: %s" % self.err_path.read_text()
        ports = json.loads(line)
        self.url = "http://127.0.0.1:%d" % ports["port"]
        self.control_url = "http://127.0.0.1:%d" % ports["control_port"]
        return self

    def records(self):
        return requests.get(self.control_url + "/_records", timeout=5).json()["records"]

    def control(self, **kw):
        requests.post(self.control_url + "/_control", json=kw, timeout=5).raise_for_status()

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._err.close()


# --------------------------------------------------------------------------- (a) the Finaz GET

def test_finaz_get_arrives_once_with_encoded_values(env, rx):
    company = "emp 7/ü"
    integ = provision(env, {"company_id": company, "notify": [finaz_rule(rx)]}, users=("ag+7", "102"))
    match = call_event("ag+7", state="connected", call_id="call-enc-1")
    match["call"]["from"]["number"] = "+55 (41) 98844-5566"
    match["call"]["crm_contact_id"] = "abc 1&2/ç"
    not_dialer = call_event("102", state="connected")
    appeared = dialer_call("102", state="appeared")
    record = {"kind": "record", "user": "ag+7", "call_id": "call-enc-1",
              "record": {"status": "available", "recording_id": "r1"}}
    integ.post_ok([not_dialer, appeared, record, match], accepted=4)

    wait_until(lambda: rx.records(), 5, what="the Finaz GET")
    delivered = wait_until(lambda: notifications(integ, "delivered"), 5, what="one delivered notification")
    time.sleep(0.5)
    recs = rx.records()
    assert len(recs) == 1, "expected one GET, got %s" % [r["raw_query"] for r in recs]
    r = recs[0]
    assert r["status"] == 200 and r["method"] == "GET" and r["path"] == FINAZ_PATH
    assert r["query"] == {"pid": "abc 1&2/ç", "num": "+55 (41) 98844-5566", "cid": "call-enc-1",
                          "ramal": "ag+7", "empresaId": company}, r["raw_query"]
    # every value percent-encoded: nothing a form decoder would read differently
    assert "ramal=ag%2B7" in r["raw_query"] and "%C3%A7" in r["raw_query"], r["raw_query"]
    assert " " not in r["raw_query"] and r["raw_query"].count("&") == 4, r["raw_query"]
    assert r["headers"].get("user-agent") == "callrelay", r["headers"]
    wid = r["headers"].get("webhook-id")
    assert wid and wid.startswith("ntf_"), r["headers"]

    assert len(delivered) == 1, delivered
    n = delivered[0]
    stored = env.stream_ids(integ.stream_key("ag+7"))
    assert n["id"] == wid and n["rule"] == "finaz" and n["status"] == "delivered"
    assert n["call_id"] == "call-enc-1" and n["user"] == "ag+7" and n["event_id"] == stored[-1]
    assert n["endpoint"] == rx.url and n["attempts_count"] == 1 and n["next_attempt"] is None
    assert [a["status"] for a in n["attempts"]] == [200], n
    assert notifications(integ, "pending") == [] and notifications(integ, "dead") == []


def test_one_notification_per_user_copy(env, rx):
    integ = provision(env, {"company_id": "e1", "notify": [finaz_rule(rx)]}, users=("101", "102", "103"))
    ev = call_event(users=["101", "102", "103"], state="connected", call_id="shared-1")
    ev["call"]["crm_contact_id"] = "p-1"
    integ.post_ok(ev, accepted=1)
    wait_until(lambda: len(rx.ok_records()) >= 3, 5, what="three GETs")
    time.sleep(0.3)
    recs = rx.records()
    assert sorted(r["query"]["ramal"] for r in recs) == ["101", "102", "103"], recs
    assert {r["query"]["num"] for r in recs} == {ev["call"]["from"]["number"]}
    assert len({r["headers"]["webhook-id"] for r in recs}) == 3
    assert sorted(n["user"] for n in notifications(integ, "delivered")) == ["101", "102", "103"]


def test_notifications_api_refuses_bad_input(env, rx):
    integ = provision(env, {"company_id": "e1", "notify": [finaz_rule(rx)]})
    b = env.broker
    for q in ("status=bogus", "limit=0", "limit=1001", "limit=x"):
        body = assert_result(b.get("/v1/notifications?" + q, token=integ.token), 400)
        assert error_field(body) in ("status", "limit"), (q, body)
    assert_result(b.get("/v1/notifications"), 401)
    for bad in ({}, {"ids": "ntf_1"}, {"status": "dead", "since": "yesterday"}, {"status": "bogus"}):
        assert_result(b.post("/v1/notifications/retry", bad, token=integ.token), 400)
    assert retry(integ, {"ids": ["ntf_1000_2"]})["queued"] == 0
    # more ids than a script call's arguments fit on the stack: the longer path
    assert retry(integ, {"ids": ["ntf_1000_%d" % i for i in range(20)]})["queued"] == 0
    assert notifications(integ) == []


# --------------------------------------------------------------------------- (b) signed JSON POST

def test_signed_json_post_is_verified_by_standardwebhooks(env, tmp_path):
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    crm = CrmReceiver(secret, tmp_path).start()
    try:
        rules = [
            {"id": "crm", "on": {"kind": "call", "state": "connected"},
             "url": crm.url + "/hooks/callrelay?src={integration}", "sign": True},
            {"id": "crm-tpl", "on": {"kind": "call", "state": "connected"}, "method": "PUT",
             "url": crm.url + "/contacts/{call_id}", "sign": True,
             "headers": {"Content-Type": "application/json", "X-Ext": "{extension}"},
             "body": '{"phone": "{number}", "ext": "{extension}", "ev": {event}}'},
            {"id": "crm-form", "on": {"kind": "call", "state": "connected"}, "method": "POST",
             "url": crm.url + "/form", "sign": True,
             "headers": {"Content-Type": "application/x-www-form-urlencoded", "X-Line": "{line}"},
             "body": "num={number}&ext={extension}"},
        ]
        integ = provision(env, {"notify_secret": secret, "notify": rules})
        tab = integ.tab("101")
        ev = call_event("101", state="connected", call_id="crm-call-1")
        ev["call"]["from"]["number"] = 'quote" back\\slash &=+'
        ev["call"]["line"] = "L1\r\nX-Evil: 1"
        integ.post_ok(ev, accepted=1)
        sent = tab.next_event()
        recs = wait_until(lambda: (lambda rs: rs if len(rs) >= 3 else None)(crm.records()), 5,
                          what="three signed requests at the CRM receiver")
        time.sleep(0.3)
        recs = crm.records()
        assert len(recs) == 3, recs
        plain = next(r for r in recs if r["path"].startswith("/hooks/"))
        tpl = next(r for r in recs if r["path"].startswith("/contacts/"))
        form = next(r for r in recs if r["path"] == "/form")
        for r in (plain, tpl, form):
            assert r["verified"] is True and r["status"] == 200, r
            assert r["webhook_id"].startswith("ntf_") and r["headers"].get("user-agent") == "callrelay", r
        assert plain["method"] == "POST" and plain["path"] == "/hooks/callrelay?src=acme"
        assert plain["headers"].get("content-type", "").startswith("application/json"), plain["headers"]
        assert plain["json"] == sent, "the body is not the event as a client receives it"
        assert plain["json"]["id"] and plain["json"]["user"] == "101" and plain["json"]["call_id"] == "crm-call-1"
        assert tpl["method"] == "PUT" and tpl["path"] == "/contacts/crm-call-1"
        assert tpl["headers"].get("x-ext") == "101"
        assert tpl["json"] == {"phone": 'quote" back\\slash &=+', "ext": "101", "ev": sent}, tpl["body"]
        assert parse_qs(form["body"], strict_parsing=True) == {"num": ['quote" back\\slash &=+'],
                                                               "ext": ["101"]}, form["body"]
        assert form["headers"].get("x-line") == "L1  X-Evil: 1" and "x-evil" not in form["headers"], \
            form["headers"]
        assert len({plain["webhook_id"], tpl["webhook_id"], form["webhook_id"]}) == 3
        ids = {n["id"] for n in notifications(integ, "delivered")}
        assert ids == {plain["webhook_id"], tpl["webhook_id"], form["webhook_id"]}

        # the receiver does check: the same headers over another body are refused
        h = {k: plain["headers"][k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        bad = requests.post(crm.url + "/hooks/forged", data=plain["body"].replace("101", "102"),
                            headers=h, timeout=5)
        assert bad.status_code == 401 and crm.records()[-1]["verified"] is False
    finally:
        crm.stop()


# --------------------------------------------------------------------------- (c) retries keep the id

def test_500_twice_then_200_keeps_the_webhook_id(env, rx):
    integ = provision(env, {"company_id": "e1", "notify": [finaz_rule(rx, retry=FAST_RETRY)]})
    rx.fail_next(2)
    integ.post_ok(dialer_call("101"), accepted=1)
    wait_until(lambda: rx.ok_records(), 10, what="the third attempt answered 200")
    recs = rx.records()
    assert [r["status"] for r in recs] == [500, 500, 200], recs
    wids = {r["headers"].get("webhook-id") for r in recs}
    assert len(wids) == 1 and None not in wids, "webhook-id changed across retries: %s" % wids
    for a, b in zip(recs, recs[1:]):  # full jitter under max_delay_ms 300
        assert b["t"] - a["t"] < 0.3 + 1.0 * SCALE, [r["t"] for r in recs]

    n = wait_until(lambda: (lambda n: n if n["status"] == "delivered" else None)(
        notification(integ, recs[0]["headers"]["webhook-id"])), 5,
        what="the notification delivered")
    assert n["attempts_count"] == 3 and n["next_attempt"] is None, n
    att = n["attempts"]
    assert [a["status"] for a in att] == [200, 500, 500], att  # newest first
    ats = [rfc3339(a["at"]) for a in att]
    assert ats == sorted(ats, reverse=True), att
    assert att[0]["next_attempt"] is None and att[0]["error"] is None
    assert att[1]["next_attempt"] is not None and att[2]["next_attempt"] is not None, att
    assert all(isinstance(a["latency_ms"], (int, float)) and a["latency_ms"] >= 0 for a in att), att
    assert_result(env.broker.get("/v1/notifications/ntf_1000_1", token=integ.token), 404, 3330)


# --------------------------------------------------------------------------- (d) outage

def test_receiver_down_then_up_gets_everything(env, rx):
    integ = provision(env, {"company_id": "e1", "notify": [
        finaz_rule(rx, retry={"base_ms": 100, "max_delay_ms": 500})]})
    rx.down()
    evs = [dialer_call("101", call_id="down-%02d" % i) for i in range(20)]
    integ.post_ok(evs, accepted=20)
    time.sleep(3)
    assert rx.records() == []
    assert len(notifications(integ, "pending")) == 20
    rx.up()
    want = {e["call_id"] for e in evs}
    wait_until(lambda: want <= ok_cids(rx), 25, interval=0.2, what="every notification after the outage")
    got = [r["query"]["cid"] for r in rx.ok_records()]
    assert sorted(set(got)) == sorted(want), "missing: %s" % (want - set(got))
    wait_until(lambda: len(notifications(integ, "delivered")) == 20, 5, what="20 delivered")
    assert notifications(integ, "pending") == [] and notifications(integ, "dead") == []
    r = env.broker.get("/v1/notifications?status=delivered&limit=5", token=integ.token)
    page = assert_result(r, 200, 0)["notifications"]
    created = [rfc3339(n["created"]) for n in page]
    assert len(page) == 5 and created == sorted(created, reverse=True), "newest first: %s" % created
    assert {n["call_id"] for n in page} <= want


# --------------------------------------------------------------------------- (e) dead and replay

def test_dead_after_max_attempts_then_replayed(env, rx):
    rule = finaz_rule(rx, retry={"max_attempts": 3, "base_ms": 50, "max_delay_ms": 100})
    integ = provision(env, {"company_id": "e1", "notify": [rule]})

    def dead_one(call_id):
        integ.post_ok(dialer_call("101", call_id=call_id), accepted=1)
        return wait_until(lambda: [n for n in notifications(integ, "dead") if n["call_id"] == call_id],
                          10, what="%s dead" % call_id)[0]

    rx.fail(True)
    a = dead_one("dead-a")
    assert a["attempts_count"] == 3 and [x["status"] for x in a["attempts"]] == [500] * 3, a
    assert a["next_attempt"] is None
    assert [r["status"] for r in by_webhook_id(rx.records())[a["id"]]] == [500] * 3
    # one success resets the endpoint's consecutive failures (the breaker opens at 5)
    rx.fail(False)
    integ.post_ok(dialer_call("101", call_id="reset-1"), accepted=1)
    wait_until(lambda: "reset-1" in ok_cids(rx), 5, what="reset-1 delivered")
    rx.fail(True)
    time.sleep(1.1)
    since = now_rfc3339()
    time.sleep(1.1)
    b = dead_one("dead-b")
    rx.fail(False)

    assert retry(integ, {"status": "dead", "since": since})["queued"] == 1
    wait_until(lambda: "dead-b" in ok_cids(rx), 10, what="dead-b replayed by status+since")
    assert notification(integ, a["id"])["status"] == "dead", "dead-a is older than since"
    wait_until(lambda: notification(integ, b["id"])["status"] == "delivered", 5, what="dead-b delivered")
    assert {r["headers"]["webhook-id"] for r in rx.records() if r["query"]["cid"] == "dead-b"} == {b["id"]}

    # by ids: a dead and a delivered one are queued again, an unknown id is not counted
    assert retry(integ, {"ids": [a["id"], b["id"], "ntf_1000_2"]})["queued"] == 2
    wait_until(lambda: "dead-a" in ok_cids(rx), 10, what="dead-a replayed by id")
    wait_until(lambda: len([r for r in rx.ok_records() if r["query"]["cid"] == "dead-b"]) == 2, 10,
               what="dead-b sent again")
    assert notification(integ, a["id"])["status"] == "delivered"
    assert notifications(integ, "dead") == []


@pytest.mark.serial  # a max_age_s of 1 s
def test_dead_after_max_age_even_while_held(env, rx):
    rule = finaz_rule(rx, retry={"max_attempts": 100, "max_age_s": 1, "base_ms": 100, "max_delay_ms": 200})
    integ = provision(env, {"company_id": "e1", "notify": [rule]})
    rx.fail(True)
    integ.post_ok(dialer_call("101", call_id="aged-1"), accepted=1)
    t0 = time.time()
    dead = wait_until(lambda: notifications(integ, "dead"), 10, what="dead by max_age_s")
    assert len(dead) == 1 and 1 <= dead[0]["attempts_count"] < 100, dead
    # dead once the next attempt (at most max_delay_ms = 200 ms away) would come after max_age_s:
    # not before an age of 0.8 s, which t0, taken after the answer, can only understate
    assert time.time() - t0 >= 0.75, "dead long before max_age_s"
    sent = len(rx.records())
    answered = [a for a in dead[0]["attempts"] if a["status"] is not None]
    assert len(answered) == sent and all(a["status"] == 500 for a in answered), (dead[0], sent)
    # the broker logs the death by age as one more line (status null) and counts it
    assert dead[0]["attempts_count"] in (sent, sent + 1), (dead[0], sent)


def test_two_brokers_send_each_notification_once(world, rx):
    a = world.start_broker("a")
    b = world.start_broker("b")
    integ = provision(world, {"company_id": "e1", "notify": [finaz_rule(rx)]})
    rx.delay(5)
    evs = [dialer_call("101", call_id="two-%04d" % i) for i in range(400)]
    for i in range(0, 400, 100):
        integ.post_ok(evs[i:i + 100], broker=(a, b)[(i // 100) % 2], accepted=100)
    want = {e["call_id"] for e in evs}
    wait_until(lambda: want <= ok_cids(rx), 20, interval=0.1, what="400 delivered by two brokers")
    time.sleep(0.5)
    twice = {k: len(v) for k, v in by_webhook_id(rx.records()).items() if len(v) > 1}
    assert not twice, "sent more than once without any crash (the lease): %s" % list(twice.items())[:5]
    assert len(rx.records()) == 400


# --------------------------------------------------------------------------- (f) circuit breaker

@pytest.mark.serial  # times the breaker
def test_circuit_breaker_opens_then_a_probe_closes_it(env, rx):
    rule = finaz_rule(rx, retry={"max_attempts": 100, "base_ms": 100, "max_delay_ms": 200})
    integ = provision(env, {"company_id": "e1", "notify": [rule]})
    rx.fail(True)
    evs = [dialer_call("101", call_id="cb-%d" % i) for i in range(3)]
    integ.post_ok(evs, accepted=3)
    wait_until(lambda: len(rx.records()) >= 5, 5, what="5 failed attempts")
    t1 = rx.records()[0]["t"]
    # it opens once 5 or more failures in a row have lasted 1 s (a retry every <= 200 ms), for 5 s
    time.sleep(max(0.0, t1 + 1.6 * SCALE - time.time()))
    n0 = len(rx.records())
    t5 = rx.records()[n0 - 1]["t"]  # the failure that opened it
    # (the receiver stamps arrivals; the broker counts from the first failure's answer)
    assert t5 - t1 >= 0.9, "opened before the failures lasted 1 s: %.2f" % (t5 - t1)
    time.sleep(max(0.0, t5 + 4.0 - time.time()))
    quiet = rx.records()[n0:]
    assert quiet == [], "attempts while the breaker should be open: %s" % [
        (round(r["t"] - t5, 2), r["status"]) for r in quiet]
    assert len(notifications(integ, "pending")) == 3
    rx.fail(False)
    want = {e["call_id"] for e in evs}
    wait_until(lambda: want <= ok_cids(rx), 30, interval=0.1, what="all delivered after the probe")
    after = rx.records()[n0:]
    probe = after[0]
    assert probe["status"] == 200 and probe["t"] - t5 >= 4.5, (probe["t"] - t5, probe["status"])
    assert len(after) == 3, "one probe, then each waiting one once: %s" % [
        (round(r["t"] - t5, 2), r["query"]["cid"], r["status"]) for r in after]
    assert after[-1]["t"] - probe["t_answered"] < 1.0 * SCALE, "the waiting ones did not go at once"
    counts = {k: len(v) for k, v in by_webhook_id(rx.records()).items()}
    for n in notifications(integ, "delivered"):
        assert n["attempts_count"] == counts[n["id"]], "held attempts counted: %s vs %s" % (n, counts)


# --------------------------------------------------------------------------- (g) order per call

def test_events_of_one_call_arrive_in_order_even_when_the_first_is_retried(env, rx):
    rule = finaz_rule(rx, extra_query="&state={state}&id={id}", on={"kind": "call"}, retry=FAST_RETRY)
    integ = provision(env, {"company_id": "e1", "notify": [rule]})
    states = ["appeared", "connected", "on_hold", "disconnected"]
    evs = [dialer_call("101", state=s, call_id="ordered-1") for s in states]
    rx.fail_next(1)
    integ.post_ok(evs, accepted=4)
    wait_until(lambda: len(rx.ok_records()) >= 4, 10, what="4 delivered")
    time.sleep(0.3)
    seq = [(r["query"]["state"], r["status"]) for r in rx.records()]
    assert seq == [("appeared", 500)] + [(s, 200) for s in states], seq
    stored = env.stream_ids(integ.stream_key("101"))
    assert [r["query"]["id"] for r in rx.ok_records()] == stored


def test_next_of_a_call_goes_once_the_previous_is_dead(env, rx):
    rule = finaz_rule(rx, extra_query="&state={state}", on={"kind": "call"},
                      retry={"max_attempts": 2, "base_ms": 50, "max_delay_ms": 100})
    integ = provision(env, {"company_id": "e1", "notify": [rule]})
    states = ["appeared", "connected", "disconnected"]
    rx.fail_next(2)
    integ.post_ok([dialer_call("101", state=s, call_id="chain-1") for s in states], accepted=3)
    wait_until(lambda: len(rx.ok_records()) >= 2, 10, what="the two after the dead one")
    time.sleep(0.3)
    seq = [(r["query"]["state"], r["status"]) for r in rx.records()]
    assert seq == [("appeared", 500), ("appeared", 500), ("connected", 200), ("disconnected", 200)], seq
    assert [n["call_id"] for n in notifications(integ, "dead")] == ["chain-1"]


# --------------------------------------------------------------------------- (h) kill -9

def test_every_broker_killed_mid_flight_loses_nothing(world, rx):
    a = world.start_broker("a")
    b = world.start_broker("b")
    rule = finaz_rule(rx, timeout_ms=1000, retry={"base_ms": 100, "max_delay_ms": 1000})
    users = ["%d" % (101 + i) for i in range(10)]
    integ = provision(world, {"company_id": "e1", "notify": [rule]}, users=users)
    rx.delay(20)
    n_events, batch = 3000, 500
    evs = [dialer_call(users[i % len(users)], call_id="k-%05d" % i) for i in range(n_events)]
    for i in range(0, n_events, batch):
        integ.post_ok(evs[i:i + batch], broker=(a, b)[(i // batch) % 2], accepted=batch)
    wait_until(lambda: len(rx.ok_records()) >= 300, 20, what="300 delivered before the kill")
    a.stop(sig=signal.SIGKILL)
    b.stop(sig=signal.SIGKILL)
    at_kill = len(ok_cids(rx))
    assert at_kill < n_events, "everything was delivered before the kill: nothing tested"
    world.start_broker("c")
    want = {e["call_id"] for e in evs}
    try:
        wait_until(lambda: want <= ok_cids(rx), 60, interval=0.25, what="every call_id at the receiver")
    finally:
        oks = [r["query"]["cid"] for r in rx.ok_records()]
        got = set(oks)
        print("kill test: sent %d, delivered before the kill %d, received (unique) %d, missing %d, "
              "duplicates %d, requests %d" % (n_events, at_kill, len(got & want), len(want - got),
                                              len(oks) - len(got), len(rx.records())))
    assert not (want - got) and got <= want


# --------------------------------------------------------------------------- (i) bad rules

def test_bad_rules_are_refused_at_save_naming_the_field(env, rx):
    good = finaz_rule(rx)
    cases = [
        ([finaz_rule(rx, url=rx.url + FINAZ_PATH + "?pid={crm_contact}")], "settings.notify[0].url", True),
        ([finaz_rule(rx, url="http//no host here {call_id}")], "settings.notify[0].url", True),
        ([finaz_rule(rx, url="http://")], "settings.notify[0].url", True),
        ([finaz_rule(rx, url="ftp://127.0.0.1/x")], "settings.notify[0].url", True),
        ([finaz_rule(rx, url="http://{company_id}.crm.example/x")], "settings.notify[0].url", True),
        ([finaz_rule(rx, sign=True)], "settings.notify[0].sign", True),
        ([good, finaz_rule(rx, "b", method="POST", body="x={nope}")], "settings.notify[1].body", True),
        ([good, finaz_rule(rx, "finaz")], "settings.notify[1].id", True),
        ([finaz_rule(rx, method="POST", body='{"a": {call_id}')], "settings.notify[0].body", True),
        ([finaz_rule(rx, headers={"X-Key": "{secret}"})], "settings.notify[0].headers", False),
        ([finaz_rule(rx, headers={"Host": "evil"})], "settings.notify[0].headers", False),
        ([finaz_rule(rx, body="x")], "settings.notify[0]", False),
        ([finaz_rule(rx, foo=1)], "settings.notify[0]", False),
        ([finaz_rule(rx, retry={"max_attempts": 0})], "settings.notify[0].retry.max_attempts", True),
        ([finaz_rule(rx, on={"kind": "bogus"})], "settings.notify[0].on.kind", True),
        ([finaz_rule(rx, rate_per_s=0)], "settings.notify[0].rate_per_s", True),
    ]
    provision(env, {"company_id": "e1", "notify": [good]}, users=())
    listed = lambda: {i["name"]: i for i in assert_result(  # noqa: E731
        env.broker.get("/v1/integration/list", token=ADMIN_TOKEN), 200, 0)["integrations"]}
    before = listed()["acme"]["settings"]
    wrong = []
    for i, (rules, field, exact) in enumerate(cases):
        for path, body in (("/v1/integration/create", {"name": "bad%d" % i, "adapter": "native",
                                                       "settings": {"company_id": "e1", "notify": rules}}),
                           ("/v1/integration/update", {"name": "acme",
                                                       "settings": {"company_id": "e1", "notify": rules}})):
            r = env.broker.admin(path, body)
            got = None
            try:
                got = error_field(r.json())
            except ValueError:
                pass
            ok = r.status_code == 400 and isinstance(got, str) and (
                got == field if exact else got.startswith(field))
            if not ok:
                wrong.append("%s case %d (%s): want 400 field %s, got %d %s" % (
                    path, i, json.dumps(rules)[:160], field, r.status_code, r.text[:300]))
    items = listed()
    stored_bad = [n for n in items if n.startswith("bad")]
    assert not wrong, "\n".join(wrong)
    assert stored_bad == [], "refused integrations were stored: %s" % stored_bad
    assert items["acme"]["settings"] == before, "a refused update changed the integration"


# --------------------------------------------------------------------------- (j) rate

@pytest.mark.serial  # times the sends
def test_rate_per_s_spaces_sends_and_drops_none(env, rx):
    integ = provision(env, {"company_id": "e1", "notify": [finaz_rule(rx, rate_per_s=5)]})
    evs = [dialer_call("101", call_id="rate-%d" % i) for i in range(10)]
    integ.post_ok(evs, accepted=10)
    wait_until(lambda: len(rx.ok_records()) >= 10, 15, what="10 delivered at 5/s")
    recs = rx.records()
    assert sorted(r["query"]["cid"] for r in recs) == sorted(e["call_id"] for e in evs), recs
    ts = sorted(r["t"] for r in recs)
    assert ts[-1] - ts[0] >= 1.5, "10 at 5/s took only %.2fs" % (ts[-1] - ts[0])
    for t in ts:
        in_window = sum(1 for u in ts if t <= u < t + 1.0)
        assert in_window <= 6, "%d sends within 1 s at rate 5/s: %s" % (in_window, [round(u - ts[0], 2) for u in ts])


# --------------------------------------------------------------------------- (k) metrics

def test_metrics_count_queued_sent_retried_failed_dead(env, rx):
    once = finaz_rule(rx, "once", on={"kind": "call", "state": "disconnected"},
                      retry={"max_attempts": 1})
    again = finaz_rule(rx, "again", on={"kind": "call", "state": "connected"}, retry=FAST_RETRY)
    integ = provision(env, {"company_id": "e1", "notify": [once, again]})
    rx.fail_next(1)
    integ.post_ok(dialer_call("101", state="disconnected", call_id="m-dead"), accepted=1)
    wait_until(lambda: notifications(integ, "dead"), 5, what="m-dead dead")
    rx.fail_next(1)
    integ.post_ok(dialer_call("101", state="connected", call_id="m-ok"), accepted=1)
    wait_until(lambda: notifications(integ, "delivered"), 5, what="m-ok delivered")

    def counts():
        m = env.broker.metrics()
        return {k: metric_sum(m, "callrelay_notifications_%s_total" % k)
                for k in ("queued", "sent", "retried", "failed", "dead")}, m
    want = {"queued": 2, "sent": 1, "retried": 1, "failed": 2, "dead": 1}
    wait_until(lambda: counts()[0] == want, 3, what="metrics %s" % want)
    _, m = counts()
    h = "callrelay_notification_latency_seconds"
    assert metric_sum(m, h + "_count") == 1, {k: v for k, v in m.items() if h in k}
    assert metric_sum(m, h + "_sum") > 0
    inf = [v for k, v in m.items() if k.startswith(h + "_bucket") and 'le="+Inf"' in k]
    assert inf and sum(inf) == 1, {k: v for k, v in m.items() if h in k}
