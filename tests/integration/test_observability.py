"""Observability: request ids (X-Request-Id) in answers and log lines, CALLRELAY_LOG_LEVEL,
HELP and TYPE for every metric family, and a Grafana dashboard whose queries name only metrics
the broker exports."""
import json
import re
from pathlib import Path

import pytest

from conftest import assert_result, call_event, wait_until
from test_config import run_bad

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana-dashboard.json"
GENERATED = re.compile(r"^[0-9a-f]{16}$")


def log_lines(broker):
    out = []
    for line in broker.stdout().splitlines():
        line = line.strip()
        if line:
            out.append(json.loads(line))  # every line is one JSON object
    return out


def http_lines(broker, request_id):
    return [l for l in log_lines(broker) if l.get("msg") == "http" and l.get("request_id") == request_id]


def test_request_id_kept_when_sane_and_echoed(env):
    for rid in ("abc-123", "A.b_C-9", "x" * 128):
        r = env.broker.get("/healthz", headers={"X-Request-Id": rid})
        assert_result(r, 200, 0)
        assert r.headers.get("X-Request-Id") == rid, r.headers


@pytest.mark.parametrize("rid", ["", "two words", "x" * 129, "quote\"d", "semi;colon", "{json}"])
def test_request_id_replaced_when_not_sane(env, rid):
    r = env.broker.get("/healthz", headers={"X-Request-Id": rid})
    assert_result(r, 200, 0)  # never a reason to refuse a request
    got = r.headers.get("X-Request-Id", "")
    assert GENERATED.match(got), "expected a generated id instead of %r, got %r" % (rid, got)


def test_every_answer_has_a_fresh_id(env):
    ids = set()
    for path in ("/healthz", "/readyz", "/metrics", "/no/such/path", "/v1/users"):
        r = env.broker.get(path)
        rid = r.headers.get("X-Request-Id", "")
        assert GENERATED.match(rid), (path, r.status_code, r.headers)
        ids.add(rid)
    assert len(ids) == 5, ids


def test_refusals_logged_with_the_request_id(env):
    acme = env.provision("acme")
    acme.add_user("101")
    r = env.post_events("acme", "wrong-token", call_event("101"),
                        headers={"X-Request-Id": "refused-1"})
    assert r.status_code == 401, r.text
    assert r.headers["X-Request-Id"] == "refused-1"
    r = env.broker.post("/v1/users/create", data="{not json", token=acme.token,
                        headers={"X-Request-Id": "refused-2"})
    assert r.status_code == 400, r.text
    wait_until(lambda: http_lines(env.broker, "refused-2"), 3, what="log line of refused-2")
    (l401,) = http_lines(env.broker, "refused-1")
    assert l401["status"] == 401 and l401["level"] == "info", l401
    assert l401["method"] == "POST" and l401["path"] == "/v1/hooks/acme/native", l401
    assert "wrong-token" not in json.dumps(l401)
    (l400,) = http_lines(env.broker, "refused-2")
    assert l400["status"] == 400 and "malformed JSON" in l400["error"], l400
    # at the default level (info), answers that succeed are not logged one by one
    r = env.broker.get("/healthz", headers={"X-Request-Id": "quiet-ok"})
    assert_result(r, 200, 0)
    r = env.broker.get("/no/such/path", headers={"X-Request-Id": "after-ok"})
    wait_until(lambda: http_lines(env.broker, "after-ok"), 3, what="log line of after-ok")
    assert http_lines(env.broker, "quiet-ok") == []


