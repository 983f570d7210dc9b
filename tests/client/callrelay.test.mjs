// Unit tests of client/callrelay.js under node's test runner: node --test tests/client/
import { test, mock } from "node:test";
import assert from "node:assert/strict";

import { CallRelay } from "../../client/callrelay.js";
import { Broker, Bus, Clock, Locks, ev, memoryStorage, seeded, ticketUrl } from "./fakes.mjs";

function world(seed = 1) {
  const clock = new Clock();
  return {
    clock,
    broker: new Broker(clock),
    locks: new Locks(clock),
    bus: new Bus(clock),
    random: seeded(seed),
    tickets: 0,
  };
}

// One browser tab with a CallRelay that records what its handlers got.
function tab(w, name, { share = false, limit = 100, storage = memoryStorage(), channelUrl, start = true, without = [] } = {}) {
  const t = { name, storage, urls: 0, got: { ids: [], kinds: [], calls: [], gaps: 0, states: [] } };
  t.env = {
    WebSocket: w.broker.WebSocketFor(name),
    setTimeout: (fn, ms) => w.clock.set(fn, ms, name),
    clearTimeout: (id) => w.clock.clear(id),
    random: w.random,
    storage,
    locks: w.locks.forTab(name),
    BroadcastChannel: w.bus.forTab(name),
  };
  for (const k of without) t.env[k] = undefined;
  const url = async () => {
    t.urls++;
    return `ws://broker/v1/ws?ticket=t${++w.tickets}`;
  };
  t.relay = new CallRelay({ channelUrl: channelUrl || url, limit, share }, t.env);
  for (const kind of ["call", "record", "ivr", "route_result"]) t.relay.on(kind, (e) => t.got.kinds.push(`${kind}:${e.id}`));
  t.relay.on("event", (e) => t.got.ids.push(e.id));
  t.relay.on("calls", (c) => t.got.calls.push(c));
  t.relay.on("gap", () => t.got.gaps++);
  t.relay.on("state", (s) => t.got.states.push(s));
  // The tab is closed: its timers, locks, channels and sockets go without a word.
  t.close = () => {
    w.clock.dropOwner(name);
    w.locks.closeTab(name);
    w.bus.closeTab(name);
    for (const s of w.broker.sockets) if (s.owner === name) s.vanish();
  };
  if (start) t.relay.start();
  return t;
}

const registers = (sock) => sock.sent.filter((f) => f.op === "register");
const acks = (w) => w.broker.sockets.flatMap((s) => s.sent.filter((f) => f.op === "ack").map((f) => f.id));

test("pages until 109 with the limit, then live events, in numeric id order", async () => {
  const w = world();
  w.broker.post("5-2", "5-10", "9-0", "10-0", "10-1");
  const t = tab(w, "a", { limit: 2 });
  await w.clock.run(0);
  const [sock] = w.broker.sockets;
  assert.deepEqual(registers(sock), [
    { op: "register", limit: 2 },
    { op: "register", limit: 2 },
    { op: "register", limit: 2 },
    { op: "register", limit: 2 },
  ]);
  w.broker.post("11-0", "100-0");
  await w.clock.run(0);
  assert.deepEqual(t.got.ids, ["5-2", "5-10", "9-0", "10-0", "10-1", "11-0", "100-0"]);
  assert.deepEqual(t.got.kinds.slice(0, 2), ["call:5-2", "call:5-10"]);
  assert.equal(w.broker.sockets.length, 1);
});

test("live events that come while paging wait for the 109; duplicates are dropped", async () => {
  const w = world();
  w.broker.manual = true;
  const t = tab(w, "a", { limit: 2 });
  await w.clock.run(0);
  const [sock] = w.broker.sockets;
  assert.deepEqual(sock.sent, [{ op: "register", limit: 2 }]);
  sock.push({ op: "register", result: { code: 0 }, events: [ev("5-10"), ev("5-2")], calls: [] });
  sock.push({ op: "event", event: ev("11-0") }); // early: the broker should have held it
  await w.clock.run(0);
  assert.deepEqual(t.got.ids, ["5-2", "5-10"]);
  assert.deepEqual(sock.sent.at(-1), { op: "register", limit: 2 });
  sock.push({ op: "register", result: { code: 0 }, events: [ev("9-0"), ev("10-0")] });
  sock.push({ op: "register", result: { code: 109 }, events: [] });
  await w.clock.run(0);
  assert.deepEqual(t.got.ids, ["5-2", "5-10", "9-0", "10-0", "11-0"]);
  sock.push({ op: "event", event: ev("11-0") });
  sock.push({ op: "event", event: ev("10-0") });
  sock.push({ op: "event", event: ev("12-0") });
  await w.clock.run(0);
  assert.deepEqual(t.got.ids, ["5-2", "5-10", "9-0", "10-0", "11-0", "12-0"]);
  assert.equal(registers(sock).length, 3);
});

