// callrelay browser client: the CallRelay class of API.md, section "Browser client".
// Dependency-free ES module. Types: callrelay.d.ts beside it.

const BACKOFF_BASE_MS = 1000;
const BACKOFF_CAP_MS = 30000;
const STABLE_MS = 10000; // a connection open this long resets the backoff
const CONNECT_TIMEOUT_MS = 10000;
const ANSWER_TIMEOUT_MS = 15000; // a register answer later than this: the connection is stuck
const PING_EVERY_MS = 25000;
const PONG_TIMEOUT_MS = 10000;
const ACK_DELAY_MS = 100; // acks are batched: at most one per this interval
const RECENT_MAX = 1000; // events a sharing leader keeps to bring a new tab up to date
const OPEN = 1; // WebSocket.OPEN
const KINDS = ["call", "record", "ivr", "route_result"];
const NAMES = new Set([...KINDS, "event", "calls", "gap", "state"]);

// Stream ids are "ms-seq": compared as two integers, never as strings ("9-0" < "10-0").
function parseId(id) {
  const m = typeof id === "string" ? /^(\d+)-(\d+)$/.exec(id) : null;
  return m ? [BigInt(m[1]), BigInt(m[2])] : null;
}

function compareIds(a, b) {
  const x = parseId(a);
  const y = parseId(b);
  if (x[0] !== y[0]) return x[0] < y[0] ? -1 : 1;
  if (x[1] !== y[1]) return x[1] < y[1] ? -1 : 1;
  return 0;
}

function validEvents(list) {
  const events = Array.isArray(list) ? list.filter((e) => e && parseId(e.id)) : [];
  return events.sort((a, b) => compareIds(a.id, b.id));
}

// Who a websocket URL connects as: "integration/extension" from the ticket's payload
// (broker/hub/ticket.h: base64url("v2\n" integration "\n" extension "\n" ...) "." signature),
// or "#HASH/extension" for token= and extension= (the token itself is not stored); null when
// the URL does not say.
function identityOf(url) {
  let q;
  try {
    q = new URL(url, "ws://localhost/").searchParams;
  } catch {
    return null;
  }
  const ticket = q.get("ticket");
  if (ticket) {
    try {
      const b64 = ticket.split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
      const [v, integration, extension] = atob(b64).split("\n");
      return v === "v2" && integration && extension ? `${integration}/${extension}` : null;
    } catch {
      return null;
    }
  }
  const extension = q.get("extension");
  return extension ? `#${fnv1a(q.get("token") || "")}/${extension}` : null;
}

function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16);
}

// The stored value: "IDENTITY\tID" (ID may be empty), or a plain "ID" (older versions, or an
// identity the URL did not give), taken as the first connection's.
function parseStored(v) {
  if (typeof v !== "string") return { who: null, last: null };
  const tab = v.indexOf("\t");
  const who = tab > 0 ? v.slice(0, tab) : null;
  const id = tab >= 0 ? v.slice(tab + 1) : v;
  return { who, last: parseId(id) ? id : null };
}

function sessionStorageOrNull() {
  try {
    return globalThis.sessionStorage || null;
  } catch {
    return null; // storage disabled (sandboxed frame, privacy settings)
  }
}

function defaultEnv() {
  const g = globalThis;
  return {
    WebSocket: g.WebSocket,
    setTimeout: (fn, ms) => g.setTimeout(fn, ms),
    clearTimeout: (t) => g.clearTimeout(t),
    random: Math.random,
    storage: sessionStorageOrNull(),
    locks: g.navigator && g.navigator.locks,
    BroadcastChannel: g.BroadcastChannel,
    window: typeof g.addEventListener === "function" ? g : null, // for pagehide
  };
}

