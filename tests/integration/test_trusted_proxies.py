"""allowed_networks behind a reverse proxy: X-Forwarded-For is believed only from the addresses
in CALLRELAY_TRUSTED_PROXIES, and then only the entries those proxies added."""
from conftest import assert_result, call_event
from test_config import run_bad

NETS = {"allowed_networks": ["203.0.113.0/24", "2001:db8::/32"]}


def post(env, integ, xff=None):
    headers = {"X-Forwarded-For": xff} if xff is not None else {}
    return integ.post(call_event("101"), headers=headers)


def test_forwarded_for_believed_from_a_trusted_proxy(world):
    world.start_broker(env={"CALLRELAY_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1/32 ::1/128"})
    integ = world.provision("behind", settings=NETS)
    integ.add_user("101")
    before = world.snapshot()
    assert_result(post(world, integ), 403, 3108)  # the proxy itself is not allowed
    assert_result(post(world, integ, xff="198.51.100.7"), 403, 3108)
    # a client cannot pass as allowed by writing an allowed address on the left
    assert_result(post(world, integ, xff="203.0.113.5, 198.51.100.7"), 403, 3108)
    assert_result(post(world, integ, xff="not-an-address"), 403, 3108)
    assert world.snapshot() == before
    assert_result(post(world, integ, xff="203.0.113.5"), 200, 0)
    assert_result(post(world, integ, xff="198.51.100.7, 203.0.113.5, 10.1.1.1"), 200, 0)
    assert_result(post(world, integ, xff="2001:db8::7"), 200, 0)


def test_forwarded_for_ignored_without_trusted_proxies(env):
    integ = env.provision("direct", settings=NETS)
    integ.add_user("101")
    before = env.snapshot()
    assert_result(post(env, integ, xff="203.0.113.5"), 403, 3108)
    assert env.snapshot() == before
    allowed = env.provision("local", settings={"allowed_networks": ["127.0.0.0/8"]})
    allowed.add_user("101")
    assert_result(post(env, allowed, xff="198.51.100.7"), 200, 0)


def test_bad_trusted_proxies_exit_2(world):
    p = run_bad(world, env={"CALLRELAY_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"})
    assert p.returncode == 2, p.stderr
    assert "CALLRELAY_TRUSTED_PROXIES" in p.stderr and "proxy.local" in p.stderr
