"""tests/fixtures/: the recorded requests of every dialect stay consistent with their input
schemas, their signatures and the event contract (tests/fixtures/check_fixtures.py), so that
the adapters written on them are tested against documented payloads."""
import subprocess

from conftest import TESTS


def test_dialect_fixtures_are_consistent():
    r = subprocess.run(["/usr/bin/python3", str(TESTS / "fixtures" / "check_fixtures.py")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "fixtures inconsistent:\n%s%s" % (r.stdout, r.stderr)
    assert "all fixtures check" in r.stdout, r.stdout
