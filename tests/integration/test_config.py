"""Configuration, logging and the process lifecycle (SIGTERM/SIGINT)."""
import json
import os
import signal
import subprocess

import pytest

from conftest import BIN, Tab, assert_result, call_event, free_port


def run_bad(world, env=None, args=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("CALLRELAY_")}
    e.update({"CALLRELAY_LISTEN": "127.0.0.1:%d" % free_port(),
              "CALLRELAY_REDIS_URL": world.redis_server.url})
    e.update(env or {})
    if not os.access(BIN, os.X_OK):
        pytest.fail("broker binary %s not found" % BIN)
    try:
        p = subprocess.run([BIN] + (args or []), env=e, capture_output=True, text=True, timeout=5,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail("broker kept running with a bad configuration %s %s" % (env, args))
    return p


BAD = [
    ({"CALLRELAY_LISTEN": "nonsense"}, None),
    ({"CALLRELAY_LISTEN": "127.0.0.1:99999"}, None),
    ({"CALLRELAY_REDIS_URL": "http://127.0.0.1:6379"}, None),
    ({"CALLRELAY_REDIS_URL": "redis://127.0.0.1:notaport/0"}, None),
    ({"CALLRELAY_RETENTION": "abc"}, None),
    ({"CALLRELAY_RETENTION": "-5"}, None),
    ({"CALLRELAY_MAX_BODY": "lots"}, None),
    ({"CALLRELAY_DEDUPE_WINDOW": "x"}, None),
    ({"CALLRELAY_PUBLIC_URL": "ftp://x"}, None),
    ({}, ["--config", "/nonexistent/callrelay.conf"]),
    ({}, ["--bogus-flag"]),
]


@pytest.mark.parametrize("env,args", BAD, ids=[str(b) for b in BAD])
def test_bad_config_exits_with_one_line(world, env, args):
    p = run_bad(world, env, args)
    assert p.returncode != 0, "exit 0 with %s %s" % (env, args)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, "expected one line on stderr, got:\n%s" % p.stderr
    for m in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert m not in p.stderr


def test_bad_config_file_line(world, tmp_path):
    f = tmp_path / "bad.conf"
    f.write_text("listen = 127.0.0.1:%d\nno_such_setting = 1\n" % free_port())
    p = run_bad(world, args=["--config", str(f)])
    assert p.returncode != 0
    assert len([l for l in p.stderr.splitlines() if l.strip()]) == 1, p.stderr


def test_config_file_and_env_wins(world, tmp_path):
    file_port = free_port()
    f = tmp_path / "callrelay.conf"
    f.write_text("# test config\nlisten = 127.0.0.1:%d\nCALLRELAY_RETENTION=600\n"
                 "admin_token = from-file\n" % file_port)
    b = world.start_broker(args=["--config", str(f)])  # env sets LISTEN, REDIS_URL, ADMIN_TOKEN
    assert_result(b.get("/healthz"), 200, 0)
    # the admin token from the environment wins over the file's
    r = b.admin("/v1/integration/create", {"name": "acme", "adapter": "native", "settings": {}})
    assert_result(r, 200, 0)
    acme_token = r.json()["token"]
    b.post("/v1/users/create", {"extension": "101"}, token=acme_token)
    r = b.post("/v1/hooks/acme/native", call_event("101"), token=acme_token)
    assert_result(r, 200, 0)
    ttl = world.redis.ttl("cr:{acme}:s:101")
    # a stream lives the retention and up to a sixteenth more (docs/redis-layout.md)
    assert 600 - 60 < ttl <= 600 * 17 // 16 + 1, "retention from the file not applied: TTL %s" % ttl


def test_public_url_and_key_prefix(world):
    b = world.start_broker(env={"CALLRELAY_PUBLIC_URL": "https://relay.example.test",
                                "CALLRELAY_KEY_PREFIX": "xy:"})
    acme = world.provision("acme")
    acme.add_user("101")
    r = b.post("/v1/channel", {"extension": "101"}, token=acme.token)
    url = assert_result(r, 200, 0)["url"]
    assert url.startswith("wss://relay.example.test/v1/ws?ticket="), url
    acme.post_ok(call_event("101"), accepted=1)
    keys = list(world.redis.scan_iter(match="*"))
    assert keys and all(k.startswith("xy:") for k in keys), keys
    assert world.redis.exists("xy:{acme}:s:101")


def test_logs_are_json_lines(env):
    acme = env.provision("acme")
    acme.add_user("101")
    acme.post_ok(call_event("101"), accepted=1)
    rc = env.broker.stop()
    assert rc == 0, env.broker.stderr()
    out = env.broker.stdout()
    lines = [l for l in out.splitlines() if l.strip()]
    assert lines, "the broker logged nothing to stdout"
    for l in lines:
        assert isinstance(json.loads(l), dict), l


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_closes_websockets_with_1001_and_exits_0(env, sig):
    acme = env.provision("acme")
    acme.add_user("101")
    tabs = [acme.tab("101"), acme.tab("101", register=False)]
    rc = env.broker.stop(sig=sig)
    for t in tabs:
        assert t.wait_closed(5) == 1001
    assert rc == 0, "exit code %r on %s\nstderr:\n%s" % (rc, sig, env.broker.stderr())


def test_events_kept_across_restart(world):
    a = world.start_broker()
    acme = world.provision("acme")
    acme.add_user("101")
    acme.post_ok(call_event("101", call_id="kept"), accepted=1)
    assert a.stop() == 0
    b = world.start_broker()
    world.broker = b
    t = Tab(acme.channel_url("101", broker=b))
    assert [e["call_id"] for e in t.register()["events"]] == ["kept"]


def test_healthz_readyz(env):
    assert_result(env.broker.get("/healthz"), 200, 0)
    assert_result(env.broker.get("/readyz"), 200, 0)
