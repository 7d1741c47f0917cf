// Switchboard admin page: plain JavaScript, no build step, no outside resources.
// Talks only to /admin/api/. Builds the DOM with textContent (never HTML strings from data).
"use strict";

const state = { me: null, csrf: null, tokens: [], users: [] };
const SCOPE_GROUPS = ["leads", "jobs", "invoices", "appointments"];

// ---------- small helpers ----------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const $ = (sel) => document.querySelector(sel);
const main = () => $("#main");

function say(text, kind) {
  const s = $("#status");
  s.textContent = text;
  s.className = "status " + (kind || "ok");
  s.hidden = false;
}
function clearSay() { $("#status").hidden = true; }

class ApiError extends Error {
  constructor(problem, status) {
    const msgs = (problem.errors || []).map((e) => e.message);
    super(msgs.length ? capital(msgs.join("; ")) : (problem.detail || problem.title || "Something went wrong (" + status + ")."));
    this.status = status;
    this.code = problem.code;
  }
}
function capital(s) { return s ? s[0].toUpperCase() + s.slice(1) : s; }

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && state.csrf) headers["x-csrf-token"] = state.csrf;
  let res;
  try {
    res = await fetch("/admin/api" + path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError({ detail: "The server could not be reached. Is it running?" }, 0);
  }
  if (res.status === 204) return null;
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    if (res.status === 401 && data.code === "login_required" && state.me) {
      state.me = null;
      state.csrf = null;
      showLogin("Your session ended. Please sign in again.");
    }
    throw new ApiError(data, res.status);
  }
  return data;
}

// Runs an action, shows its success or its readable error, and re-enables the button.
async function act(button, fn, success) {
  if (button) button.disabled = true;
  clearSay();
  try {
    const out = await fn();
    if (success) say(typeof success === "function" ? success(out) : success, "ok");
    return out;
  } catch (e) {
    say(e.message, "error");
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

function confirmDialog(title, body, okLabel) {
  const d = $("#confirm");
  $("#confirm-title").textContent = title;
  const b = $("#confirm-body");
  b.replaceChildren(...(Array.isArray(body) ? body : [h("p", {}, body)]));
  $("#confirm-ok").textContent = okLabel || "Yes";
  d.returnValue = "";
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.showModal();
  });
}

function when(iso) {
  if (!iso) return "never";
  const t = new Date(iso);
  const s = Math.round((Date.now() - t.getTime()) / 1000);
  const a = Math.abs(s);
  const unit = a < 60 ? [a, "second"] : a < 3600 ? [Math.round(a / 60), "minute"] :
    a < 86400 ? [Math.round(a / 3600), "hour"] : [Math.round(a / 86400), "day"];
  const txt = unit[0] + " " + unit[1] + (unit[0] === 1 ? "" : "s");
  return s >= 0 ? txt + " ago" : "in " + txt;
}
function date(iso) { return iso ? new Date(iso).toLocaleString() : "—"; }
function timeEl(iso) { return iso ? h("time", { datetime: iso, title: date(iso) }, when(iso)) : "never"; }
const STATUS_WORDS = { active: "Active", expiring_soon: "Expiring soon", expired: "Expired", revoked: "Revoked", rotated: "Replaced" };
function badge(word, cls) { return h("span", { class: "badge " + (cls || word) }, STATUS_WORDS[word] || capital(word)); }
function lines(text) { return text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean); }
function cell(label, ...kids) { return h("td", { "data-label": label }, ...kids); }
function table(headers, rows, empty) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("div", { class: "table-wrap" }, h("table", { class: "stack" },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows)));
}
function copyButton(text) {
  return h("button", { type: "button", class: "secondary", onclick: async (ev) => {
    try { await navigator.clipboard.writeText(text); say("Copied to the clipboard."); }
    catch (e) { say("Copying is blocked here: select the text and copy it by hand.", "error"); }
    ev.target.focus();
  } }, "Copy");
}
function secretBox(title, value, id, extra) {
  return h("section", { class: "card secret", "aria-live": "polite" },
    h("h2", {}, title),
    h("p", {}, h("strong", {}, "Copy it now: you will not see this again."), " ", extra || ""),
    h("code", { class: "value", id }, value),
    h("div", { class: "actions" }, copyButton(value)));
}

