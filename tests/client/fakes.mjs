// Fakes for the client's unit tests: a virtual clock, a broker that speaks the websocket
// protocol of API.md over fake sockets, sessionStorage, Web Locks and BroadcastChannel.

const flush = () => new Promise((resolve) => setImmediate(resolve));

// Virtual time. Timers belong to an owner (a "tab") so that closing a tab can drop them.
export class Clock {
  constructor() {
    this.now = 0;
    this.seq = 0;
    this.timers = new Map();
    this.scheduled = []; // [owner, ms] of every timer the client set, for the backoff tests
  }

  // net: a timer of the fakes (a frame or a message on its way), not of the client
  set(fn, ms, owner, net = false) {
    const id = ++this.seq;
    this.timers.set(id, { at: this.now + Math.max(0, ms), fn, owner });
    if (!net) this.scheduled.push([owner, ms]);
    return id;
  }

  clear(id) {
    this.timers.delete(id);
  }

  dropOwner(owner) {
    for (const [id, t] of this.timers) if (t.owner === owner) this.timers.delete(id);
  }

  // Runs every timer due within ms (in time order, then in the order they were set), letting
  // promises settle between them.
  async run(ms = 0) {
    const end = this.now + ms;
    for (;;) {
      await flush();
      let next = null;
      for (const [id, t] of this.timers) {
        if (t.at <= end && (next === null || t.at < next[1].at)) next = [id, t];
      }
      if (next === null) break;
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
    }
    this.now = end;
    await flush();
  }
}

// A random generator with a seed (mulberry32), so delays are reproducible.
export function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function ev(id, kind = "call") {
  const e = {
    id,
    kind,
    integration: "acme",
    user: "101",
    call_id: `c${id}`,
    ts: "2026-11-28T12:00:00.000Z",
    source: "native",
  };
  if (kind === "call") e.call = { state: "appeared", direction: "inbound", from: { number: "5511" } };
  if (kind === "record") e.record = { status: "available", url: "https://rec/1.mp3" };
  if (kind === "ivr") e.ivr = { state: "appeared" };
  if (kind === "route_result") e.route_result = { command_id: "k1", result: 0 };
  return e;
}

function cmp(a, b) {
  const [x, y] = [a.split("-").map(BigInt), b.split("-").map(BigInt)];
  if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
  return x[1] === y[1] ? 0 : x[1] < y[1] ? -1 : 1;
}

// One user's stream and its websockets. A socket is scripted (answers like the broker) unless
// the broker is manual: then the test reads socket.sent and answers with socket.push().
export class Broker {
  constructor(clock) {
    this.clock = clock;
    this.stream = [];
    this.cursor = null;
    this.calls = []; // or url => the calls for a connection to url
    this.sockets = [];
    this.pong = true;
    this.manual = false;
    this.refuse = false; // true: sockets fail before opening
  }

  ids() {
    return this.stream.map((e) => e.id);
  }

  // Appends events (ids given in increasing order) and pushes them to live sockets.
  post(...items) {
    for (const item of items) this.stream.push(typeof item === "string" ? ev(item) : item);
    for (const s of this.sockets) if (s.live()) s.catchUp();
  }

  open() {
    return this.sockets.filter((s) => s.readyState === 1);
  }

  after(id) {
    if (id === null) return 0;
    const i = this.stream.findIndex((e) => cmp(e.id, id) > 0);
    return i < 0 ? this.stream.length : i;
  }

