"""Single-use tickets (issue 7, finding 7): a ticket from POST /v1/channel opens one websocket.
A second socket with the same ticket (while the first is open, after it closed, on another
instance) is closed with 1008 and a reason naming the ticket, before it gets any answer or
event. Two tickets issued within one second differ and both work. Frames sent before the
broker finished checking a ticket are not lost. token+extension sockets are not limited."""
import base64
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

from conftest import Tab, call_event
from test_ws_edges import OP_CLOSE, OP_TEXT, RawWs, expect_close, parse_close

REGISTER = json.dumps({"op": "register"}).encode()


def ticket_of(url):
    return parse_qs(urlsplit(url).query)["ticket"][0]


def expiry_of(ticket):
    """The expiry in a ticket's payload (broker/hub/ticket.h: "vN\\nINTEGRATION\\nEXT\\nEXPIRY..."),
    or None when it cannot be read: the broker's clock decides which second a ticket is from."""
    try:
        payload = ticket.split(".")[0]
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        return int(text.split("\n")[3])
    except (ValueError, IndexError):
        return None


def expect_refused_reuse(url, integ, what, post_on=None):
    """Opens url again, sends register at once (and an event is posted meanwhile): the broker
    must close with 1008 and a reason naming the ticket, having sent nothing else."""
    ws = RawWs(url)
    assert ws.status == 101, (
        "%s: expected the upgrade and then a close with 1008, got HTTP %d" % (what, ws.status))
    try:
        ws.send_frame(OP_TEXT, REGISTER)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the broker may have closed already: what it sent before is still to be read
    integ.post_ok(call_event("101", call_id="while-reused", key=uuid.uuid4().hex), broker=post_on,
                  accepted=1)
    close = expect_close(ws, 1008, what)
    assert "ticket" in close[1].lower(), "%s: the close reason does not name the ticket: %r" % (
        what, close[1])
    ws.close()


def test_second_socket_with_the_same_ticket_while_the_first_is_open(acme):
    url = acme.channel_url("101")
    first = Tab(url)
    assert first.register()["result"]["code"] == 109
    expect_refused_reuse(url, acme, "second socket while the first is open")
    # the first socket is not disturbed
    assert first.next_event()["call_id"] == "while-reused"
    acme.post_ok(call_event("101", call_id="after"), accepted=1)
    assert first.next_event()["call_id"] == "after"
    assert first.ping()["result"]["code"] == 0


def test_second_socket_with_the_same_ticket_after_the_first_closed(acme):
    url = acme.channel_url("101")
    first = Tab(url)
    assert first.register()["result"]["code"] == 109
    first.close()
    expect_refused_reuse(url, acme, "second socket after the first closed")
    # a fresh ticket still works and gets the event
    t = Tab(acme.channel_url("101"))
    ans = t.register()
    assert [e["call_id"] for e in ans["events"]] == ["while-reused"]


def test_ticket_used_on_one_instance_is_refused_on_another(world):
    a = world.start_broker("a")
    b = world.start_broker("b")
    acme = world.provision("acme", broker=a)
    acme.add_user("101", broker=a)
    url = acme.channel_url("101", broker=a)
    url_b = url.replace("127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port)
    first = Tab(url)
    assert first.register()["result"]["code"] == 109
    expect_refused_reuse(url_b, acme, "ticket used on A, then on B", post_on=b)
    # and the other way round, with a ticket first used on B
    url2 = acme.channel_url("101", broker=b)
    url2_a = url2.replace("127.0.0.1:%d" % b.port, "127.0.0.1:%d" % a.port)
    second = Tab(url2)
    assert second.register()["result"]["code"] in (0, 109)
    expect_refused_reuse(url2_a, acme, "ticket used on B, then on A", post_on=a)


def test_unused_ticket_works_on_another_instance(world):
    a = world.start_broker("a")
    b = world.start_broker("b")
    acme = world.provision("acme", broker=a)
    acme.add_user("101", broker=a)
    url = acme.channel_url("101", broker=a)
    t = Tab(url.replace("127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port))
    assert t.register()["result"]["code"] == 109


def test_two_tickets_within_one_second_differ_and_both_work(acme):
    for _ in range(20):
        before = int(time.time())
        u1 = acme.channel_url("101")
        u2 = acme.channel_url("101")
        e1, e2 = expiry_of(ticket_of(u1)), expiry_of(ticket_of(u2))
        if int(time.time()) == before and (e1 is None or e1 == e2):
            break
    else:
        raise AssertionError("could not get two tickets within one second")
    assert ticket_of(u1) != ticket_of(u2), "two /v1/channel calls in one second gave one ticket"
    t1 = Tab(u1)
    t2 = Tab(u2)
    assert t1.register()["result"]["code"] == 109
    assert t2.register()["result"]["code"] == 109
    acme.post_ok(call_event("101", call_id="both"), accepted=1)
    assert t1.next_event()["call_id"] == "both"
    assert t2.next_event()["call_id"] == "both"


def test_register_sent_as_soon_as_the_101_arrived_is_answered(acme):
    """The register frame goes out the moment the 101 is read (RFC 6455 4.1 lets a client
    send once it has the answer): it reaches the broker while the ticket is still being
    checked in Redis, and must wait for that check, not be lost."""
    acme.post_ok([call_event("101", call_id="missed-%d" % i) for i in range(3)], accepted=3)
    for i in range(15):
        ws = RawWs(acme.channel_url("101"))
        assert ws.status == 101, ws.head
        ws.send_frame(OP_TEXT, REGISTER)
        ws.send_frame(OP_TEXT, b'{"op":"ping"}')
        got = {}
        for _ in range(2):
            op, payload = ws.recv_frame()
            assert op == OP_TEXT, "attempt %d: expected answers, got opcode %#x %r%s" % (
                i, op, payload[:200],
                " (close %r)" % (parse_close(payload),) if op == OP_CLOSE else "")
            f = json.loads(payload)
            got[f["op"]] = f
        assert sorted(got) == ["pong", "register"], "attempt %d: %s" % (i, got)
        ans = got["register"]
        assert ans["result"]["code"] == 0, ans
        assert [e["call_id"] for e in ans["events"]] == ["missed-0", "missed-1", "missed-2"]
        ws.close()


def test_register_sent_right_after_the_upgrade_is_answered(acme):
    for i in range(15):
        t = Tab(acme.channel_url("101"))
        t.send({"op": "register"})
        t.send({"op": "ping"})
        got = {}
        for _ in range(2):
            f = t.recv()
            got[f["op"]] = f
        assert sorted(got) == ["pong", "register"], "attempt %d: %s" % (i, got)
        assert got["register"]["result"]["code"] == 109, got
        t.close()


def test_token_and_extension_open_several_sockets(acme):
    url = "%s/v1/ws?token=%s&extension=101" % (acme.env.broker.ws_base, acme.token)
    tabs = [Tab(url) for _ in range(3)]
    for t in tabs:
        assert t.register()["result"]["code"] == 109
    acme.post_ok(call_event("101", call_id="to-all"), accepted=1)
    for t in tabs:
        assert t.next_event()["call_id"] == "to-all"
    tabs[0].close()
    again = Tab(url)
    assert again.register()["result"]["code"] in (0, 109)