// ---------- sign-in and first run ----------
function showSetup(code) {
  document.title = "Set up Switchboard";
  $("#nav").hidden = true;
  const err = h("p", { class: "error-text", role: "alert" });
  const form = h("form", { class: "card narrow", onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    const f = ev.target;
    if (f.password.value !== f.password2.value) { err.textContent = "The two passwords differ."; return; }
    try {
      const out = await api("POST", "/setup", { code, email: f.email.value, name: f.name.value, password: f.password.value });
      state.csrf = out.csrf_token;
      history.replaceState(null, "", "/admin/#tokens");
      await start();
      say("Welcome! You are the first admin. Create a token for your first app below.");
    } catch (e) { err.textContent = e.message; }
  } },
  h("h1", {}, "Welcome to Switchboard"),
  h("p", {}, "Create the first admin. This person can make API tokens, add people and connect webhooks."),
  h("label", { for: "s-email" }, "Your email"),
  h("input", { id: "s-email", name: "email", type: "email", required: true, autocomplete: "username" }),
  h("label", { for: "s-name" }, "Your name (optional)"),
  h("input", { id: "s-name", name: "name", type: "text", autocomplete: "name" }),
  h("label", { for: "s-pw" }, "Password"),
  h("p", { class: "hint", id: "s-pw-hint" }, "At least 10 characters. A short sentence is easy to remember."),
  h("input", { id: "s-pw", name: "password", type: "password", required: true, minlength: 10, autocomplete: "new-password", "aria-describedby": "s-pw-hint" }),
  h("label", { for: "s-pw2" }, "Password again"),
  h("input", { id: "s-pw2", name: "password2", type: "password", required: true, minlength: 10, autocomplete: "new-password" }),
  err,
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Create admin and sign in")));
  main().replaceChildren(form);
  $("#s-email").focus();
}

function showLogin(message) {
  document.title = "Sign in · Switchboard";
  $("#nav").hidden = true;
  $("#logout").hidden = true;
  $("#who").textContent = "";
  const err = h("p", { class: "error-text", role: "alert" }, message || "");
  const form = h("form", { class: "card narrow", onsubmit: async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    const f = ev.target;
    try {
      const out = await api("POST", "/login", { email: f.email.value, password: f.password.value });
      state.csrf = out.csrf_token;
      await start();
    } catch (e) { err.textContent = e.message; }
  } },
  h("h1", {}, "Sign in"),
  h("label", { for: "l-email" }, "Email"),
  h("input", { id: "l-email", name: "email", type: "email", required: true, autocomplete: "username" }),
  h("label", { for: "l-pw" }, "Password"),
  h("input", { id: "l-pw", name: "password", type: "password", required: true, autocomplete: "current-password" }),
  err,
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign in")));
  main().replaceChildren(form);
  $("#l-email").focus();
}

async function start() {
  const params = new URLSearchParams(location.search);
  if (location.pathname.endsWith("/setup") && params.get("code")) {
    const st = await api("GET", "/setup").catch(() => ({ setup_required: true }));
    if (st.setup_required) return showSetup(params.get("code"));
    history.replaceState(null, "", "/admin/");
  }
  try {
    state.me = await api("GET", "/me");
  } catch (e) {
    const st = await api("GET", "/setup").catch(() => ({}));
    return showLogin(st.setup_required ? "No admin exists yet: open the setup address the server printed when it started." : "");
  }
  state.csrf = state.me.csrf_token;
  $("#who").textContent = state.me.email + " (" + state.me.role + ")";
  $("#logout").hidden = false;
  $("#nav").hidden = false;
  for (const a of document.querySelectorAll("#nav [data-admin]")) a.hidden = state.me.role !== "admin";
  route();
}

