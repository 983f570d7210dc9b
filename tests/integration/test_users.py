"""Users (integration token) and /v1/channel."""
import re

from conftest import assert_result, call_event, error_field


def test_create_list_update_delete(env):
    acme = env.provision("acme")
    b = env.broker
    r = b.post("/v1/users/create", {"extension": "102", "name": "Bob"}, token=acme.token)
    body = assert_result(r, 200, 0)
    assert body["user"] == {"extension": "102", "name": "Bob"}
    assert_result(b.post("/v1/users/create", {"extension": "101", "name": "Ann"}, token=acme.token), 200, 0)
    assert_result(b.post("/v1/users/create", {"extension": "100"}, token=acme.token), 200, 0)
    body = assert_result(b.get("/v1/users", token=acme.token), 200, 0)
    assert [u["extension"] for u in body["users"]] == ["100", "101", "102"]
    assert {u["extension"]: u.get("name") for u in body["users"]}["101"] == "Ann"
    # creating an existing user updates its name
    r = b.post("/v1/users/create", {"extension": "101", "name": "Anna"}, token=acme.token)
    assert assert_result(r, 200, 0)["user"] == {"extension": "101", "name": "Anna"}
    body = assert_result(b.get("/v1/users", params={"token": acme.token}), 200, 0)
    assert {u["extension"]: u.get("name") for u in body["users"]}["101"] == "Anna"
    assert len(body["users"]) == 3

    assert_result(b.post("/v1/users/delete", {"extension": "101"}, token=acme.token), 200, 0)
    assert_result(b.post("/v1/users/delete", {"extension": "101"}, token=acme.token), 404, 3104)
    body = assert_result(b.get("/v1/users", token=acme.token), 200, 0)
    assert [u["extension"] for u in body["users"]] == ["100", "102"]


def test_delete_user_deletes_stream_and_cursor(env):
    acme = env.provision("acme")
    acme.add_user("101")
    acme.post_ok(call_event("101"), accepted=1)
    t = acme.tab("101")
    t.ack(t.first_page["events"][0]["id"])
    t.ping()
    t.close()
    assert env.redis.exists(acme.stream_key("101"))
    assert env.redis.exists(acme.cursor_key("101"))
    assert_result(env.broker.post("/v1/users/delete", {"extension": "101"}, token=acme.token), 200, 0)
    assert not env.redis.exists(acme.stream_key("101"))
    assert not env.redis.exists(acme.cursor_key("101"))
    # events for a deleted user are ignored
    acme.post_ok(call_event("101"), accepted=0, ignored=1)
    assert not env.redis.exists(acme.stream_key("101"))


def test_bad_extension(env):
    acme = env.provision("acme")
    for ext in ("", "a b", "a:b", "{x}", "x" * 65, "ü"):
        r = env.broker.post("/v1/users/create", {"extension": ext}, token=acme.token)
        assert error_field(assert_result(r, 400, 3101)) == "extension", r.text
    r = env.broker.post("/v1/users/create", {"extension": 101}, token=acme.token)
    assert_result(r, 400, 3101)
    r = env.broker.post("/v1/users/create", {"name": "x"}, token=acme.token)
    assert error_field(assert_result(r, 400, 3101)) == "extension"
    r = env.broker.post("/v1/users/create", data="not json", token=acme.token)
    assert_result(r, 400, 3100)


def test_users_need_the_integration_token(env):
    acme = env.provision("acme")
    b = env.broker
    assert_result(b.get("/v1/users"), 401, 3103)
    assert_result(b.get("/v1/users", token="x" * 43), 401, 3103)
    assert_result(b.post("/v1/users/create", {"extension": "101"}), 401, 3103)
    assert_result(b.post("/v1/users/delete", {"extension": "101"}), 401, 3103)
    assert_result(b.post("/v1/channel", {"extension": "101"}), 401, 3103)
    from conftest import ADMIN_TOKEN
    assert_result(b.get("/v1/users", token=ADMIN_TOKEN), 401, 3103)
    # token in the JSON body
    assert_result(b.post("/v1/users/create", {"extension": "101", "token": acme.token}), 200, 0)


def test_users_are_per_integration(env):
    acme = env.provision("acme")
    other = env.provision("other")
    acme.add_user("101")
    body = assert_result(env.broker.get("/v1/users", token=other.token), 200, 0)
    assert body["users"] == []
    assert_result(env.broker.post("/v1/users/delete", {"extension": "101"}, token=other.token), 404, 3104)
    assert_result(env.broker.post("/v1/channel", {"extension": "101"}, token=other.token), 404, 3104)


def test_channel(env):
    acme = env.provision("acme")
    acme.add_user("101")
    r = env.broker.post("/v1/channel", {"extension": "101"}, token=acme.token)
    body = assert_result(r, 200, 0)
    assert body["expires_in"] == 60
    # shard=: the user's shard of the feed, for the load balancer (test_feed_shards.py)
    from test_feed_shards import feed_shard
    assert re.fullmatch(r"ws://127\.0\.0\.1:%d/v1/ws\?ticket=[A-Za-z0-9_.%%=-]+&shard=%d"
                        % (env.broker.port, feed_shard("acme", "101")), body["url"]), body["url"]
    assert_result(env.broker.post("/v1/channel", {"extension": "999"}, token=acme.token), 404, 3104)
    r = env.broker.post("/v1/channel", {"extension": "a b"}, token=acme.token)
    assert_result(r, 400, 3101)


def test_keep_alive_connection_survives_errors(env):
    """Many answers, errors included, on one keep-alive HTTP connection."""
    import requests
    acme = env.provision("acme")
    s = requests.Session()
    base = env.broker.base
    h = {"Authorization": "Bearer " + acme.token, "Content-Type": "application/json"}
    for i in range(5):
        assert s.post(base + "/v1/users/create", data='{"extension": "%d"}' % i, headers=h, timeout=5).status_code == 200
        assert s.post(base + "/v1/users/create", data='{"extension": ', headers=h, timeout=5).status_code == 400
        assert s.get(base + "/v1/users", headers={"Authorization": "Bearer nope"}, timeout=5).status_code == 401
        assert s.post(base + "/v1/channel", data='{"extension": "zz"}', headers=h, timeout=5).status_code == 404
        assert s.get(base + "/v1/nope", timeout=5).status_code == 404
        r = s.get(base + "/v1/users", headers=h, timeout=5)
        assert r.status_code == 200 and len(r.json()["users"]) == i + 1


def test_channel_url_uses_host_header(env):
    acme = env.provision("acme")
    acme.add_user("101")
    r = env.broker.post("/v1/channel", {"extension": "101"}, token=acme.token,
                        headers={"Host": "crm.example.test:8443"})
    url = assert_result(r, 200, 0)["url"]
    assert url.startswith("ws://crm.example.test:8443/v1/ws?ticket="), url
