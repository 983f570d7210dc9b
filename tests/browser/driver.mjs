// driver.mjs — drives Debian's chromium with playwright-core for the browser tests
// (tests/integration/test_browser_demo.py): one JSON command per line on stdin, one JSON answer
// per line on stdout, in order. Every tab is a page of one browser context, so that they share
// an origin's Web Locks and BroadcastChannel as the tabs of one browser do.
//
//   {"cmd":"open","tab":"a","url":"http://127.0.0.1:PORT/demo"}
//   {"cmd":"login","tab":"a","token":"...","extension":"101"}
//   {"cmd":"wait","tab":"a","expr":"JS expression","ms":10000}  -> its truthy value
//   {"cmd":"eval","tab":"a","expr":"JS expression"}                   -> its value
//   {"cmd":"goto","tab":"a","url":"..."}   {"cmd":"reload","tab":"a"}   {"cmd":"close","tab":"a"}
//   {"cmd":"screenshot","tab":"a","path":"/x.png"}
//   {"cmd":"reports"}  -> every report of every tab: {tab, type, data}, in arrival order
//   {"cmd":"errors"}   -> page errors and console errors so far
//   {"cmd":"quit"}
// Answers: {"ok":true,"result":...} or {"ok":false,"error":"..."}.
import readline from "node:readline";
import { chromium } from "playwright-core";

const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--no-first-run"];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ARGS,
  timeout: 30000,
});
const context = await browser.newContext({ viewport: { width: 1240, height: 860 } });
const tabs = new Map();
const names = new Map(); // page -> tab name
const reports = [];
const errors = [];

// The demo page reports what it delivered through this hook; it survives reloads.
await context.exposeBinding("__demoReport", ({ page }, type, data) => {
  reports.push({ tab: names.get(page) || "?", type, data });
});

function tab(name) {
  const page = tabs.get(name);
  if (!page) throw new Error("no tab " + name);
  return page;
}

const commands = {
  async open({ tab: name, url }) {
    const page = await context.newPage();
    tabs.set(name, page);
    names.set(page, name);
    page.on("pageerror", (e) => errors.push(name + ": " + e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(name + ": console: " + m.text());
    });
    const resp = await page.goto(url, { waitUntil: "load" });
    return resp ? resp.status() : null;
  },
  async login({ tab: name, token, extension }) {
    const page = tab(name);
    await page.fill("#token", token);
    await page.fill("#extension", extension);
    await page.click("#login-form button[type=submit]");
    return true;
  },
  async wait({ tab: name, expr, ms }) {
    const h = await tab(name).waitForFunction(expr, null, { timeout: ms || 10000, polling: 50 });
    return h.jsonValue();
  },
  async eval({ tab: name, expr }) {
    return tab(name).evaluate(expr);
  },
  async goto({ tab: name, url }) {
    const resp = await tab(name).goto(url, { waitUntil: "load" });
    return resp ? resp.status() : null;
  },
  async reload({ tab: name }) {
    await tab(name).reload({ waitUntil: "load" });
    return true;
  },
  async close({ tab: name }) {
    await tab(name).close({ runBeforeUnload: false });
    tabs.delete(name);
    return true;
  },
  async screenshot({ tab: name, path }) {
    await tab(name).screenshot({ path, fullPage: true });
    return path;
  },
  async reports() {
    return reports;
  },
  async errors() {
    return errors;
  },
  async quit() {
    await browser.close();
    return true;
  },
};

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  if (!line.trim()) continue;
  let answer;
  try {
    const msg = JSON.parse(line);
    const fn = commands[msg.cmd];
    if (!fn) throw new Error("unknown command " + msg.cmd);
    answer = { ok: true, result: await fn(msg) };
    if (msg.cmd === "quit") {
      process.stdout.write(JSON.stringify(answer) + "\n");
      process.exit(0);
    }
  } catch (e) {
    answer = { ok: false, error: String((e && e.stack) || e) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
}
await browser.close();