// ---------- routing ----------
const SCREENS = { tokens: screenTokens, usage: screenUsage, users: screenUsers, webhooks: screenWebhooks, account: screenAccount };
async function route() {
  if (!state.me) return;
  let name = location.hash.replace(/^#/, "").split("/")[0] || "tokens";
  if (!SCREENS[name] || (state.me.role !== "admin" && !["tokens", "usage"].includes(name))) name = "tokens";
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.screen === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  document.title = capital(name) + " · Switchboard";
  try {
    await SCREENS[name]();
  } catch (e) {
    main().replaceChildren(h("p", { class: "error-text", role: "alert" }, e.message));
  }
}
window.addEventListener("hashchange", () => { clearSay(); route().then(() => main().focus()); });
document.addEventListener("DOMContentLoaded", () => {
  $("#logout").addEventListener("click", async () => {
    await api("POST", "/logout").catch(() => null);
    state.me = null; state.csrf = null;
    showLogin("You are signed out.");
  });
  start();
});

// ---------- tokens ----------
function scopePicker(allowed) {
  return h("fieldset", {}, h("legend", {}, "What may it do?"),
    h("p", { class: "hint" }, "Read lets an app look at records; change lets it create, edit and delete them. Tick only what it needs."),
    h("div", { class: "scopes" }, SCOPE_GROUPS.map((g) => h("fieldset", {}, h("legend", {}, capital(g)),
      ["read", "write"].map((v) => {
        const s = g + ":" + v;
        return h("label", { class: "check" }, h("input", { type: "checkbox", name: "scope", value: s, disabled: !allowed.includes(s) }),
          v === "read" ? "Read " + g : "Change " + g);
      })))));
}

function tokenForm(onCreated) {
  const allowed = state.me.scopes;
  const customAt = h("input", { type: "datetime-local", id: "t-expiry-at", name: "expiry_at", hidden: true, "aria-label": "Expiry date and time" });
  const userSelect = state.me.role === "admin" && state.users.length > 1
    ? [h("label", { for: "t-user" }, "For whom"),
      h("select", { id: "t-user", name: "user_id" }, state.users.filter((u) => !u.disabled).map((u) =>
        h("option", { value: u.id, selected: u.id === state.me.user_id }, u.email + (u.name ? " (" + u.name + ")" : ""))))]
    : [];
  const form = h("form", { class: "card", id: "token-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const scopes = [...f.querySelectorAll("input[name=scope]:checked")].map((i) => i.value);
    const body = { name: f.name.value, scopes };
    const preset = f.expiry.value;
    if (preset === "custom") {
      if (!f.expiry_at.value) { say("Pick the expiry date, or another choice.", "error"); return; }
      body.expires_at = new Date(f.expiry_at.value).toISOString();
    } else if (preset !== "none") body.expires_in = preset;
    const ips = lines(f.allow_ips.value);
    if (ips.length) body.allow_ips = ips;
    const limits = lines(f.limits.value);
    if (limits.length) body.limits = limits;
    if (f.user_id) body.user_id = Number(f.user_id.value);
    const out = await act(f.querySelector("button[type=submit]"), () => api("POST", "/tokens", body));
    if (out) { f.reset(); customAt.hidden = true; onCreated(out); }
  } },
  h("h2", {}, "Create a token"),
  h("p", { class: "hint" }, "A token lets one app or script use the API. Make one per app, so you can switch one off without breaking the others."),
  h("label", { for: "t-name" }, "Name"),
  h("input", { id: "t-name", name: "name", type: "text", required: true, maxlength: 100, placeholder: "e.g. Website contact form" }),
  userSelect,
  scopePicker(allowed),
  h("fieldset", {}, h("legend", {}, "Expires"),
    h("div", { class: "row" },
      h("select", { name: "expiry", id: "t-expiry", "aria-label": "Expires", onchange: (ev) => { customAt.hidden = ev.target.value !== "custom"; } },
        h("option", { value: "7d" }, "In 7 days"), h("option", { value: "30d" }, "In 30 days"),
        h("option", { value: "90d", selected: true }, "In 90 days"), h("option", { value: "custom" }, "On a date I choose"),
        h("option", { value: "none" }, "Never (not recommended)")),
      customAt)),
  h("label", { for: "t-ips" }, "Only from these addresses (optional)"),
  h("p", { class: "hint" }, "One IP address or range per line, e.g. 203.0.113.7 or 10.0.0.0/8. Empty: from anywhere."),
  h("textarea", { id: "t-ips", name: "allow_ips", rows: 2, spellcheck: "false" }),
  h("label", { for: "t-limits" }, "Rate limits (optional)"),
  h("p", { class: "hint" }, "Calls per window, e.g. 5/1s or 100/1m. Empty: the server's defaults (" + state.me.default_limits.join(", ") + ")."),
  h("input", { id: "t-limits", name: "limits", type: "text", spellcheck: "false" }),
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Create token")));
  return form;
}

async function screenTokens() {
  if (state.me.role === "admin") state.users = await api("GET", "/users");
  state.tokens = await api("GET", "/tokens");
  const shown = h("div", { id: "new-secret" });
  const list = h("section", { class: "card", id: "token-list" });
  const refresh = async () => { state.tokens = await api("GET", "/tokens"); renderTokenList(list, refresh, shown); };
  const form = tokenForm(async (created) => {
    shown.replaceChildren(secretBox("Token “" + created.name + "” is ready", created.token, "new-token",
      "Paste it into the app's settings. It is sent as: Authorization: Bearer <token>."));
    await refresh();
    shown.querySelector("button").focus();
  });
  main().replaceChildren(h("h1", {}, "API tokens"), shown, form, list);
  renderTokenList(list, refresh, shown);
}

function renderTokenList(list, refresh, shown) {
  const rows = state.tokens.map((t) => {
    const live = t.status === "active" || t.status === "expiring_soon";
    return h("tr", { "data-prefix": t.prefix },
      cell("Prefix", h("code", {}, t.prefix)),
      cell("Name", t.name),
      cell("User", t.user),
      cell("Scopes", t.scopes.join(", ")),
      cell("Created", timeEl(t.created_at)),
      cell("Expires", t.expires_at ? timeEl(t.expires_at) : "never"),
      cell("Last used", t.last_used_at ? [timeEl(t.last_used_at), t.last_used_ip ? " from " + t.last_used_ip : ""] : "never"),
      cell("Status", badge(t.status)),
      cell("", live ? h("div", { class: "actions" },
        h("button", { type: "button", class: "small secondary", onclick: (ev) => rotateToken(ev.target, t, refresh, shown) }, "Replace"),
        h("button", { type: "button", class: "small danger", onclick: (ev) => revokeToken(ev.target, t, refresh) }, "Revoke")) : ""));
  });
  list.replaceChildren(h("h2", {}, "Tokens"),
    table(["Prefix", "Name", "User", "Scopes", "Created", "Expires", "Last used", "Status", ""], rows, "No tokens yet."));
}

async function revokeToken(button, t, refresh) {
  const ok = await confirmDialog("Revoke “" + t.name + "”?",
    "Apps using this token stop working at once. This cannot be undone.", "Revoke");
  if (!ok) return button.focus();
  const out = await act(button, () => api("POST", "/tokens/" + t.id + "/revoke"), "Token " + t.prefix + " is revoked: it no longer works.");
  if (out) await refresh();
}

async function rotateToken(button, t, refresh, shown) {
  const grace = h("select", { id: "grace" },
    h("option", { value: "none" }, "Stop the old token now"), h("option", { value: "1h" }, "Keep the old one working for 1 hour"),
    h("option", { value: "24h" }, "… for 24 hours"), h("option", { value: "7d" }, "… for 7 days"));
  const ok = await confirmDialog("Replace “" + t.name + "”?", [
    h("p", {}, "A new token with the same permissions is made. Put it in the app, then the old one stops."),
    h("label", { for: "grace" }, "The old token"), grace], "Replace");
  if (!ok) return button.focus();
  const out = await act(button, () => api("POST", "/tokens/" + t.id + "/rotate", { grace: grace.value }));
  if (out) {
    shown.replaceChildren(secretBox("New token for “" + out.name + "”", out.token, "new-token"));
    await refresh();
    shown.querySelector("button").focus();
  }
}

// ---------- usage ----------
async function screenUsage() {
  const tokens = await api("GET", "/tokens");
  const pick = h("select", { id: "u-token" }, tokens.map((t) => h("option", { value: t.id }, t.name + " (" + t.prefix + ")")));
  const chart = h("section", { class: "card", id: "usage-chart" });
  const audit = h("section", { class: "card", id: "audit" });
  const wanted = location.hash.split("/")[1];
  if (wanted) pick.value = wanted;
  const show = async () => {
    if (!tokens.length) { chart.replaceChildren(h("p", { class: "muted" }, "No tokens yet.")); return; }
    const u = await api("GET", "/tokens/" + pick.value + "/usage");
    renderChart(chart, u);
    if (state.me.role !== "admin") renderAuditRows(audit, u.recent, "Latest calls of this token");
  };
  pick.addEventListener("change", show);
  main().replaceChildren(h("h1", {}, "Usage"),
    h("div", { class: "card" }, h("label", { for: "u-token" }, "Token"), pick), chart, audit);
  await show();
  if (state.me.role === "admin") auditFilters(audit, tokens);
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...kids);
  return el;
}

