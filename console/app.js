// The console's core: the session (sign-in, the CSRF token), calls to
// the API, the router, and the small helpers every page uses. Pages are
// built with DOM calls only: nothing from the server is ever parsed as
// HTML.
import { overview } from "./overview.js";
import { accounts, accountNew, accountPage } from "./accounts.js";
import { uploads, tokens, bans, audit } from "./lists.js";

const API = "/api/v1";
const session = { csrf: null, scope: null, name: null };
let leaving = []; // what the page open now must stop when another opens

// ------------------------------------------------------------------ DOM

// h("p", {class: "x", onclick: fn}, "text", child...): an element.
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function main() {
  return document.getElementById("main");
}

// Replace the page's content; focus goes to the new heading.
export function show(...children) {
  const m = main();
  m.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  const h1 = m.querySelector("h1");
  if (h1) {
    h1.setAttribute("tabindex", "-1");
    h1.focus({ preventScroll: true });
  }
}

export function toast(text, bad) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.className = ""), bad ? 8000 : 4000);
}

// ------------------------------------------------------------------ formats

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let v = Number(n);
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + " " + units[i];
}

export function rate(bytesPerSecond) {
  return bytes(Math.round(bytesPerSecond)) + "/s";
}

// A time in the browser's zone, with the zone's name.
export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
  });
}

export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  const hours = Math.floor(s / 3600);
  if (hours < 48) return hours + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(hours / 24) + " days";
}

export function ago(iso) {
  return iso ? duration(Date.now() - new Date(iso).getTime()) + " ago" : "never";
}

export function stateBadge(state) {
  return h("span", { class: "state s-" + state }, state);
}

// ------------------------------------------------------------------ API

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  if (method !== "GET") opts.headers["X-CSRF-Token"] = session.csrf || "";
  const res = await fetch(API + path, opts);
  if (res.status === 401 && path !== "/session") {
    signInPage("Your session has ended. Sign in again.");
    throw new ApiError(401, "signed out");
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch (e) {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, (data && data.detail) || res.statusText);
  return data;
}

// Run fn, telling the user when it fails; the API's reason is shown.
export async function attempt(fn, doneText) {
  try {
    const r = await fn();
    if (doneText) toast(doneText);
    return r;
  } catch (e) {
    if (e.status !== 401) toast(e.message || String(e), true);
    return undefined;
  }
}

export function canWrite() {
  return session.scope === "admin";
}

// A button that changes something: absent for a read-only token.
export function writeButton(label, onclick, extra) {
  if (!canWrite()) return null;
  return h("button", Object.assign({ type: "button", onclick }, extra || {}), label);
}

// Ask before something that cannot be undone.
export function confirmDialog(title, text, action) {
  return new Promise((resolve) => {
    const d = h("dialog", { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      h("p", {}, text),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "quiet", onclick: () => d.close("no") }, "Cancel"),
        h("button", { type: "button", class: "danger", onclick: () => d.close("yes") }, action)));
    d.addEventListener("close", () => {
      d.remove();
      resolve(d.returnValue === "yes");
    });
    document.body.append(d);
    d.showModal();
  });
}

// A copy button for the text of el (or a string).
export function copyButton(what, label) {
  return h("button", {
    type: "button", class: "copy", "aria-label": "Copy " + label,
    onclick: async () => {
      const text = typeof what === "string" ? what : what.textContent;
      try {
        await navigator.clipboard.writeText(text);
        toast("Copied " + label);
      } catch (e) {
        // no clipboard (plain http, a policy): select it instead
        if (typeof what !== "string") {
          const r = document.createRange();
          r.selectNodeContents(what);
          getSelection().removeAllRanges();
          getSelection().addRange(r);
        }
        toast("Select and copy " + label + " by hand: the browser refused the clipboard", true);
      }
    },
  }, "Copy");
}

// A page's live parts (timers, event streams) end when it is left.
export function onLeave(fn) {
  leaving.push(fn);
}