export class CallRelay {
  // env (undocumented) replaces the browser's WebSocket, timers, random, storage, locks and
  // BroadcastChannel, for tests.
  constructor(options = {}, env = {}) {
    if (typeof options.channelUrl !== "function") {
      throw new TypeError("CallRelay: options.channelUrl must be a function returning a ws URL");
    }
    this._opt = {
      channelUrl: options.channelUrl,
      limit: Math.min(1000, Math.max(1, Math.floor(options.limit) || 100)), // the broker's bounds
      share: !!options.share,
      storageKey: options.storageKey || "callrelay:last",
    };
    this._env = { ...defaultEnv(), ...env };
    this._handlers = new Map();
    this._state = "closed";
    const stored = this._readStored();
    this._who = stored.who; // the identity the last delivered id belongs to (null: unknown)
    this._last = stored.last;
    this._started = false;
    this._stopped = false;
    this._link = null; // the websocket, when this tab holds one
    this._share = null;
    // A page that goes away (closed, reloaded, into the back/forward cache) acknowledges what
    // its handlers got, rather than leave it to the next connection to send again.
    this._onPagehide = () => this._link && this._link.flushAck();
  }

  on(name, fn) {
    if (!NAMES.has(name)) throw new TypeError(`CallRelay: unknown event name ${name}`);
    if (typeof fn !== "function") throw new TypeError("CallRelay: a handler must be a function");
    if (!this._handlers.has(name)) this._handlers.set(name, []);
    this._handlers.get(name).push(fn);
    return this;
  }

  off(name, fn) {
    const list = this._handlers.get(name);
    if (list && list.indexOf(fn) >= 0) list.splice(list.indexOf(fn), 1);
    return this;
  }

  get state() {
    return this._state;
  }

  start() {
    if (this._started || this._stopped) return this;
    this._started = true;
    const env = this._env;
    if (env.window) env.window.addEventListener("pagehide", this._onPagehide);
    if (this._opt.share && env.locks && typeof env.locks.request === "function" && env.BroadcastChannel) {
      this._share = new Share(this);
      this._share.start();
    } else {
      this._link = new Link(this);
      this._link.start();
    }
    return this;
  }

  stop() {
    if (this._stopped) return;
    this._stopped = true;
    if (this._env.window) this._env.window.removeEventListener("pagehide", this._onPagehide);
    if (this._share) this._share.stop();
    if (this._link) this._link.stop();
    this._link = null;
    this._setState("closed");
  }

  _emit(name, arg) {
    for (const fn of [...(this._handlers.get(name) || [])]) {
      try {
        fn(arg);
      } catch (err) {
        console.error(`callrelay: a "${name}" handler threw`, err);
      }
    }
  }

  _setState(state) {
    if (state === this._state || (this._stopped && state !== "closed")) return;
    this._state = state;
    this._emit("state", state);
    if (this._share) this._share.relay({ t: "state", state });
  }

  _calls(calls) {
    if (this._stopped) return;
    this._emit("calls", calls);
    if (this._share) this._share.onCalls(calls);
  }

  _gap() {
    if (this._stopped) return;
    this._emit("gap");
    if (this._share) this._share.relay({ t: "gap" });
  }

  // Hands each event to the handlers once, in id order: an id not above the last delivered one
  // was delivered before (a reconnect, another tab, a reload) and is dropped.
  _deliver(events) {
    const delivered = [];
    for (const e of validEvents(events)) {
      if (this._stopped) break;
      if (this._last !== null && compareIds(e.id, this._last) <= 0) continue;
      if (KINDS.includes(e.kind)) this._emit(e.kind, e);
      this._emit("event", e);
      this._last = e.id;
      this._writeLast();
      delivered.push(e);
    }
    if (delivered.length === 0) return;
    if (this._link) this._link.ack(this._last);
    if (this._share) this._share.onDelivered(delivered);
  }

  // A connection's identity: when it is not the one the last id belongs to (another user signed
  // in, in this tab), that id means nothing for this user's stream: it is forgotten, so that the
  // connection registers without since and de-duplication starts afresh.
  _identify(who) {
    if (who === null || who === this._who) return;
    const changed = this._who !== null;
    this._who = who;
    if (changed) this._forget();
    else this._writeLast();
  }