// A stacked bar per day: ok, errors, rate-limited.
function renderChart(box, u) {
  const days = u.days, W = 620, H = 200, pad = 28, bw = (W - pad) / days.length;
  const max = Math.max(1, ...days.map((d) => d.ok + d.errors + d.rate_limited));
  const y = (v) => (H - 20) * v / max;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img",
    "aria-label": "Requests per day for the last 30 days" });
  svg.append(s("text", { x: 0, y: 10, "font-size": 10, fill: "#5b6470" }, String(max)),
    s("line", { x1: pad, y1: H - 20, x2: W, y2: H - 20, stroke: "#aab3bf" }));
  days.forEach((d, i) => {
    let base = H - 20;
    for (const [key, color] of [["ok", "#2f8f4e"], ["errors", "#c0392b"], ["rate_limited", "#d68910"]]) {
      const hgt = y(d[key]);
      if (hgt > 0) {
        svg.append(s("rect", { x: pad + i * bw + 1, y: base - hgt, width: Math.max(1, bw - 2), height: hgt, fill: color },
          s("title", {}, `${d.day}: ${d[key]} ${key.replace("_", "-")}`)));
        base -= hgt;
      }
    }
    if ((days.length - 1 - i) % 7 === 0) {
      const last = i === days.length - 1;
      svg.append(s("text", { x: last ? W : pad + (i + 0.5) * bw, y: H - 4, "font-size": 10, fill: "#5b6470",
        "text-anchor": last ? "end" : "middle" }, d.day.slice(5)));
    }
  });
  const total = days.reduce((a, d) => [a[0] + d.ok, a[1] + d.errors, a[2] + d.rate_limited], [0, 0, 0]);
  box.replaceChildren(h("h2", {}, "Requests per day, last 30 days: " + u.token.name),
    h("div", { class: "legend" }, h("span", { class: "c-ok" }, "Answered (" + total[0] + ")"),
      h("span", { class: "c-err" }, "Errors (" + total[1] + ")"), h("span", { class: "c-rl" }, "Too many requests (" + total[2] + ")")),
    svg,
    total[0] + total[1] + total[2] === 0 ? h("p", { class: "muted" }, "No calls in the last 30 days.") : "");
}

