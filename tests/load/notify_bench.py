"""notify_bench.py — the outbound notification benchmark (issue 9, item 6); run by
tests/load/notify-bench.sh, which `make bench` calls.

Starts a redis-server (AOF everysec, as deploy/run.sh), build/callrelay and a local receiver
(asyncio on raw sockets, HTTP/1.1 keep-alive, in its own process), provisions one integration
whose one rule every event matches (a GET carrying {call_id} and {id}), posts N events (default
10 000) in batches of 1000 to the native adapter, and waits until the receiver has answered 200
to every notification. Two phases on fresh servers:
  ok         the receiver answers 200 at once;
  fail-half  it answers 500 to the first attempt of the first half of the calls (by index),
             200 otherwise: no loss, and what the retries (and the circuit breaker they trip) cost;
  reject-half the same with 409, which the circuit breaker does not count (docs/decisions.md):
             what the retries alone cost.
Reports notifications per second (first post -> last 200), p50/p99/max of event stored (the
event id's millisecond part, same clock) -> the receiver's 200, requests and attempts, and the
CPU seconds each process used (a process near 1.0 CPU-s per second was the bottleneck).
"""
import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import requests

ADMIN = "notify-bench-admin-token-0123456789"
# The answer to a failing first attempt, per phase: a 500 counts for the circuit breaker, a 409
# (the receiver's judgement of the request) does not, so reject-half shows the retries' own cost.
FAILING = {"fail-half": b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail",
           "reject-half": b"HTTP/1.1 409 Conflict\r\nContent-Length: 4\r\n\r\nfail"}


# --------------------------------------------------------------------------- the receiver

class Receiver(asyncio.Protocol):
    """One connection. Requests are GETs without bodies (a Content-Length is honoured anyway)."""
    stats = None  # shared dict, set by receiver_main

    def connection_made(self, transport):
        self.t = transport
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].decode("latin-1")
            clen = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.lower() == "content-length":
                    clen = int(value.strip() or 0)
            if len(self.buf) < end + 4 + clen:
                return
            self.buf = self.buf[end + 4 + clen:]
            self.t.write(self.answer(head))

    def answer(self, head):
        s = self.stats
        target = head.split(" ", 2)[1]
        if target.startswith("/_stats"):
            body = json.dumps({k: s[k] for k in ("requests", "ok", "failed")} |
                              {"unique_ok": len(s["delivered"])}).encode()
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        if target.startswith("/_dump"):
            body = json.dumps({"delivered": s["delivered"], "first_seen": s["first_seen"],
                               "dups": s["dups"], "requests": s["requests"],
                               "timeline": s["timeline"]}).encode()
            return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        cid, eid = q.get("cid", [""])[0], q.get("id", [""])[0]
        wid = ""
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "webhook-id":
                wid = value.strip()
        s["requests"] += 1
        first = wid not in s["first_seen"]
        if first:
            s["first_seen"][wid] = time.time() * 1000
        idx = int(cid.rsplit("-", 1)[-1]) if cid[-1:].isdigit() else -1
        now_ms = time.time() * 1000
        if s["mode"] in FAILING and first and 0 <= idx < s["half"]:
            s["failed"] += 1
            s["timeline"].append((now_ms, 0))
            return FAILING[s["mode"]]
        s["ok"] += 1
        s["timeline"].append((now_ms, 1))
        if wid in s["delivered"]:
            s["dups"] += 1
        else:
            s["delivered"][wid] = [cid, eid, time.time() * 1000]
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def receiver_main(mode, half):
    Receiver.stats = {"mode": mode, "half": half, "requests": 0, "ok": 0, "failed": 0, "dups": 0,
                      "delivered": {}, "first_seen": {}, "timeline": []}

    async def run():
        loop = asyncio.get_running_loop()
        srv = await loop.create_server(Receiver, "127.0.0.1", 0, backlog=1024)
        print(srv.sockets[0].getsockname()[1], flush=True)
        await srv.serve_forever()
    asyncio.run(run())


# --------------------------------------------------------------------------- the harness

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.05)
    raise SystemExit("notify-bench: timed out waiting for %s" % what)


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, int(round(p / 100.0 * (len(sorted_vals) - 1))))]


