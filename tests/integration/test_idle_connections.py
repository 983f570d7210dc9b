"""Connections that close without a request, or send half a request, leave the broker up."""
import socket

import requests


def test_connect_and_close_without_a_request(env):
    b = env.broker
    for _ in range(20):
        socket.create_connection(("127.0.0.1", b.port)).close()
    s = socket.create_connection(("127.0.0.1", b.port))
    s.sendall(b"POST /v1/hooks/x/native HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"kind\"")
    s.close()
    s = socket.create_connection(("127.0.0.1", b.port))
    s.sendall(b"GET /hea")
    s.close()
    assert requests.get(b.base + "/healthz", timeout=5).status_code == 200
