// The lists: uploads, tokens, bans, the audit log; and the cursor paging
// every list of the console shares.
import { h, show, api, bytes, when, stateBadge, attempt, writeButton, canWrite, confirmDialog,
  copyButton, redrawOnEvents, field, onLeave, hashQuery } from "./app.js";
import { accountName } from "./accounts.js";

// Fill body with the rows of path's first page; "Show more" follows
// next_cursor. row(item) gives a <tr>.
export function pager(body, more, path, row, cols, empty) {
  const sep = path.includes("?") ? "&" : "?";
  let cursor = null;
  let first = true;
  async function page() {
    const p = await attempt(() => api("GET", path + sep + "limit=100" + (cursor ? "&cursor=" + cursor : "")));
    if (!p) return;
    const rows = await Promise.all(p.items.map(row));
    if (first) body.replaceChildren(...rows);
    else body.append(...rows);
    if (first && !rows.length) body.replaceChildren(h("tr", {}, h("td", { colspan: cols, class: "empty" }, empty)));
    first = false;
    cursor = p.next_cursor;
    more.replaceChildren(cursor ? h("button", { type: "button", class: "quiet", onclick: page }, "Show more") : "");
  }
  return page();
}

// ------------------------------------------------------------------ uploads

export function UPLOAD_HEAD(showAccount) {
  return h("thead", {}, h("tr", {}, [showAccount ? "Account" : null, "File", "State", "Size", "Started",
    "Reason", "SHA-256", ""].filter((t) => t !== null).map((t) => h("th", { scope: "col" }, t))));
}

// A row for an upload, with its actions (retry a failed import, purge).
export function uploadRows(reload, showAccount) {
  return async (u) => h("tr", { "data-upload": u.id, "data-state": u.state },
    showAccount ? h("td", {}, h("a", { href: "#/accounts/" + u.account_id }, await accountName(u.account_id))) : null,
    h("td", { class: "path" }, u.path),
    h("td", {}, stateBadge(u.state)),
    h("td", { class: "num" }, u.size !== null ? bytes(u.size) : bytes(u.bytes_received) + " so far"),
    h("td", {}, when(u.started_at)),
    h("td", { class: "reason" }, u.purged_at ? "purged " + when(u.purged_at) : u.error || ""),
    h("td", {}, u.sha256 ? h("code", { class: "hash", title: u.sha256 }, u.sha256.slice(0, 12) + "…") : "–"),
    h("td", { class: "row-actions" },
      u.state === "failed" ? writeButton("Retry import", () => attempt(async () => {
        await api("POST", "/uploads/" + u.id + "/retry");
        reload();
      }, "Import queued again"), { "data-action": "retry" }) : null,
      !u.purged_at && !["receiving", "verifying", "importing", "received", "verified"].includes(u.state)
        ? writeButton("Purge", async () => {
          if (!(await confirmDialog("Purge " + u.path,
            "Its file is removed for good; the record stays, marked purged.", "Purge"))) return;
          await attempt(async () => {
            await api("DELETE", "/uploads/" + u.id);
            reload();
          }, "Purged");
        }, { class: "danger", "data-action": "purge" }) : null));
}

export function uploads() {
  const q = hashQuery();
  const state = h("select", { id: "up-state" }, ["", "receiving", "partial", "received", "verifying", "verified",
    "rejected", "importing", "imported", "failed"].map((s) => h("option", { value: s, selected: (q.get("state") || "") === s }, s || "any")));
  const account = h("input", { id: "up-account", type: "number", min: 1, value: q.get("account_id") || "" });
  const since = h("input", { id: "up-since", type: "date", value: q.get("since") || "" });
  const form = h("form", { class: "filters", role: "search" },
    field("State", "up-state", state),
    field("Account id", "up-account", account),
    field("Started since", "up-since", since),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (state.value) p.set("state", state.value);
    if (account.value) p.set("account_id", account.value);
    if (since.value) p.set("since", since.value);
    location.hash = "#/uploads" + (p.toString() ? "?" + p : "");
  });
  const body = h("tbody", { id: "uploads" });
  const more = h("div", { class: "pager" });
  show(h("div", { class: "title" }, h("h1", {}, "Uploads"), h("span", { class: "live", id: "live" }, "")), form,
    h("div", { class: "scroll", tabindex: 0 }, h("table", { class: "list" }, UPLOAD_HEAD(true), body)), more);
  const p = new URLSearchParams();
  if (q.get("state")) p.set("state", q.get("state"));
  if (q.get("account_id")) p.set("account_id", q.get("account_id"));
  if (q.get("since")) p.set("since", new Date(q.get("since") + "T00:00:00").toISOString());
  const reload = () => pager(body, more, "/uploads?" + p, uploadRows(() => reload(), true), 8, "No upload matches.");
  reload();
  redrawOnEvents(reload);
}

// ------------------------------------------------------------------ tokens