class World:
    def __init__(self, args, work):
        self.args, self.work, self.procs = args, work, []

    def spawn(self, name, argv, env=None, stdout=None):
        out = stdout if stdout is not None else open(os.path.join(self.work, name + ".log"), "ab")
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=open(os.path.join(self.work, name + ".err"), "ab"),
                             stdin=subprocess.DEVNULL, cwd=self.work)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        self.procs = []

    def start(self, mode, half):
        rport = free_port()
        d = os.path.join(self.work, "redis-%s" % mode)
        os.makedirs(d, exist_ok=True)
        self.redis = self.spawn("redis-" + mode, [shutil.which("redis-server") or "/usr/bin/redis-server",
                                                  "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                                  "--appendonly", "yes", "--appendfsync", "everysec", "--dir", d])
        self.rx = self.spawn("receiver-" + mode, [sys.executable, os.path.abspath(__file__), "receiver",
                                                  mode, str(half)], stdout=subprocess.PIPE)
        self.rx_port = int(self.rx.stdout.readline())
        self.rx_url = "http://127.0.0.1:%d" % self.rx_port
        bport = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLRELAY_")}
        env.update(CALLRELAY_LISTEN="127.0.0.1:%d" % bport, CALLRELAY_REDIS_URL="redis://127.0.0.1:%d/0" % rport,
                   CALLRELAY_ADMIN_TOKEN=ADMIN)
        self.broker = self.spawn("callrelay-" + mode, [self.args.bin], env=env)
        self.base = "http://127.0.0.1:%d" % bport
        wait_for(lambda: requests.get(self.base + "/readyz", timeout=1).status_code == 200, 30, "the broker")

    def rx_get(self, what):
        return requests.get(self.rx_url + what, timeout=30).json()


def phase(args, work, mode):
    n = args.events
    half = n // 2 if mode in FAILING else 0
    w = World(args, work)
    try:
        w.start(mode, half)
        s = requests.Session()
        rule = {"id": "bench", "on": {"kind": "call"}, "method": "GET",
                "url": w.rx_url + "/n?cid={call_id}&id={id}&ext={extension}",
                "retry": {"max_attempts": 100, "base_ms": args.base_ms, "max_delay_ms": args.max_delay_ms}}
        r = s.post(w.base + "/v1/integration/create", json={"name": "bench", "adapter": "native",
                                                            "settings": {"notify": [rule]}},
                   headers={"Authorization": "Bearer " + ADMIN}, timeout=10)
        if r.status_code != 200:
            raise SystemExit("notify-bench: the rule was refused: %s" % r.text)
        h = {"Authorization": "Bearer " + r.json()["token"]}
        users = ["u%d" % i for i in range(10)]
        for u in users:
            s.post(w.base + "/v1/users/create", json={"extension": u}, headers=h, timeout=10).raise_for_status()
        evs = [{"kind": "call", "user": users[i % len(users)], "call_id": "b-%05d" % i,
                "call": {"state": "connected", "direction": "inbound", "from": {"number": "5541988445566"},
                         "to": {"extension": users[i % len(users)]}}} for i in range(n)]
        cpu0 = {k: cpu_s(p.pid) for k, p in (("callrelay", w.broker), ("redis", w.redis), ("receiver", w.rx))}
        t0 = time.time()
        for i in range(0, n, 1000):
            r = s.post(w.base + "/v1/hooks/bench/native", data=json.dumps(evs[i:i + 1000]),
                       headers=dict(h, **{"Content-Type": "application/json"}), timeout=60)
            if r.status_code != 200 or r.json().get("accepted") != len(evs[i:i + 1000]):
                raise SystemExit("notify-bench: ingest failed: %s" % r.text[:500])
        t_posted = time.time()
        deadline = time.monotonic() + args.phase_timeout
        st = w.rx_get("/_stats")
        while st["unique_ok"] < n and time.monotonic() < deadline:
            time.sleep(0.2)
            st = w.rx_get("/_stats")
        t_end_poll = time.time()
        cpu1 = {k: cpu_s(p.pid) for k, p in (("callrelay", w.broker), ("redis", w.redis), ("receiver", w.rx))}
        dump = w.rx_get("/_dump")
        metrics = requests.get(w.base + "/metrics", timeout=10).text
    finally:
        w.stop()
    delivered = dump["delivered"]
    cids = {v[0] for v in delivered.values()}
    want = {e["call_id"] for e in evs}
    t_last = max((v[2] for v in delivered.values()), default=t0 * 1000) / 1000
    lat = sorted(v[2] - int(v[1].split("-")[0]) for v in delivered.values() if v[1])
    elapsed = t_last - t0
    # pauses: stretches of more than a second without a request (the circuit breaker's)
    times = [t0 * 1000] + sorted(x[0] for x in dump["timeline"])
    pauses = [(round((a - t0 * 1000) / 1000, 1), round((b - a) / 1000, 1)) for a, b in zip(times, times[1:])
              if b - a > 1000]
    fails = [x[0] for x in dump["timeline"] if not x[1]]
    res = {
        "phase": mode, "events": n, "failing_first_attempts": half,
        "delivered_unique": len(cids & want), "missing": len(want - cids),
        "duplicates": dump["dups"], "requests": dump["requests"],
        "attempts_per_notification": round(dump["requests"] / max(1, len(delivered)), 3),
        "ingest_s": round(t_posted - t0, 3), "elapsed_s": round(elapsed, 3),
        "notifications_per_s": round(len(cids & want) / elapsed, 1) if elapsed > 0 else None,
        "latency_ms": {"p50": pct(lat, 50), "p99": pct(lat, 99), "max": lat[-1] if lat else None},
        "pauses": {"count": len(pauses), "total_s": round(sum(p[1] for p in pauses), 1),
                   "first": pauses[:12]},
        "failed_requests_span_s": [round((min(fails) / 1000 - t0), 1), round(max(fails) / 1000 - t0, 1)]
        if fails else None,
        "cpu_s": {k: round(cpu1[k] - cpu0[k], 2) for k in cpu0},
        "timed_out": len(cids & want) < n and t_end_poll - t0 >= args.phase_timeout - 1,
        "broker_metrics": {l.split()[0]: float(l.split()[1]) for l in metrics.splitlines()
                           if l.startswith("callrelay_notification") and not l.startswith("#")
                           and "_bucket" not in l},
    }
    return res


def show(r):
    lat = r["latency_ms"]
    print("notify-bench %-9s: %d events, %d delivered (missing %d, duplicates %d), %d requests "
          "(%.2f per notification), ingest %.2fs, last 200 after %.2fs: %s notifications/s; "
          "stored->200 p50 %s ms, p99 %s ms, max %s ms; pauses > 1 s: %d, %.1fs in all %s; CPU s: %s%s" % (
              r["phase"], r["events"], r["delivered_unique"], r["missing"], r["duplicates"],
              r["requests"], r["attempts_per_notification"], r["ingest_s"], r["elapsed_s"],
              r["notifications_per_s"], lat["p50"] and round(lat["p50"], 1), lat["p99"] and round(lat["p99"], 1),
              lat["max"] and round(lat["max"], 1), r["pauses"]["count"], r["pauses"]["total_s"],
              r["pauses"]["first"][:6], r["cpu_s"], "  TIMED OUT" if r["timed_out"] else ""),
          file=sys.stderr)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "receiver":
        return receiver_main(sys.argv[2], int(sys.argv[3]))
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("CALLRELAY_BIN") or "build/callrelay")
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--phases", default="ok,fail-half,reject-half")
    ap.add_argument("--base-ms", type=int, default=10)
    ap.add_argument("--max-delay-ms", type=int, default=200)
    ap.add_argument("--phase-timeout", type=float, default=240)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="callrelay-notify-bench.")
    print("notify-bench: work dir %s, load average %s" % (work, open("/proc/loadavg").read().split()[:3]),
          file=sys.stderr)
    results = []
    for mode in args.phases.split(","):
        results.append(phase(args, work, mode))
        show(results[-1])
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
           "loadavg_end": open("/proc/loadavg").read().split()[:3], "results": results}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)
        print("notify-bench: results in %s" % args.out, file=sys.stderr)
    print(json.dumps(out))
    return 0 if all(r["missing"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
