"""The demo CRM page and the browser module in a real browser: Debian's chromium driven by
playwright-core (tests/browser/driver.mjs). Screen-pop cards and their states, a broker
restart, two tabs, one shared websocket for two tabs, a reload mid-stream. A screenshot of the
demo is kept in build/artifacts/demo.png (next to the broker binary)."""
import json
import os
import queue
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import BIN, SCALE, TESTS, call_event, metric, wait_until

pytestmark = pytest.mark.serial  # chromium is heavy, and the page's waits are timed

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DRIVER = TESTS / "browser" / "driver.mjs"
ARTIFACTS = Path(os.environ.get("CALLRELAY_ARTIFACTS") or Path(BIN).resolve().parent / "artifacts")
EXT = "101"
OPEN = "document.getElementById('conn').dataset.state === 'open'"


class Chromium:
    """The driver process: one command, one answer, each bounded in time."""

    def __init__(self, tmp):
        if not os.access(CHROMIUM, os.X_OK):
            pytest.fail("%s not found: the browser tests need Debian's chromium "
                        "(sh deploy/deps.sh --test installs it)" % CHROMIUM)
        if not (TESTS / "node_modules" / "playwright-core").is_dir():
            r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=str(TESTS),
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, "npm ci in tests/ failed:\n%s\n%s" % (r.stdout, r.stderr)
        self.log_path = Path(tmp) / "driver.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(["node", str(DRIVER)], cwd=str(TESTS), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, text=True)
        self.answers = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.answers.put(line)
        self.answers.put(None)

    def call(self, cmd, timeout=20, **args):
        self.proc.stdin.write(json.dumps(dict(args, cmd=cmd)) + "\n")
        self.proc.stdin.flush()
        try:
            line = self.answers.get(timeout=timeout * SCALE)
        except queue.Empty:
            raise AssertionError("browser driver: no answer to %s within %ss" % (cmd, timeout))
        assert line is not None, "browser driver exited:\n%s" % self.log_path.read_text()[-3000:]
        ans = json.loads(line)
        if not ans["ok"]:
            raise AssertionError("browser %s %s failed: %s\npage errors: %s" % (
                cmd, args, ans["error"][:3000], self.page_errors()))
        return ans.get("result")

    def page_errors(self):
        try:
            self.proc.stdin.write(json.dumps({"cmd": "errors"}) + "\n")
            self.proc.stdin.flush()
            return json.loads(self.answers.get(timeout=5))["result"]
        except Exception as e:  # noqa: BLE001 - only for a failure message
            return "(unavailable: %r)" % e

    def wait(self, tab, expr, timeout=10, what=None):
        try:
            return self.call("wait", timeout=timeout + 5, tab=tab, expr=expr,
                             ms=int(timeout * 1000 * SCALE))
        except AssertionError as e:
            raise AssertionError("%s: %s" % (what or expr, e))

    def eval(self, tab, expr):
        return self.call("eval", tab=tab, expr=expr)

    def reports(self, tab=None, type_=None):
        out = self.call("reports")
        return [r for r in out if (tab is None or r["tab"] == tab) and
                (type_ is None or r["type"] == type_)]

    def delivered(self, tab):
        return [r["data"]["id"] for r in self.reports(tab, "event")]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.call("quit", timeout=10)
            except AssertionError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


@pytest.fixture
def chromium(tmp_path):
    c = Chromium(tmp_path)
    yield c
    c.close()


@pytest.fixture
def demo(world):
    """A broker with the demo on, integration acme with user 101."""
    world.start_broker(env={"CALLRELAY_DEMO": "1"})
    acme = world.provision("acme")
    acme.add_user(EXT, "Ann")
    return acme


def open_desk(chromium, broker, acme, tab, query=""):
    status = chromium.call("open", tab=tab, url=broker.base + "/demo" + query)
    assert status == 200, "GET /demo answered %s" % status
    chromium.call("login", tab=tab, token=acme.token, extension=EXT)
    chromium.wait(tab, OPEN, 15, "the connection state shows open")


def card_state(call_id):
    return card(call_id, "?.dataset.state")