  _forget() {
    this._last = null;
    this._writeLast();
    if (this._link) this._link.forget();
    if (this._share) this._share.onForget();
  }

  _readStored() {
    try {
      return parseStored(this._env.storage && this._env.storage.getItem(this._opt.storageKey));
    } catch {
      return parseStored(null);
    }
  }

  _writeLast() {
    const key = this._opt.storageKey;
    const last = this._last === null ? "" : this._last;
    try {
      if (!this._env.storage) return;
      if (this._who !== null) this._env.storage.setItem(key, `${this._who}\t${last}`);
      else if (last !== "") this._env.storage.setItem(key, last);
      else this._env.storage.removeItem(key);
    } catch {
      // storage full or disabled: resuming after a reload falls back to the user's cursor
    }
  }
}

// One websocket at a time, reconnected with backoff until stop().
class Link {
  constructor(owner) {
    this.o = owner;
    this.env = owner._env;
    this.attempt = 0; // failed connections in a row: the backoff's exponent
    this.tries = 0; // connection attempts: tells a late channelUrl answer from the current one
    this.ws = null;
    this.stopped = false;
    this.timers = {};
    this.ackWanted = null; // the last delivered id, to acknowledge
    this.acked = null;
    this.caughtUp = null; // called when a connection's paging ends
  }