test("the calls of the first answer and a gap reach their handlers", async () => {
  const w = world();
  const call = { call_id: "c1", state: "connected", users: { 101: "connected" } };
  w.broker.calls = [call];
  w.broker.manual = true;
  const t = tab(w, "a", { limit: 1 });
  await w.clock.run(0);
  const [sock] = w.broker.sockets;
  sock.push({ op: "register", result: { code: 0 }, events: [ev("7-0", "record")], calls: [call], gap: true });
  sock.push({ op: "register", result: { code: 109 }, events: [] });
  await w.clock.run(0);
  assert.deepEqual(t.got.calls, [[call]]);
  assert.equal(t.got.gaps, 1);
  assert.deepEqual(t.got.kinds, ["record:7-0"]);
});

test("acknowledges the last delivered id once per burst, after the handlers", async () => {
  const w = world();
  const t = tab(w, "a");
  await w.clock.run(0);
  let ackedBeforeHandler = null;
  t.relay.on("event", () => (ackedBeforeHandler = w.broker.cursor));
  w.broker.post("1-0", "1-1", "2-0");
  await w.clock.run(0);
  assert.deepEqual(acks(w), []);
  assert.equal(ackedBeforeHandler, null);
  await w.clock.run(100);
  assert.deepEqual(acks(w), ["2-0"]);
  w.broker.post("3-0");
  await w.clock.run(1000);
  assert.deepEqual(acks(w), ["2-0", "3-0"]);
  assert.equal(w.broker.cursor, "3-0");
});

test("stop() acknowledges what was delivered, closes, and never reconnects", async () => {
  const w = world();
  const t = tab(w, "a");
  await w.clock.run(0);
  w.broker.post("1-0");
  await w.clock.run(0);
  t.relay.stop();
  const [sock] = w.broker.sockets;
  assert.deepEqual(acks(w), ["1-0"]);
  assert.equal(sock.closedWith, 1000);
  w.broker.post("2-0");
  await w.clock.run(120000);
  assert.equal(w.broker.sockets.length, 1);
  assert.equal(t.urls, 1);
  assert.deepEqual(t.got.ids, ["1-0"]);
  assert.deepEqual(t.got.states, ["connecting", "open", "closed"]);
  t.relay.start();
  await w.clock.run(1000);
  assert.equal(w.broker.sockets.length, 1);
});

test("a reconnect registers with since = the last delivered id and repeats nothing", async () => {
  const w = world();
  const t = tab(w, "a");
  await w.clock.run(0);
  w.broker.post("1-0", "2-0");
  await w.clock.run(0);
  w.broker.sockets[0].serverClose(1013);
  w.broker.post("3-0", "4-0");
  await w.clock.run(1000); // the first retry waits at most 1 s
  assert.equal(w.broker.sockets.length, 2);
  assert.deepEqual(registers(w.broker.sockets[1])[0], { op: "register", limit: 100, since: "2-0" });
  assert.deepEqual(t.got.ids, ["1-0", "2-0", "3-0", "4-0"]);
  assert.deepEqual(t.got.states, ["connecting", "open", "connecting", "open"]);
  assert.equal(t.urls, 2); // a new ticket for every connection
  assert.equal(t.got.calls.length, 2); // one calls snapshot per connection

  // a broker that repeats delivered events after a reconnect: dropped
  w.broker.manual = true;
  w.broker.sockets[1].serverClose(1001);
  await w.clock.run(1000);
  const third = w.broker.sockets[2];
  assert.deepEqual(third.sent, [{ op: "register", limit: 100, since: "4-0" }]);
  third.push({ op: "register", result: { code: 0 }, events: [ev("3-0"), ev("4-0"), ev("5-0")], calls: [] });
  third.push({ op: "register", result: { code: 109 }, events: [] });
  third.push({ op: "event", event: ev("5-0") });
  await w.clock.run(0);
  assert.deepEqual(t.got.ids, ["1-0", "2-0", "3-0", "4-0", "5-0"]);
});

test("a reload resumes from sessionStorage with since and drops what it saw", async () => {
  const w = world();
  const storage = memoryStorage();
  const first = tab(w, "a", { storage });
  await w.clock.run(0);
  w.broker.post("1-0", "2-0", "3-0");
  await w.clock.run(0);
  assert.equal(storage.getItem("callrelay:last"), "3-0");
  first.close(); // reload before the ack went out
  assert.deepEqual(acks(w), []);
  w.broker.post("4-0");
  w.broker.manual = true;
  const second = tab(w, "a", { storage });
  await w.clock.run(0);
  const sock = w.broker.sockets[1];
  assert.deepEqual(sock.sent, [{ op: "register", limit: 100, since: "3-0" }]);
  sock.push({ op: "register", result: { code: 0 }, events: [ev("2-0"), ev("3-0"), ev("4-0")], calls: [] });
  sock.push({ op: "register", result: { code: 109 }, events: [] });
  await w.clock.run(200);
  assert.deepEqual(second.got.ids, ["4-0"]);
  assert.deepEqual(sock.sent.filter((f) => f.op === "ack"), [{ op: "ack", id: "4-0" }]);
});

test("a storage key per channel identity keeps two users apart", async () => {
  const w = world();
  const storage = memoryStorage();
  storage.setItem("callrelay:102", "9-0");
  const env = { WebSocket: w.broker.WebSocketFor("a"), setTimeout: (f, ms) => w.clock.set(f, ms, "a"), clearTimeout: (id) => w.clock.clear(id), storage };
  const relay = new CallRelay({ channelUrl: async () => "ws://x", storageKey: "callrelay:101" }, env);
  relay.start();
  await w.clock.run(0);
  w.broker.post("1-0");
  await w.clock.run(0);
  assert.deepEqual(w.broker.sockets[0].sent[0], { op: "register", limit: 100 });
  assert.equal(storage.getItem("callrelay:101"), "1-0");
  assert.equal(storage.getItem("callrelay:102"), "9-0");
  relay.stop();
});