def post_call(acme, call_id, state, cause=None, call=None, **extra):
    """One call event (call: fields of its call object); its key makes it new even when it
    repeats an earlier state."""
    ev = call_event(user=EXT, state=state, call_id=call_id, key=uuid.uuid4().hex, **extra)
    ev["call"].update(call or {})
    if cause is not None:
        ev["call"]["disconnect"] = {"code": cause}
    return acme.post_ok(ev, accepted=1)


def say(capsys, text):
    """Shown in the test run's output even when pytest captures it: paths and counts."""
    with capsys.disabled():
        print("\n" + text)


def sessions_open(broker):
    return metric(broker.metrics(), "callrelay_sessions_open")


def assert_once_each(ids, expected, what):
    dup = sorted({i for i in ids if ids.count(i) > 1})
    assert not dup, "%s: delivered twice: %s" % (what, dup)
    missing = sorted(set(expected) - set(ids))
    assert not missing, "%s: never delivered: %s (got %s)" % (what, missing, ids)


START = time.time()


def ts_ago(seconds):
    """A time `seconds` before the test module started: fixed, so durations are exact."""
    t = START - seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def card(call_id, what=""):
    return "document.querySelector('.card[data-call-id=\"%s\"]')%s" % (call_id, what)


def test_screen_pop_follows_the_call_and_shows_recording_and_ivr(demo, world, chromium, capsys):
    open_desk(chromium, world.broker, demo, "a")
    # One call through every state, each seen on its card before the next is posted.
    for state, label, ago in (("appeared", "Ringing", 360), ("connected", "Talking", 350),
                              ("on_hold", "On hold", 200), ("connected", "Talking", 170),
                              ("disconnected", "Ended", 60)):
        post_call(demo, "c-1", state, cause=16 if state == "disconnected" else None,
                  ts=ts_ago(ago))
        chromium.wait("a", card("c-1", "?.querySelector('.state').textContent === '%s'" % label),
                      what="c-1 shows %s" % label)
        assert chromium.eval("a", card("c-1", ".dataset.state")) == state
    assert chromium.eval("a", card("c-1", ".querySelector('.number').textContent")) == \
        "5511980121511"
    cause = chromium.eval("a", card("c-1", ".querySelector('.cause').textContent"))
    assert cause == "Cause: Normal clearing (Q.850 16)", cause
    assert "Talked 4:50" in chromium.eval("a", card("c-1", ".querySelector('.times').textContent"))
    demo.post_ok({"kind": "record", "user": EXT, "call_id": "c-1",
                  "record": {"status": "available", "url": world.broker.base + "/rec/c-1.wav",
                             "duration_s": 290}}, accepted=1)
    chromium.wait("a", card("c-1", ".querySelector('audio')?.src.endsWith('/rec/c-1.wav')"),
                  what="an audio player on the card")
    # An outbound call the other side refused as busy: its number is the callee's.
    outbound = {"direction": "outbound", "from": {"extension": EXT},
                "to": {"number": "5521998877665"}}
    post_call(demo, "c-2", "appeared", call=outbound, ts=ts_ago(50))
    post_call(demo, "c-2", "disconnected", cause=17, call=outbound, ts=ts_ago(41))
    chromium.wait("a", card("c-2", "?.dataset.state === 'disconnected'"), what="busy card")
    assert chromium.eval("a", card("c-2", ".classList.contains('failed')"))
    assert chromium.eval("a", card("c-2", ".querySelector('.number').textContent")) == \
        "5521998877665"
    assert chromium.eval("a", card("c-2", ".querySelector('.state').textContent")) == "Busy"
    demo.post_ok({"kind": "ivr", "user": EXT, "call_id": "c-ivr",
                  "ivr": {"state": "appeared", "from": {"number": "5531987654321"}}}, accepted=1)
    chromium.wait("a", "document.querySelector('#notices li.ivr')?.textContent"
                  ".includes('5531987654321')", what="ivr notice")
    # Calls still going on: on hold, talking, ringing.
    going_on = (("c-3", "5531912345678", (("appeared", 180), ("connected", 170), ("on_hold", 30))),
                ("c-4", "5541988776655", (("appeared", 125), ("connected", 118))),
                ("c-5", "5511933334444", (("appeared", 4),)))
    for call_id, number, states in going_on:
        for state, ago in states:
            post_call(demo, call_id, state, call={"from": {"number": number}}, ts=ts_ago(ago))
    chromium.wait("a", " && ".join(card(c, "?.dataset.state === '%s'" % st) for c, st in
                                   (("c-3", "on_hold"), ("c-4", "connected"), ("c-5", "appeared"))),
                  what="three more cards")
    assert chromium.eval("a", "document.querySelectorAll('.card').length") == 5
    demo.post_ok({"kind": "route_result", "user": EXT, "call_id": "c-4",
                  "route_result": {"command_id": "transfer-7", "result": 0,
                                   "to": {"extension": "102"}}}, accepted=1)
    chromium.wait("a", "document.querySelector('#notices li.route')?.textContent"
                  ".startsWith('Routing transfer-7 done')", what="route result notice")
    ids = chromium.delivered("a")
    stream = world.stream_ids(demo.stream_key(EXT))
    assert len(stream) == 16  # 5 + 1 record + 2 + 1 ivr + 3 + 2 + 1 + 1 route_result
    assert ids == stream, "delivered %s, stored %s" % (ids, stream)
    assert chromium.eval("a", "window.__delivered") == stream
    # A second tab opened now shows the calls in progress from its first register answer.
    open_desk(chromium, world.broker, demo, "b")
    chromium.wait("b", " && ".join(card(c, "?.dataset.state === '%s'" % st) for c, st in
                                   (("c-3", "on_hold"), ("c-4", "connected"), ("c-5", "appeared"))),
                  what="calls snapshot in a new tab")
    snapshot = chromium.reports("b", "calls")
    assert snapshot and set(snapshot[0]["data"]) == {"c-3", "c-4", "c-5"}, snapshot
    assert chromium.eval("b", card("c-2")) is None, "an ended call is not in progress"
    chromium.call("close", tab="b")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = chromium.call("screenshot", tab="a", path=str(ARTIFACTS / "demo.png"))
    say(capsys, "screenshot of the demo: %s" % shot)
    assert not chromium.page_errors(), chromium.page_errors()