  start() {
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.flushAck();
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) closeQuietly(ws, 1000);
  }

  timer(name, ms, fn) {
    this.clearTimer(name);
    this.timers[name] = this.env.setTimeout(() => {
      delete this.timers[name];
      fn();
    }, ms);
  }

  clearTimer(name) {
    if (name in this.timers) this.env.clearTimeout(this.timers[name]);
    delete this.timers[name];
  }

  clearTimers() {
    for (const name of Object.keys(this.timers)) this.clearTimer(name);
  }

  async connect() {
    if (this.stopped) return;
    this.o._setState("connecting");
    // One deadline for the URL and the opening: a fetch can hang for minutes.
    const attempt = ++this.tries;
    this.timer("connect", CONNECT_TIMEOUT_MS, () => {
      this.tries++; // a URL that comes after this is not used
      this.drop();
    });
    let url;
    try {
      url = await this.o._opt.channelUrl();
      if (typeof url !== "string" || url === "") throw new TypeError(`channelUrl gave ${url}, not a URL`);
    } catch (err) {
      if (attempt !== this.tries || this.stopped) return;
      console.error("callrelay: channelUrl failed", err);
      return this.drop();
    }
    if (attempt !== this.tries || this.stopped) return;
    this.o._identify(identityOf(url));
    let ws;
    try {
      ws = new this.env.WebSocket(url);
    } catch (err) {
      console.error("callrelay: cannot open websocket", err);
      return this.drop();
    }
    this.ws = ws;
    this.registered = false; // got the first register answer on this socket
    this.paging = false;
    this.held = [];
    ws.onopen = () => this.ws === ws && this.opened();
    ws.onmessage = (m) => this.ws === ws && this.frame(m.data);
    ws.onclose = () => this.ws === ws && this.drop();
    ws.onerror = () => {}; // a close follows
  }

  // The socket is dead or useless: forget it and connect again later.
  drop() {
    const ws = this.ws;
    this.ws = null;
    this.clearTimers();
    if (ws) closeQuietly(ws, 1000);
    this.retry();
  }

  // Full jitter: a random delay in [0, min(cap, base * 2^attempt)].
  retry() {
    if (this.stopped) return;
    this.o._setState("connecting");
    const bound = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 20);
    this.timer("retry", Math.floor(this.env.random() * bound), () => this.connect());
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  opened() {
    this.clearTimer("connect");
    this.timer("stable", STABLE_MS, () => (this.attempt = 0));
    this.schedulePing();
    this.register(this.o._last);
  }

  register(since) {
    this.paging = true;
    this.sinceSent = since;
    const frame = { op: "register", limit: this.o._opt.limit };
    if (since !== null) frame.since = since;
    this.send(frame);
    this.timer("answer", ANSWER_TIMEOUT_MS, () => {
      console.warn("callrelay: no register answer, reconnecting");
      this.drop();
    });
  }

  schedulePing() {
    this.timer("ping", PING_EVERY_MS, () => {
      this.send({ op: "ping" });
      this.timer("pong", PONG_TIMEOUT_MS, () => this.drop());
    });
  }

  frame(data) {
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if (!f || typeof f !== "object") return;
    if (f.op === "pong") {
      this.clearTimer("pong");
      this.schedulePing();
    } else if (f.op === "register") {
      this.page(f);
    } else if (f.op === "event" && f.event) {
      // The broker holds live events while a tab pages; should one come early anyway, it
      // waits here so that it cannot overtake the pages.
      if (this.paging) this.held.push(f.event);
      else this.o._deliver([f.event]);
    } else if (f.op === "error") {
      this.error(f.result || {});
    }
  }

  page(f) {
    this.clearTimer("answer");
    const code = f.result && f.result.code; // 0 or 109: a refused register is an error frame
    if (!this.registered) {
      this.registered = true;
      this.o._setState("open");
      if (Array.isArray(f.calls)) this.o._calls(f.calls);
    }
    if (f.gap) this.o._gap();
    this.o._deliver(f.events);
    if (this.stopped || !this.ws) return;
    if (code === 0) {
      this.register(null); // the next page, after this one
      return;
    }
    this.paging = false;
    const held = this.held;
    this.held = [];
    this.o._deliver(held);
    this.flushAck();
    if (this.caughtUp && !this.stopped) this.caughtUp();
  }

  error(result) {
    // A since after the stream's last id (the user was deleted and created again, or its
    // stream expired) is refused with 3101: start again from the user's cursor.
    // Its ids are not this stream's: de-duplication starts afresh.
    if (this.paging && !this.registered && this.sinceSent !== null && result.code === 3101) {
      console.warn("callrelay: the broker refused since, registering without it");
      this.o._forget();
      return this.register(null);
    }
    // A refused register (storage trouble: 5000, 5003) leaves the broker paging this session
    // and holding its live events: only a new connection, resuming with since, gets them.
    if (this.paging) {
      console.warn("callrelay: register refused, reconnecting", result);
      return this.drop();
    }
    console.warn("callrelay: error frame", result);
  }

  // The ids acknowledged so far were of another stream.
  forget() {
    this.clearTimer("ack");
    this.ackWanted = this.acked = null;
  }

  ack(id) {
    this.ackWanted = id;
    if (!("ack" in this.timers)) this.timer("ack", ACK_DELAY_MS, () => this.flushAck());
  }

  flushAck() {
    this.clearTimer("ack");
    const id = this.ackWanted;
    if (id === null || !this.registered) return; // an ack before register is refused
    if (this.acked !== null && compareIds(id, this.acked) <= 0) return;
    if (this.send({ op: "ack", id })) this.acked = id;
  }
}

function closeQuietly(ws, code) {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  try {
    ws.close(code);
  } catch {
    // already closed
  }
}

// share: true. The tab holding the Web Lock is the leader: it holds the websocket and relays
// what it delivers over a BroadcastChannel; the others deliver from the channel. Messages:
//   {t:"hello", from, last}      a tab that starts (or sees a new leader before being synced)
//   {t:"sync", to, state, calls, events, own}   the leader's answer: the events after `last`;
//                                own: true when the leader does not have them all: the tab
//                                pages them by itself, then follows
//   {t:"lead"}                   a tab became leader
//   {t:"events", events} {t:"calls", calls} {t:"gap"} {t:"state", state}   relayed as delivered
// Every message of the leader carries `who`, its identity (null: not known yet). A tab whose own
// is another (another user signed in, in that tab) leaves sharing and connects by itself: no user
// gets another's events or calls.
class Share {
  constructor(owner) {
    this.o = owner;
    this.env = owner._env;
    this.id = Math.floor(this.env.random() * 2 ** 52).toString(36);
    this.leader = false;
    this.left = false; // this tab left sharing: its own Link delivers
    this.synced = false;
    this.catching = false; // paging with its own Link before following (sync said own)
    this.reled = false; // a new leader came while catching up
    this.leaderState = "connecting";
    this.held = []; // relayed events that came before this tab's sync
    this.release = null;
    this.recent = []; // leader: the events delivered since it leads, at most RECENT_MAX
    this.recentFrom = null; // leader: recent holds every event after this id (null: unknown)
    this.calls = null; // leader: call_id -> the call, its first register answer's calls kept live
  }

