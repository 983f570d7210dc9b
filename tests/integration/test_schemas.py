"""schemas/: the OpenAPI and AsyncAPI documents validate (with the published validators), the
JSON Schemas are valid 2020-12 schemas, and they accept and refuse what the contract says."""
import copy
import json
import shutil
import subprocess

import pytest

from conftest import (CLIENT_FRAME_VALIDATOR, EVENT_VALIDATOR, NATIVE_INPUT_VALIDATOR, ROOT,
                      SCHEMAS, SERVER_FRAME_VALIDATOR, TESTS, node_tools, schema_errors)


def run_validator(path):
    node_tools()
    return subprocess.run(["node", str(TESTS / "tools" / "validate_openapi.mjs"), str(path)],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=60)


def run_asyncapi_validator(path):
    node_tools()
    return subprocess.run(["node", str(TESTS / "tools" / "validate_asyncapi.mjs"), str(path)],
                          cwd=str(ROOT), capture_output=True, text=True, timeout=60)


def test_asyncapi_is_valid_and_names_every_frame():
    r = run_asyncapi_validator(SCHEMAS / "asyncapi.yaml")
    assert r.returncode == 0, "asyncapi.yaml is invalid:\n%s%s" % (r.stdout, r.stderr)
    messages = dict(l.split()[1:3] for l in r.stdout.splitlines() if l.startswith("message "))
    assert all(v == "resolved" for v in messages.values()), r.stdout
    # every frame the JSON Schemas allow is a message of the document
    for name in ("ws-client-frame.schema.json", "ws-server-frame.schema.json"):
        frames = [o["$ref"].split("/")[-1] for o in json.loads((SCHEMAS / name).read_text())["oneOf"]]
        text = (SCHEMAS / "asyncapi.yaml").read_text()
        for f in frames:
            assert "'./%s#/$defs/%s'" % (name, f) in text, "%s frame %s missing" % (name, f)
    assert len(messages) == 9, messages


@pytest.mark.parametrize("breakage", [
    ("asyncapi: 3.0.0", "asyncapi: 3.0.0\nbogus_top_level: 1"),
    ("    action: receive", "    action: listen"),
    ("'./ws-server-frame.schema.json#/$defs/event'", "'./ws-server-frame.schema.json#/$defs/nosuch'"),
])
def test_broken_asyncapi_is_refused(tmp_path, breakage):
    text = (SCHEMAS / "asyncapi.yaml").read_text()
    old, new = breakage
    assert old in text, "test bug: %r not in asyncapi.yaml" % old
    for p in SCHEMAS.glob("*.json"):
        shutil.copy(p, tmp_path / p.name)
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(text.replace(old, new, 1))
    r = run_asyncapi_validator(broken)
    assert r.returncode != 0, "a broken copy validated:\n%s" % r.stdout


def test_openapi_is_valid():
    r = run_validator(SCHEMAS / "openapi.yaml")
    assert r.returncode == 0, "openapi.yaml is invalid:\n%s%s" % (r.stdout, r.stderr)
    assert "valid:" in r.stdout


@pytest.mark.parametrize("breakage", [
    ("openapi: 3.1.0", "openapi: 3.1.0\nbogus_top_level: 1"),
    ("  /healthz:\n    get:", "  /healthz:\n    fetch:"),
    ("'#/components/schemas/ChannelAnswer'", "'#/components/schemas/NoSuchSchema'"),
    ("      description: Switching Protocols; the connection now speaks the websocket protocol.\n", ""),
])
def test_broken_openapi_is_refused(tmp_path, breakage):
    text = (SCHEMAS / "openapi.yaml").read_text()
    old, new = breakage
    assert old in text, "test bug: %r not in openapi.yaml" % old
    for p in SCHEMAS.glob("*.json"):
        shutil.copy(p, tmp_path / p.name)
    broken = tmp_path / "openapi.yaml"
    broken.write_text(text.replace(old, new, 1))
    r = run_validator(broken)
    assert r.returncode != 0, "a broken copy validated:\n%s" % r.stdout


def test_openapi_covers_every_rest_path():
    import yaml
    doc = yaml.safe_load((SCHEMAS / "openapi.yaml").read_text())
    want = {"/v1/integration/create": "post", "/v1/integration/update": "post",
            "/v1/integration/delete": "post", "/v1/integration/list": "get",
            "/v1/users/create": "post", "/v1/users/delete": "post", "/v1/users": "get",
            "/v1/channel": "post", "/v1/ws": "get", "/v1/hooks/{integration}/native": "post",
            "/v1/notifications": "get", "/v1/notifications/{id}": "get",
            "/v1/notifications/retry": "post", "/v1/callback": "post",
            "/v1/route/async": "post", "/v1/transfer": "post", "/v1/hangup": "post",
            "/v1/record": "get", "/finaz/{integration}/click2call": "post",
            "/finaz/{integration}/gravacao": "get",
            "/healthz": "get", "/readyz": "get", "/metrics": "get",
            "/client/callrelay.js": "get", "/client/callrelay.d.ts": "get", "/demo": "get"}
    for path, method in want.items():
        assert method in doc["paths"].get(path, {}), "openapi.yaml lacks %s %s" % (method, path)
    schemes = doc["components"]["securitySchemes"]
    for s in ("adminBearer", "integrationBearer", "tokenQuery", "webhookId", "webhookTimestamp",
              "webhookSignature"):
        assert s in schemes