test("a since the broker refuses (3101) is dropped; paging starts from the cursor, de-duplication afresh", async () => {
  const w = world();
  const storage = memoryStorage();
  storage.setItem("callrelay:last", "99-0");
  w.broker.post("100-0");
  w.broker.stream = [];
  w.broker.post("50-0"); // the stream was recreated: its last id is before since
  const warn = mock.method(console, "warn", () => {});
  const t = tab(w, "a", { storage });
  await w.clock.run(0);
  warn.mock.restore();
  const [sock] = w.broker.sockets;
  assert.deepEqual(registers(sock), [
    { op: "register", limit: 100, since: "99-0" },
    { op: "register", limit: 100 },
    { op: "register", limit: 100 },
  ]);
  assert.deepEqual(t.got.states, ["connecting", "open"]);
  // 99-0 was of another stream: 50-0, below it, is new to this one
  assert.deepEqual(t.got.ids, ["50-0"]);
  w.broker.post("150-0");
  await w.clock.run(200);
  assert.deepEqual(t.got.ids, ["50-0", "150-0"]);
  assert.deepEqual(acks(w), ["50-0", "150-0"]);
});

for (const [name, missed] of [
  ["below", ["100-0", "150-0"]],
  ["above", ["100-0", "250-0"]],
]) {
  test(`another user signing in in the same tab gets every missed event (theirs ${name} the last id)`, async () => {
    const w = world();
    const storage = memoryStorage();
    storage.setItem("callrelay:last", "acme/101\t200-0"); // user 101's, in this tab before
    w.broker.post(...missed); // user 102's stream
    const t = tab(w, "a", { storage, channelUrl: async () => ticketUrl("acme", "102") });
    await w.clock.run(200);
    assert.deepEqual(registers(w.broker.sockets[0])[0], { op: "register", limit: 100 });
    assert.deepEqual(t.got.ids, missed);
    assert.deepEqual(acks(w), [missed[1]]);
    assert.equal(storage.getItem("callrelay:last"), `acme/102\t${missed[1]}`);
    t.relay.stop();
  });
}

test("the same user resumes with since; an old plain stored id is taken as the user's", async () => {
  const w = world();
  const storage = memoryStorage();
  storage.setItem("callrelay:last", "2-0");
  w.broker.post("1-0", "2-0", "3-0");
  const first = tab(w, "a", { storage, channelUrl: async () => ticketUrl("acme", "101") });
  await w.clock.run(0);
  assert.deepEqual(registers(w.broker.sockets[0])[0], { op: "register", limit: 100, since: "2-0" });
  assert.equal(storage.getItem("callrelay:last"), "acme/101\t3-0");
  first.close();
  w.broker.post("4-0");
  const second = tab(w, "b", { storage, channelUrl: async () => ticketUrl("acme", "101", 2) });
  await w.clock.run(0);
  assert.deepEqual(registers(w.broker.sockets[1])[0], { op: "register", limit: 100, since: "3-0" });
  assert.deepEqual(second.got.ids, ["4-0"]);
});

test("token= and extension= URLs name the user too; the token is not stored", async () => {
  const w = world();
  const storage = memoryStorage();
  const url = (ext) => async () => `ws://broker/v1/ws?token=s3cret&extension=${ext}`;
  w.broker.post("1-0");
  const a = tab(w, "a", { storage, channelUrl: url("101") });
  await w.clock.run(0);
  a.close();
  assert.ok(!storage.getItem("callrelay:last").includes("s3cret"));
  w.broker.cursor = null; // the fake broker has one stream: as user 102's, acknowledged nothing
  const b = tab(w, "b", { storage, channelUrl: url("102") });
  await w.clock.run(0);
  assert.deepEqual(registers(w.broker.sockets[1])[0], { op: "register", limit: 100 });
  assert.deepEqual(b.got.ids, ["1-0"]);
});

test("share: a tab of another user does not take the leader's events; it connects by itself", async () => {
  const w = world();
  const a = tab(w, "a", { share: true, channelUrl: async () => ticketUrl("acme", "101") });
  await w.clock.run(0);
  w.broker.post("1-0");
  await w.clock.run(200);
  const storage = memoryStorage();
  storage.setItem("callrelay:last", "acme/102\t1-0"); // this tab's user is 102
  const warn = mock.method(console, "warn", () => {});
  const b = tab(w, "b", { share: true, storage, channelUrl: async () => ticketUrl("acme", "102") });
  await w.clock.run(0);
  w.broker.post("2-0");
  await w.clock.run(200);
  warn.mock.restore();
  const own = w.broker.sockets.filter((s) => s.owner === "b");
  assert.equal(own.length, 1);
  assert.deepEqual(registers(own[0])[0], { op: "register", limit: 100, since: "1-0" });
  assert.deepEqual(b.got.ids, ["2-0"]);
  assert.deepEqual(a.got.ids, ["1-0", "2-0"]);
  assert.equal(storage.getItem("callrelay:last"), "acme/102\t2-0");
  // a new tab of no known user follows the leader and takes its identity
  const c = tab(w, "c", { share: true, channelUrl: async () => ticketUrl("acme", "101") });
  await w.clock.run(0);
  w.broker.post("3-0");
  await w.clock.run(200);
  assert.equal(c.urls, 0);
  assert.deepEqual(c.got.ids, ["3-0"]); // a new tab: the calls in progress, then what is new
  assert.equal(c.storage.getItem("callrelay:last"), "acme/101\t3-0");
});

