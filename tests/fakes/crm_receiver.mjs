// crm_receiver.mjs — a CRM's JSON webhook endpoint: every request's Standard Webhooks signature
// is verified by the published `standardwebhooks` npm library (never by callrelay's code) with
// the integration's notify_secret, and recorded.
//
//   node tests/fakes/crm_receiver.mjs [SECRET]     (or NOTIFY_SECRET in the environment)
// Prints {"port": P, "control_port": C} on one line once both listen on 127.0.0.1.
// Webhooks: any path on P; 200 when verified, 401 when not (500 when told to fail).
// Control on C: GET /_records -> {"records": [{"t", "method", "path", "headers", "webhook_id",
// "verified", "error", "body", "json", "status"}]}; POST /_control {"fail_next": N,
// "fail": bool, "down": bool, "delay_ms": X, "reset": true} (down closes P's listener and every
// open connection; down false listens on P again).
import http from "node:http";
import { Webhook } from "standardwebhooks";

const secret = process.argv[2] || process.env.NOTIFY_SECRET;
if (!secret) {
  process.stderr.write("crm_receiver: the notify_secret is required (argument or NOTIFY_SECRET)\n");
  process.exit(2);
}
const wh = new Webhook(secret);

const state = { records: [], failNext: 0, fail: false, delayMs: 0 };
const sockets = new Set();
let port = 0;

function verify(body, headers) {
  try {
    // jsonParse false: a form or text body is signed the same way; the receiver parses it.
    wh.verify(body, {
      "webhook-id": headers["webhook-id"],
      "webhook-timestamp": headers["webhook-timestamp"],
      "webhook-signature": headers["webhook-signature"],
    }, { jsonParse: false });
    return { verified: true, error: null };
  } catch (e) {
    return { verified: false, error: String(e && e.message ? e.message : e) };
  }
}

function decide(verified) {
  if (state.failNext > 0) {
    state.failNext--;
    return 500;
  }
  if (state.fail) return 500;
  return verified ? 200 : 401;
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function answer(res, status, obj) {
  const out = JSON.stringify(obj);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(out) });
  res.end(out);
}

async function onWebhook(req, res) {
  const body = await readBody(req);
  const { verified, error } = verify(body, req.headers);
  let json = null;
  try {
    json = JSON.parse(body);
  } catch {
    json = null;
  }
  const status = decide(verified);
  const rec = {
    t: Date.now() / 1000, method: req.method, path: req.url, headers: req.headers,
    webhook_id: req.headers["webhook-id"] || null, verified, error, body, json, status,
  };
  const send = () => {
    answer(res, status, { ok: status === 200 });
    rec.t_answered = Date.now() / 1000;
    state.records.push(rec);
  };
  if (state.delayMs > 0) setTimeout(send, state.delayMs);
  else send();
}

const hooks = http.createServer((req, res) => {
  onWebhook(req, res).catch((e) => answer(res, 500, { error: String(e) }));
});
hooks.keepAliveTimeout = 30000;
hooks.on("connection", (s) => {
  sockets.add(s);
  s.on("close", () => sockets.delete(s));
});

function listen(server, p) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(p, "127.0.0.1", () => {
      server.off("error", reject);
      resolve(server.address().port);
    });
  });
}

function down() {
  if (!hooks.listening) return Promise.resolve();
  return new Promise((resolve) => {
    hooks.close(() => resolve());
    for (const s of sockets) s.destroy();
  });
}

async function up() {
  if (!hooks.listening) await listen(hooks, port);
}

const control = http.createServer(async (req, res) => {
  try {
    if (req.method === "GET" && req.url === "/_records") return answer(res, 200, { records: state.records });
    if (req.method !== "POST" || req.url !== "/_control") return answer(res, 404, { error: "GET /_records or POST /_control" });
    const c = JSON.parse((await readBody(req)) || "{}");
    if (c.reset) Object.assign(state, { records: [], failNext: 0, fail: false, delayMs: 0 });
    if ("fail_next" in c) state.failNext = Number(c.fail_next);
    if ("fail" in c) state.fail = Boolean(c.fail);
    if ("delay_ms" in c) state.delayMs = Number(c.delay_ms);
    if (c.down === true) await down();
    else if (c.down === false) await up();
    answer(res, 200, { ok: true });
  } catch (e) {
    answer(res, 400, { error: String(e) });
  }
});

port = await listen(hooks, Number(process.env.PORT || 0));
const controlPort = await listen(control, 0);
process.stdout.write(JSON.stringify({ port, control_port: controlPort }) + "\n");
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
