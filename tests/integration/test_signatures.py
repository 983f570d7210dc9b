"""Standard Webhooks signatures on the native hook, computed by the published library."""
import base64
import json
import os
import time

import pytest

from conftest import assert_result, call_event, sign_webhook

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()


@pytest.fixture
def signed(env):
    integ = env.provision("acme", settings={"webhook_secret": SECRET})
    integ.add_user("101")
    return integ


def post_signed(integ, body_obj, msg_id=None, ts=None, secret=SECRET, tamper=None, sig=None):
    body = json.dumps(body_obj)
    msg_id = msg_id or "msg_" + os.urandom(8).hex()
    ts = int(time.time()) if ts is None else ts
    headers = sign_webhook(secret, msg_id, ts, body)
    if sig is not None:
        headers["webhook-signature"] = sig(headers["webhook-signature"])
    if tamper:
        body = tamper(body)
    return integ.env.post_events(integ.name, None, None, data=body, headers=headers)


def test_valid_signature_accepted_and_delivered(signed):
    t = signed.tab("101")
    r = post_signed(signed, call_event("101", call_id="signed-1"))
    assert assert_result(r, 200, 0)["accepted"] == 1
    assert t.next_event()["call_id"] == "signed-1"


def test_array_body_signed(signed):
    r = post_signed(signed, [call_event("101"), call_event("101")])
    assert assert_result(r, 200, 0)["accepted"] == 2


def test_several_signatures_for_rotation(signed):
    def with_old(sig):
        return "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= " + sig
    r = post_signed(signed, call_event("101"), sig=with_old)
    assert assert_result(r, 200, 0)["accepted"] == 1


@pytest.mark.parametrize("case", ["wrong secret", "tampered body", "stale", "future", "garbage sig",
                                  "v2 scheme", "id changed"])
def test_bad_signature_is_401_3102(signed, case):
    before = signed.env.snapshot()
    now = int(time.time())
    kw = {}
    if case == "wrong secret":
        kw["secret"] = OTHER_SECRET
    elif case == "tampered body":
        kw["tamper"] = lambda b: b.replace("appeared", "connected")
    elif case == "stale":
        kw["ts"] = now - 301 - 60
    elif case == "future":
        kw["ts"] = now + 301 + 60
    elif case == "garbage sig":
        kw["sig"] = lambda s: "v1,not-base64!!"
    elif case == "v2 scheme":
        kw["sig"] = lambda s: s.replace("v1,", "v2,")
    if case == "id changed":
        body = json.dumps(call_event("101"))
        h = sign_webhook(SECRET, "msg_a", now, body)
        h["webhook-id"] = "msg_b"
        r = signed.env.post_events("acme", None, None, data=body, headers=h)
    else:
        r = post_signed(signed, call_event("101"), **kw)
    assert_result(r, 401, 3102)
    assert signed.env.snapshot() == before


def test_timestamp_not_a_number(signed):
    body = json.dumps(call_event("101"))
    h = sign_webhook(SECRET, "msg_x", int(time.time()), body)
    h["webhook-timestamp"] = "soon"
    r = signed.env.post_events("acme", None, None, data=body, headers=h)
    assert_result(r, 401, 3102)


def test_neither_token_nor_signature_is_3103(signed):
    r = signed.env.post_events("acme", None, call_event("101"))
    assert_result(r, 401, 3103)


def test_token_still_works_with_a_secret_configured(signed):
    signed.post_ok(call_event("101"), accepted=1)


def test_same_webhook_id_twice_stored_once(signed):
    r = post_signed(signed, call_event("101", call_id="first"), msg_id="msg_same")
    assert assert_result(r, 200, 0)["accepted"] == 1
    # a retry of the same message: same id, same body (re-signed later)
    r = post_signed(signed, call_event("101", call_id="first"), msg_id="msg_same")
    b = assert_result(r, 200, 0)
    assert (b["accepted"], b["duplicates"]) == (0, 1), b
    # the same webhook-id with another body is still the same message
    r = post_signed(signed, call_event("101", call_id="second"), msg_id="msg_same")
    b = assert_result(r, 200, 0)
    assert (b["accepted"], b["duplicates"]) == (0, 1), b
    assert signed.env.redis.xlen(signed.stream_key("101")) == 1
