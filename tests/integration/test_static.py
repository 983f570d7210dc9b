"""The files embedded in the binary: the browser module with its types (always served), the
demo page (only with CALLRELAY_DEMO=1); caching by ETag, and CORS for the module."""
import pytest

from conftest import ROOT, SCALE, assert_result

JS = "text/javascript; charset=utf-8"
TS = "application/typescript; charset=utf-8"
MODULE = [("/client/callrelay.js", "client/callrelay.js", JS),
          ("/client/callrelay.d.ts", "client/callrelay.d.ts", TS)]
DEMO = [("/demo", "demo/index.html", "text/html; charset=utf-8"),
        ("/demo/demo.js", "demo/demo.js", JS),
        ("/demo/demo.css", "demo/demo.css", "text/css; charset=utf-8")]


@pytest.fixture
def demo_on(world):
    return world.start_broker(env={"CALLRELAY_DEMO": "1"})


@pytest.mark.parametrize("path,source,ctype", MODULE + DEMO)
def test_served_as_built_with_cache_headers(demo_on, path, source, ctype):
    r = demo_on.get(path)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["Content-Type"] == ctype
    assert r.content == (ROOT / source).read_bytes(), "not the file in the repository"
    assert r.headers["Cache-Control"] == "public, max-age=300"
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    etag = r.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) == 34, etag


@pytest.mark.parametrize("path", [p for p, _, _ in MODULE + DEMO])
def test_if_none_match_gets_304_on_the_same_connection(demo_on, path):
    import requests
    with requests.Session() as s:
        etag = s.get(demo_on.base + path, timeout=5).headers["ETag"]
        for inm in (etag, "W/" + etag, '"other", ' + etag, "*"):
            r = s.get(demo_on.base + path, headers={"If-None-Match": inm}, timeout=5)
            assert r.status_code == 304, (inm, r.status_code)
            assert r.content == b""
            assert r.headers["ETag"] == etag
            assert "Content-Length" not in r.headers
        r = s.get(demo_on.base + path, headers={"If-None-Match": '"stale"'}, timeout=5)
        assert r.status_code == 200 and r.content
        # The connection still serves the next request after a 304.
        assert_result(s.get(demo_on.base + "/healthz", timeout=5), 200, 0)


def test_etags_differ_between_files(demo_on):
    tags = {demo_on.get(p).headers["ETag"] for p, _, _ in MODULE + DEMO}
    assert len(tags) == len(MODULE + DEMO)


def test_module_served_without_the_demo(env):
    for path, source, _ in MODULE:
        r = env.broker.get(path)
        assert r.status_code == 200 and r.content == (ROOT / source).read_bytes()


@pytest.mark.parametrize("path", ["/demo", "/demo/demo.js", "/demo/demo.css"])
def test_demo_is_off_by_default(env, path):
    body = assert_result(env.broker.get(path), 404, 3104)
    assert path in body["result"]["message"]


def test_demo_unknown_file_and_method(demo_on):
    assert_result(demo_on.get("/demo/nope.js"), 404, 3104)
    assert_result(demo_on.get("/demo/"), 404, 3104)
    assert_result(demo_on.post("/demo", {}), 405, 3100)
    assert_result(demo_on.post("/client/callrelay.js", {}), 405, 3100)


@pytest.mark.parametrize("value", ["yes", "2", "on"])
def test_bad_demo_setting_stops_the_broker(world, value):
    b = world.start_broker(env={"CALLRELAY_DEMO": value}, wait_ready=False)
    b.proc.wait(5 * SCALE)
    assert b.stop() != 0
    assert b.stderr().strip() == 'callrelay: CALLRELAY_DEMO: must be 0 or 1, got "%s"' % value
