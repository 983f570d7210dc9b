// demo.js — the demo CRM page: one screen-pop card per call, fed by the browser module.
// Everything from an event is put in the page as text (textContent), never as HTML.
import { CallRelay } from "/client/callrelay.js";

const STORE_KEY = "callrelay-demo";
// The events this tab handled, so that a reload shows the same cards: the module will not
// deliver them again. The latest HISTORY_MAX are kept.
const HISTORY_KEY = "callrelay-demo-events";
const HISTORY_MAX = 500;
const $ = (id) => document.getElementById(id);

// Q.850 causes a PBX commonly sends, in words.
const CAUSES = {
  1: "Number does not exist",
  3: "No route to destination",
  16: "Normal clearing",
  17: "Busy",
  18: "No answer (no user responding)",
  19: "No answer",
  20: "Subscriber absent",
  21: "Call rejected",
  22: "Number changed",
  27: "Destination out of order",
  28: "Invalid number format",
  31: "Normal, unspecified",
  34: "No circuit available",
  38: "Network out of order",
  41: "Temporary failure",
  42: "Switching equipment congestion",
  44: "Requested circuit not available",
  47: "Resource unavailable",
  58: "Bearer capability not available",
  88: "Incompatible destination",
  102: "Timer expired",
  111: "Protocol error",
  127: "Interworking, unspecified",
};
// Causes that mean the call did not happen the way the user wanted (shown in warm colours).
const FAILED = new Set([1, 3, 17, 18, 19, 20, 21, 22, 27, 28, 34, 38, 41, 42, 44, 47, 58, 88, 102, 111, 127]);
const STATES = { appeared: "Ringing", connected: "Talking", on_hold: "On hold", disconnected: "Ended" };
const DIRECTIONS = { inbound: "↙ Inbound", outbound: "↗ Outbound", internal: "↔ Internal" };

// Tests read what the page delivered: window.__delivered (this page load), the history
// (every load of this tab), and a hook they may install.
window.__delivered = [];
const report = (type, data) => {
  if (typeof window.__demoReport === "function") window.__demoReport(type, data);
};