export function tokens() {
  const body = h("tbody", { id: "tokens" });
  const more = h("div", { class: "pager" });
  const shown = h("div", { id: "token-shown" });
  const name = h("input", { id: "token-name", type: "text", maxlength: 64, required: true, autocomplete: "off" });
  const scope = h("select", { id: "token-scope" }, h("option", { value: "admin" }, "admin (everything)"),
    h("option", { value: "read" }, "read (look only)"));
  const form = canWrite() ? h("form", { class: "filters", id: "token-form" },
    field("Name", "token-name", name),
    field("Scope", "token-scope", scope),
    h("button", { type: "submit" }, "Create token")) : null;
  const reload = () => pager(body, more, "/tokens", (t) => h("tr", { "data-token": t.id },
    h("td", {}, t.name), h("td", {}, t.scope), h("td", {}, when(t.created_at)),
    h("td", {}, t.last_used_at ? when(t.last_used_at) : "never"),
    h("td", {}, t.revoked_at ? "revoked " + when(t.revoked_at) : "valid"),
    h("td", {}, t.revoked_at ? null : writeButton("Revoke", async () => {
      if (!(await confirmDialog("Revoke token " + t.name,
        "Whoever uses it is refused from now on; console sessions signed in with it end.", "Revoke"))) return;
      await attempt(async () => {
        await api("DELETE", "/tokens/" + t.id);
        reload();
      }, "Token revoked");
    }, { class: "danger" }))), 6, "No token.");
  if (form) form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const t = await attempt(() => api("POST", "/tokens", { name: name.value, scope: scope.value }));
    if (!t) return;
    name.value = "";
    const code = h("code", { id: "new-token" }, t.token);
    shown.replaceChildren(h("div", { class: "notice warn", role: "note" },
      h("p", {}, "Token " + t.name + " (" + t.scope + "), shown only now:"), h("p", {}, code, copyButton(code, "the token"))));
    reload();
  });
  show(h("h1", {}, "Admin tokens"), form, shown,
    h("div", { class: "scroll", tabindex: 0 }, h("table", { class: "list" }, h("thead", {}, h("tr", {},
      ["Name", "Scope", "Created", "Last used", "State", ""].map((t) => h("th", { scope: "col" }, t)))), body)), more);
  reload();
}

// ------------------------------------------------------------------ bans

export function bans() {
  const body = h("tbody", { id: "bans" });
  const note = h("p", { class: "help" });
  async function reload() {
    const p = await attempt(() => api("GET", "/bans"));
    if (!p) return;
    note.textContent = p.total + " address(es) and account name(s) with failed logins in the window" +
      (p.truncated ? " (the first 1,000 shown)" : "") + ".";
    const rows = p.items.map((b) => h("tr", {},
      h("td", {}, b.kind), h("td", {}, h("code", {}, b.key)), h("td", { class: "num" }, String(b.failures)),
      h("td", {}, b.banned_until ? "until " + when(b.banned_until) : "counting failures"),
      h("td", {}, writeButton(b.banned_until ? "Lift ban" : "Forget failures", () => attempt(async () => {
        await api("DELETE", "/bans?" + (b.kind === "account" ? "account=" : "address=") + encodeURIComponent(b.key));
        reload();
      }, "Lifted")))));
    body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No failed logins."))]));
  }
  show(h("div", { class: "title" }, h("h1", {}, "Bans"), h("span", { class: "live", id: "live" }, "")), note,
    h("div", { class: "scroll", tabindex: 0 }, h("table", { class: "list" }, h("thead", {}, h("tr", {},
      ["Kind", "Address or account", "Failures", "Ban", ""].map((t) => h("th", { scope: "col" }, t)))), body)));
  reload();
  redrawOnEvents(reload, { only: (ev) => ev.kind === "ban" });
  const t = setInterval(reload, 15000);
  onLeave(() => clearInterval(t));
}

// ------------------------------------------------------------------ audit

export function audit() {
  const q = hashQuery();
  const account = h("input", { id: "audit-account", type: "number", min: 1, value: q.get("account_id") || "" });
  const form = h("form", { class: "filters", role: "search" },
    field("Account id", "audit-account", account),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = "#/audit" + (account.value ? "?account_id=" + account.value : "");
  });
  const body = h("tbody", { id: "audit" });
  const more = h("div", { class: "pager" });
  show(h("h1", {}, "Audit log"), form,
    h("div", { class: "scroll", tabindex: 0 }, h("table", { class: "list" }, h("thead", {}, h("tr", {},
      ["When", "Token", "From", "Change", "Result"].map((t) => h("th", { scope: "col" }, t)))), body)), more);
  pager(body, more, "/audit" + (q.get("account_id") ? "?account_id=" + encodeURIComponent(q.get("account_id")) : ""),
    (e) => h("tr", {}, h("td", {}, when(e.at)), h("td", {}, e.token_name || "–"), h("td", {}, e.client_address),
      h("td", {}, e.method + " " + e.path + (e.detail ? ": " + e.detail : "")),
      h("td", { class: e.status >= 400 ? "bad" : "" }, String(e.status))), 5, "Nothing recorded.");
}
