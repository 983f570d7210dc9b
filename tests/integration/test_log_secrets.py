"""What callrelay logs never carries a secret (issue 7, finding 7): not the Redis password of
CALLRELAY_REDIS_URL, not a ticket or token from a query string, not an Authorization header,
even for requests that libwebsockets refuses itself."""
import socket

from conftest import ADMIN_TOKEN, TICKET_SECRET

PASSWORD = "redisPASSWORDsecret42"


def test_redis_password_is_not_logged(world):
    world.redis.config_set("requirepass", PASSWORD)
    url = "redis://:%s@127.0.0.1:%d/0" % (PASSWORD, world.redis_server.port)
    b = world.start_broker(redis_url=url)
    assert b.get("/readyz").status_code == 200
    out = b.stdout() + b.stderr()
    assert '"msg":"listening"' in out
    assert PASSWORD not in out, out[-2000:]
    for secret in (ADMIN_TOKEN, TICKET_SECRET):
        assert secret not in out


def test_bad_redis_url_error_hides_the_password(world):
    b = world.start_broker(wait_ready=False,
                           env={"CALLRELAY_REDIS_URL": "redis://:%s@bad host:1/0" % PASSWORD})
    assert b.proc.wait(10) != 0
    b.stopped, b.returncode = True, 0  # exited on purpose; teardown need not stop it
    b._out.close()
    b._err.close()
    err = b.stderr()
    assert "CALLRELAY_REDIS_URL" in err and PASSWORD not in err, err


def raw(port, data):
    """Sends data; reads until an answer's head, the close, or a second of silence."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(data)
        try:
            while b"\r\n\r\n" not in got:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
    return got


def test_refused_requests_do_not_log_their_secrets(env):
    b = env.broker
    acme = env.provision("acme")
    secrets = ["SECRETTICKET%d" % i for i in range(6)] + [acme.token]
    requests_ = [
        b"GET /v1/ws?ticket=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        b"GET /v1/ws?ticket=%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 99\r\n\r\n",
        b"GET /v1/ws%%00?ticket=%s HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/users?token=%s HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /v1/users?token=%s HTTP/9.9\r\n\r\n",
        b"POST /v1/hooks/acme/native?token=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\nhello",
    ]
    for req, secret in zip(requests_, secrets):
        raw(b.port, req % secret.encode())
    raw(b.port, b"GET /v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
        b"Connection: close\r\n\r\n" % secrets[-1].encode())
    raw(b.port, b"GET /v1/users?token=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"X: " % secrets[-1].encode() + b"a" * 20000 + b"\r\n\r\n")
    assert b.get("/healthz").status_code == 200
    out = b.stdout() + b.stderr()
    for s in secrets:
        assert s not in out, "logged %s: %s" % (s, out[-3000:])