  start() {
    const key = this.o._opt.storageKey;
    this.ch = new this.env.BroadcastChannel(key);
    this.ch.onmessage = (m) => this.message(m.data);
    this.o._setState("connecting");
    this.post({ t: "hello", from: this.id, last: this.o._last });
    Promise.resolve(this.env.locks.request(`${key}:leader`, { mode: "exclusive" }, () => this.lead())).catch(
      (err) => console.error("callrelay: cannot take the leader lock", err),
    );
  }

  stop() {
    if (this.leader) this.post({ t: "state", state: "connecting" }); // another tab takes over
    this.leader = false;
    if (this.release) this.release();
    this.release = null;
    if (this.ch) this.ch.close();
  }

  // Runs while this tab holds the lock; the lock is released when the promise settles.
  lead() {
    if (this.o._stopped || this.left) return undefined;
    if (this.catching) this.o._link.stop();
    this.catching = false;
    this.leader = true;
    this.held = [];
    this.recentFrom = this.o._last;
    this.post({ t: "lead" });
    this.o._link = new Link(this.o);
    this.o._link.start();
    return new Promise((resolve) => (this.release = resolve));
  }

  post(msg) {
    try {
      this.ch.postMessage(this.leader ? { ...msg, who: this.o._who } : msg);
    } catch {
      // channel closed
    }
  }

  relay(msg) {
    if (this.leader) this.post(msg);
  }

  // Leader: the last id was forgotten (another user, another stream): what it kept is of the
  // one before, and what it delivers next does not follow it.
  onForget() {
    if (!this.leader) return;
    this.recent = [];
    this.recentFrom = null;
    this.calls = null;
  }

  // Follower: whether a message of the leader is for this tab's user. An unknown identity on
  // either side is taken as the same (a new tab takes the leader's).
  mine(m) {
    const who = typeof m.who === "string" && m.who !== "" ? m.who : null;
    if (who === null || who === this.o._who) return true;
    if (this.o._who === null) {
      this.o._who = who;
      this.o._writeLast();
      return true;
    }
    this.leave();
    return false;
  }

  leave() {
    this.left = true;
    this.synced = false;
    this.held = [];
    if (this.ch) this.ch.close();
    if (this.release) this.release();
    this.release = null;
    if (this.catching) this.o._link.caughtUp = null; // it goes on by itself
    this.catching = false;
    if (this.o._link) return;
    this.o._link = new Link(this.o);
    this.o._link.start();
  }

  // The leader does not have every event after this tab's last: page them with a Link of its
  // own (the broker says when some are gone: gap), holding the leader's meanwhile, then close it
  // and follow. Its pages end at or after the leader's last at the sync; the held events follow
  // on from there, so nothing falls between (and what both have is delivered once).
  // A new leader meanwhile resumed from its own last, not the old one's: ask it again.
  catchUp() {
    this.catching = true;
    this.reled = false;
    const link = new Link(this.o);
    link.caughtUp = () => {
      link.stop();
      this.o._link = null;
      this.catching = false;
      if (this.reled) return this.post({ t: "hello", from: this.id, last: this.o._last });
      this.synced = true;
      this.o._setState(this.leaderState);
      this.o._deliver(this.held);
      this.held = [];
    };
    this.o._link = link;
    link.start();
  }