// The event stream of /events, as callbacks; reconnects by itself.
export function events(onEvent, query) {
  const es = new EventSource(API + "/events" + (query || ""));
  const handler = (e) => {
    try {
      onEvent(JSON.parse(e.data));
    } catch (err) {
      /* a keep-alive or reset: nothing to parse */
    }
  };
  for (const kind of ["upload", "account", "ban", "reset"]) es.addEventListener(kind, handler);
  es.onmessage = handler;
  es.onerror = () => {
    const l = document.getElementById("live");
    if (l) l.textContent = "reconnecting…";
  };
  es.onopen = () => {
    const l = document.getElementById("live");
    if (l) l.textContent = "live";
  };
  onLeave(() => es.close());
  return es;
}

// Redraw when events come (query: of one account; only: which events
// count): a burst, as a busy migration sends, redraws once a second at
// most, and never waits for the burst to end.
export function redrawOnEvents(redraw, opts) {
  const o = opts || {};
  let timer = null;
  events((ev) => {
    if (timer || (o.only && !o.only(ev))) return;
    timer = setTimeout(() => {
      timer = null;
      redraw();
    }, 1000);
  }, o.query);
  onLeave(() => clearTimeout(timer));
}

// A labelled form field: the label names input (which gets id), with
// a help line under it.
export function field(label, id, input, help) {
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input,
    help ? h("p", { class: "help", id: id + "-help" }, help) : null);
}

// ------------------------------------------------------------------ sign-in

function signInPage(message) {
  session.csrf = null;
  session.scope = null;
  stopPage();
  document.getElementById("top").hidden = true;
  const input = h("input", {
    id: "token", name: "token", type: "password", autocomplete: "current-password",
    required: true, spellcheck: "false", "aria-describedby": "token-help",
  });
  const err = h("p", { class: "error", id: "sign-in-error", role: "alert" }, message || "");
  const form = h("form", { class: "sign-in", id: "sign-in" },
    h("h1", {}, "Sign in to ftpsgate"),
    h("label", { for: "token" }, "Admin token"),
    input,
    h("p", { class: "help", id: "token-help" },
      "An admin or read-only token from the gateway's first start or POST /api/v1/tokens. " +
      "It is exchanged for a session cookie and not kept in the browser."),
    err,
    h("button", { type: "submit", id: "sign-in-button" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    try {
      const s = await api("POST", "/session", { token: input.value });
      input.value = "";
      start(s);
    } catch (e) {
      err.textContent = e.status === 429 ? "Too many failed attempts from this address: " +
        "wait a minute and try again." : e.message;
    }
  });
  show(form);
  input.focus();
}

async function signOut() {
  await attempt(() => api("DELETE", "/session"));
  signInPage("Signed out.");
}

function start(s) {
  session.csrf = s.csrf_token;
  session.scope = s.scope;
  session.name = s.token_name;
  document.getElementById("top").hidden = false;
  document.getElementById("who").textContent =
    s.token_name + (s.scope === "admin" ? "" : " (read only)");
  document.body.classList.toggle("read-only", s.scope !== "admin");
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/overview";
  else route();
}

// ------------------------------------------------------------------ router

function stopPage() {
  for (const fn of leaving) fn();
  leaving = [];
}

const routes = [
  [/^#\/overview$/, overview, "overview"],
  [/^#\/accounts$/, accounts, "accounts"],
  [/^#\/accounts\/new$/, accountNew, "accounts"],
  [/^#\/accounts\/(\d+)$/, accountPage, "accounts"],
  [/^#\/uploads$/, uploads, "uploads"],
  [/^#\/tokens$/, tokens, "tokens"],
  [/^#\/bans$/, bans, "bans"],
  [/^#\/audit$/, audit, "audit"],
];

function route() {
  if (!session.scope) return;
  stopPage();
  const hash = location.hash.split("?")[0];
  for (const [re, page, nav] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("[data-nav]")) {
      if (a.dataset.nav === nav) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    document.title = nav[0].toUpperCase() + nav.slice(1) + " · ftpsgate";
    page(...m.slice(1));
    return;
  }
  show(h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/overview" }, "Back to the overview")));
}

// The query part of the hash: #/uploads?state=failed.
export function hashQuery() {
  const q = location.hash.split("?")[1];
  return new URLSearchParams(q || "");
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("sign-out").addEventListener("click", signOut);
  try {
    const res = await fetch(API + "/session", { credentials: "same-origin", cache: "no-store" });
    if (res.ok) return start(await res.json());
  } catch (e) {
    /* the gateway is not answering: the sign-in page says so below */
  }
  signInPage("");
});