def test_websocket_refusals_carry_the_request_id(env):
    """An upgrade refused before it is a websocket: JSON body, X-Request-Id, a log line."""
    import socket
    req = ("GET /v1/ws?ticket=forged HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Version: 13\r\nX-Request-Id: ws-refused-1\r\n\r\n")
    with socket.create_connection(("127.0.0.1", env.broker.port), timeout=5) as s:
        s.sendall(req.encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b" 401 " in head.split(b"\r\n")[0], data
    assert b"x-request-id: ws-refused-1" in head.lower(), data
    assert json.loads(body)["result"]["code"] == 3103, data
    wait_until(lambda: http_lines(env.broker, "ws-refused-1"), 3, what="log line of the refusal")
    (line,) = http_lines(env.broker, "ws-refused-1")
    assert line["status"] == 401 and line["path"] == "/v1/ws" and "forged" not in json.dumps(line)


def test_handler_log_lines_carry_the_request_id(env):
    r = env.broker.admin("/v1/integration/create", {"name": "acme", "adapter": "native",
                                                    "settings": {}})
    assert_result(r, 200, 0)
    rid = r.headers["X-Request-Id"]
    created = [l for l in log_lines(env.broker) if l.get("msg") == "integration created"]
    assert created and created[-1].get("request_id") == rid, created


def test_debug_level_logs_every_answer(world):
    b = world.start_broker(env={"CALLRELAY_LOG_LEVEL": "debug"})
    r = b.get("/healthz", headers={"X-Request-Id": "ok-at-debug"})
    assert_result(r, 200, 0)
    wait_until(lambda: http_lines(b, "ok-at-debug"), 3, what="debug log line of a 200")
    (line,) = http_lines(b, "ok-at-debug")
    assert line["level"] == "debug" and line["status"] == 200 and line["path"] == "/healthz", line
    assert isinstance(line["ms"], int) and line["client"] == "127.0.0.1", line


def test_error_level_drops_info_and_warn(world):
    b = world.start_broker(env={"CALLRELAY_LOG_LEVEL": "error"})
    r = b.get("/v1/users", headers={"X-Request-Id": "refused-quietly"})
    assert r.status_code == 401
    assert b.stop() == 0
    levels = {l["level"] for l in log_lines(b)}
    assert levels <= {"error"}, levels  # no "listening", no "stopping", no 401 line


@pytest.mark.parametrize("value", ["loud", "INFO2", "trace", "0"])
def test_bad_log_level_refused_at_start(world, value):
    p = run_bad(world, env={"CALLRELAY_LOG_LEVEL": value})
    assert p.returncode != 0
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "CALLRELAY_LOG_LEVEL" in lines[0], p.stderr


def test_log_level_any_case(world):
    b = world.start_broker(env={"CALLRELAY_LOG_LEVEL": "WARN"})
    assert_result(b.get("/healthz"), 200, 0)
    assert b.stop() == 0
    levels = {l["level"] for l in log_lines(b)}
    assert "info" not in levels and "debug" not in levels, levels


# ---- /metrics: HELP and TYPE for every family

SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count", "")}


def families(text):
    """{name: {"help": str, "type": str, "samples": [sample names]}} from Prometheus text."""
    fam = {}
    for line in text.splitlines():
        m = re.match(r"^# (HELP|TYPE) (\S+) (.*)$", line)
        if m:
            fam.setdefault(m.group(2), {"samples": []})[m.group(1).lower()] = m.group(3)
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", line).group(1)
        owner = name if name in fam else None
        for base, f in fam.items():
            for suffix in SUFFIXES.get(f.get("type"), ()):
                if suffix and name == base + suffix:
                    owner = base
        assert owner, "sample %r belongs to no family with HELP and TYPE" % line
        fam[owner]["samples"].append(name)
    return fam


def test_every_metric_family_has_help_and_type(env):
    acme = env.provision("acme")
    acme.add_user("101")
    acme.post_ok(call_event("101"), accepted=1)
    env.broker.get("/no/such/path")
    text = env.broker.get("/metrics").text
    fam = families(text)
    assert len(fam) >= 20, sorted(fam)
    for name, f in fam.items():
        assert name.startswith("callrelay_"), name
        assert f.get("help", "").strip(), "no HELP text for %s" % name
        assert f.get("type") in ("counter", "gauge", "histogram", "summary", "untyped"), (name, f)
        if f["type"] == "counter":
            assert name.endswith("_total"), "counter %s should end in _total" % name
    for line in text.splitlines():  # HELP and TYPE come before the family's samples
        if line.startswith("callrelay_"):
            assert any(line.startswith(n) for n in fam), line


# ---- the Grafana dashboard

def dashboard_exprs():
    d = json.loads(DASHBOARD.read_text())
    assert d.get("title") and d.get("uid"), "a dashboard needs a title and a uid"
    panels = d["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids must be unique"
    exprs = []
    for p in panels:
        assert p.get("title") and p.get("targets"), p
        for t in p["targets"]:
            assert t.get("expr"), (p["title"], t)
            exprs.append((p["title"], t["expr"]))
    return exprs


def test_dashboard_queries_name_exported_metrics(env):
    acme = env.provision("acme")
    acme.add_user("101")
    acme.post_ok(call_event("101"), accepted=1)
    text = env.broker.get("/metrics").text
    fam = families(text)
    exported = set(fam) | {s for f in fam.values() for s in f["samples"]}
    exprs = dashboard_exprs()
    used = set()
    for title, expr in exprs:
        names = set(re.findall(r"\bcallrelay_[a-zA-Z0-9_]+", expr))
        assert names, "panel %r queries no callrelay metric: %s" % (title, expr)
        missing = names - exported
        assert not missing, "panel %r names metrics the broker does not export: %s" % (title, missing)
        used |= names
    # the panels the dashboard promises
    for want in ("callrelay_events_accepted_total", "callrelay_events_duplicate_total",
                 "callrelay_events_ignored_total", "callrelay_events_stale_total",
                 "callrelay_sessions_open", "callrelay_events_delivered_total",
                 "callrelay_notifications_queued_total", "callrelay_notifications_sent_total",
                 "callrelay_notifications_failed_total", "callrelay_notifications_dead_total",
                 "callrelay_notification_latency_seconds_bucket", "callrelay_pbx_requests_total",
                 "callrelay_pbx_failures_total", "callrelay_pbx_timeouts_total",
                 "callrelay_redis_connected", "callrelay_http_requests_total"):
        assert want in used, "the dashboard has no panel over %s" % want
