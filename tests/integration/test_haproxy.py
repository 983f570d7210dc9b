"""Two callrelay instances behind haproxy, as deploy/compose.yaml runs them: one redis-server,
two brokers sharing CALLRELAY_TICKET_SECRET and CALLRELAY_ADMIN_TOKEN (conftest's `world`),
and haproxy configured from deploy/haproxy.cfg (round robin, no stickiness), pointed at them.

Everything goes through haproxy: provisioning, the channel URL, the websockets, and many
webhooks that land on both instances in turn. Every tab must receive every event, in id
order, whichever instance ingested it."""

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

from conftest import (SCALE, Broker, Closed, Tab, assert_increasing, call_event, free_port,
                      wait_until, ws_upgrade_status)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HAPROXY_CFG = os.path.join(ROOT, "deploy", "haproxy.cfg")
N_EVENTS = 40
WAIT = 30  # ASan builds start and answer more slowly

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None,
    reason="haproxy is not installed (sh deploy/deps.sh --test installs it)")


def haproxy_config(template, port, backends, stats_sock, server_opts=""):
    """deploy/haproxy.cfg with the listening port, the backend addresses and a stats socket
    replaced, Docker's resolvers removed, and server_opts appended to default-server (as its
    comment says to do for brokers with TLS). Fails when the template no longer has the shape
    this expects, rather than silently testing another configuration."""
    text, n = re.subn(r"(?m)^resolvers docker\n(?:[ \t]+\S.*\n)*", "", template)
    assert n == 1, "deploy/haproxy.cfg: expected one 'resolvers docker' section"
    text = text.replace(" resolvers docker", "")
    if server_opts:
        text, n = re.subn(r"(?m)^(\s*default-server\s.*)$", r"\g<1> " + server_opts, text)
        assert n == 1, "deploy/haproxy.cfg: expected one default-server line"
    text, n = re.subn(r"(?m)^(\s*bind\s+)\S*:8080\b", r"\g<1>127.0.0.1:%d" % port, text)
    assert n == 1, "deploy/haproxy.cfg: expected one 'bind :8080'"
    servers = iter(backends)
    text, n = re.subn(r"(?m)^(\s*server\s+\S+\s+)\S+:8080\b",
                      lambda m: "%s127.0.0.1:%d" % (m.group(1), next(servers)), text)
    assert n == len(backends), "deploy/haproxy.cfg: expected %d server lines" % len(backends)
    text, n = re.subn(r"(?m)^global\n",
                      "global\n    stats socket %s mode 600 level admin\n" % stats_sock, text)
    assert n == 1, "deploy/haproxy.cfg: expected a global section"
    # haproxy refuses to start when it cannot get two descriptors per connection: fit the
    # global maxconn into this machine's limit (containers usually allow far more).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY:
        text, n = re.subn(r"(?m)^(\s*maxconn\s+)(\d+)",
                          lambda m: m.group(1) + str(min(int(m.group(2)), (hard - 200) // 2)),
                          text)
    return text


def haproxy_stats(sock_path):
    """{server: {"status", "2xx"}} for the servers of backend callrelay (stats socket)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(sock_path))
        s.sendall(b"show stat\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = data.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    out = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "callrelay" and row.get("svname") not in ("BACKEND", "FRONTEND"):
            out[row["svname"]] = {"status": row["status"], "2xx": int(row["hrsp_2xx"] or 0)}
    return out


class Front:
    """haproxy, seen by conftest's REST helpers as one more broker (they use only .base)."""
    name = "haproxy"
    get = Broker.get
    post = Broker.post
    admin = Broker.admin

    def __init__(self, base):
        self.base = base


def start_haproxy(tmp_path, brokers, server_opts="", port=None):
    """haproxy (foreground, -db) in front of brokers, configured from deploy/haproxy.cfg;
    returns (process, its log file, Front) once both backends are UP."""
    port = port or free_port()
    stats_sock = tmp_path / "haproxy.sock"
    cfg = tmp_path / "haproxy.cfg"
    with open(HAPROXY_CFG) as f:
        cfg.write_text(haproxy_config(f.read(), port, [b.port for b in brokers], stats_sock,
                                      server_opts))
    check = subprocess.run(["haproxy", "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, "generated haproxy.cfg is invalid:\n%s" % check.stderr
    log_path = tmp_path / "haproxy.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    front = Front("http://127.0.0.1:%d" % port)
    front.port = port
    front.brokers = brokers
    front.stats = lambda: haproxy_stats(stats_sock)
    front.log_path = log_path
    try:
        def up():
            assert proc.poll() is None, "haproxy exited:\n" + log_path.read_text()
            st = front.stats()
            return len(st) == 2 and all(s["status"] == "UP" for s in st.values())
        wait_until(up, WAIT, what="haproxy with both backends UP")
        wait_until(lambda: requests.get(front.base + "/healthz", timeout=2).status_code == 200,
                   WAIT, what="GET /healthz through haproxy")
    except BaseException:
        stop_haproxy(proc, log)
        raise
    return proc, log, front


def stop_haproxy(proc, log):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)
    log.close()


@pytest.fixture
def lb(world, tmp_path):
    """Two brokers on world's Redis, and haproxy in front of them."""
    proc, log, front = start_haproxy(tmp_path, [world.start_broker("a"), world.start_broker("b")])
    try:
        yield front
    finally:
        # Stopped by its PID, before world's teardown stops the brokers.
        stop_haproxy(proc, log)


def test_events_through_haproxy_arrive_in_order(world, lb):
    # Provisioning and users through haproxy.
    acme = world.provision("acme", broker=lb)
    acme.add_user("101", "Ann", broker=lb)

    # Channel URLs through haproxy name haproxy (the request's Host), not a backend. Two tabs:
    # the ticket is signed by whichever instance answered and checked by whichever one takes
    # the upgrade.
    tabs = []
    for _ in range(2):
        url = acme.channel_url("101", broker=lb)
        assert url.startswith("ws://127.0.0.1:%d/v1/ws?ticket=" % lb.port), url
        tab = Tab(url)
        first = tab.register()
        assert first["result"]["code"] == 109 and first["events"] == [], first
        tabs.append(tab)

    before = lb.stats()
    for i in range(N_EVENTS):
        # One connection per webhook, as a PBX would: haproxy picks the next server each time.
        acme.post_ok(call_event(user="101", call_id="lb-%d" % i, key="lb-key-%d" % i),
                     broker=lb, headers={"Connection": "close"}, accepted=1)
    after = lb.stats()

    seen = []
    for tab in tabs:
        got = tab.events(N_EVENTS, timeout=WAIT)
        seen.append([e["id"] for e in got])
        assert [e["call_id"] for e in got] == ["lb-%d" % i for i in range(N_EVENTS)]
        assert_increasing([e["id"] for e in got])
        assert all(e["user"] == "101" and e["integration"] == "acme" for e in got)
        tab.expect_silence(0.3)

    # The webhooks landed on both instances (round robin, no stickiness).
    served = {name: after[name]["2xx"] - before[name]["2xx"] for name in after}
    assert sum(served.values()) >= N_EVENTS, served
    assert all(n >= N_EVENTS // 4 for n in served.values()), served

    # Both tabs saw the same events: what Redis holds for the user, in that order.
    assert seen[0] == seen[1] == world.stream_ids(acme.stream_key("101"))[-N_EVENTS:]


def test_secrets_in_query_strings_are_not_logged(world, lb):
    """Tickets and tokens ride in query strings (browsers cannot set websocket headers): neither
    haproxy's log nor the brokers' may show them (issue 7, finding 7)."""
    acme = world.provision("acme", broker=lb)
    acme.add_user("101", broker=lb)
    ticket = acme.channel_url("101", broker=lb).split("ticket=", 1)[1].split("&")[0]
    secrets = [ticket, "SECRETTICKETforged123", acme.token, "SECRETTOKENwrong456"]
    base = "http://127.0.0.1:%d" % lb.port
    # a valid ticket (upgrade accepted) and a forged one, a valid and a wrong token
    assert ws_upgrade_status("ws://127.0.0.1:%d/v1/ws?ticket=%s" % (lb.port, ticket)) == 101
    assert ws_upgrade_status("ws://127.0.0.1:%d/v1/ws?ticket=%s" % (lb.port, secrets[1])) >= 400
    assert requests.get(base + "/v1/users?token=" + acme.token, timeout=5).status_code == 200
    assert requests.get(base + "/v1/users?token=" + secrets[3], timeout=5).status_code == 401
    assert requests.post(base + "/v1/hooks/acme/native?token=" + acme.token,
                         json=call_event(user="101"), timeout=5).status_code == 200
    wait_until(lambda: lb.log_path.read_text().count("/v1/hooks/acme/native") >= 1
               and lb.log_path.read_text().count("/v1/ws") >= 2, WAIT,
               what="haproxy's log lines for the requests")
    logs = {"haproxy": lb.log_path.read_text()}
    for b in lb.brokers:
        logs["broker %s" % b.name] = b.stdout() + b.stderr()
    assert "GET /v1/users HTTP/1.1" in logs["haproxy"], logs["haproxy"][-2000:]
    for name, text in logs.items():
        for s in secrets:
            assert s not in text, "%s logged a secret: %s" % (name, text[-2000:])
        assert "ticket=" not in text and "token=" not in text, "%s: %s" % (name, text[-2000:])


# ---- the kill test (issue 11, part 2): one broker killed with -9 under load -----------------

KILL_USERS = 20
KILL_RATE = 100      # webhooks per second, through haproxy
KILL_SECONDS = 10


class Follower:
    """One tab of one user, on its own thread: it takes every event, and when its connection
    dies it reconnects through haproxy and resumes with since = the last id it received."""

    def __init__(self, acme, lb, ext, deadline):
        self.acme, self.lb, self.ext, self.deadline = acme, lb, ext, deadline
        self.got = []  # (id, call_id) as received, duplicates included
        self.last = None
        self.reconnects = 0
        self.tab = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def take(self, events):
        for e in events:
            self.got.append((e["id"], e["call_id"]))
            self.last = e["id"]

    def connect(self):
        """A ticket and a websocket through haproxy, then the missed pages: until one works
        (haproxy may still pick the dead broker until its health check marks it down)."""
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            tab = None
            try:
                tab = Tab(self.acme.channel_url(self.ext, broker=self.lb))
                while True:
                    ans = tab.register(limit=100, since=self.last)
                    self.take(ans["events"])
                    if ans["result"]["code"] == 109:
                        break
                self.tab = tab
                return
            except Exception:  # noqa: BLE001 - refused upgrade (503 via haproxy), reset, timeout
                if tab is not None:
                    tab.close()
                time.sleep(0.2)

    def run(self):
        self.connect()
        while not self.stop.is_set() and self.tab is not None:
            try:
                self.take([self.tab.next_event(timeout=0.3)])
            except Closed:
                self.reconnects += 1
                self.tab = None
                self.connect()
            except AssertionError:  # nothing within the timeout
                continue


def post_steadily(lb, acme, exts, kill_at, acked, counts):
    """KILL_RATE webhooks a second for KILL_SECONDS, each a new call of the next user; what
    got a 2xx with accepted 1 is acknowledged. Sets kill_at halfway."""
    session = requests.Session()
    n = KILL_RATE * KILL_SECONDS
    start = time.monotonic()
    for i in range(n):
        if i == n // 2:
            kill_at.set()
        wait = start + i / KILL_RATE - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        ext = exts[i % len(exts)]
        body = call_event(user=ext, call_id="kill-%d" % i, key="kill-%d" % i)
        try:
            r = session.post(lb.base + "/v1/hooks/acme/native", json=body, timeout=5 * SCALE,
                             headers={"Authorization": "Bearer " + acme.token})
            ok = r.status_code // 100 == 2 and r.json().get("accepted") == 1
        except (requests.RequestException, ValueError):
            ok = False
        if ok:
            acked[ext].add(body["call_id"])
        counts["sent"] += 1
    counts["seconds"] = time.monotonic() - start


@pytest.mark.serial
def test_kill_one_broker_under_load(world, lb):
    """Tabs through haproxy, webhooks through haproxy at a steady rate, one broker killed with
    -9 halfway: every tab ends with every acknowledged event of its user exactly once after
    de-duplication by id, in id order (pytest -s prints the counts)."""
    kill_one_under_load(world, lb, lambda: lb.brokers[0].stop(sig=signal.SIGKILL))


def kill_one_under_load(world, lb, kill):
    """The kill test's body; kill() kills one broker (a process here, a container in
    tests/docker/run.py). Returns the counts it prints."""
    acme = world.provision("acme", broker=lb)
    exts = [str(201 + i) for i in range(KILL_USERS)]
    for ext in exts:
        acme.add_user(ext, broker=lb)
    deadline = time.monotonic() + (KILL_SECONDS + 60) * SCALE
    followers = [Follower(acme, lb, ext, deadline)
                 for i, ext in enumerate(exts) for _ in range(1 + i % 2)]
    for f in followers:
        f.connect()
        assert f.tab is not None, "tab of %s could not connect through haproxy" % f.ext
    for f in followers:
        f.thread.start()

    acked = {ext: set() for ext in exts}
    counts = {"sent": 0}
    kill_at = threading.Event()
    poster = threading.Thread(target=post_steadily, args=(lb, acme, exts, kill_at, acked, counts),
                              daemon=True)
    poster.start()
    assert kill_at.wait(KILL_SECONDS * 2 * SCALE), "the poster did not get halfway"
    kill()
    poster.join((KILL_SECONDS + 30) * SCALE)
    assert not poster.is_alive(), "the poster did not finish"

    def complete():
        return all(acked[f.ext] <= {c for _, c in f.got} for f in followers)
    try:
        wait_until(complete, 30 * SCALE, interval=0.2,
                   what="every tab holding every acknowledged event of its user")
    finally:
        for f in followers:
            f.stop.set()
        for f in followers:
            f.thread.join(5)

    n_acked = sum(len(a) for a in acked.values())
    received = sum(len(f.got) for f in followers)
    dups = missing = extra = 0
    for f in followers:
        seen, unique = set(), []
        for id_, call_id in f.got:
            if id_ not in seen:
                seen.add(id_)
                unique.append((id_, call_id))
        dups += len(f.got) - len(unique)
        assert_increasing([i for i, _ in unique])
        calls = [c for _, c in unique]
        assert len(calls) == len(set(calls)), "tab of %s: one call stored twice" % f.ext
        missing += len(acked[f.ext] - set(calls))
        extra += len(set(calls) - acked[f.ext])
    reconnects = sum(f.reconnects for f in followers)
    print("\nkill test: %d webhooks sent in %.1f s, %d acknowledged, %d tabs of %d users, "
          "%d reconnects; received %d, duplicates before de-dup %d, missing %d, "
          "stored but not acknowledged %d" % (
              counts["sent"], counts["seconds"], n_acked, len(followers), KILL_USERS,
              reconnects, received, dups, missing, extra))
    assert missing == 0
    assert reconnects >= 1, "no tab was on the killed broker"
    assert n_acked >= counts["sent"] // 2, "too few webhooks acknowledged: %d" % n_acked
    # Redis holds every acknowledged event, once
    for ext in exts:
        stored = [json.loads(f["e"])["call_id"] for _, f in world.redis.xrange(acme.stream_key(ext))]
        assert len(stored) == len(set(stored)) and acked[ext] <= set(stored), ext
    return {"sent": counts["sent"], "seconds": counts["seconds"], "acknowledged": n_acked,
            "tabs": len(followers), "reconnects": reconnects, "received": received,
            "duplicates": dups, "missing": missing, "unacknowledged": extra}


def test_haproxy_to_brokers_with_tls(world, tmp_path):
    """The line deploy/haproxy.cfg's comment gives for brokers with TLS: haproxy verifies their
    certificate, its health checks go over TLS (a broker that stops is marked DOWN), and
    events posted through it reach a tab connected through it."""
    from test_tls import _ready, make_cert
    d = tmp_path / "tls"
    d.mkdir()
    cert, key = make_cert(d, "brokers")
    port = free_port()
    # Channel URLs name what the browser reaches (plain haproxy here), not the broker's TLS.
    env = {"CALLRELAY_TLS_CERT": str(cert), "CALLRELAY_TLS_KEY": str(key),
           "CALLRELAY_PUBLIC_URL": "http://127.0.0.1:%d" % port}
    brokers = [world.start_broker(env=env, wait_ready=False) for _ in range(2)]
    for b in brokers:
        wait_until(lambda: _ready(b, "https://127.0.0.1:%d" % b.port, cert), WAIT,
                   what="GET /readyz over HTTPS")
    proc, log, front = start_haproxy(tmp_path, brokers, "ssl verify required ca-file %s" % cert,
                                     port)
    try:
        acme = world.provision("acme", broker=front)
        acme.add_user("101", broker=front)
        tab = acme.tab("101", broker=front)
        for i in range(4):
            acme.post_ok(call_event("101", call_id="tls-%d" % i), broker=front,
                         headers={"Connection": "close"}, accepted=1)
        got = [e["call_id"] for e in tab.events(4, timeout=WAIT)]
        assert got == ["tls-%d" % i for i in range(4)], got
        assert all(s["2xx"] > 0 for s in front.stats().values()), front.stats()
        tab.close()
        assert brokers[1].stop() == 0
        wait_until(lambda: list(s["status"] for s in front.stats().values()).count("DOWN") == 1,
                   WAIT, what="haproxy's TLS health check marking the stopped broker DOWN")
    finally:
        stop_haproxy(proc, log)


def test_tabs_of_a_shard_meet_on_one_instance(world, lb):
    """haproxy hashes on the channel URL's shard=: every tab of a shard lands on the same
    instance, which alone subscribes to that shard's events; webhooks still go round robin."""
    from test_feed_shards import feed_shard
    acme = world.provision("acme", broker=lb)
    users = [str(200 + i) for i in range(24)]
    for u in users:
        acme.add_user(u, broker=lb)
    tabs = [acme.tab(u, broker=lb) for u in users for _ in range(2)]
    r = world.redis
    shards = {feed_shard("acme", u) for u in users}
    counts = {s: r.pubsub_numsub("cr:ev:%d" % s)[0][1] for s in shards}
    assert all(n == 1 for n in counts.values()), counts
    # both instances have some of the shards
    per_instance = {}
    for c in r.client_list(_type="pubsub"):
        per_instance[c["id"]] = int(c["sub"])
    assert len([n for n in per_instance.values() if n > 2]) == 2, per_instance
    before = lb.stats()
    for u in users:
        acme.post_ok(call_event(u, call_id="s-" + u), broker=lb, headers={"Connection": "close"},
                     accepted=1)
    served = {name: lb.stats()[name]["2xx"] - before[name]["2xx"] for name in before}
    assert all(n >= len(users) // 4 for n in served.values()), served
    for i, t in enumerate(tabs):
        assert [e["call_id"] for e in t.events(1, timeout=WAIT)] == ["s-" + users[i // 2]]