GOOD_EVENT = {"id": "1700000000000-0", "kind": "call", "integration": "acme", "user": "101",
              "call_id": "c1", "ts": "2026-11-23T18:00:00.123Z", "source": "native",
              "call": {"state": "disconnected", "direction": "inbound",
                       "from": {"number": "5511980121511"}, "to": {"extension": "101"},
                       "line": "551130000000", "is_group_disconnect": True,
                       "disconnect": {"code": 16, "text": "Normal call clearing"},
                       "campaign": "c7", "crm_contact_id": "p9"}}


def test_event_schema_accepts_each_kind():
    assert not schema_errors(EVENT_VALIDATOR, GOOD_EVENT)
    base = {k: GOOD_EVENT[k] for k in ("id", "integration", "user", "call_id", "ts", "source")}
    for kind, obj in (("record", {"status": "available", "recording_id": "r1",
                                  "url": "https://pbx/r1.mp3", "duration_s": 12.5}),
                      ("ivr", {"state": "appeared", "from": {"number": "1"}, "line": "2"}),
                      ("route_result", {"command_id": "cmd1", "result": 0,
                                        "to": {"extension": "102"}})):
        ev = dict(base, kind=kind, **{kind: obj}, raw={"anything": [1, 2]})
        assert not schema_errors(EVENT_VALIDATOR, ev), schema_errors(EVENT_VALIDATOR, ev)


@pytest.mark.parametrize("mutate", [
    lambda e: e.pop("id"),
    lambda e: e.update(id="abc"),
    lambda e: e.update(ts="2026-11-23T18:00:00Z"),
    lambda e: e.update(ts="2026-11-23T18:00:00.123+03:00"),
    lambda e: e.update(extra=1),
    lambda e: e.pop("call"),
    lambda e: e.update(kind="sms"),
    lambda e: e["call"].update(state="ringing"),
    lambda e: e["call"]["disconnect"].update(code=128),
    lambda e: e["call"]["disconnect"].update(code="16"),
    lambda e: e["call"].update(is_group_disconnect="yes"),
    lambda e: e.update(record={"status": "available"}),
    lambda e: e.pop("source"),
])
def test_event_schema_refuses(mutate):
    ev = copy.deepcopy(GOOD_EVENT)
    mutate(ev)
    assert schema_errors(EVENT_VALIDATOR, ev)


def test_native_input_schema():
    ev = {"kind": "call", "user": "101", "call_id": "c1", "call": {"state": "appeared"},
          "whatever": {"ignored": True}}
    assert not schema_errors(NATIVE_INPUT_VALIDATOR, ev)
    multi = {k: v for k, v in ev.items() if k != "user"}
    multi["users"] = ["101", "102"]
    assert not schema_errors(NATIVE_INPUT_VALIDATOR, [ev, multi])
    assert schema_errors(NATIVE_INPUT_VALIDATOR, [])
    assert schema_errors(NATIVE_INPUT_VALIDATOR, [ev] * 1001)
    assert schema_errors(NATIVE_INPUT_VALIDATOR, dict(ev, users=["102"]))  # both user and users
    assert schema_errors(NATIVE_INPUT_VALIDATOR, {k: v for k, v in ev.items() if k != "call"})
    assert schema_errors(NATIVE_INPUT_VALIDATOR, dict(ev, key=""))
    assert schema_errors(NATIVE_INPUT_VALIDATOR, dict(ev, key="k" * 201))


def test_ws_frame_schemas():
    for f in ({"op": "register"}, {"op": "register", "limit": 1000, "since": "1-0"},
              {"op": "ack", "id": "5-1"}, {"op": "ping"}, {"op": "unregister"}):
        assert not schema_errors(CLIENT_FRAME_VALIDATOR, f), f
    for f in ({"op": "register", "limit": 0}, {"op": "ack"}, {"op": "ack", "id": "x"},
              {"op": "nope"}):
        assert schema_errors(CLIENT_FRAME_VALIDATOR, f), f
    good = [{"op": "register", "result": {"code": 0}, "events": [GOOD_EVENT]},
            {"op": "register", "result": {"code": 109}, "events": []},
            {"op": "event", "event": GOOD_EVENT},
            {"op": "pong", "result": {"code": 0}},
            {"op": "unregister", "result": {"code": 0}},
            {"op": "error", "result": {"code": 3109, "message": "unknown op"}}]
    for f in good:
        assert not schema_errors(SERVER_FRAME_VALIDATOR, f), (f, schema_errors(SERVER_FRAME_VALIDATOR, f))
    bad = [{"op": "register", "result": {"code": 0}, "events": []},
           {"op": "register", "result": {"code": 109}, "events": [GOOD_EVENT]},
           {"op": "event", "event": dict(GOOD_EVENT, id=None)},
           {"op": "error", "result": {"code": 3109}},
           {"op": "pong"}]
    for f in bad:
        assert schema_errors(SERVER_FRAME_VALIDATOR, f), f