test("a storage error frame (5003) on a later page reconnects and resumes with since", async () => {
  const w = world();
  w.broker.manual = true;
  const warn = mock.method(console, "warn", () => {});
  const t = tab(w, "a", { limit: 1 });
  await w.clock.run(0);
  const [sock] = w.broker.sockets;
  sock.push({ op: "register", result: { code: 0 }, events: [ev("1-0")], calls: [] });
  await w.clock.run(0);
  assert.equal(registers(sock).length, 2);
  // what broker/hub/hub.c sends when Redis fails mid-paging: an error frame, the session
  // still paging on the broker's side with its live events held
  sock.push({ op: "error", result: { code: 5003, message: "storage unavailable, try again" } });
  w.broker.post("2-0", "3-0");
  w.broker.manual = false;
  await w.clock.run(1000);
  warn.mock.restore();
  assert.equal(sock.closedWith, 1000);
  assert.equal(w.broker.sockets.length, 2);
  assert.deepEqual(registers(w.broker.sockets[1])[0], { op: "register", limit: 1, since: "1-0" });
  assert.deepEqual(t.got.ids, ["1-0", "2-0", "3-0"]);
  assert.deepEqual(t.got.states, ["connecting", "open", "connecting", "open"]);
});

test("a storage error frame (5003) on the first register reconnects", async () => {
  const w = world();
  w.broker.manual = true;
  const warn = mock.method(console, "warn", () => {});
  const t = tab(w, "a");
  await w.clock.run(0);
  w.broker.sockets[0].push({ op: "error", result: { code: 5003, message: "storage unavailable, try again" } });
  await w.clock.run(1000);
  warn.mock.restore();
  assert.equal(w.broker.sockets[0].closedWith, 1000);
  assert.equal(w.broker.sockets.length, 2);
  assert.deepEqual(t.got.states, ["connecting"]);
});

test("pagehide acknowledges at once what was delivered; stop() removes the listener", async () => {
  const w = world();
  const listeners = new Map();
  const win = {
    addEventListener: (name, fn) => listeners.set(name, fn),
    removeEventListener: (name, fn) => listeners.get(name) === fn && listeners.delete(name),
  };
  const t = tab(w, "a", { start: false });
  t.env.window = win;
  t.relay = new CallRelay({ channelUrl: async () => "ws://broker/v1/ws?ticket=x" }, t.env);
  t.relay.on("event", (e) => t.got.ids.push(e.id));
  t.relay.start();
  await w.clock.run(0);
  w.broker.post("1-0", "2-0");
  await w.clock.run(0);
  assert.deepEqual(t.got.ids, ["1-0", "2-0"]);
  assert.deepEqual(acks(w), []); // batched: due in 100 ms
  listeners.get("pagehide")({ persisted: false });
  assert.deepEqual(acks(w), ["2-0"]);
  await w.clock.run(200);
  assert.deepEqual(acks(w), ["2-0"]);
  t.relay.stop();
  assert.equal(listeners.has("pagehide"), false);
});

test("a register answer that does not come within 15 s drops the connection", async () => {
  const w = world();
  w.broker.manual = true;
  const warn = mock.method(console, "warn", () => {});
  const t = tab(w, "a", { limit: 1 });
  await w.clock.run(0);
  const [sock] = w.broker.sockets;
  await w.clock.run(14000);
  sock.push({ op: "register", result: { code: 0 }, events: [ev("1-0")], calls: [] });
  await w.clock.run(14999); // the second page's answer is late too, but not yet too late
  assert.equal(sock.readyState, 1);
  await w.clock.run(1);
  warn.mock.restore();
  assert.equal(sock.closedWith, 1000);
  w.broker.manual = false;
  await w.clock.run(1000);
  assert.equal(w.broker.sockets.length, 2);
  assert.deepEqual(registers(w.broker.sockets[1])[0], { op: "register", limit: 1, since: "1-0" });
  assert.deepEqual(t.got.states, ["connecting", "open", "connecting", "open"]);
});