function renderAuditRows(box, rows, title) {
  box.replaceChildren(h("h2", {}, title), table(["When", "Token", "Call", "Answer", "From", "Time"],
    rows.map((e) => h("tr", {},
      cell("When", timeEl(e.at)), cell("Token", e.token_prefix ? h("code", {}, e.token_prefix) : "—"),
      cell("Call", h("code", {}, e.method + " " + e.path)),
      cell("Answer", badge(String(e.status) + (e.code ? " " + e.code : ""), e.status < 400 ? "ok" : "bad")),
      cell("From", e.ip), cell("Time", (e.latency_us / 1000).toFixed(1) + " ms"))),
    "No calls recorded yet."));
}

function auditFilters(box, tokens) {
  const form = h("form", { class: "row", onsubmit: (ev) => { ev.preventDefault(); load(); } },
    h("div", {}, h("label", { for: "a-token" }, "Token"), h("select", { id: "a-token", name: "token_id" },
      h("option", { value: "" }, "All tokens"), tokens.map((t) => h("option", { value: t.id }, t.name + " (" + t.prefix + ")")))),
    h("div", {}, h("label", { for: "a-status" }, "Answer"), h("select", { id: "a-status", name: "status" },
      h("option", { value: "" }, "Any"), ["200", "201", "204", "400", "401", "403", "404", "422", "429"].map((c) => h("option", { value: c }, c)))),
    h("div", {}, h("label", { for: "a-since" }, "Since"), h("input", { id: "a-since", name: "since", type: "datetime-local" })),
    h("div", {}, h("button", { type: "submit" }, "Show")));
  const out = h("div", { class: "spaced" });
  const load = async () => {
    const q = new URLSearchParams({ limit: "100" });
    if (form.token_id.value) q.set("token_id", form.token_id.value);
    if (form.status.value) q.set("status", form.status.value);
    if (form.since.value) q.set("since", new Date(form.since.value).toISOString());
    await act(null, async () => renderAuditRows(out, (await api("GET", "/audit?" + q)).data, "Matching calls"));
  };
  box.replaceChildren(h("h2", {}, "Recent API calls"), form, out);
  load();
}

