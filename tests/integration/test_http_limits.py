"""HTTP edges (issue 7, finding 5): heads over the limits get 400/414/431 with a JSON body
instead of a silent close, on the first request of a connection and on later ones;
`Expect: 100-continue` is answered; long webhook-signature headers (key rotation) work."""
import base64
import hashlib
import hmac
import json
import socket
import time

from conftest import RESULT_VALIDATOR, SCALE, call_event, schema_errors

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def read_answer(s, timeout=5):
    """One answer (status, headers, JSON body), or None when the server closed first."""
    s.settimeout(timeout * SCALE)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    body = json.loads(rest[:n]) if n else None
    return int(lines[0].split(" ")[1]), headers, body


def ask(port, raw, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * SCALE) as s:
        s.sendall(raw)
        try:
            return read_answer(s, timeout)
        except (ConnectionResetError, BrokenPipeError):
            return None


def assert_refused(ans, status, code):
    assert ans is not None, "the connection was closed without an answer (expected %d)" % status
    st, headers, body = ans
    assert st == status, (st, body)
    assert headers.get("connection", "").lower() == "close", headers
    assert not schema_errors(RESULT_VALIDATOR, body), body
    assert body["result"]["code"] == code and body["result"]["message"], body


def get(path=b"/healthz", extra=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


def test_head_over_4k_is_served(env):
    ans = ask(env.broker.port, get(extra=b"X-Pad: " + b"a" * 6000 + b"\r\n"))
    assert ans and ans[0] == 200, ans


def test_head_over_limit_gets_431(env):
    ans = ask(env.broker.port, get(extra=b"X-Pad: " + b"a" * 20000 + b"\r\n"))
    assert_refused(ans, 431, 3106)


def test_thousand_headers_get_431(env):
    extra = b"".join(b"X-H%d: v\r\n" % i for i in range(1000))
    assert_refused(ask(env.broker.port, get(extra=extra)), 431, 3106)


def test_long_url_gets_414(env):
    assert_refused(ask(env.broker.port, get(path=b"/healthz?q=" + b"a" * 8192)), 414, 3106)


def test_nul_in_path_gets_400(env):
    assert_refused(ask(env.broker.port, get(path=b"/v1/hooks/acme%00x/native")), 400, 3100)


def test_limits_hold_on_later_requests_of_a_keepalive_connection(env):
    with socket.create_connection(("127.0.0.1", env.broker.port), timeout=5 * SCALE) as s:
        for _ in range(3):
            s.sendall(get())
            assert read_answer(s)[0] == 200
        s.sendall(get(path=b"/healthz?q=" + b"a" * 8192))
        assert_refused(read_answer(s), 414, 3106)


def test_expect_100_continue_is_answered(acme):
    b = acme.env.broker
    body = json.dumps(call_event("101")).encode()
    head = (b"POST /v1/hooks/acme/native HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
            % (acme.token.encode(), len(body)))
    with socket.create_connection(("127.0.0.1", b.port), timeout=5 * SCALE) as s:
        s.sendall(head)
        s.settimeout(0.8 * SCALE)
        got = s.recv(4096)
        assert got.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), got
        s.sendall(body)
        st, _, ans = read_answer(s)
        assert st == 200 and ans["accepted"] == 1, ans


def test_expect_100_continue_refused_from_head(acme):
    head = (b"POST /v1/hooks/acme/native HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
            b"Content-Length: 5000\r\nExpect: 100-continue\r\n\r\n")
    assert_refused(ask(acme.env.broker.port, head), 401, 3103)


def sign(msg_id, ts, body):
    key = base64.b64decode(SECRET[len("whsec_"):])
    mac = hmac.new(key, b"%s.%d.%s" % (msg_id.encode(), ts, body), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def test_many_rotated_signatures_are_kept(env):
    integ = env.provision("rot", settings={"webhook_secret": SECRET})
    integ.add_user("101")
    body = json.dumps(call_event("101")).encode()
    ts = int(time.time())
    stale = ["v1," + base64.b64encode(bytes([i]) * 32).decode() for i in range(200)]
    sig = " ".join(stale + [sign("msg_rot", ts, body)])
    assert len(sig) > 8192
    r = env.broker.post("/v1/hooks/rot/native", data=body, headers={
        "webhook-id": "msg_rot", "webhook-timestamp": str(ts), "webhook-signature": sig})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def test_signature_over_limit_gets_431(env):
    env.provision("rot2", settings={"webhook_secret": SECRET})
    head = (b"POST /v1/hooks/rot2/native HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
            b"webhook-id: m\r\nwebhook-timestamp: %d\r\nwebhook-signature: %s\r\n\r\n{}"
            % (int(time.time()), b"v1,x" * 3500))
    assert_refused(ask(env.broker.port, head), 431, 3106)


def test_bad_head_pipelined_behind_a_good_request_does_not_take_its_answer(env):
    """Review finding: a refused head sent in the same write as a good request. The good
    request gets its own answer (with Connection: close), the refused one none: the client
    sends it again on a new connection, as HTTP/1.1 expects when a server closes."""
    with socket.create_connection(("127.0.0.1", env.broker.port), timeout=5 * SCALE) as s:
        s.sendall(get() + get(b"/%00"))
        st, headers, body = read_answer(s)
        assert st == 200 and body["result"]["code"] == 0, (st, body)
        assert headers.get("connection", "").lower() == "close", headers
        s.settimeout(5 * SCALE)
        assert s.recv(65536) == b"", "nothing may follow the answer: the connection closes"
    assert_refused(ask(env.broker.port, get(b"/%00")), 400, 3100)


def test_get_with_a_body_is_refused(env):
    """lws reads no body for a GET: its bytes would be taken for the next request."""
    assert_refused(ask(env.broker.port, get(extra=b"Content-Length: 5\r\n") + b"hello"), 400, 3100)
    ans = ask(env.broker.port, get(extra=b"Content-Length: 0\r\n"))
    assert ans is not None and ans[0] == 200, ans