test("backoff: full jitter within [0, min(30 s, 1 s * 2^n)], reset after a good connection", async () => {
  const w = world(42);
  let fail = true;
  const err = mock.method(console, "error", () => {});
  let calls = 0;
  const channelUrl = async () => {
    calls++;
    if (fail) throw new Error("backend down");
    return "ws://broker/v1/ws?ticket=x";
  };
  const t = tab(w, "a", { channelUrl });
  await w.clock.run(0);
  // while channelUrl fails the client sets only its 10 s connect deadline and the retry timer:
  // run each retry as it comes due
  const retries = () => w.clock.scheduled.map(([, ms]) => ms).filter((ms) => ms !== 10000);
  for (let i = 0; i < 11; i++) await w.clock.run(retries().at(-1));
  const expected = [];
  const r = seeded(42);
  for (let n = 0; n < 12; n++) expected.push(Math.floor(r() * Math.min(30000, 1000 * 2 ** n)));
  assert.deepEqual(retries(), expected);
  assert.equal(calls, 12);
  assert.equal(err.mock.callCount(), 12);
  for (const [n, ms] of retries().entries()) assert.ok(ms >= 0 && ms <= Math.min(30000, 1000 * 2 ** n), `delay ${n}: ${ms}`);
  assert.ok(Math.max(...retries().slice(0, 4)) < 8000 && Math.max(...retries().slice(5)) > 8000);
  assert.ok(Math.max(...retries()) <= 30000);
  assert.deepEqual(t.got.states, ["connecting"]);

  // a connection that stayed open 10 s resets the backoff
  fail = false;
  await w.clock.run(30000);
  assert.deepEqual(t.got.states, ["connecting", "open"]);
  await w.clock.run(10000);
  const before = w.clock.scheduled.length;
  w.broker.sockets[0].serverClose(1001);
  await w.clock.run(0);
  const delays = w.clock.scheduled.slice(before).map(([, ms]) => ms);
  assert.equal(delays.length, 1);
  assert.ok(delays[0] <= 1000, `first delay after a good connection: ${delays[0]}`);
  err.mock.restore();
  t.relay.stop();
});

test("a broker that answers register and closes at once: the delays keep growing", async () => {
  const w = world(5);
  const t = tab(w, "a");
  const delays = [];
  for (let i = 0; i < 8; i++) {
    await w.clock.run(0); // the socket opens and gets its register answer
    const sock = w.broker.sockets.at(-1);
    assert.equal(sock.registered, true);
    const before = w.clock.scheduled.length;
    sock.serverClose(1013); // as the broker's slow-reader cull does
    await w.clock.run(0);
    const retry = w.clock.scheduled.slice(before).map(([, ms]) => ms);
    assert.equal(retry.length, 1);
    delays.push(retry[0]);
    await w.clock.run(retry[0]);
  }
  const r = seeded(5);
  const expected = [];
  for (let n = 0; n < 8; n++) expected.push(Math.floor(r() * Math.min(30000, 1000 * 2 ** n)));
  assert.deepEqual(delays, expected);
  assert.ok(delays.slice(4).every((ms) => ms > 1000), `delays: ${delays}`);
  assert.equal(w.broker.sockets.length, 9);
  t.relay.stop();
});

test("sockets that never open time out and back off too", async () => {
  const w = world(7);
  w.broker.refuse = true;
  const t = tab(w, "a");
  await w.clock.run(60000);
  const n = w.broker.sockets.length;
  assert.ok(n >= 5 && n <= 30, `connections in a minute: ${n}`);
  w.broker.refuse = false;
  await w.clock.run(60000);
  assert.equal(w.broker.open().length, 1);
  assert.equal(t.got.states.at(-1), "open");
});

test("pings every 25 s; no pong within 10 s drops the socket and reconnects", async () => {
  const w = world();
  const t = tab(w, "a");
  await w.clock.run(100000);
  const [sock] = w.broker.sockets;
  assert.equal(sock.sent.filter((f) => f.op === "ping").length, 4);
  assert.equal(w.broker.sockets.length, 1);
  w.broker.pong = false;
  await w.clock.run(25000); // the next ping goes out, unanswered
  assert.equal(sock.readyState, 1);
  await w.clock.run(10000);
  assert.equal(sock.closedWith, 1000);
  w.broker.pong = true;
  await w.clock.run(1000);
  assert.equal(w.broker.sockets.length, 2);
  assert.deepEqual(t.got.states, ["connecting", "open", "connecting", "open"]);
});

test("a handler that throws does not stop delivery or the ack", async () => {
  const w = world();
  const err = mock.method(console, "error", () => {});
  const t = tab(w, "a", { start: false });
  const seen = [];
  t.relay.on("call", (e) => {
    seen.push(e.id);
    if (e.id === "1-0") throw new Error("CRM bug");
  });
  t.relay.start();
  await w.clock.run(0);
  w.broker.post("1-0", "2-0");
  await w.clock.run(200);
  err.mock.restore();
  assert.deepEqual(seen, ["1-0", "2-0"]);
  assert.deepEqual(t.got.ids, ["1-0", "2-0"]);
  assert.deepEqual(acks(w), ["2-0"]);
  assert.equal(err.mock.callCount(), 1);
});

test("every kind goes to its handler, then to event", async () => {
  const w = world();
  const t = tab(w, "a", { start: false });
  const order = [];
  t.relay.on("ivr", (e) => order.push(`ivr ${e.id}`));
  t.relay.on("event", (e) => order.push(`event ${e.id}`));
  t.relay.start();
  await w.clock.run(0);
  w.broker.post(ev("1-0", "call"), ev("2-0", "record"), ev("3-0", "ivr"), ev("4-0", "route_result"));
  await w.clock.run(0);
  assert.deepEqual(t.got.kinds, ["call:1-0", "record:2-0", "ivr:3-0", "route_result:4-0"]);
  assert.deepEqual(order, ["event 1-0", "event 2-0", "ivr 3-0", "event 3-0", "event 4-0"]);
  assert.throws(() => t.relay.on("nope", () => {}), TypeError);
  assert.throws(() => t.relay.on("call", "not a function"), TypeError);
  assert.throws(() => new CallRelay({}), TypeError);
});

