"""TLS on the listener (CALLRELAY_TLS_CERT, CALLRELAY_TLS_KEY): HTTPS and WSS on one port, with
a self-signed certificate generated for the test; plain HTTP refused; bad pairs refused at start."""
import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess

import pytest
import requests
import websockets

from conftest import (ADMIN_TOKEN, HTTP_TIMEOUT, SCALE, Tab, assert_result, call_event,
                      wait_until)
from test_config import run_bad


def make_cert(d, name):
    cert, key = d / (name + "-cert.pem"), d / (name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def certs(tmp_path):
    d = tmp_path / "tls"
    d.mkdir()
    return make_cert(d, "a"), make_cert(d, "b")


class TlsTab(Tab):
    """A websocket tab over WSS, trusting only the test's certificate."""

    def __init__(self, url, ssl_context):
        self.ssl_context = ssl_context
        super().__init__(url)

    async def _connect(self, subprotocols):
        ws = await websockets.connect(self.url, open_timeout=5, close_timeout=2, max_size=None,
                                      ping_interval=None, subprotocols=subprotocols,
                                      max_queue=None, ssl=self.ssl_context)
        self._reader_task = asyncio.ensure_future(self._reader(ws))
        return ws


def start_tls_broker(world, cert, key):
    b = world.start_broker(env={"CALLRELAY_TLS_CERT": str(cert), "CALLRELAY_TLS_KEY": str(key)},
                           wait_ready=False)
    base = "https://127.0.0.1:%d" % b.port
    wait_until(lambda: _ready(b, base, cert), 10 * SCALE, what="GET /readyz over HTTPS")
    return b, base


def post(base, cert, path, body, token):
    return requests.post(base + path, data=json.dumps(body), verify=str(cert),
                         timeout=HTTP_TIMEOUT,
                         headers={"Authorization": "Bearer " + token,
                                  "Content-Type": "application/json"})


def test_https_and_wss_on_one_port(world, certs):
    (cert, key), _ = certs
    b, base = start_tls_broker(world, cert, key)
    r = requests.get(base + "/healthz", verify=str(cert), timeout=HTTP_TIMEOUT)
    assert_result(r, 200, 0)

    r = post(base, cert, "/v1/integration/create",
             {"name": "acme", "adapter": "native", "settings": {}}, ADMIN_TOKEN)
    token = assert_result(r, 200, 0)["token"]
    assert_result(post(base, cert, "/v1/users/create", {"extension": "101"}, token), 200, 0)

    r = post(base, cert, "/v1/channel", {"extension": "101"}, token)
    url = assert_result(r, 200, 0)["url"]
    assert url.startswith("wss://127.0.0.1:%d/v1/ws?ticket=" % b.port), url

    ctx = ssl.create_default_context(cafile=str(cert))
    tab = TlsTab(url, ctx)
    ans = tab.register()
    assert ans["result"]["code"] in (0, 109), ans

    ev = call_event("101")
    r = post(base, cert, "/v1/hooks/acme/native", ev, token)
    assert assert_result(r, 200, 0)["accepted"] == 1, r.text
    got = tab.next_event(timeout=5)
    assert got["call_id"] == ev["call_id"], got
    tab.close()


def test_plain_http_to_the_tls_port_fails(world, certs):
    (cert, key), _ = certs
    b, base = start_tls_broker(world, cert, key)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get("http://127.0.0.1:%d/healthz" % b.port, timeout=HTTP_TIMEOUT)
    # a client that does not trust the certificate is refused too
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(base + "/healthz", timeout=HTTP_TIMEOUT)
    # and the broker still serves afterwards
    r = requests.get(base + "/healthz", verify=str(cert), timeout=HTTP_TIMEOUT)
    assert_result(r, 200, 0)


@pytest.mark.parametrize("case", ["key_missing", "cert_missing", "unreadable_key",
                                  "key_of_another_cert", "key_as_cert"])
def test_bad_tls_settings_refused_at_start(world, certs, case):
    (cert, key), (_, other_key) = certs
    env = {
        "key_missing": {"CALLRELAY_TLS_CERT": str(cert)},
        "cert_missing": {"CALLRELAY_TLS_KEY": str(key)},
        "unreadable_key": {"CALLRELAY_TLS_CERT": str(cert),
                           "CALLRELAY_TLS_KEY": str(key.parent / "absent.pem")},
        "key_of_another_cert": {"CALLRELAY_TLS_CERT": str(cert), "CALLRELAY_TLS_KEY": str(other_key)},
        "key_as_cert": {"CALLRELAY_TLS_CERT": str(key), "CALLRELAY_TLS_KEY": str(key)},
    }[case]
    p = run_bad(world, env=env)
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert "CALLRELAY_TLS_" in lines[0], lines[0]
    if case == "key_of_another_cert":
        assert "does not match" in lines[0], lines[0]
    if case == "unreadable_key":
        assert "absent.pem" in lines[0], lines[0]


def test_head_too_large_over_tls_closes_and_the_broker_goes_on(world, certs):
    """Under TLS connguard does not see the bytes: lws's own limit closes a head that does not
    fit, and the broker goes on."""
    (cert, key), _ = certs
    b = world.start_broker(env={"CALLRELAY_TLS_CERT": str(cert), "CALLRELAY_TLS_KEY": str(key)},
                           wait_ready=False)
    base = "https://127.0.0.1:%d" % b.port
    wait_until(lambda: _ready(b, base, cert), 10 * SCALE, what="GET /readyz over HTTPS")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(base + "/healthz", verify=str(cert), timeout=HTTP_TIMEOUT,
                     headers={"X-Big": "a" * 20000})
    for _ in range(6):
        assert_result(requests.get(base + "/healthz", verify=str(cert), timeout=HTTP_TIMEOUT),
                      200, 0)


def start_tls_workers(world, cert, key, n=2):
    b = world.start_broker(env={"CALLRELAY_TLS_CERT": str(cert), "CALLRELAY_TLS_KEY": str(key),
                                "CALLRELAY_WORKERS": str(n), "CALLRELAY_LOG_LEVEL": "debug"},
                           wait_ready=False)
    base = "https://127.0.0.1:%d" % b.port
    wait_until(lambda: _ready(b, base, cert), 10 * SCALE, what="GET /readyz over HTTPS")
    wait_until(lambda: len(_workers(b)) == n, 10, what="%d workers" % n)
    return b, base


def test_https_and_wss_through_two_workers(world, certs):
    """Each worker loads the pair itself and serves HTTPS and WSS; an event posted to one
    reaches tabs held by either."""
    (cert, key), _ = certs
    b, base = start_tls_workers(world, cert, key)
    workers = set(_workers(b))
    # new connections land on either worker: GET until both have answered
    served = set()
    for _ in range(40):
        r = requests.get(base + "/healthz", verify=str(cert), timeout=HTTP_TIMEOUT)
        assert_result(r, 200, 0)
        served = _pids_that_answered(b, "/healthz")
        if served == workers:
            break
    assert served == workers, (served, workers)

    token = assert_result(post(base, cert, "/v1/integration/create",
                               {"name": "acme", "adapter": "native", "settings": {}},
                               ADMIN_TOKEN), 200, 0)["token"]
    assert_result(post(base, cert, "/v1/users/create", {"extension": "101"}, token), 200, 0)
    ctx = ssl.create_default_context(cafile=str(cert))
    tabs, holders = [], set()
    while holders != workers and len(tabs) < 32:
        url = assert_result(post(base, cert, "/v1/channel", {"extension": "101"}, token),
                            200, 0)["url"]
        tab = TlsTab(url, ctx)
        assert tab.register()["result"]["code"] in (0, 109)
        tabs.append(tab)
        holders.add(_worker_holding(workers, b.port, tab.ws.local_address[1]))
    assert holders == workers, (holders, workers)

    ev = call_event("101")
    assert assert_result(post(base, cert, "/v1/hooks/acme/native", ev, token),
                         200, 0)["accepted"] == 1
    for tab in tabs:
        assert tab.next_event(timeout=5)["call_id"] == ev["call_id"]
        tab.close()


def test_failed_handshakes_queued_before_live_ones_kill_no_worker(world, certs):
    """A handshake that fails as lws adopts the connection (plain HTTP, a client that gave up)
    is closed by lws after the accept loop; the broker closed it too, and so closed the next
    connection accepted under the same number while libuv watched it: libuv aborted the worker.
    With the workers stopped, failures and live handshakes wait in the backlog together."""
    (cert, key), _ = certs
    b, base = start_tls_workers(world, cert, key)
    workers = _workers(b)
    ctx = ssl.create_default_context(cafile=str(cert))
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    held, live = [], []
    try:
        for _ in range(8):
            plain = socket.create_connection(("127.0.0.1", b.port), timeout=HTTP_TIMEOUT)
            plain.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            held.append(plain)
            _hello(b.port, ctx).close()  # a client that gives up
            live.append(_hello(b.port, ctx))
    finally:
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
    for t in live:
        t.settimeout(HTTP_TIMEOUT)
        t.do_handshake()
        t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert t.recv(64).startswith(b"HTTP/1.1 200"), "a live connection lost its answer"
        t.close()
    for s in held:
        s.close()
    assert sorted(_workers(b)) == sorted(workers), b.stdout()[-3000:]
    assert "worker exited" not in b.stdout(), b.stdout()[-3000:]


def test_every_start_with_tls_and_two_workers_keeps_its_workers(world, certs):
    """The fault was seen at start: readiness probes that time out wait in the backlog until
    the workers accept them. Ten starts, each with clients that give up while it starts."""
    (cert, key), _ = certs
    ctx = ssl.create_default_context(cafile=str(cert))
    for i in range(10):
        b = world.start_broker(name="s%d" % i, wait_ready=False, env={
            "CALLRELAY_TLS_CERT": str(cert), "CALLRELAY_TLS_KEY": str(key),
            "CALLRELAY_WORKERS": "2", "CALLRELAY_LOG_LEVEL": "debug"})
        wait_until(lambda: _hello(b.port, ctx).close() or True, 10, what="the port open")
        for _ in range(4):
            _hello(b.port, ctx).close()
        base = "https://127.0.0.1:%d" % b.port
        wait_until(lambda: _ready(b, base, cert), 10 * SCALE, what="GET /readyz over HTTPS")
        wait_until(lambda: len(_workers(b)) == 2, 10, what="2 workers")
        workers = set(_workers(b))
        for _ in range(40):  # until both have served, so both have drained their backlog
            assert_result(requests.get(base + "/healthz", verify=str(cert), timeout=HTTP_TIMEOUT),
                          200, 0)
            if _pids_that_answered(b, "/healthz") == workers:
                break
        assert set(_workers(b)) == workers, "start %d: %s" % (i, b.stdout()[-3000:])
        assert "worker exited" not in b.stdout(), "start %d: %s" % (i, b.stdout()[-3000:])
        assert b.stop() == 0, "start %d: %s" % (i, b.stdout()[-3000:])


def _hello(port, ctx):
    """A TLS connection whose ClientHello is sent, the handshake left to finish later."""
    s = socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT)
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1", do_handshake_on_connect=False)
    t.setblocking(False)
    try:
        t.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return t


def _workers(b):
    with open("/proc/%d/task/%d/children" % (b.proc.pid, b.proc.pid)) as f:
        return [int(p) for p in f.read().split()]


def _pids_that_answered(b, path):
    lines = (json.loads(line) for line in b.stdout().splitlines() if line.startswith("{"))
    return {j["pid"] for j in lines if j.get("msg") == "http" and j.get("path") == path}


def _worker_holding(pids, port, peer_port):
    """The worker whose socket is the broker's end of the connection from peer_port."""
    owner = {}
    for pid in pids:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                owner[int(link[8:-1])] = pid
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, remote, inode = (line.split()[i] for i in (1, 2, 9))
            if (int(local.split(":")[1], 16), int(remote.split(":")[1], 16)) == (port, peer_port):
                if int(inode) in owner:
                    return owner[int(inode)]
    return None


def _ready(b, base, cert):
    assert b.proc.poll() is None, "broker exited: %s" % b.stderr()
    try:
        return requests.get(base + "/readyz", verify=str(cert), timeout=1).status_code == 200
    except requests.exceptions.ConnectionError:
        return False
