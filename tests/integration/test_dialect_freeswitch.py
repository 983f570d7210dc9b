"""FreeSWITCH mod_json_cdr through a real broker: the recorded CDRs (tests/fixtures/freeswitch/)
are posted the way mod_json_cdr posts them, with libcurl (the curl tool: CURLOPT_POSTFIELDS, the
Content-Type of the chosen encoding, HTTP Basic with the integration token as password, and
"?uuid=..." appended to the configured URL even when it has a query already), and each expected
event must arrive over the websocket of every user it names, valid against event.schema.json.
Refused fixtures get their status with nothing stored."""
import base64
import json
import subprocess
from pathlib import Path

import pytest

from conftest import TESTS, assert_result, assert_valid_event

FIXTURES = TESTS / "fixtures" / "freeswitch"
FIXTURE_TOKEN = "crt_test_freeswitch_integration_token"
USERS = ("101", "102", "103")
# Events with "users"; the group legs are left to the scenarios (another change owns them).
ACCEPTED = ["inbound-a-leg-json", "inbound-b-leg-urlencoded", "busy-base64", "noanswer-json",
            "outbound-query-quirk", "callflow-object-base64"]
REFUSED = sorted(p.name[:-len(".request.json")] for p in FIXTURES.glob("bad-*.request.json"))
DECLARATIONS = ("users", "target", "order", "key")


def fixture(name):
    req = json.loads((FIXTURES / (name + ".request.json")).read_text())
    body = (FIXTURES / req["body_file"]).read_bytes()
    return req, body


def settings():
    s = json.loads((FIXTURES / "settings.json").read_text())
    return {k: v for k, v in s.items() if not k.startswith("_")}


def curl_post(broker, tmp_path, integration, body, content_type, query="", user_pass=None,
              headers=None, user_agent="freeswitch-json/1.0", subpath=""):
    """POSTs as mod_json_cdr does (libcurl); returns (status, answer body)."""
    body_file = tmp_path / "cdr.body"
    out_file = tmp_path / "answer.body"
    body_file.write_bytes(body)
    url = "%s/v1/hooks/%s/freeswitch%s%s" % (broker.base, integration, subpath,
                                             "?" + query if query else "")
    cmd = ["curl", "-sS", "-o", str(out_file), "-w", "%{http_code}", "--max-time", "10",
           "-X", "POST", "--data-binary", "@" + str(body_file), "-A", user_agent]
    if content_type:
        cmd += ["-H", "Content-Type: " + content_type]
    for k, v in (headers or {}).items():
        cmd += ["-H", "%s: %s" % (k, v)]
    if user_pass:
        cmd += ["--basic", "-u", user_pass]
    cmd.append(url)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, "curl failed: %s" % r.stderr
    return int(r.stdout), out_file.read_bytes()


def post_fixture(env, integ, tmp_path, name):
    """The recorded request with the real integration token where the fixture has its own."""
    req, body = fixture(name)
    auth = req["headers"].get("Authorization")
    fixture_basic = "Basic " + base64.b64encode(("freeswitch:" + FIXTURE_TOKEN).encode()).decode()
    user_pass = "freeswitch:" + integ.token if auth == fixture_basic else None
    headers = {"Authorization": auth} if auth and auth != fixture_basic else {}
    query = req["query"].replace(FIXTURE_TOKEN, integ.token)
    return curl_post(env.broker, tmp_path, integ.name, body, req["content_type"], query=query,
                     user_pass=user_pass, headers=headers,
                     user_agent=req["headers"].get("User-Agent", "freeswitch-json/1.0"))


@pytest.fixture
def fs(env):
    integ = env.provision("acme", settings=settings(), adapter="freeswitch")
    for ext in USERS:
        integ.add_user(ext)
    return integ


def expected_by_user(name):
    want = json.loads((FIXTURES / (name + ".expected.json")).read_text())
    by_user = {u: [] for u in USERS}
    for ev in want:
        stored = {k: v for k, v in ev.items() if k not in DECLARATIONS}
        for u in ev["users"]:
            if u in by_user:
                by_user[u].append(stored)
    return by_user


def assert_delivered(got, want, integration, user):
    assert_valid_event(got)
    assert isinstance(got.pop("id"), str)
    assert got.pop("integration") == integration, got
    assert got.pop("user") == user, got
    assert got == want, "event differs\n got: %s\nwant: %s" % (json.dumps(got, sort_keys=True),
                                                              json.dumps(want, sort_keys=True))


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_fixture_reaches_its_users(fs, tmp_path, name):
    tabs = {u: fs.tab(u) for u in USERS}
    status, answer = post_fixture(fs.env, fs, tmp_path, name)
    assert status == 200, answer
    want = expected_by_user(name)
    total = sum(len(v) for v in want.values())
    assert json.loads(answer)["accepted"] == total, answer
    for u, events in want.items():
        for got, exp in zip(tabs[u].events(len(events)), events):
            assert_delivered(got, exp, "acme", u)
        tabs[u].expect_silence(0.2)


@pytest.mark.parametrize("name", REFUSED)
def test_refused_fixture_stores_nothing(fs, tmp_path, name):
    before = fs.env.snapshot()
    status, answer = post_fixture(fs.env, fs, tmp_path, name)
    req, _ = fixture(name)
    assert status == req["expect"]["status"], answer
    body = json.loads(answer)
    assert body["result"]["code"] != 0 and body["result"]["message"], answer
    assert fs.env.snapshot() == before


