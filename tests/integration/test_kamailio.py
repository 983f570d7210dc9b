"""The `mapped` dialect wired to a real SIP proxy: Debian's kamailio (deploy/examples/kamailio/
kamailio.cfg) relays SIPp calls on loopback and posts each dialog event to callrelay, whose
mapping (tests/fixtures/mapped/settings.json) turns it into events that user 101 receives over
a websocket: an answered call (appeared, connected, disconnected 16), a busy one (486 → 17) and
a cancelled one (487 → 16).

Needs kamailio, kamailio-utils-modules, kamailio-extra-modules and sip-tester
(sh deploy/deps.sh --test installs them); installs them with apt-get when missing and run as
root, and is skipped, saying why, only when they cannot be installed."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from conftest import ROOT, SCALE, free_port, wait_until

EXAMPLE = ROOT / "deploy" / "examples" / "kamailio"
SIPP_DIR = EXAMPLE / "sipp"
PACKAGES = ["kamailio", "kamailio-utils-modules", "kamailio-extra-modules", "sip-tester"]
MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
CALLER = "+5511988887777"


def _have_tools():
    return (shutil.which("kamailio") and shutil.which("sipp")
            and os.path.exists(os.path.join(MODULES, "http_client.so"))
            and os.path.exists(os.path.join(MODULES, "jansson.so")))


def _install():
    """apt-get the packages once, bounded in time; the reason when they are not there."""
    if _have_tools():
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "kamailio/sipp missing and not root: sh deploy/deps.sh --test installs %s" % \
            " ".join(PACKAGES)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"]
                           + PACKAGES, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "apt-get install %s timed out" % " ".join(PACKAGES)
    if not _have_tools():
        return "apt-get install %s failed: %s" % (" ".join(PACKAGES), r.stderr[-500:])
    return None


@pytest.fixture(scope="module")
def sip_tools():
    reason = _install()
    if reason:
        pytest.skip(reason)


def free_udp_port():
    while True:
        p = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue


def udp_port_taken(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True


def stop(proc, timeout=5):
    """Stops one process we started, by its PID."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def options_answered(port):
    """A SIP OPTIONS to the proxy: any answer means it is up."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        s.settimeout(0.3)
        msg = ("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%d\r\n"
               "From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1>\r\nCall-ID: probe-%d\r\n"
               "CSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\nContent-Length: 0\r\n\r\n"
               % (port, me, time.monotonic_ns(), time.monotonic_ns()))
        s.sendto(msg.encode(), ("127.0.0.1", port))
        try:
            return s.recv(4096).startswith(b"SIP/2.0")
        except socket.timeout:
            return False


class Proxy:
    def __init__(self, tmp, url, token):
        self.port = free_udp_port()
        self.uas_port = free_udp_port()
        self.log = open(tmp / "kamailio.log", "w+")
        self.proc = subprocess.Popen(
            ["kamailio", "-f", str(EXAMPLE / "kamailio.cfg"), "-DD", "-E", "-n", "2",
             "-Y", str(tmp), "-l", "udp:127.0.0.1:%d" % self.port,
             "-A", 'CALLRELAY_URL="%s"' % url, "-A", 'CALLRELAY_TOKEN="%s"' % token,
             "-A", 'NEXT_HOP="sip:127.0.0.1:%d"' % self.uas_port],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=str(tmp))
        wait_until(lambda: self.proc.poll() is None and options_answered(self.port), 10,
                   what="kamailio answering on udp:%d (log: %s)" % (self.port, self.tail))

    @property
    def tail(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self):
        stop(self.proc)
        self.log.close()


def sipp(tmp, name, args, port):
    media = free_udp_port()
    cmd = ["sipp", "-sf", str(SIPP_DIR / (name + ".xml")), "-i", "127.0.0.1", "-p", str(port),
           "-mp", str(media), "-m", "1", "-nostdin", "-timeout", "%ds" % int(20 * SCALE),
           "-timeout_error", "-trace_err", "-error_file", str(tmp / (name + ".errors.log"))] + args
    out = open(tmp / (name + ".out"), "w")
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=str(tmp)), out


def place_call(tmp, proxy, uac, uas):
    """One call: the callee's SIPp (uas) behind the proxy, the caller's SIPp (uac) through it."""
    callee, callee_out = sipp(tmp, uas, [], proxy.uas_port)
    caller = None
    try:
        wait_until(lambda: callee.poll() is None and udp_port_taken(proxy.uas_port), 5,
                   what="%s listening on udp:%d" % (uas, proxy.uas_port))
        caller, caller_out = sipp(tmp, uac, ["-inf", str(SIPP_DIR / "caller.csv"),
                                             "127.0.0.1:%d" % proxy.port], free_udp_port())
        rc = caller.wait(30 * SCALE)
        caller_out.close()
        assert rc == 0, "%s failed (%d): %s\n--- kamailio ---\n%s" % (
            uac, rc, (tmp / (uac + ".out")).read_text()[-2000:], proxy.tail)
        assert callee.wait(15 * SCALE) == 0, "%s failed: %s" % (
            uas, (tmp / (uas + ".out")).read_text()[-2000:])
    finally:
        for p in (caller, callee):
            if p is not None:
                stop(p)
        callee_out.close()


def mapping():
    s = json.loads((ROOT / "tests" / "fixtures" / "mapped" / "settings.json").read_text())
    return {k: v for k, v in s.items() if not k.startswith("_")}


@pytest.fixture
def pbx(env, sip_tools, tmp_path):
    integ = env.provision("pbx", settings=mapping(), adapter="mapped")
    integ.add_user("101", "Ann")
    url = env.broker.base + "/v1/hooks/pbx/mapped"
    proxy = Proxy(tmp_path, url, integ.token)
    yield integ, proxy
    proxy.stop()


def call_events(tab, n):
    """n events, grouped by call_id in arrival order."""
    by_call = {}
    for ev in tab.events(n, timeout=10 * SCALE):
        assert ev["user"] == "101" and ev["source"] == "mapped" and ev["kind"] == "call", ev
        assert ev["call"]["from"] == {"number": CALLER} and ev["call"]["to"] == {"extension": "101"}
        by_call.setdefault(ev["call_id"], []).append(ev)
    return list(by_call.values())


def states(evs):
    return [(e["call"]["state"], e["call"].get("disconnect", {}).get("code")) for e in evs]


def test_answered_busy_and_cancelled_calls_reach_the_websocket(pbx, tmp_path):
    integ, proxy = pbx
    tab = integ.tab("101")
    place_call(tmp_path, proxy, "uac-answered", "uas-answer")
    place_call(tmp_path, proxy, "uac-busy", "uas-busy")
    place_call(tmp_path, proxy, "uac-cancel", "uas-ring")
    answered, busy, cancelled = call_events(tab, 3 + 2 + 2)
    assert states(answered) == [("appeared", None), ("connected", None), ("disconnected", 16)]
    assert answered[2]["call"]["disconnect"]["text"] == "normal call clearing"
    assert states(busy) == [("appeared", None), ("disconnected", 17)]
    assert busy[1]["call"]["disconnect"]["text"] == "Busy Here"
    assert states(cancelled) == [("appeared", None), ("disconnected", 16)]
    assert cancelled[1]["call"]["disconnect"]["text"] == "Request Terminated"
    for evs in (answered, busy, cancelled):
        assert evs[0]["call"]["direction"] == "inbound"
        assert evs[0]["ts"] <= evs[-1]["ts"]
    tab.expect_silence(0.5)  # 180 Ringing is mapped to "ignore": nothing more
    assert "post failed" not in proxy.tail, proxy.tail  # callrelay accepted every post
