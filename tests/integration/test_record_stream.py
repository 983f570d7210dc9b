"""A recording streamed from the PBX through the broker without holding it: a 200 MB WAV from
the fake recording host arrives whole (size and hash) while the broker's peak memory (VmHWM)
grows by less than 32 MiB, a slow reader keeps it bounded too, an unknown recording is a 404
with code 3320, a PBX that never answers a 504 with code 5004 within the idle timeout, and a
client that goes away cancels the PBX request.

Through GET /test/relay, a route only a `make BUILD=build-test TEST_ROUTES=1` binary serves
(CALLRELAY_BIN=$PWD/build-test/callrelay); skipped with another binary. Run with -s to see the
memory figures."""
import hashlib
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from conftest import assert_result, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fakes"))
from recording_host import RecordingHost, wav_stream  # noqa: E402

BIG = 200 * 1000 * 1000
GROWTH_LIMIT = 32 << 20


def vm_kib(pid, field):
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def expected_sha256(size):
    h = hashlib.sha256()
    for piece in wav_stream(size):
        h.update(piece)
    return h.hexdigest()


@pytest.fixture
def pbx():
    host = RecordingHost({"small": 100000, "big": BIG, "slow": 40 << 20, "leave": BIG},
                         twilio=("AC0123456789abcdef0123456789abcdef", "tw-token")).start()
    yield host
    host.stop()


@pytest.fixture
def relay(env, pbx):
    b = env.broker
    probe = b.get("/test/relay?url=" + quote(pbx.url + "/recordings/small.wav"))
    if probe.status_code == 404 and "no such path" in probe.text:
        pytest.skip("this binary has no test routes (make BUILD=build-test TEST_ROUTES=1)")
    assert probe.status_code == 200, probe.text

    def get(path, stream=False, timeout=30, **args):
        q = "url=" + quote(pbx.url + path)
        for k, v in args.items():
            q += "&%s=%s" % (k, quote(str(v)))
        return requests.get(b.base + "/test/relay?" + q, stream=stream, timeout=timeout)
    return get


def download(resp, delay=0.0, piece=65536):
    h = hashlib.sha256()
    n = 0
    for chunk in resp.iter_content(piece):
        h.update(chunk)
        n += len(chunk)
        if delay:
            time.sleep(delay)
    return n, h.hexdigest()


def test_small_recording_headers(relay, pbx):
    r = relay("/recordings/small.wav", accept="audio/wav")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "audio/wav"
    assert r.headers["Content-Length"] == "100000"
    assert r.content[:4] == b"RIFF" and r.content[8:12] == b"WAVE"
    assert hashlib.sha256(r.content).hexdigest() == expected_sha256(100000)


def test_200mb_recording_memory_bounded(env, relay, pbx):
    pid = env.broker.proc.pid
    relay("/recordings/small.wav").content  # warm: the first relay's allocations
    before = vm_kib(pid, "VmHWM")
    t0 = time.monotonic()
    r = relay("/recordings/big.wav", stream=True, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Length"] == str(BIG)
    n, digest = download(r)
    secs = time.monotonic() - t0
    after = vm_kib(pid, "VmHWM")
    print("\n200 MB recording: VmHWM before %d KiB, after %d KiB, growth %d KiB; "
          "VmRSS now %d KiB; %.1f s (%.0f MB/s)" % (before, after, after - before,
                                                    vm_kib(pid, "VmRSS"), secs, n / secs / 1e6))
    assert n == BIG
    assert digest == expected_sha256(BIG)
    assert (after - before) * 1024 < GROWTH_LIMIT
    assert pbx.stats()["completed"] >= 2


def test_slow_reader_memory_bounded(env, relay, pbx):
    pid = env.broker.proc.pid
    relay("/recordings/small.wav").content
    before = vm_kib(pid, "VmHWM")
    r = relay("/recordings/slow.wav", stream=True, timeout=60)
    assert r.status_code == 200
    got = 0
    lead_max = 0
    h = hashlib.sha256()
    for chunk in r.iter_content(65536):
        h.update(chunk)
        got += len(chunk)
        lead_max = max(lead_max, pbx.stats()["bytes_sent"] - got)
        time.sleep(0.004)
    after = vm_kib(pid, "VmHWM")
    print("\nslow reader, 40 MiB: VmHWM before %d KiB, after %d KiB, growth %d KiB; "
          "the PBX at most %d KiB ahead of the client (socket buffers included)" % (
              before, after, after - before, lead_max // 1024))
    assert got == 40 << 20
    assert h.hexdigest() == expected_sha256(40 << 20)
    assert (after - before) * 1024 < GROWTH_LIMIT
    # the PBX is held back: it runs ahead only by what the sockets and the broker buffer
    assert lead_max < 24 << 20


def test_unknown_recording_is_404(relay):
    r = relay("/recordings/nope.wav", accept="audio/wav")
    assert_result(r, 404, 3320)


def test_redirect_followed(relay):
    r = relay("/redirect/small.wav")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "audio/wav"
    assert hashlib.sha256(r.content).hexdigest() == expected_sha256(100000)


def test_other_format_not_streamed(relay):
    r = relay("/recordings/small.mp3", accept="audio/wav")
    body = assert_result(r, 502, 3321)
    assert "audio/mpeg" in body["result"]["message"]


def test_pbx_never_answers_is_504(relay, pbx):
    t0 = time.monotonic()
    r = relay("/hang/small.wav", idle_ms=1000)
    secs = time.monotonic() - t0
    assert_result(r, 504, 5004)
    assert 0.9 <= secs < 5, secs
    wait_until(lambda: pbx.stats()["hung_closed"] == 1, 5, what="the fake sees the close")


def test_client_leaving_cancels_pbx_request(env, relay, pbx):
    r = relay("/recordings/leave.wav", stream=True)
    assert r.status_code == 200
    got = 0
    for chunk in r.iter_content(65536):
        got += len(chunk)
        if got >= 10 << 20:
            break
    r.close()
    wait_until(lambda: pbx.stats()["aborted"] == 1, 10, what="the fake sees its answer cut")
    s = pbx.stats()
    assert s["bytes_sent"] < BIG // 2, s
    # the broker is fine afterwards
    assert relay("/recordings/small.wav").status_code == 200