// ---------- users ----------
async function screenUsers() {
  const users = await api("GET", "/users");
  const list = h("section", { class: "card", id: "user-list" });
  const form = h("form", { class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const body = { email: f.email.value, role: f.role.value,
      permissions: [...f.querySelectorAll("input[name=scope]:checked")].map((i) => i.value) };
    if (f.uname.value) body.name = f.uname.value;
    if (f.password.value) body.password = f.password.value;
    const out = await act(f.querySelector("button[type=submit]"), () => api("POST", "/users", body), (u) => u.email + " was added.");
    if (out) screenUsers();
  } },
  h("h2", {}, "Add a person"),
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "n-email" }, "Email"), h("input", { id: "n-email", name: "email", type: "email", required: true })),
    h("div", {}, h("label", { for: "n-name" }, "Name (optional)"), h("input", { id: "n-name", name: "uname", type: "text" })),
    h("div", {}, h("label", { for: "n-role" }, "Role"), h("select", { id: "n-role", name: "role" },
      h("option", { value: "agent" }, "Agent: sees their own records and tokens"), h("option", { value: "admin" }, "Admin: everything in the account")))),
  h("label", { for: "n-pw" }, "Password for this page (optional)"),
  h("p", { class: "hint" }, "Only needed if they should sign in here. At least 10 characters."),
  h("input", { id: "n-pw", name: "password", type: "password", autocomplete: "new-password" }),
  permissionBoxes(null),
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Add person")));
  list.replaceChildren(h("h2", {}, "People"), table(["Email", "Name", "Role", "Permissions", "Signs in here", "Status", ""],
    users.map((u) => h("tr", {},
      cell("Email", u.email), cell("Name", u.name || "—"), cell("Role", capital(u.role)),
      cell("Permissions", u.permissions.length === 8 ? "All" : u.permissions.join(", ") || "None"),
      cell("Signs in here", u.has_password ? "Yes" : "No"),
      cell("Status", u.disabled ? badge("disabled", "bad") : badge("active")),
      cell("", h("div", { class: "actions" },
        h("button", { type: "button", class: "small secondary", onclick: (ev) => editUser(ev.target, u) }, "Edit"),
        h("button", { type: "button", class: "small " + (u.disabled ? "secondary" : "danger"), onclick: (ev) => toggleUser(ev.target, u) },
          u.disabled ? "Enable" : "Disable"))))),
    "Nobody yet."));
  main().replaceChildren(h("h1", {}, "People"), form, list);
}

function permissionBoxes(current) {
  return h("fieldset", {}, h("legend", {}, "Permissions (what their tokens may ever do)"),
    h("div", { class: "scopes" }, SCOPE_GROUPS.map((g) => h("fieldset", {}, h("legend", {}, capital(g)),
      ["read", "write"].map((v) => h("label", { class: "check" },
        h("input", { type: "checkbox", name: "scope", value: g + ":" + v, checked: !current || current.includes(g + ":" + v) }),
        v === "read" ? "Read" : "Change"))))));
}

async function editUser(button, u) {
  const role = h("select", { id: "e-role" }, ["agent", "admin"].map((r) => h("option", { value: r, selected: r === u.role }, capital(r))));
  const perms = permissionBoxes(u.permissions);
  const pw = h("input", { id: "e-pw", type: "password", autocomplete: "new-password" });
  const ok = await confirmDialog("Edit " + u.email, [h("label", { for: "e-role" }, "Role"), role, perms,
    h("label", { for: "e-pw" }, "New password (optional)"), pw], "Save");
  if (!ok) return button.focus();
  const body = { role: role.value, permissions: [...perms.querySelectorAll("input:checked")].map((i) => i.value) };
  if (pw.value) body.password = pw.value;
  if (await act(button, () => api("PATCH", "/users/" + u.id, body), u.email + " was updated.")) screenUsers();
}

