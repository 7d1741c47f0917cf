// End-to-end test of the admin page in real headless Chromium (Debian's `chromium`), driven
// with playwright-core. It starts the real binary on a fresh database and walks the path a
// person takes: first-run setup -> sign in -> create a token -> use it -> revoke it -> the
// same call is refused; then webhooks: add, send a test, replay. Screenshots of every screen
// go to ../artifacts/.
//
// Usage: node admin.test.js   (SWITCHBOARD_BIN overrides ../target/debug/switchboard)
"use strict";

const { spawn } = require("node:child_process");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const readline = require("node:readline");
const { chromium } = require("playwright-core");

const ROOT = path.resolve(__dirname, "..");
const BIN = process.env.SWITCHBOARD_BIN || path.join(ROOT, "target", "debug", "switchboard");
const ARTIFACTS = path.join(ROOT, "artifacts");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PASSWORD = "a long enough password";
const DEADLINE_MS = 20_000;

function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
  console.log("ok - " + what);
}

// Starts `switchboard serve` and resolves with the setup address it logs (JSON lines).
function startServer(dir) {
  const child = spawn(BIN, ["--db", path.join(dir, "e2e.db"), "--log-format", "json", "serve",
    "--listen", "127.0.0.1:0", "--workers", "2"], { stdio: ["ignore", "ignore", "pipe"] });
  const log = fs.createWriteStream(path.join(ARTIFACTS, "server.log"));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no setup address within the deadline")), DEADLINE_MS);
    child.on("exit", (code) => reject(new Error("server exited early with " + code)));
    readline.createInterface({ input: child.stderr }).on("line", (line) => {
      log.write(line + "\n");
      let rec;
      try { rec = JSON.parse(line); } catch (e) { reject(new Error("a log line is not JSON: " + line)); return; }
      if (rec.setup_url) {
        clearTimeout(timer);
        resolve({ child, setupUrl: rec.setup_url, base: new URL(rec.setup_url).origin });
      }
    });
  });
}

// A webhook receiver on loopback that answers 200 and remembers what it got.
function startReceiver() {
  const got = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => { got.push({ id: req.headers["webhook-id"], body }); res.end("ok"); });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, got, port: server.address().port })));
}

async function apiCall(base, token) {
  const res = await fetch(base + "/api/v1/leads", { headers: { authorization: "Bearer " + token } });
  return res.status;
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(ARTIFACTS, name + ".png"), fullPage: true });
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-e2e-"));
  const { child, setupUrl, base } = await startServer(dir);
  const receiver = await startReceiver();
  const context = await chromium.launchPersistentContext(path.join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 900 },
  });
  const problems = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    // A 401 is expected (the deliberate wrong password, the signed-out probe); anything else
    // logged as an error (a CSP violation, a missing file, a script error) is a failure.
    page.on("console", (m) => {
      if (m.type() === "error" && !m.text().includes("status of 401")) problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(String(e)));
    page.setDefaultTimeout(DEADLINE_MS);

    // First run.
    check(setupUrl.startsWith(base + "/admin/setup?code="), "the server logged the setup address as a JSON line");
    await page.goto(setupUrl);
    await page.getByRole("heading", { name: "Welcome to Switchboard" }).waitFor();
    await page.getByLabel("Your email").fill("owner@example.com");
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Password again").fill(PASSWORD);
    await shot(page, "01-setup");
    await page.getByRole("button", { name: "Create admin and sign in" }).click();
    await page.getByRole("heading", { name: "API tokens" }).waitFor();
    check(!page.url().includes("code="), "the setup code left the address bar");

    // Sign out and in again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await page.getByLabel("Email").fill("owner@example.com");
    await page.getByLabel("Password").fill("wrong password!");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("The email or the password is wrong").waitFor();
    await shot(page, "02-login-error");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "API tokens" }).waitFor();
    check(true, "signed in with email and password");

    // A token, used, then revoked.
    await page.getByLabel("Name", { exact: true }).fill("Website form");
    await page.getByLabel("Read leads").check();
    await page.getByLabel("Change leads").check();
    await page.getByLabel("Expires").selectOption("30d");
    await page.getByRole("button", { name: "Create token" }).click();
    const token = (await page.locator("#new-token").textContent()).trim();
    check(/^sb_[0-9A-Za-z]{8}_[0-9A-Za-z]{48}$/.test(token), "the page shows the new token once");
    await page.getByText("you will not see this again").waitFor();
    await shot(page, "03-tokens-created");
    check(await apiCall(base, token) === 200, "the token reads /api/v1/leads (200)");
    const prefix = token.slice(3, 11);
    const row = page.locator(`tr[data-prefix="${prefix}"]`);
    await row.getByRole("button", { name: "Revoke" }).click();
    await page.getByRole("dialog").waitFor();
    await shot(page, "04-revoke-confirm");
    await page.locator("#confirm-ok").click();
    await page.getByText("is revoked").waitFor();
    await row.getByText("Revoked").waitFor();
    check(await apiCall(base, token) === 401, "after revoking on the page the same call answers 401");
    await shot(page, "05-tokens-revoked");

    // The other screens.
    await page.getByRole("link", { name: "Usage" }).click();
    await page.getByRole("heading", { name: /Requests per day/ }).waitFor();
    await shot(page, "06-usage");
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByLabel("Email").fill("agent@example.com");
    await page.getByRole("button", { name: "Add person" }).click();
    await page.getByText("agent@example.com was added.").waitFor();
    await shot(page, "07-users");
    await page.getByRole("link", { name: "Account" }).click();
    await page.getByText("API tokens work").waitFor();
    await shot(page, "08-account");

    // Webhooks: add, test, replay.
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByLabel("Address (URL)").fill(`http://127.0.0.1:${receiver.port}/hook`);
    await page.locator("input[name=event][value='lead.created']").check();
    await page.getByRole("button", { name: "Add webhook" }).click();
    const secret = (await page.locator("#new-webhook-secret").textContent()).trim();
    check(secret.startsWith("whsec_"), "the webhook secret is shown once");
    await page.getByRole("button", { name: "Send test" }).click();
    await page.getByText("A test message is on its way").waitFor();
    const delivery = page.locator("tr[data-delivery]").first();
    await delivery.waitFor();
    await delivery.getByRole("button", { name: "Send again" }).click();
    await page.getByText("Sent again with the same message id.").waitFor();
    check(true, "a delivery was replayed from the webhook screen");
    await shot(page, "09-webhooks");

    // Phone width.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole("link", { name: "Tokens" }).click();
    await page.getByRole("heading", { name: "API tokens" }).waitFor();
    await shot(page, "10-tokens-phone");
    check(problems.length === 0, "no console errors or CSP violations: " + JSON.stringify(problems));
  } finally {
    await context.close();
    receiver.server.close();
    child.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => console.log("e2e: all passed"), (e) => {
  console.error("e2e: FAILED: " + (e && e.stack || e));
  process.exit(1);
});