  // A WebSocket constructor for one tab.
  WebSocketFor(owner = "tab") {
    const broker = this;
    return class FakeWebSocket {
      constructor(url) {
        this.url = url;
        this.readyState = 0;
        this.sent = [];
        this.closedWith = null;
        this.owner = owner;
        this.pos = 0;
        this.registered = false;
        this.paging = false;
        broker.sockets.push(this);
        broker.clock.set(() => (broker.refuse ? this.serverClose(1006) : this.accept()), 0, owner, true);
      }

      accept() {
        if (this.readyState !== 0) return;
        this.readyState = 1;
        if (this.onopen) this.onopen({});
      }

      live() {
        return this.readyState === 1 && this.registered && !this.paging && !broker.manual;
      }

      // Server to client, as a later task.
      push(frame) {
        broker.clock.set(() => {
          if (this.readyState === 1 && this.onmessage) this.onmessage({ data: JSON.stringify(frame) });
        }, 0, this.owner, true);
      }

      serverClose(code = 1001) {
        if (this.readyState === 3) return;
        this.readyState = 3;
        this.closedWith = code;
        broker.clock.set(() => this.onclose && this.onclose({ code }), 0, this.owner, true);
      }

      // The tab went away: no event reaches the client any more.
      vanish() {
        this.readyState = 3;
        this.closedWith = "vanished";
      }

      close(code) {
        this.readyState = 3;
        this.closedWith = code;
      }

      send(text) {
        if (this.readyState !== 1) throw new Error("send on a socket that is not open");
        const f = JSON.parse(text);
        this.sent.push(f);
        if (!broker.manual) this.answer(f);
      }

      catchUp() {
        while (this.pos < broker.stream.length) this.push({ op: "event", event: broker.stream[this.pos++] });
      }

      answer(f) {
        if (f.op === "ping" && broker.pong) this.push({ op: "pong", result: { code: 0 } });
        if (f.op === "ack") broker.cursor = broker.cursor && cmp(broker.cursor, f.id) >= 0 ? broker.cursor : f.id;
        if (f.op !== "register") return;
        const last = broker.stream.length ? broker.stream[broker.stream.length - 1].id : "0-0";
        if (f.since !== undefined && cmp(f.since, last) > 0) {
          this.push({ op: "error", result: { code: 3101, message: "since is after the last event" } });
          return;
        }
        if (f.since !== undefined) this.pos = broker.after(f.since);
        else if (!this.registered) this.pos = broker.after(broker.cursor);
        const page = broker.stream.slice(this.pos, this.pos + (f.limit || 100));
        this.pos += page.length;
        const answer = { op: "register", result: { code: page.length ? 0 : 109 }, events: page };
        if (!this.registered) answer.calls = typeof broker.calls === "function" ? broker.calls(this.url) : broker.calls;
        this.registered = true;
        this.paging = page.length > 0;
        this.push(answer);
        if (!this.paging) this.catchUp();
      }
    };
  }
}

export function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
  };
}

// Web Locks of one browser: exclusive locks granted in request order; a closed tab's locks
// and pending requests go away.
export class Locks {
  constructor(clock) {
    this.clock = clock;
    this.held = new Map(); // name -> owner
    this.queue = [];
  }

  forTab(owner) {
    return { request: (name, opts, cb) => this.request(owner, name, cb) };
  }

  request(owner, name, cb) {
    return new Promise((resolve, reject) => {
      this.queue.push({ owner, name, cb, resolve, reject });
      this.grant();
    });
  }

  grant() {
    for (const r of [...this.queue]) {
      if (this.held.has(r.name)) continue;
      this.queue.splice(this.queue.indexOf(r), 1);
      this.held.set(r.name, r.owner);
      this.clock.set(() => {
        Promise.resolve(r.cb({ name: r.name, mode: "exclusive" })).then(
          (v) => this.release(r, v),
          (e) => this.release(r, undefined, e),
        );
      }, 0, r.owner, true);
    }
  }

  release(r, value, err) {
    if (this.held.get(r.name) !== r.owner) return;
    this.held.delete(r.name);
    if (err) r.reject(err);
    else r.resolve(value);
    this.grant();
  }

  closeTab(owner) {
    this.queue = this.queue.filter((r) => r.owner !== owner);
    for (const [name, o] of this.held) if (o === owner) this.held.delete(name);
    this.grant();
  }
}

// BroadcastChannel of one origin: messages go, cloned and as later tasks, to every other open
// channel of the same name.
export class Bus {
  constructor(clock) {
    this.clock = clock;
    this.channels = new Set();
  }

  forTab(owner) {
    const bus = this;
    return class FakeBroadcastChannel {
      constructor(name) {
        this.name = name;
        this.owner = owner;
        this.closed = false;
        bus.channels.add(this);
      }

      postMessage(msg) {
        if (this.closed) throw new Error("InvalidStateError");
        for (const c of bus.channels) {
          if (c === this || c.name !== this.name) continue;
          const data = structuredClone(msg);
          bus.clock.set(() => !c.closed && c.onmessage && c.onmessage({ data }), 0, c.owner, true);
        }
      }

      close() {
        this.closed = true;
        bus.channels.delete(this);
      }
    };
  }

  closeTab(owner) {
    for (const c of [...this.channels]) if (c.owner === owner) c.close();
  }
}

// A websocket URL with a ticket shaped as broker/hub/ticket.h signs it (the signature is not
// checked by the client).
export function ticketUrl(integration, extension, n = 1) {
  const payload = Buffer.from(`v2\n${integration}\n${extension}\n1900000000\nnonce${n}`).toString("base64url");
  return `ws://broker/v1/ws?ticket=${payload}.c2lnbmF0dXJl`;
}