def test_both_legs_of_one_call_are_one_call(fs, tmp_path):
    """The A-leg's and the B-leg's CDR of one call say the same (call_uuid, parties, answer and
    hang-up times) and differ only in the leg (the order key): the broker's content key takes
    the B-leg's events as duplicates, so 101 sees the call once."""
    tab = fs.tab("101")
    answers = []
    for name in ("inbound-a-leg-json", "inbound-b-leg-urlencoded"):
        status, answer = post_fixture(fs.env, fs, tmp_path, name)
        assert status == 200, answer
        answers.append(json.loads(answer))
    assert (answers[0]["accepted"], answers[1]["duplicates"]) == (2, 2), answers
    events = tab.events(2)
    assert {e["call_id"] for e in events} == {"a1f0c2d4-1111-4c4c-9a9a-000000000001"}
    assert [e["call"]["state"] for e in events] == ["connected", "disconnected"]
    tab.expect_silence(0.3)


def test_retry_is_a_duplicate(fs, tmp_path):
    """mod_json_cdr posts again on anything but 2xx: the same CDR is stored once."""
    tab = fs.tab("102")
    first = post_fixture(fs.env, fs, tmp_path, "busy-base64")
    again = post_fixture(fs.env, fs, tmp_path, "busy-base64")
    assert first[0] == again[0] == 200
    assert json.loads(first[1])["accepted"] == 1 and json.loads(again[1])["duplicates"] == 1
    assert tab.next_event()["call"]["disconnect"] == {"code": 17, "text": "USER_BUSY"}
    tab.expect_silence(0.3)


@pytest.mark.parametrize("how", ["basic", "bearer", "query", "query-quirk"])
def test_every_way_of_giving_the_token(fs, tmp_path, how):
    """HTTP Basic (password = token, any user name), Bearer, token= in the query, and the
    query mod_json_cdr makes of a configured ?token=: "token=T?uuid=U"."""
    _, body = fixture("noanswer-json")
    uuid = "d4e0f5a7-4444-4f4f-8d8d-000000000103"
    kw = {"query": "uuid=" + uuid}
    if how == "basic":
        kw["user_pass"] = "any-user:" + fs.token
    elif how == "bearer":
        kw["headers"] = {"Authorization": "Bearer " + fs.token}
    elif how == "query":
        kw["query"] = "token=%s&uuid=%s" % (fs.token, uuid)
    else:
        kw["query"] = "token=%s?uuid=%s" % (fs.token, uuid)
    tab = fs.tab("103")
    status, answer = curl_post(fs.env.broker, tmp_path, "acme", body, "application/json", **kw)
    assert status == 200, answer
    assert tab.next_event()["call"]["disconnect"] == {"code": 19, "text": "NO_ANSWER"}


@pytest.mark.parametrize("how", ["basic-wrong", "query-quirk-wrong", "other-integration"])
def test_wrong_token_is_401(fs, tmp_path, how):
    other = fs.env.provision("other", adapter="freeswitch")
    _, body = fixture("noanswer-json")
    kw = {}
    if how == "basic-wrong":
        kw["user_pass"] = "freeswitch:" + fs.token[:-1] + ("A" if fs.token[-1] != "A" else "B")
    elif how == "query-quirk-wrong":
        kw["query"] = "token=%s?uuid=x" % fs.token[::-1]
    else:
        kw["user_pass"] = "freeswitch:" + other.token
    before = fs.env.snapshot()
    status, answer = curl_post(fs.env.broker, tmp_path, "acme", body, "application/json", **kw)
    assert status == 401, answer
    assert fs.env.snapshot() == before


def test_settings_refused(env):
    r = env.broker.admin("/v1/integration/create",
                         {"name": "acme", "adapter": "freeswitch",
                          "settings": {"freeswitch": "basic"}})
    body = assert_result(r, 400)
    assert "freeswitch" in json.dumps(body), r.text


def test_unknown_subpath_is_404(fs, tmp_path):
    _, body = fixture("noanswer-json")
    status, answer = curl_post(fs.env.broker, tmp_path, "acme", body, "application/json",
                               user_pass="freeswitch:" + fs.token, subpath="/events")
    assert status == 404, answer


def test_readme_config_is_what_the_tests_post(fs):
    """The README's json_cdr.conf.xml names the parameters these tests imitate."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for param in ('name="url"', 'name="cred"', 'name="auth-scheme" value="basic"',
                  'name="encode-values"', 'name="log-b-leg"'):
        assert param in readme, "README's mod_json_cdr configuration lacks %s" % param


def test_large_cdr_with_expect_100_continue(fs, tmp_path):
    """libcurl (as mod_json_cdr uses it) sends "Expect: 100-continue" before a large body; a
    CDR with many variables is some hundred KiB."""
    _, body = fixture("noanswer-json")
    cdr = json.loads(body)
    for i in range(3000):
        cdr["variables"]["x_padding_%d" % i] = "v%2B" * 20
    big = json.dumps(cdr).encode()
    assert len(big) > 200000
    tab = fs.tab("103")
    status, answer = curl_post(fs.env.broker, tmp_path, "acme", big, "application/json",
                               query="uuid=d4e0f5a7-4444-4f4f-8d8d-000000000103",
                               user_pass="freeswitch:" + fs.token,
                               headers={"Expect": "100-continue"})
    assert status == 200, answer
    assert tab.next_event()["call"]["state"] == "disconnected"
