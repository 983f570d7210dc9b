"""TLS on the listener (CALLRELAY_TLS_CERT, CALLRELAY_TLS_KEY): HTTPS and WSS on one port, with
a self-signed certificate generated for the test; plain HTTP refused; bad pairs refused at start."""
import asyncio
import json
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


def test_tls_with_several_workers_is_refused_at_start(world, certs):
    """A worker died with SIGABRT at start under TLS in one of a dozen loaded runs: until its
    cause is found, TLS runs one process per instance, and saying so beats crashing."""
    (cert, key), _ = certs
    b = world.start_broker(env={"CALLRELAY_TLS_CERT": str(cert), "CALLRELAY_TLS_KEY": str(key),
                                "CALLRELAY_WORKERS": "2"}, wait_ready=False)
    wait_until(lambda: b.proc.poll() is not None, 10 * SCALE, what="the broker refusing to start")
    assert b.proc.returncode != 0
    assert "CALLRELAY_WORKERS=2" in b.stderr() and "one worker" in b.stderr(), b.stderr()
    b.stopped = True  # it never ran: nothing to stop


def _ready(b, base, cert):
    assert b.proc.poll() is None, "broker exited: %s" % b.stderr()
    try:
        return requests.get(base + "/readyz", verify=str(cert), timeout=1).status_code == 200
    except requests.exceptions.ConnectionError:
        return False