test("share: one socket for two tabs; the follower gets every event through the channel", async () => {
  const w = world();
  const call = { call_id: "c0", state: "appeared", users: { 101: "appeared" } };
  w.broker.calls = [call];
  w.broker.post("1-0");
  const a = tab(w, "a", { share: true });
  await w.clock.run(0);
  const b = tab(w, "b", { share: true });
  await w.clock.run(0);
  w.broker.post("2-0", "3-0");
  await w.clock.run(200);
  assert.equal(w.broker.sockets.length, 1);
  assert.equal(w.broker.sockets[0].owner, "a");
  assert.deepEqual(a.got.ids, ["1-0", "2-0", "3-0"]);
  assert.deepEqual(b.got.ids, ["2-0", "3-0"]); // a new tab: the calls in progress, then what is new
  assert.deepEqual(a.got.calls, [[call]]);
  // the calls as they are when b syncs: the missed event 1-0 began a call
  const c10 = { call_id: "c1-0", kind: "call", state: "appeared", direction: "inbound", from: { number: "5511" }, updated: ev("1-0").ts, users: { 101: "appeared" } };
  assert.deepEqual(b.got.calls, [[call, c10]]);
  assert.deepEqual(b.got.states, ["connecting", "open"]);
  assert.equal(b.storage.getItem("callrelay:last"), "3-0");
  assert.equal(b.urls, 0);
  assert.deepEqual(acks(w), ["1-0", "3-0"]); // at the end of paging, then batched
});