async function toggleUser(button, u) {
  if (!u.disabled && !await confirmDialog("Disable " + u.email + "?",
    "Their tokens stop working at once and they cannot sign in here. You can enable them again later.", "Disable")) return button.focus();
  if (await act(button, () => api("PATCH", "/users/" + u.id, { disabled: !u.disabled }),
    u.email + (u.disabled ? " is enabled again." : " is disabled."))) screenUsers();
}

// ---------- webhooks ----------
async function screenWebhooks() {
  const [endpoints, types] = await Promise.all([api("GET", "/webhooks"), api("GET", "/webhooks/events")]);
  const shown = h("div", { id: "new-secret" });
  const groups = {};
  for (const t of types) (groups[t.split(".")[0]] = groups[t.split(".")[0]] || []).push(t);
  const form = h("form", { class: "card", id: "webhook-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const events = [...f.querySelectorAll("input[name=event]:checked")].map((i) => i.value);
    const out = await act(f.querySelector("button[type=submit]"), () => api("POST", "/webhooks", { url: f.url.value, events, description: f.description.value }));
    if (out) {
      await screenWebhooks();
      $("#new-secret").replaceChildren(secretBox("Webhook added", out.secret, "new-webhook-secret",
        "Your receiver uses this signing secret to check that messages come from Switchboard."));
      $("#new-secret button").focus();
    }
  } },
  h("h2", {}, "Add a webhook"),
  h("p", { class: "hint" }, "Switchboard sends a signed message to this address whenever one of the chosen things happens."),
  h("label", { for: "w-url" }, "Address (URL)"),
  h("input", { id: "w-url", name: "url", type: "url", required: true, placeholder: "https://example.com/hooks/switchboard" }),
  h("label", { for: "w-desc" }, "What it is for (optional)"),
  h("input", { id: "w-desc", name: "description", type: "text" }),
  h("fieldset", {}, h("legend", {}, "Send a message when"),
    h("div", { class: "scopes" }, Object.entries(groups).map(([g, list]) => h("fieldset", {}, h("legend", {}, capital(g)),
      list.map((t) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "event", value: t }), t.split(".")[1].replace("_", " "))))))),
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Add webhook")));
  const list = h("section", { class: "card", id: "endpoint-list" }, h("h2", {}, "Webhooks"),
    table(["Address", "Events", "Status", ""], endpoints.map((e) => h("tr", {},
      cell("Address", h("code", {}, e.url), e.description ? h("div", { class: "muted" }, e.description) : ""),
      cell("Events", e.events.join(", ")),
      cell("Status", e.enabled ? badge("on", "ok") : [badge("off", "bad"), e.disabled_reason ? h("div", { class: "muted" }, e.disabled_reason) : ""]),
      cell("", h("div", { class: "actions" },
        h("button", { type: "button", class: "small secondary", onclick: (ev) => endpointAction(ev.target, e, "test") }, "Send test"),
        h("button", { type: "button", class: "small secondary", onclick: (ev) => endpointAction(ev.target, e, e.enabled ? "disable" : "enable") }, e.enabled ? "Pause" : "Resume"),
        h("button", { type: "button", class: "small secondary", onclick: (ev) => endpointAction(ev.target, e, "rotate") }, "New secret"),
        h("button", { type: "button", class: "small danger", onclick: (ev) => endpointAction(ev.target, e, "remove") }, "Remove"))))),
    "No webhooks yet."));
  const deliveries = h("section", { class: "card", id: "deliveries" });
  main().replaceChildren(h("h1", {}, "Webhooks"), shown, form, list, deliveries);
  await renderDeliveries(deliveries, endpoints);
}