def test_page_reconnects_after_a_broker_restart_and_gets_what_was_posted_meanwhile(
        demo, world, chromium, capsys):
    a = world.broker
    other = world.start_broker(name="other")  # posts while a is down: same Redis
    open_desk(chromium, a, demo, "a")
    before = ["r-%d" % i for i in range(3)]
    for c in before:
        post_call(demo, c, "appeared")
    chromium.wait("a", "document.querySelectorAll('.card').length === 3", what="3 cards")
    a.stop()
    chromium.wait("a", "document.getElementById('conn').dataset.state !== 'open'",
                  what="the page sees the broker gone")
    meanwhile = ["m-%d" % i for i in range(4)]
    for c in meanwhile:
        demo.post_ok(call_event(user=EXT, state="appeared", call_id=c), broker=other, accepted=1)
    demo.post_ok(call_event(user=EXT, state="connected", call_id="r-0"), broker=other, accepted=1)
    a.stopped = False
    a.start()  # same port
    chromium.wait("a", "document.getElementById('conn').dataset.state === 'open'", 45,
                  "the page reconnects by itself")
    chromium.wait("a", "document.querySelectorAll('.card').length === 7 && " +
                  card_state("r-0") + " === 'connected'", 15, "what was posted meanwhile")
    ids = chromium.delivered("a")
    stream = world.stream_ids(demo.stream_key(EXT))
    assert len(stream) == len(before) + len(meanwhile) + 1
    assert_once_each(ids, stream, "after the restart")
    assert ids == stream, "delivered out of order: %s vs %s" % (ids, stream)
    cards = chromium.eval("a", "document.querySelectorAll('.card').length")
    say(capsys, "reconnect: %d events delivered once each (%d before the restart, %d while "
        "the broker was down), %d cards" % (len(ids), len(before), len(ids) - len(before), cards))
    states = [r["data"] for r in chromium.reports("a", "state")]
    first_open = states.index("open")
    assert "open" in states[first_open + 1:] and len(set(states[first_open:])) > 1, states


