"""Redis behind sentinels (CALLRELAY_REDIS_URL=redis+sentinel://...): the broker finds the master,
follows a failover by itself, refuses webhooks (503) while there is no master, and with
CALLRELAY_DURABILITY=replica loses no acknowledged event when the master dies.

Real processes: a master, replicas (--replicaof), three sentinels (quorum 2), on free ports in
the test's temp dir, stopped by PID."""
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
import redis as redis_lib
import requests

from conftest import Env, call_event, free_port, wait_until

pytestmark = pytest.mark.serial  # failover timings; several redis processes

MASTER_NAME = "crmaster"
EXE = shutil.which("redis-server") or "/usr/bin/redis-server"


class Proc:
    """One redis-server (or sentinel) started from argv, stopped by its PID."""

    def __init__(self, tmp, name, args):
        self.port = free_port()
        self.dir = tmp / ("%s-%d" % (name, self.port))
        self.dir.mkdir(parents=True)
        self.log = open(self.dir / "log", "ab")
        self.proc = subprocess.Popen(args(self), stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=str(self.dir))
        wait_until(lambda: self.client().ping(), 10, what="%s on %d" % (name, self.port))

    def client(self):
        return redis_lib.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                               socket_timeout=3, socket_connect_timeout=1)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()


def redis_node(tmp, name, master=None):
    def args(p):
        a = [EXE, "--port", str(p.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(p.dir), "--repl-diskless-sync-delay", "0"]
        return a + (["--replicaof", "127.0.0.1", str(master.port)] if master else [])
    return Proc(tmp, name, args)


def sentinel_node(tmp, master):
    def args(p):
        conf = p.dir / "sentinel.conf"  # sentinels rewrite their configuration file
        conf.write_text("port %d\nbind 127.0.0.1\ndir %s\n"
                        "sentinel monitor %s 127.0.0.1 %d 2\n"
                        "sentinel down-after-milliseconds %s 1000\n"
                        "sentinel failover-timeout %s 4000\n"
                        "sentinel parallel-syncs %s 2\n"
                        % (p.port, p.dir, MASTER_NAME, master.port, MASTER_NAME, MASTER_NAME,
                           MASTER_NAME))
        return [EXE, str(conf), "--sentinel"]
    return Proc(tmp, "sentinel", args)


class Cluster:
    def __init__(self, tmp, replicas):
        self.procs = []
        self.master = self._add(redis_node(tmp, "master"))
        self.replicas = [self._add(redis_node(tmp, "replica", self.master))
                         for _ in range(replicas)]
        def synced():  # a replica still in its first sync would come up empty if promoted
            info = self.master.client().info("replication")
            return sum(info.get("slave%d" % i, {}).get("state") == "online"
                       for i in range(replicas)) == replicas
        wait_until(synced, 30, what="replicas in sync")
        self.sentinels = [self._add(sentinel_node(tmp, self.master)) for _ in range(3)]

        def sentinels_agree():  # each knows the replicas and the two other sentinels
            for s in self.sentinels:
                m = s.client().sentinel_master(MASTER_NAME)
                if m["num-slaves"] != replicas or m["num-other-sentinels"] != 2:
                    return False
            return True
        wait_until(sentinels_agree, 40, interval=0.2, what="sentinels discover each other")
        self.url = "redis+sentinel://%s/%s" % (
            ",".join("127.0.0.1:%d" % s.port for s in self.sentinels), MASTER_NAME)

    def _add(self, p):
        self.procs.append(p)
        return p

    def master_port(self):
        addr = self.sentinels[0].client().sentinel_get_master_addr_by_name(MASTER_NAME)
        return int(addr[1]) if addr else None

    def node(self, port):
        return next(p for p in self.procs if p.port == port)

    def stop(self):
        for p in reversed(self.procs):
            p.stop()


@pytest.fixture
def ha(tmp_path, request):
    made = []

    def make(replicas=1, env=None):
        c = Cluster(tmp_path, replicas)
        e = Env(tmp_path)
        made.append((c, e))
        e.start_broker(redis_url=c.url, env=env)
        return c, e
    yield make
    for c, e in made:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            for b in e.brokers:
                print("---- broker %s stdout (tail) ----\n%s" % (b.name, b.stdout()[-4000:]))
        try:
            e.teardown()
        finally:
            c.stop()


def readyz(b):
    return requests.get(b.base + "/readyz", timeout=2).status_code


def test_broker_finds_the_master_through_the_sentinels(ha):
    cluster, env = ha(replicas=1)
    acme = env.provision("acme")
    acme.add_user("101")
    tab = acme.tab("101")
    acme.post_ok(call_event("101", call_id="via-sentinel"), accepted=1)
    assert tab.next_event()["call_id"] == "via-sentinel"
    assert cluster.master.client().xlen(acme.stream_key("101")) == 1


class Poster(threading.Thread):
    """A PBX: posts numbered events at a steady rate, retries each until a 2xx, and remembers
    every acknowledged one and every other status it saw."""

    def __init__(self, acme, rate=50):
        super().__init__(daemon=True)
        self.acme, self.period = acme, 1.0 / rate
        self.acked, self.statuses, self.running, self.last = [], {}, True, None
        self.error = None

    def run(self):
        n = 0
        while self.running:
            key = "ha-%d" % n
            while self.running:
                ev = call_event("101", call_id=key, key=key)
                try:
                    r = self.acme.post(ev)
                    code = r.status_code
                except requests.RequestException as e:
                    code, self.error = "error", e
                self.statuses[code] = self.statuses.get(code, 0) + 1
                if code != 200:
                    self.last = self.error if code == "error" else (code, r.text[:200])
                if code == 200:
                    self.acked.append(key)
                    break
                if code != "error":
                    assert code == 503 and r.headers.get("Retry-After"), (code, r.text)
                time.sleep(self.period)
            n += 1
            time.sleep(self.period)


def stored_keys(client, stream):
    return [json.loads(f["e"])["call_id"] for _, f in client.xrange(stream)]


def test_failover_under_load_loses_no_acknowledged_event(ha):
    cluster, env = ha(replicas=2, env={"CALLRELAY_DURABILITY": "replica",
                                       "CALLRELAY_REPLICA_TIMEOUT_MS": "500"})
    acme = env.provision("acme")
    acme.add_user("101")
    b = env.broker
    poster = Poster(acme)
    poster.start()
    try:
        wait_until(lambda: len(poster.acked) >= 30, 10, what="events acknowledged before the kill")
    except AssertionError as e:
        raise AssertionError("%s: statuses %s, last %s" % (e, poster.statuses, poster.last))
    old = cluster.master.port
    cluster.master.stop(signal.SIGKILL)
    killed_at = len(poster.acked)
    wait_until(lambda: cluster.master_port() not in (None, old), 45, interval=0.1,
               what="the sentinels promote a replica")
    new = cluster.node(cluster.master_port())
    wait_until(lambda: readyz(b) == 200, 45, interval=0.1, what="/readyz 200 on the new master")
    wait_until(lambda: len(poster.acked) >= killed_at + 30, 30,
               what="posting resumes on the new master")
    poster.running = False
    poster.join(10)
    assert not poster.is_alive()
    stored = stored_keys(new.client(), acme.stream_key("101"))
    lost = [k for k in poster.acked if k not in stored]
    twice = {k for k in stored if stored.count(k) > 1}
    print("\nacknowledged %d, stored %d, lost %d, stored twice %d, statuses %s" % (
        len(poster.acked), len(stored), len(lost), len(twice), poster.statuses))
    assert lost == []
    assert twice == set()
    assert len(set(poster.acked)) == len(poster.acked)
    assert set(poster.statuses) <= {200, 503, "error"}, poster.statuses


def test_no_master_means_503_and_not_ready(ha):
    cluster, env = ha(replicas=1)
    acme = env.provision("acme")
    acme.add_user("101")
    b = env.broker
    acme.post_ok(call_event("101", call_id="before"), accepted=1)
    cluster.master.stop(signal.SIGKILL)
    # the sentinels need more than down-after-milliseconds (1 s) to act: no master until then
    wait_until(lambda: readyz(b) == 503, 1, interval=0.05, what="/readyz 503 without a master")
    r = acme.post(call_event("101", call_id="gap", key="gap"))
    assert r.status_code == 503, r.text
    assert r.headers.get("Retry-After"), r.headers
    wait_until(lambda: readyz(b) == 200, 45, interval=0.1, what="/readyz 200 after the failover")
    acme.post_ok(call_event("101", call_id="gap", key="gap"), accepted=1)
    new = cluster.node(cluster.master_port())
    assert stored_keys(new.client(), acme.stream_key("101")).count("gap") == 1


def test_replica_durability_answers_503_until_a_replica_confirms(world, tmp_path):
    """No replica: WAIT 1 times out, 503 with Retry-After, though the master stored the event;
    the retry once a replica is attached is a duplicate, answered 200."""
    b = world.start_broker(env={"CALLRELAY_DURABILITY": "replica",
                                "CALLRELAY_REPLICA_TIMEOUT_MS": "100"})
    acme = world.provision("acme")
    acme.add_user("101")
    ev = call_event("101", call_id="w", key="w")
    r = acme.post(ev)
    assert r.status_code == 503, r.text
    assert r.headers.get("Retry-After"), r.headers
    assert stored_keys(world.redis, acme.stream_key("101")) == ["w"]
    world.redis.config_set("repl-diskless-sync-delay", 0)
    replica = redis_node(tmp_path, "replica", world.redis_server)
    try:
        wait_until(lambda: world.redis.info("replication").get("slave0", {}).get("state") ==
                   "online", 10, what="the replica in sync")
        acme.post_ok(ev, accepted=0, duplicates=1)
        assert readyz(b) == 200
    finally:
        replica.stop()