async function endpointAction(button, e, what) {
  const plan = {
    test: ["POST", "/webhooks/" + e.id + "/test", undefined, "A test message is on its way; see the deliveries below."],
    enable: ["PATCH", "/webhooks/" + e.id, { enabled: true }, "Resumed: waiting messages go out now."],
    disable: ["PATCH", "/webhooks/" + e.id, { enabled: false }, "Paused: new messages wait until you resume."],
    rotate: ["POST", "/webhooks/" + e.id + "/rotate-secret", undefined, null],
    remove: ["DELETE", "/webhooks/" + e.id, undefined, "The webhook was removed."],
  }[what];
  if (what === "remove" && !await confirmDialog("Remove this webhook?", "Messages stop going to " + e.url + ", and its delivery history is deleted.", "Remove")) return button.focus();
  if (what === "rotate" && !await confirmDialog("Make a new signing secret?", "Update your receiver with the new secret. The old one is still accepted for a while.", "Make new secret")) return button.focus();
  const out = await act(button, () => api(plan[0], plan[1], plan[2]), plan[3]);
  if (out === undefined) return;
  await screenWebhooks();
  if (what === "rotate" && out && out.secret) {
    $("#new-secret").replaceChildren(secretBox("New signing secret", out.secret, "new-webhook-secret"));
    $("#new-secret button").focus();
  }
}

async function renderDeliveries(box, endpoints) {
  const urls = Object.fromEntries(endpoints.map((e) => [e.id, e.url]));
  const filter = h("select", { id: "d-status", "aria-label": "Show deliveries" }, ["", "pending", "delivered", "failed", "dead", "paused"].map((v) =>
    h("option", { value: v }, v ? capital(v) : "All deliveries")));
  const out = h("div");
  const load = async () => {
    const q = filter.value ? "?status=" + filter.value : "";
    const rows = await api("GET", "/deliveries" + q);
    out.replaceChildren(table(["When", "Event", "Address", "Status", "Attempts", "Last answer", ""], rows.map((d) => h("tr", { "data-delivery": d.id },
      cell("When", timeEl(d.created_at)), cell("Event", d.event_type),
      cell("Address", h("code", {}, urls[d.endpoint_id] || "#" + d.endpoint_id)),
      cell("Status", badge(d.status)), cell("Attempts", d.attempts),
      cell("Last answer", d.last_status ? String(d.last_status) : (d.last_error || "—")),
      cell("", h("button", { type: "button", class: "small secondary", onclick: async (ev) => {
        if (await act(ev.target, () => api("POST", "/deliveries/" + d.id + "/replay"), "Sent again with the same message id.")) load();
      } }, "Send again")))), "Nothing sent yet."));
  };
  filter.addEventListener("change", load);
  box.replaceChildren(h("h2", {}, "Deliveries"), filter, out);
  await load();
}

// ---------- account ----------
async function screenAccount() {
  const a = await api("GET", "/account");
  const form = h("form", { class: "card", onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const ips = lines(f.allow_ips.value);
    if (ips.length && !await confirmDialog("Limit every token to these addresses?",
      "Calls from anywhere else are refused for every token of the account.", "Save")) return;
    if (await act(f.querySelector("button[type=submit]"), () => api("PATCH", "/account", { allow_ips: ips }), "The address list is saved and applies to the next call.")) screenAccount();
  } },
  h("h2", {}, "Where API calls may come from"),
  h("p", { class: "hint" }, "One IP address or range per line. Empty: from anywhere. This applies on top of each token's own list."),
  h("label", { for: "acc-ips" }, "Allowed addresses"),
  h("textarea", { id: "acc-ips", name: "allow_ips", rows: 3, spellcheck: "false" }, a.allow_ips.join("\n")),
  h("div", { class: "actions" }, h("button", { type: "submit" }, "Save")));
  main().replaceChildren(h("h1", {}, "Account"),
    h("section", { class: "card", id: "plan" }, h("h2", {}, a.name),
      h("dl", { class: "facts" },
        h("dt", {}, "Plan"), h("dd", {}, capital(a.plan)),
        h("dt", {}, "Subscription"), h("dd", {}, capital(a.status.replace("_", " "))),
        h("dt", {}, "API"), h("dd", {}, a.api_access ? badge("working", "ok") : badge("stopped", "bad"), " ", a.api_consequence)),
      h("p", { class: "hint" }, "The plan and subscription are set by whoever runs the server (switchboard account update).")),
    form);
}
