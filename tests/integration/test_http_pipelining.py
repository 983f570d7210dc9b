"""HTTP/1.1 requests pipelined on one connection. lws 4.1 cannot hold a pipelined request back
while the one before it waits for Redis, so the broker answers what it has and closes the
connection; the client sends the rest again. Nothing is lost or stored twice, and the broker
stays responsive (such a request once sent a worker into an endless loop)."""
import json
import socket

import requests

from conftest import call_event


def read_responses(sock, timeout=10):
    """Every complete answer until the server closes the connection."""
    sock.settimeout(timeout)
    buf, out = b"", []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return out
        buf += chunk
        while b"\r\n\r\n" in buf:
            head, rest = buf.split(b"\r\n\r\n", 1)
            length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                          if l.lower().startswith(b"content-length")][0])
            if len(rest) < length:
                break
            out.append((int(head.split(b" ")[1]), json.loads(rest[:length])))
            buf = rest[length:]


def post_bytes(port, path, token, body):
    data = json.dumps(body).encode()
    return (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
                path.encode(), port, token.encode(), len(data))) + data


def test_pipelined_posts_are_answered_or_left_for_retry(acme):
    b = acme.env.broker
    t = acme.tab("101")
    events = [call_event("101", call_id="p%d" % i) for i in range(4)]
    pending = list(events)
    for attempt in range(6):
        s = socket.create_connection(("127.0.0.1", b.port))
        s.sendall(b"".join(post_bytes(b.port, "/v1/hooks/acme/native", acme.token, e) for e in pending))
        answers = read_responses(s)
        s.close()
        assert answers, "no answer at all on attempt %d" % attempt
        assert all(st == 200 and body["accepted"] == 1 for st, body in answers), answers
        pending = pending[len(answers):]
        if not pending:
            break
    assert not pending, "still unanswered after retries: %s" % pending
    assert [e["call_id"] for e in t.events(4)] == ["p0", "p1", "p2", "p3"]
    t.expect_silence(0.3)
    assert requests.get(b.base + "/healthz", timeout=5).status_code == 200


def test_pipelined_gets_are_all_answered(acme):
    b = acme.env.broker
    s = socket.create_connection(("127.0.0.1", b.port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 3 +
              b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answers = read_responses(s)
    assert [st for st, _ in answers] == [200, 200, 200, 200]