def test_two_tabs_of_one_user_both_update(demo, world, chromium):
    open_desk(chromium, world.broker, demo, "a")
    open_desk(chromium, world.broker, demo, "b")
    wait_until(lambda: sessions_open(world.broker) == 2, 5, what="two websockets")
    post_call(demo, "t-1", "appeared")
    post_call(demo, "t-1", "connected")
    stream = world.stream_ids(demo.stream_key(EXT))
    for tab in ("a", "b"):
        chromium.wait(tab, card_state("t-1") + " === 'connected'", what="tab %s updated" % tab)
        assert chromium.delivered(tab) == stream
    # Signing out one tab forgets it and closes its websocket; the other stays.
    chromium.call("eval", tab="b", expr="document.getElementById('signout').click()")
    chromium.wait("b", "!document.getElementById('login').hidden", what="the sign-in form")
    assert chromium.eval("b", "getComputedStyle(document.getElementById('who')).display") == "none"
    assert chromium.eval("b", "sessionStorage.length") == 0
    wait_until(lambda: sessions_open(world.broker) == 1, 5, what="b's websocket closed")
    assert chromium.eval("a", OPEN)


def test_shared_tabs_use_one_websocket_and_survive_the_holder_closing(demo, world, chromium):
    open_desk(chromium, world.broker, demo, "a", "?share=1")
    wait_until(lambda: sessions_open(world.broker) == 1, 5, what="one websocket for tab a")
    open_desk(chromium, world.broker, demo, "b", "?share=1")
    time.sleep(0.5 * SCALE)
    assert sessions_open(world.broker) == 1, "two shared tabs should hold one websocket"
    post_call(demo, "s-1", "appeared")
    for tab in ("a", "b"):
        chromium.wait(tab, card_state("s-1") + " === 'appeared'", what="tab %s got s-1" % tab)
    chromium.call("close", tab="a")  # a opened first: it holds the websocket
    post_call(demo, "s-1", "connected")
    post_call(demo, "s-2", "appeared")
    chromium.wait("b", card_state("s-1") + " === 'connected' && " + card_state("s-2") +
                  " === 'appeared'", 20, "tab b after a closed")
    wait_until(lambda: sessions_open(world.broker) == 1, 10, what="b took the websocket over")
    stream = world.stream_ids(demo.stream_key(EXT))
    ids = chromium.delivered("b")
    assert_once_each(ids, stream, "tab b")
    assert len(ids) == 3


HISTORY = "JSON.parse(sessionStorage.getItem('callrelay-demo-events') || '[]').map(e => e.id)"