  onCalls(calls) {
    if (!this.leader) return;
    this.calls = new Map();
    for (const c of calls) if (c && typeof c.call_id === "string") this.calls.set(c.call_id, c);
    this.post({ t: "calls", calls });
  }

  onDelivered(events) {
    if (!this.leader) return;
    for (const e of events) this.applyCall(e);
    this.recent.push(...events);
    const cut = this.recent.length - RECENT_MAX;
    if (cut > 0) {
      this.recentFrom = this.recent[cut - 1].id;
      this.recent.splice(0, cut);
    }
    this.post({ t: "events", events });
  }

  // Keeps the calls a syncing tab gets as they are now, not as the connection began (possibly
  // hours ago): a call event updates its call, "disconnected" removes it; a record event adds
  // the recording. An event older than the call's state (a missed page) does not turn it back.
  applyCall(e) {
    if (!this.calls || typeof e.call_id !== "string") return;
    const cur = this.calls.get(e.call_id);
    if (cur && typeof cur.updated === "string" && typeof e.ts === "string" && e.ts < cur.updated) return;
    if (e.record && cur) {
      this.calls.set(e.call_id, { ...cur, recording: { ...cur.recording, ...e.record } });
      return;
    }
    const leg = e.call || e.ivr;
    if (!leg || typeof leg.state !== "string") return;
    if (leg.state === "disconnected") {
      this.calls.delete(e.call_id);
      return;
    }
    const next = { ...cur, call_id: e.call_id, kind: e.kind, state: leg.state, updated: e.ts };
    for (const k of ["direction", "from", "to", "line"]) if (leg[k] !== undefined) next[k] = leg[k];
    next.users = { ...(cur && cur.users), [e.user]: leg.state };
    this.calls.set(e.call_id, next);
  }

  message(m) {
    if (!m || typeof m !== "object" || this.o._stopped || this.left) return;
    if (this.leader) {
      if (m.t === "hello") this.post(this.syncFor(m));
      return;
    }
    if (m.t !== "hello" && !this.mine(m)) return;
    if (m.t === "state" || m.t === "sync") this.leaderState = m.state === "open" ? "open" : "connecting";
    if (m.t === "sync" && m.to === this.id && !this.synced && !this.catching) {
      if (m.own) return this.catchUp();
      this.synced = true;
      this.o._setState(this.leaderState);
      if (Array.isArray(m.calls)) this.o._emit("calls", m.calls);
      this.o._deliver(m.events);
      this.o._deliver(this.held);
      this.held = [];
    } else if (m.t === "lead" && !this.synced) {
      if (this.catching) this.reled = true;
      else this.post({ t: "hello", from: this.id, last: this.o._last });
    } else if (m.t === "events") {
      if (this.synced) this.o._deliver(m.events);
      else this.held.push(...validEvents(m.events));
    } else if (m.t === "calls" && this.synced) {
      this.o._emit("calls", m.calls);
    } else if (m.t === "gap" && this.synced) {
      this.o._emit("gap");
    } else if (m.t === "state" && !this.catching) {
      this.o._setState(this.leaderState);
    }
  }

  // What a tab that delivered up to `last` needs: the calls in progress and the events after
  // `last`. A new tab (no last) is like a new connection after the leader's acks: the calls in
  // progress (kept live, so they already hold what the events before told) and what is new.
  // recent is every event after recentFrom, or (unknown) after its first one's predecessor: the
  // leader's deliveries have no holes; a `last` before that is not served from here.
  syncFor({ from, last }) {
    const known = parseId(last) ? last : null;
    const from0 = this.recentFrom !== null ? this.recentFrom : this.recent.length ? this.recent[0].id : null;
    const sync = { t: "sync", to: from, state: this.o._state };
    if (known !== null && (from0 === null || compareIds(known, from0) < 0)) return { ...sync, own: true };
    const events = known === null ? [] : this.recent.filter((e) => compareIds(e.id, known) > 0);
    return { ...sync, calls: this.calls && [...this.calls.values()], events };
  }
}