const calls = new Map(); // call_id -> { card, state, times, ... }
let relay = null;
let eventCount = 0;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const party = (p) => (p && (p.number || (p.extension && "ext " + p.extension))) || "unknown";
const clock = (ts) => (ts ? new Date(ts).toLocaleTimeString([], { hour12: false }) : "");
function span(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

// The other party: the caller of an inbound call, the callee of an outbound one.
function otherParty(c) {
  return c.direction === "outbound" ? c.to : c.from;
}

function cardFor(callId) {
  let entry = calls.get(callId);
  if (entry) return entry;
  const card = el("article", "card");
  card.dataset.callId = callId;
  const top = el("div", "card-top");
  const number = el("div", "number");
  const dir = el("span", "dir");
  const state = el("span", "state");
  top.append(number, dir, state);
  const meta = el("div", "meta");
  const cause = el("div", "cause");
  const times = el("div", "times");
  card.append(top, meta, cause, times);
  entry = { card, number, dir, state, meta, cause, times, call: {}, t: {}, recording: null };
  calls.set(callId, entry);
  $("empty")?.remove();
  $("cards").prepend(card);
  return entry;
}

function render(entry) {
  const c = entry.call;
  entry.card.dataset.state = c.state || "appeared";
  entry.number.textContent = party(otherParty(c));
  entry.dir.textContent = DIRECTIONS[c.direction] || "Call";
  const code = c.disconnect && c.disconnect.code;
  const failed = c.state === "disconnected" && FAILED.has(code);
  entry.card.classList.toggle("failed", !!failed);
  let label = STATES[c.state] || c.state;
  if (c.state === "disconnected" && c.is_group_disconnect) label = "Answered elsewhere";
  else if (failed) label = CAUSES[code];
  entry.state.textContent = label;
  const bits = ["from " + party(c.from), "to " + party(c.to)];
  if (c.line) bits.push("line " + c.line);
  if (entry.fromSnapshot) bits.push("in progress when the page opened");
  entry.meta.textContent = bits.join(" · ");
  entry.cause.replaceChildren();
  if (c.state === "disconnected" && c.disconnect) {
    const words = CAUSES[code] || c.disconnect.text || "Cause " + code;
    entry.cause.append("Cause: ", el("b", "", words), code !== undefined ? " (Q.850 " + code + ")" : "");
  }
  renderTimes(entry);
}

function renderTimes(entry) {
  const { t } = entry;
  const rows = [];
  if (t.appeared) rows.push(["Rang", clock(t.appeared)]);
  if (t.connected) rows.push(["Answered", clock(t.connected)]);
  if (t.ended) rows.push(["Ended", clock(t.ended)]);
  const end = t.ended ? Date.parse(t.ended) : Date.now();
  if (t.connected) rows.push(["Talked", span(end - Date.parse(t.connected))]);
  else if (t.appeared) rows.push([t.ended ? "Rang for" : "Ringing for", span(end - Date.parse(t.appeared))]);
  entry.times.replaceChildren(...rows.map(([k, v]) => {
    const s = el("span", "", k + " ");
    s.append(el("b", "", v));
    return s;
  }));
}

function onCall(ev) {
  const entry = cardFor(ev.call_id);
  const c = ev.call;
  entry.call = { ...entry.call, ...c };
  if (c.state !== "disconnected") delete entry.call.disconnect;
  if (c.state === "appeared" && !entry.t.appeared) entry.t.appeared = ev.ts;
  if (c.state === "connected" && !entry.t.connected) entry.t.connected = ev.ts;
  if (c.state === "disconnected") entry.t.ended = ev.ts;
  if (!entry.t.appeared) entry.t.appeared = ev.ts;
  render(entry);
}

function safeUrl(u) {
  try {
    const url = new URL(u, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function onRecord(ev) {
  const entry = cardFor(ev.call_id);
  const r = ev.record;
  if (!entry.call.state) render(entry);
  entry.recording?.remove();
  const box = el("div", "recording");
  const src = r.status === "available" && r.url && safeUrl(r.url);
  if (src) {
    const audio = el("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = src;
    box.append("Recording", audio);
    if (r.duration_s) box.append(span(r.duration_s * 1000));
  } else {
    box.append(r.status === "failed" ? "The recording failed." : "Recording available (no URL).");
  }
  entry.recording = box;
  entry.card.append(box);
}

function notice(cls, text, ts) {
  const list = $("notices");
  list.querySelector(".quiet")?.remove();
  const li = el("li", cls, text);
  li.append(el("span", "when", clock(ts || new Date().toISOString())));
  list.prepend(li);
}

function onIvr(ev) {
  const i = ev.ivr;
  notice("ivr", "IVR: " + party(i.from) + " is in the menu (" + (STATES[i.state] || i.state).toLowerCase() + ")" +
    (i.line ? " on line " + i.line : ""), ev.ts);
}

function onRouteResult(ev) {
  const r = ev.route_result;
  const ok = r.result === 0;
  notice(ok ? "route" : "route bad", "Routing " + r.command_id + (ok ? " done" : " failed (code " + r.result + ")") +
    (r.to ? " → " + party(r.to) : ""), ev.ts);
}

function onSnapshot(list) {
  for (const c of list || []) {
    if (calls.has(c.call_id)) continue;
    const entry = cardFor(c.call_id);
    entry.fromSnapshot = true;
    entry.call = { state: c.state, direction: c.direction, from: c.from, to: c.to, line: c.line, disconnect: c.disconnect };
    entry.t.appeared = c.updated;
    if (c.state === "connected") entry.t.connected = c.updated;
    render(entry);
    if (c.recording) onRecord({ call_id: c.call_id, record: c.recording });
  }
}

function banner(text, cls = "banner") {
  const b = el("div", cls, text);
  $("banners").append(b);
  return b;
}

function setState(state) {
  $("conn").dataset.state = state;
  $("conn-text").textContent = state;
}

async function channelUrl(token, extension) {
  const r = await fetch("/v1/channel", {
    method: "POST",
    headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
    body: JSON.stringify({ extension }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const msg = (body.result && body.result.message) || "HTTP " + r.status;
    showError("The broker refused the channel: " + msg);
    throw new Error(msg);
  }
  clearError();
  return body.url;
}

let errorBanner = null;
function showError(text) {
  if (!errorBanner) errorBanner = banner("", "banner error");
  errorBanner.textContent = text;
}
function clearError() {
  errorBanner?.remove();
  errorBanner = null;
}

function loadHistory() {
  try {
    return JSON.parse(sessionStorage.getItem(HISTORY_KEY) || "[]");
  } catch {
    return [];
  }
}

// Called while the module delivers: synchronous, so a reload cannot fall between the card and
// its record.
function remember(history, ev) {
  const kept = { ...ev };
  delete kept.raw; // the PBX's payload: the cards do not show it, and it can be large
  history.push(kept);
  if (history.length > HISTORY_MAX) history.splice(0, history.length - HISTORY_MAX);
  for (;;) {
    try {
      sessionStorage.setItem(HISTORY_KEY, JSON.stringify(history));
      return;
    } catch {
      if (history.length === 0) return; // storage disabled
      history.splice(0, Math.max(1, history.length >> 1)); // storage full: keep the newer half
    }
  }
}

const HANDLERS = { call: onCall, record: onRecord, ivr: onIvr, route_result: onRouteResult };

function countEvent() {
  $("count").textContent = ++eventCount + (eventCount === 1 ? " event" : " events");
}

const lastIdKey = (extension) => "callrelay-demo:last:" + extension;

function start({ token, extension }) {
  $("login").hidden = true;
  $("desk").hidden = false;
  $("who").hidden = false;
  $("who-ext").textContent = extension;
  const params = new URLSearchParams(location.search);
  relay = new CallRelay({
    channelUrl: () => channelUrl(token, extension),
    limit: Number(params.get("limit")) || 100,
    share: params.get("share") === "1",
    storageKey: lastIdKey(extension), // per user: a tab may sign in as another
  });
  const history = loadHistory();
  for (const ev of history) {
    HANDLERS[ev.kind]?.(ev);
    countEvent();
  }
  relay.on("event", (ev) => {
    window.__delivered.push(ev.id);
    remember(history, ev);
    countEvent();
    report("event", { id: ev.id, kind: ev.kind, call_id: ev.call_id });
  });
  for (const [kind, fn] of Object.entries(HANDLERS)) relay.on(kind, fn);
  relay.on("calls", (list) => {
    onSnapshot(list);
    report("calls", (list || []).map((c) => c.call_id));
  });
  relay.on("gap", () => {
    banner("Some events were removed by retention before this tab got them: the list may be incomplete.");
    report("gap", null);
  });
  relay.on("state", (s) => {
    setState(s);
    report("state", s);
  });
  relay.start();
}

function showLogin() {
  $("login").hidden = false;
  $("desk").hidden = true;
  $("who").hidden = true;
  $("token").focus();
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const creds = { token: $("token").value.trim(), extension: $("extension").value.trim() };
  sessionStorage.setItem(STORE_KEY, JSON.stringify(creds));
  start(creds);
});

$("signout").addEventListener("click", () => {
  relay?.stop();
  const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}");
  if (saved.extension) sessionStorage.removeItem(lastIdKey(saved.extension));
  sessionStorage.removeItem(STORE_KEY);
  sessionStorage.removeItem(HISTORY_KEY);
  location.reload();
});

// Ringing and talking times advance each second.
setInterval(() => {
  for (const entry of calls.values()) if (!entry.t.ended) renderTimes(entry);
}, 1000);

const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
if (saved && saved.token && saved.extension) start(saved);
else showLogin();