def test_reload_mid_stream_loses_nothing_and_repeats_nothing(demo, world, chromium, capsys):
    """What the tab handled is read from the page's own history (sessionStorage, written in
    the handler): a report on its way out when the page unloads may be dropped by the driver."""
    open_desk(chromium, world.broker, demo, "a")
    n = 40
    posted = []

    def post_all():
        for i in range(n):
            post_call(demo, "l-%d" % i, "appeared")
            posted.append(i)
            time.sleep(0.05)
    t = threading.Thread(target=post_all)
    t.start()
    reloads = 0
    handled_before_reload = []
    try:
        for _ in range(3):
            wait_until(lambda: len(posted) >= (reloads + 1) * n // 4, 20, what="posts go on")
            handled_before_reload.append(len(chromium.eval("a", HISTORY)))
            chromium.call("reload", tab="a")
            reloads += 1
    finally:
        t.join(60)
    assert 0 < handled_before_reload[0] < handled_before_reload[-1] < n, \
        "the reloads should fall in the middle of the stream: %s" % handled_before_reload
    stream = world.stream_ids(demo.stream_key(EXT))
    assert len(stream) == n
    try:
        chromium.wait("a", HISTORY + ".length >= %d" % n, 30, "every event handled")
    except AssertionError as e:
        raise AssertionError("%s: missing %s" % (e, sorted(set(stream) -
                                                           set(chromium.eval("a", HISTORY)))))
    time.sleep(0.5 * SCALE)
    ids = chromium.eval("a", HISTORY)
    assert_once_each(ids, stream, "across %d reloads" % reloads)
    assert ids == stream, "out of order across reloads"
    assert chromium.eval("a", "document.querySelectorAll('.card').length") == n
    opened = [r["data"] for r in chromium.reports("a", "state")].count("open")
    assert opened == reloads + 1, "one connection per page load: %d" % opened
    say(capsys, "reload: %d events posted, %d handled once each across %d reloads (handled "
        "before each reload: %s), %d cards after the last" % (n, len(ids), reloads,
                                                             handled_before_reload, n))


FILL_STORAGE = """(() => {
  let n = 0;
  for (let size = 1 << 20; size >= 16; size >>= 1) {
    const chunk = "x".repeat(size);
    for (;;) {
      try { sessionStorage.setItem("filler-" + n, chunk); n++; } catch { break; }
    }
  }
  return n;
})()"""


def test_history_leaves_out_raw_and_is_trimmed_when_storage_is_full(demo, world, chromium):
    open_desk(chromium, world.broker, demo, "a")
    for i in range(6):
        post_call(demo, "q-%d" % i, "appeared", raw={"pbx": "x" * 400})
    chromium.wait("a", HISTORY + ".length === 6", what="six events handled")
    assert chromium.eval("a", "JSON.parse(sessionStorage.getItem('callrelay-demo-events'))"
                         ".filter(e => 'raw' in e).length") == 0, "raw is not kept"
    assert chromium.eval("a", FILL_STORAGE) > 0
    post_call(demo, "q-6", "appeared", raw={"pbx": "x" * 400})
    chromium.wait("a", card_state("q-6") + " === 'appeared'", what="the card of q-6")
    stream = world.stream_ids(demo.stream_key(EXT))
    kept = chromium.eval("a", HISTORY)
    assert kept and kept[-1] == stream[-1] and len(kept) < 7, \
        "a full storage keeps the newer events, the newest among them: %s" % kept


def test_gap_notice_when_retention_removed_missed_events(world, chromium):
    world.start_broker(env={"CALLRELAY_DEMO": "1", "CALLRELAY_RETENTION": "1"})
    acme = world.provision("acme")
    acme.add_user(EXT)
    open_desk(chromium, world.broker, acme, "a")
    post_call(acme, "g-0", "appeared")
    chromium.wait("a", card_state("g-0") + " === 'appeared'", what="the first card")
    chromium.call("goto", tab="a", url="about:blank")  # the tab keeps its sessionStorage
    # One event each 0.4 s: the oldest are trimmed (retention 1 s) while the stream lives on
    # (a stream idle for the whole retention expires, and then no gap can be told).
    for i in range(1, 6):
        post_call(acme, "g-%d" % i, "appeared")
        time.sleep(0.4)
    kept = world.stream_ids(acme.stream_key(EXT))
    assert 0 < len(kept) < 5, "some of g-1..g-5 should be trimmed: %s" % kept
    chromium.call("goto", tab="a", url=world.broker.base + "/demo")
    chromium.wait("a", "document.querySelector('#banners .banner')?.textContent"
                  ".includes('removed by retention')", what="the gap notice")
    assert [r["type"] for r in chromium.reports("a", "gap")] == ["gap"]
    chromium.wait("a", card_state("g-5") + " === 'appeared'", what="the newest event")
    assert chromium.eval("a", card_state("g-1")) is None, "g-1 was trimmed"
    assert chromium.eval("a", card_state("g-0")) == "appeared", "the card from before is kept"


def test_a_refused_token_is_shown(demo, world, chromium):
    chromium.call("open", tab="a", url=world.broker.base + "/demo")
    chromium.call("login", tab="a", token="not-the-token", extension=EXT)
    chromium.wait("a", "document.querySelector('.banner.error')?.textContent"
                  ".includes('integration token missing or wrong')", what="the refusal")
    assert chromium.eval("a", "document.getElementById('conn').dataset.state") != "open"
