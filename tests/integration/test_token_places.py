"""Every place a PBX or a backend can put the integration token reaches the same check:
Authorization Bearer, HTTP Basic with the token as password, the token query parameter (with
FreeSWITCH's appended "?uuid="), and a wrong one anywhere is 401 with nothing stored."""
import base64
import json

import requests

from conftest import assert_result, call_event


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def hook(env, integ, headers=None, query=""):
    b = env.broker
    return requests.post("%s/v1/hooks/%s/native%s" % (b.base, integ.name, query),
                         data=json.dumps(call_event("101")),
                         headers=dict({"Content-Type": "application/json"}, **(headers or {})),
                         timeout=10)


def test_webhook_token_in_every_place(acme, env):
    assert_result(hook(env, acme, {"Authorization": "Bearer " + acme.token}), 200, 0)
    assert_result(hook(env, acme, {"Authorization": basic("freeswitch", acme.token)}), 200, 0)
    assert_result(hook(env, acme, {"Authorization": basic("", acme.token)}), 200, 0)
    assert_result(hook(env, acme, query="?token=" + acme.token), 200, 0)
    assert_result(hook(env, acme, query="?token=%s?uuid=e5f0a6b8-5555" % acme.token), 200, 0)


def test_wrong_token_anywhere_is_401(acme, env):
    before = env.snapshot()
    for headers, query in (({"Authorization": basic("freeswitch", "crt_wrong")}, ""),
                           ({"Authorization": basic(acme.token, "")}, ""),
                           ({"Authorization": "Basic !!!"}, ""),
                           ({}, "?token=crt_wrong?uuid=1"),
                           ({}, "")):
        assert_result(hook(env, acme, headers, query), 401)
    assert env.snapshot() == before


def test_users_api_takes_basic_too(acme, env):
    b = env.broker
    r = requests.get(b.base + "/v1/users", headers={"Authorization": basic("crm", acme.token)},
                     timeout=10)
    body = assert_result(r, 200, 0)
    assert {u["extension"] for u in body["users"]} >= {"101", "102"}
    r = requests.get(b.base + "/v1/users", headers={"Authorization": basic("crm", "crt_wrong")},
                     timeout=10)
    assert_result(r, 401)


def test_401_challenges_so_curl_anyauth_sends_the_token(acme, env):
    """FreeSWITCH's mod_json_cdr (libcurl) with auth-scheme "any" sends credentials only after
    a 401 that names a scheme it knows."""
    import subprocess
    r = hook(env, acme)
    assert_result(r, 401)
    assert "Basic" in r.headers.get("WWW-Authenticate", ""), r.headers
    url = "%s/v1/hooks/%s/native" % (env.broker.base, acme.name)
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--anyauth",
                          "-u", "freeswitch:" + acme.token, "-H", "Content-Type: application/json",
                          "--data-binary", json.dumps(call_event("101")), url],
                         capture_output=True, text=True, timeout=20)
    assert out.stdout == "200", out