test("share: closing the leader's tab hands the socket over, nothing lost, nothing twice", async () => {
  const w = world();
  const a = tab(w, "a", { share: true });
  const b = tab(w, "b", { share: true });
  const c = tab(w, "c", { share: true });
  await w.clock.run(0);
  w.broker.post("1-0", "2-0");
  await w.clock.run(200);
  assert.equal(w.broker.sockets.length, 1);
  a.close();
  w.broker.post("3-0", "4-0"); // while nobody holds the socket
  await w.clock.run(1000);
  assert.equal(w.broker.open().length, 1);
  const taken = w.broker.sockets[1];
  assert.equal(taken.owner, "b");
  assert.deepEqual(registers(taken)[0], { op: "register", limit: 100, since: "2-0" });
  w.broker.post("5-0");
  await w.clock.run(200);
  assert.deepEqual(b.got.ids, ["1-0", "2-0", "3-0", "4-0", "5-0"]);
  assert.deepEqual(c.got.ids, ["1-0", "2-0", "3-0", "4-0", "5-0"]);
  assert.deepEqual(c.got.states, ["connecting", "open", "connecting", "open"]);
  assert.equal(c.urls, 0);

  // the leader stops (rather than closing): c takes over from its own last id
  b.relay.stop();
  w.broker.post("6-0");
  await w.clock.run(1000);
  const third = w.broker.sockets[2];
  assert.equal(third.owner, "c");
  assert.deepEqual(registers(third)[0], { op: "register", limit: 100, since: "5-0" });
  assert.deepEqual(c.got.ids, ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"]);
  assert.equal(w.broker.open().length, 1);
});

test("share: a reloaded follower catches up from the leader's recent events", async () => {
  const w = world();
  const a = tab(w, "a", { share: true });
  const storage = memoryStorage();
  const b = tab(w, "b", { share: true, storage });
  await w.clock.run(0);
  w.broker.post("1-0", "2-0");
  await w.clock.run(0);
  b.close();
  w.broker.post("3-0", "4-0"); // while b reloads
  await w.clock.run(0);
  const b2 = tab(w, "b2", { share: true, storage });
  await w.clock.run(0);
  w.broker.post("5-0");
  await w.clock.run(200);
  assert.deepEqual(b.got.ids, ["1-0", "2-0"]);
  assert.deepEqual(b2.got.ids, ["3-0", "4-0", "5-0"]);
  assert.deepEqual(a.got.ids, ["1-0", "2-0", "3-0", "4-0", "5-0"]);
  assert.equal(w.broker.sockets.length, 1);
});

test("share: when the leader's connection becomes another user's, its followers neither get that user's calls nor events", async () => {
  const w = world();
  const call101 = { call_id: "k1", state: "connected", users: { 101: "connected" } };
  const call102 = { call_id: "k2", state: "connected", users: { 102: "connected" } };
  w.broker.calls = [call101];
  let user = "101";
  const a = tab(w, "a", { share: true, channelUrl: async () => ticketUrl("acme", user) });
  await w.clock.run(0);
  const b = tab(w, "b", { share: true, channelUrl: async () => ticketUrl("acme", "101") });
  await w.clock.run(0);
  w.broker.post("1-0");
  await w.clock.run(200);
  assert.deepEqual(b.got.ids, ["1-0"]);
  assert.deepEqual(b.got.calls, [[call101]]);
  // the CRM signs 102 in, in a's tab: a's next connection is 102's
  user = "102";
  w.broker.calls = (url) => (url === ticketUrl("acme", "102") ? [call102] : [call101]);
  w.broker.cursor = null; // the fake's one stream, as 102's
  const warn = mock.method(console, "warn", () => {});
  w.broker.sockets[0].serverClose(1001);
  await w.clock.run(1000);
  warn.mock.restore();
  assert.deepEqual(a.got.calls, [[call101], [call102]]);
  assert.deepEqual(a.got.ids, ["1-0", "1-0"]); // 102's stream starts afresh
  assert.deepEqual(b.got.calls, [[call101], [call101]]); // its own connection's, as 101
  const own = w.broker.sockets.filter((s) => s.owner === "b");
  assert.equal(own.length, 1);
  assert.deepEqual(registers(own[0])[0], { op: "register", limit: 100, since: "1-0" });
  w.broker.post("2-0");
  await w.clock.run(200);
  assert.deepEqual(b.got.ids, ["1-0", "2-0"]);
  assert.equal(b.storage.getItem("callrelay:last"), "acme/101\t2-0");
});

test("share: a follower the new leader cannot serve pages by itself, then follows: no false gap, nothing lost", async () => {
  const w = world();
  const a = tab(w, "a", { share: true });
  const storage = memoryStorage();
  const b = tab(w, "b", { share: true, storage });
  const c = tab(w, "c", { share: true });
  await w.clock.run(0);
  w.broker.post("1-0");
  await w.clock.run(200);
  b.close();
  w.broker.post("2-0", "3-0"); // while b reloads
  await w.clock.run(200);
  a.close(); // c leads from its last, 3-0: it does not have 2-0
  await w.clock.run(2000);
  assert.equal(w.broker.open()[0].owner, "c");
  const b2 = tab(w, "b2", { share: true, storage, limit: 1 });
  await w.clock.run(0);
  w.broker.post("4-0");
  await w.clock.run(200);
  const own = w.broker.sockets.filter((s) => s.owner === "b2");
  assert.equal(own.length, 1);
  assert.deepEqual(registers(own[0])[0], { op: "register", limit: 1, since: "1-0" });
  assert.notEqual(own[0].readyState, 1); // closed once caught up
  assert.deepEqual(b2.got.ids, ["2-0", "3-0", "4-0"]);
  assert.equal(b2.got.gaps, 0);
  assert.equal(b2.got.states.at(-1), "open");
  w.broker.post("5-0");
  await w.clock.run(200);
  assert.deepEqual(b2.got.ids, ["2-0", "3-0", "4-0", "5-0"]);
  assert.deepEqual(c.got.ids, ["1-0", "2-0", "3-0", "4-0", "5-0"]);
  assert.deepEqual(w.broker.open().map((s) => s.owner), ["c"]);
});

test("share: a leader change while a follower catches up: it asks the new leader again, nothing lost or twice", async () => {
  const w = world();
  const a = tab(w, "a", { share: true });
  await w.clock.run(0);
  const c = tab(w, "c", { share: true });
  await w.clock.run(0);
  w.broker.post("1-0", "2-0", "3-0");
  await w.clock.run(200);
  const storage = memoryStorage();
  storage.setItem("callrelay:last", "0-5"); // before a's first event: a cannot serve it
  const pending = [];
  const b = tab(w, "b", { share: true, storage, channelUrl: () => new Promise((resolve) => pending.push(resolve)) });
  await w.clock.run(0);
  assert.equal(pending.length, 1); // catching up: its own connection is on its way
  a.close(); // c leads from 3-0
  await w.clock.run(1000);
  w.broker.post("4-0");
  await w.clock.run(200);
  assert.deepEqual(b.got.ids, []);
  pending[0]("ws://broker/v1/ws?ticket=b");
  await w.clock.run(200);
  const own = w.broker.sockets.find((s) => s.owner === "b");
  assert.deepEqual(registers(own)[0], { op: "register", limit: 100, since: "0-5" });
  assert.notEqual(own.readyState, 1);
  w.broker.post("5-0");
  await w.clock.run(200);
  assert.deepEqual(b.got.ids, ["1-0", "2-0", "3-0", "4-0", "5-0"]);
  assert.deepEqual(c.got.ids, ["1-0", "2-0", "3-0", "4-0", "5-0"]);
  assert.deepEqual(w.broker.open().map((s) => s.owner), ["c"]);
  assert.equal(b.got.states.at(-1), "open");
});

test("share: a catching-up follower reports a gap only when the broker says so", async () => {
  const w = world();
  const a = tab(w, "a", { share: true });
  await w.clock.run(0);
  w.broker.post("5-0", "6-0");
  await w.clock.run(200);
  const storage = memoryStorage();
  storage.setItem("callrelay:last", "2-0"); // before the leader's first event
  w.broker.manual = true;
  const b = tab(w, "b", { share: true, storage });
  await w.clock.run(0);
  const own = w.broker.sockets.find((s) => s.owner === "b");
  assert.deepEqual(own.sent, [{ op: "register", limit: 100, since: "2-0" }]);
  own.push({ op: "register", result: { code: 0 }, events: [ev("5-0"), ev("6-0")], calls: [], gap: true });
  own.push({ op: "register", result: { code: 109 }, events: [] });
  await w.clock.run(0);
  assert.deepEqual(b.got.ids, ["5-0", "6-0"]);
  assert.equal(b.got.gaps, 1);
  assert.equal(a.got.gaps, 0);
});

test("share without Web Locks or BroadcastChannel: each tab connects by itself", async () => {
  const w = world();
  const a = tab(w, "a", { share: true, without: ["locks"] });
  const b = tab(w, "b", { share: true, without: ["BroadcastChannel"] });
  await w.clock.run(0);
  w.broker.post("1-0");
  await w.clock.run(0);
  assert.equal(w.broker.open().length, 2);
  assert.deepEqual(a.got.ids, ["1-0"]);
  assert.deepEqual(b.got.ids, ["1-0"]);
});

test("share: a new tab gets the calls in progress as they are now, not the calls that came and went", async () => {
  const w = world();
  const inProgress = { call_id: "c1", state: "appeared", users: { 101: "appeared" }, updated: "2026-11-28T11:00:00.000Z" };
  w.broker.calls = [inProgress];
  const call = (id, callId, state) => ({ ...ev(id), call_id: callId, call: { state } });
  const a = tab(w, "a", { share: true });
  await w.clock.run(0);
  w.broker.post(call("1-0", "c1", "connected"), call("2-0", "c2", "appeared"), call("3-0", "c2", "disconnected"));
  w.broker.post(call("4-0", "c3", "appeared"), ev("5-0", "record"));
  await w.clock.run(0);
  const b = tab(w, "b", { share: true });
  await w.clock.run(0);
  w.broker.post(call("6-0", "c3", "connected"));
  await w.clock.run(200);
  assert.deepEqual(a.got.ids, ["1-0", "2-0", "3-0", "4-0", "5-0", "6-0"]);
  const ts = ev("1-0").ts;
  assert.deepEqual(b.got.calls, [
    [
      { call_id: "c1", state: "connected", users: { 101: "connected" }, updated: ts, kind: "call" },
      { call_id: "c3", state: "appeared", kind: "call", updated: ts, users: { 101: "appeared" } },
    ],
  ]);
  assert.deepEqual(b.got.ids, ["6-0"]);
  assert.equal(b.storage.getItem("callrelay:last"), "6-0");
});

test("share: a reloaded follower gets the calls as they are now, not the leader's first snapshot", async () => {
  const w = world();
  const c1 = { call_id: "c1", state: "connected", users: { 101: "connected" }, updated: "2026-11-28T11:00:00.000Z" };
  const c2 = { call_id: "c2", state: "appeared", users: { 101: "appeared" }, updated: "2026-11-28T11:00:00.000Z" };
  w.broker.calls = [c1, c2];
  const a = tab(w, "a", { share: true });
  const storage = memoryStorage();
  const b = tab(w, "b", { share: true, storage });
  await w.clock.run(0);
  w.broker.calls = [];
  const rec = { ...ev("3-0", "record"), call_id: "c2", record: { status: "available", url: "https://rec/2.mp3" } };
  w.broker.post({ ...ev("1-0"), call_id: "c1", call: { state: "disconnected" } });
  w.broker.post({ ...ev("2-0"), call_id: "c2", call: { state: "on_hold", line: "7" }, user: "102" }, rec);
  // a page event older than the call's state does not turn it back
  w.broker.post({ ...ev("4-0"), call_id: "c2", call: { state: "appeared" }, ts: "2026-11-28T10:00:00.000Z" });
  await w.clock.run(200);
  b.close();
  const b2 = tab(w, "b2", { share: true, storage });
  await w.clock.run(200);
  assert.deepEqual(b.got.calls, [[c1, c2]]);
  const ts = ev("1-0").ts;
  const live = { ...c2, kind: "call", state: "on_hold", line: "7", updated: ts, users: { 101: "appeared", 102: "on_hold" }, recording: rec.record };
  assert.deepEqual(b2.got.calls, [[live]]);
  assert.deepEqual(b2.got.ids, []);
  assert.deepEqual(a.got.ids, ["1-0", "2-0", "3-0", "4-0"]);
});

test("a channelUrl that never answers times out after 10 s; its late answer is not used", async () => {
  const w = world();
  const pending = [];
  const channelUrl = () => new Promise((resolve) => pending.push(resolve));
  const t = tab(w, "a", { channelUrl });
  await w.clock.run(9999);
  assert.equal(pending.length, 1);
  await w.clock.run(1);
  const retry = w.clock.scheduled.at(-1)[1];
  assert.ok(retry <= 1000, `first retry ${retry}`);
  await w.clock.run(retry);
  assert.equal(pending.length, 2);
  pending[0]("ws://late"); // the first attempt's answer, too late
  await w.clock.run(0);
  assert.equal(w.broker.sockets.length, 0);
  pending[1]("ws://broker/v1/ws?ticket=2");
  await w.clock.run(0);
  assert.deepEqual(w.broker.sockets.map((s) => s.url), ["ws://broker/v1/ws?ticket=2"]);
  assert.deepEqual(t.got.states, ["connecting", "open"]);
});
