// Accounts: the list (search, status, quota used, last activity), a new
// account and the page that hands its connection facts to the uploader,
// and one account's page (its settings, password, keys, uploads, audit).
import { h, show, api, bytes, rate, when, ago, attempt, writeButton, canWrite, confirmDialog,
  copyButton, redrawOnEvents, field, onLeave, hashQuery } from "./app.js";
import { pager, uploadRows, UPLOAD_HEAD } from "./lists.js";

// ------------------------------------------------------------------ shared

const names = new Map();
const recipients = new Map();

export async function accountName(id) {
  if (!names.has(id)) {
    names.set(id, api("GET", "/accounts/" + id).then((a) => a.username).catch(() => "#" + id));
  }
  return names.get(id);
}

// The account's newest key in use, for "encrypt with age -r …".
export async function accountRecipient(id) {
  if (!recipients.has(id)) {
    recipients.set(id, api("GET", "/accounts/" + id + "/keys?limit=100").then((p) => {
      const live = p.items.filter((k) => !k.revoked_at);
      return live.length ? live[live.length - 1].recipient : null;
    }).catch(() => null));
  }
  return recipients.get(id);
}

// What to do about an upload that needs attention, in words.
export function advice(u, recipient) {
  const r = recipient || "age1…";
  const e = u.error || "";
  if (u.state === "rejected") {
    if (/not an age file/.test(e))
      return ["Not an age file: encrypt it with ", h("code", {}, "age -r " + r + " -o FILE.age FILE"),
        " and upload FILE.age again."];
    if (/none of this account's keys/.test(e))
      return ["Encrypted to someone else: encrypt it again with ", h("code", {}, "age -r " + r),
        " (the recipient on the account's page) and upload it again."];
    if (/truncated|corrupt|altered|after the end/.test(e))
      return "Damaged or cut short on its way: upload the file again from the uploader's copy.";
    return "Refused: correct the file as the reason says and upload it again.";
  }
  if (u.state === "failed") {
    const hook = u.import || {};
    return "The import failed" + (hook.hook_exit !== null && hook.hook_exit !== undefined ?
      " (hook exit " + hook.hook_exit + ")" : "") + ": fix the cause (see the upload's hook output)" +
      " and retry the import.";
  }
  if (u.state === "partial")
    return "Stopped at " + bytes(u.bytes_received) + ": ask the uploader to resume (their client " +
      "continues from there, e.g. curl -C -), or purge it.";
  return "";
}

// ------------------------------------------------------------------ list

export function accounts() {
  const q = hashQuery();
  const search = h("input", { type: "search", value: q.get("search") || "", placeholder: "name or description" });
  const status = h("select", {},
    ["", "active", "disabled", "deleted"].map((s) => h("option", { value: s, selected: (q.get("status") || "") === s },
      s || "active and disabled")));
  const body = h("tbody", { id: "accounts" });
  const more = h("div", { class: "pager" });
  const form = h("form", { class: "filters", role: "search" },
    field("Search", "acct-search", search), field("Status", "acct-status", status),
    h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (search.value) p.set("search", search.value);
    if (status.value) p.set("status", status.value);
    location.hash = "#/accounts" + (p.toString() ? "?" + p : "");
  });
  show(h("div", { class: "title" }, h("h1", {}, "Accounts"),
    canWrite() ? h("a", { class: "button", href: "#/accounts/new", id: "new-account" }, "New account") : null),
  form,
  h("div", { class: "scroll", tabindex: 0 }, h("table", { class: "list" },
    h("thead", {}, h("tr", {}, ["Name", "Status", "Quota used", "Last activity", "Created", "Description"]
      .map((t) => h("th", { scope: "col" }, t)))), body)), more);
  const params = new URLSearchParams();
  if (q.get("search")) params.set("search", q.get("search"));
  if (q.get("status")) params.set("status", q.get("status"));
  pager(body, more, "/accounts?" + params, (a) => h("tr", { "data-account": a.id },
    h("td", {}, h("a", { href: "#/accounts/" + a.id }, a.username)),
    h("td", {}, h("span", { class: "status st-" + a.status }, a.status)),
    h("td", { class: "num" }, quotaText(a)),
    h("td", {}, a.last_activity_at ? ago(a.last_activity_at) : "none"),
    h("td", {}, when(a.created_at)),
    h("td", {}, a.description)), 6, "No account matches.");
}

function quotaText(a) {
  if (a.quota_bytes === null) return bytes(a.used_bytes) + " (no quota)";
  const pct = a.quota_bytes ? Math.round((100 * a.used_bytes) / a.quota_bytes) : 100;
  return bytes(a.used_bytes) + " of " + bytes(a.quota_bytes) + " (" + pct + " %)";
}

// ------------------------------------------------------------------ new

export function accountNew() {
  if (!canWrite()) {
    show(h("h1", {}, "New account"), h("p", {}, "This token may only read."));
    return;
  }
  const username = h("input", { type: "text", autocomplete: "off", spellcheck: "false", maxlength: 64,
    "aria-describedby": "new-username-help" });
  const description = h("input", { type: "text", maxlength: 256 });
  const quota = h("input", { type: "number", min: 0, step: 1, inputmode: "numeric", "aria-describedby": "new-quota-help" });
  const expires = h("input", { type: "date" });
  const encrypt = h("input", { type: "checkbox", checked: true });
  const form = h("form", { class: "stack", id: "new-account-form" },
    field("User name", "new-username", username, "Letters, digits, '.', '_' or '-'. Empty: one is made up."),
    field("Description", "new-description", description),
    field("Quota in GiB", "new-quota", quota, "Empty: no quota."),
    field("Expires on", "new-expires", expires),
    h("div", { class: "field check" }, encrypt, h("label", { for: "new-encrypt" }, "Accept only age-encrypted files")),
    h("button", { type: "submit", id: "create-account" }, "Create account"));
  encrypt.id = "new-encrypt";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { require_encryption: encrypt.checked };
    if (username.value) body.username = username.value.trim();
    if (description.value) body.description = description.value;
    if (quota.value) body.quota_bytes = Math.round(Number(quota.value) * 1024 * 1024 * 1024);
    if (expires.value) body.expires_at = new Date(expires.value + "T23:59:59").toISOString();
    const a = await attempt(() => api("POST", "/accounts", body));
    if (a) handOver(a, a.key ? a.key.recipient : null);
  });
  show(h("h1", {}, "New account"), form);
}

// Everything the uploader needs, in one place: shown once.
export function handOver(a, recipient, title) {
  const f = a.ftps;
  const facts = [
    ["Host", f.host], ["Port (implicit TLS)", String(f.port)], ["Passive ports", f.passive_ports],
    ["User name", a.username], ["Password", a.password],
  ];
  if (recipient) facts.push(["age recipient", recipient]);
  const ageCmd = recipient ? "age -r " + recipient + " -o FILE.age FILE" : null;
  const curlCmd = "curl --ssl-reqd -T FILE" + (recipient ? ".age" : "") + " --user " + a.username +
    " ftps://" + f.host + ":" + f.port + "/";
  const note = facts.map(([k, v]) => k + ": " + v).join("\n") +
    (ageCmd ? "\n\nEncrypt:\n" + ageCmd : "") + "\n\nUpload (any FTPS client; curl asks for the password):\n" + curlCmd + "\n";
  const dl = (name, text) => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const link = h("a", { class: "button quiet", href: url, download: name }, "Download " + name);
    onLeave(() => URL.revokeObjectURL(url));
    return link;
  };
  show(h("h1", {}, title || "Hand over account " + a.username),
    h("p", { class: "notice warn", role: "note" },
      "The password is shown only now. Copy it or download the note before leaving this page."),
    h("dl", { class: "facts", id: "handover" }, facts.map(([k, v]) => {
      const dd = h("code", { "data-fact": k }, v);
      return [h("dt", {}, k), h("dd", {}, dd, copyButton(dd, k.toLowerCase()))];
    })),
    recipient ? h("div", { class: "actions" }, dl(a.username + ".age-recipient.txt", recipient + "\n")) : null,
    ageCmd ? [h("h2", {}, "Encrypt"), h("div", { class: "cmd" }, h("code", { id: "age-command" }, ageCmd),
      copyButton(ageCmd, "the age command"))] : null,
    h("h2", {}, "Upload"),
    h("div", { class: "cmd" }, h("code", { id: "curl-command" }, curlCmd), copyButton(curlCmd, "the curl command")),
    h("h2", {}, "Everything, as a note"),
    h("pre", { class: "note", id: "handover-note" }, note),
    h("div", { class: "actions" }, copyButton(note, "the note"), dl(a.username + ".txt", note),
      h("a", { class: "button", href: "#/accounts/" + a.id }, "Go to the account")));
}

// ------------------------------------------------------------------ one account

export async function accountPage(idText) {
  const id = Number(idText);
  let a;
  let keys;
  try {
    [a, keys] = await Promise.all([api("GET", "/accounts/" + id), api("GET", "/accounts/" + id + "/keys?limit=100")]);
  } catch (e) {
    show(h("h1", {}, "Account " + id), h("p", { class: "error" }, e.message));
    return;
  }
  names.set(id, Promise.resolve(a.username));
  const q = hashQuery();
  const stateSel = h("select", {}, ["", "receiving", "partial", "received", "verifying", "verified",
    "rejected", "importing", "imported", "failed"].map((s) => h("option", { value: s, selected: (q.get("state") || "") === s }, s || "any state")));
  stateSel.addEventListener("change", () => {
    location.hash = "#/accounts/" + id + (stateSel.value ? "?state=" + stateSel.value : "");
  });
  const uploadsBody = h("tbody", { id: "account-uploads" });
  const uploadsMore = h("div", { class: "pager" });
  const auditBody = h("tbody", { id: "account-audit" });
  const auditMore = h("div", { class: "pager" });
  const live = !a.status || a.status !== "deleted";

  const settings = h("dl", { class: "facts" },
    h("dt", {}, "Status"), h("dd", {}, h("span", { class: "status st-" + a.status, id: "account-status" }, a.status)),
    h("dt", {}, "Description"), h("dd", {}, a.description || "–"),
    h("dt", {}, "Quota"), h("dd", { id: "account-quota" }, quotaText(a)),
    h("dt", {}, "Expires"), h("dd", {}, a.expires_at ? when(a.expires_at) : "never"),
    h("dt", {}, "Encryption"), h("dd", {}, a.require_encryption ? "age-encrypted files only" : "any file"),
    h("dt", {}, "Created"), h("dd", {}, when(a.created_at)),
    h("dt", {}, "Connects to"), h("dd", {}, h("code", {}, a.ftps.host + ":" + a.ftps.port), " passive " + a.ftps.passive_ports));

  const patch = (body, done) => attempt(async () => {
    await api("PATCH", "/accounts/" + id, body);
    accountPage(idText);
  }, done);

  const quotaInput = h("input", { type: "number", min: 0, step: "any", id: "quota-gib",
    value: a.quota_bytes === null ? "" : (a.quota_bytes / 1073741824).toString() });
  const expiresInput = h("input", { type: "date", id: "expires-on",
    value: a.expires_at ? a.expires_at.slice(0, 10) : "" });
  const actions = canWrite() && live ? h("div", { class: "actions wrap" },
    a.status === "active"
      ? writeButton("Disable", () => patch({ status: "disabled" }, "Disabled: its sessions end"), { id: "disable" })
      : writeButton("Enable", () => patch({ status: "active" }, "Enabled"), { id: "enable" }),
    writeButton("New password", async () => {
      if (!(await confirmDialog("New password for " + a.username,
        "The old password stops working at once, and sessions logged in with it end.", "Make a new password"))) return;
      const r = await attempt(() => api("POST", "/accounts/" + id + "/password"));
      if (r) handOver(r, await accountRecipient(id), "New password for " + a.username);
    }, { id: "rotate-password" }),
    h("form", { class: "inline", id: "quota-form", onsubmit: (ev) => {
      ev.preventDefault();
      patch({ quota_bytes: quotaInput.value === "" ? null : Math.round(Number(quotaInput.value) * 1073741824) }, "Quota set");
    } }, h("label", { for: "quota-gib" }, "Quota (GiB)"), quotaInput, h("button", { type: "submit" }, "Set")),
    h("form", { class: "inline", id: "expires-form", onsubmit: (ev) => {
      ev.preventDefault();
      patch({ expires_at: expiresInput.value ? new Date(expiresInput.value + "T23:59:59").toISOString() : null }, "Expiry set");
    } }, h("label", { for: "expires-on" }, "Expires on"), expiresInput, h("button", { type: "submit" }, "Set")),
    writeButton("Delete account", async () => {
      if (!(await confirmDialog("Delete " + a.username,
        "It can never log in again and its name stays taken. Its uploads stay until purged.", "Delete"))) return;
      await attempt(async () => {
        await api("DELETE", "/accounts/" + id);
        location.hash = "#/accounts";
      }, "Account deleted");
    }, { class: "danger", id: "delete-account" })) : null;

  const policy = policySection(a, live, patch);

  const keyRows = keys.items.map((k) => h("tr", {},
    h("td", {}, h("code", { class: "recipient" }, k.recipient), k.revoked_at ? null : copyButton(k.recipient, "the recipient")),
    h("td", {}, when(k.created_at)),
    h("td", {}, k.revoked_at ? "revoked " + when(k.revoked_at) : "in use"),
    h("td", {}, !k.revoked_at && live ? writeButton("Revoke", async () => {
      if (!(await confirmDialog("Revoke this key",
        "Files encrypted to it after now are refused; those received stay readable.", "Revoke"))) return;
      await attempt(async () => {
        await api("DELETE", "/accounts/" + id + "/keys/" + k.id);
        recipients.delete(id);
        accountPage(idText);
      }, "Key revoked");
    }) : null)));

  const issueKey = live ? writeButton("Issue a key", () => attempt(async () => {
    await api("POST", "/accounts/" + id + "/keys");
    recipients.delete(id);
    accountPage(idText);
  }, "Key issued"), { id: "issue-key" }) : null;
  const head = (...titles) => h("thead", {}, h("tr", {}, titles.map((t) => h("th", { scope: "col" }, t))));
  const keysTable = h("table", { class: "list" }, head("Recipient", "Created", "State", ""),
    h("tbody", { id: "keys" }, keyRows.length ? keyRows
      : h("tr", {}, h("td", { colspan: 4, class: "empty" }, "No key."))));
  const auditTable = h("table", { class: "list" }, head("When", "Token", "From", "Change", "Result"), auditBody);

  show(
    h("div", { class: "title" }, h("h1", {}, a.username),
      h("span", { class: "live", id: "live", "aria-live": "polite" }, "")),
    h("section", { class: "card" }, settings, actions),
    policy,
    h("section", { "aria-labelledby": "h-keys" },
      h("div", { class: "title" }, h("h2", { id: "h-keys" }, "Encryption keys"), issueKey),
      h("div", { class: "scroll", tabindex: 0 }, keysTable)),
    h("section", { "aria-labelledby": "h-uploads" },
      h("div", { class: "title" }, h("h2", { id: "h-uploads" }, "Uploads"),
        h("label", { for: "account-state", class: "inline" }, "State "), stateSel),
      h("div", { class: "scroll", tabindex: 0 }, h("table", { class: "list" }, UPLOAD_HEAD(false), uploadsBody)),
      uploadsMore),
    h("section", { "aria-labelledby": "h-audit" }, h("h2", { id: "h-audit" }, "Audit trail"),
      h("div", { class: "scroll", tabindex: 0 }, auditTable), auditMore));
  stateSel.id = "account-state";

  const reload = () => pager(uploadsBody, uploadsMore, "/uploads?account_id=" + id +
    (q.get("state") ? "&state=" + q.get("state") : ""), uploadRows(() => reload(), false), 8, "No upload.");
  reload();
  pager(auditBody, auditMore, "/audit?account_id=" + id, (e) => h("tr", {},
    h("td", {}, when(e.at)), h("td", {}, e.token_name || "–"), h("td", {}, e.client_address),
    h("td", {}, e.method + " " + e.path + (e.detail ? ": " + e.detail : "")), h("td", {}, String(e.status))), 5,
  "No change made yet.");
  redrawOnEvents(reload, { query: "?account_id=" + id });
}

// ------------------------------------------------------------------ policy

const GIB = 1073741824;
const MIB = 1048576;

function listText(list) {
  return list.length ? list.join(", ") : null;
}

// What applies: the account's own limits and the server's defaults.
function policyFacts(eff) {
  const limit = (n, text) => (n ? text(n) : "no limit");
  return h("dl", { class: "facts", id: "policy-effective" },
    h("dt", {}, "Log in from"), h("dd", {}, listText(eff.allowed_addresses) || "anywhere"),
    h("dt", {}, "File names"), h("dd", {}, listText(eff.allowed_names) || "any name"),
    h("dt", {}, "Largest file"), h("dd", {}, limit(eff.max_file_bytes, bytes)),
    h("dt", {}, "Upload rate"), h("dd", {}, limit(eff.rate_limit_bytes_per_s, rate)),
    h("dt", {}, "Sessions"), h("dd", {}, limit(eff.max_sessions, String)));
}

// The account's own policy: each field empty for the server's default.
function policySection(a, live, patch) {
  const heading = h("h2", { id: "h-policy" }, "Policy");
  const facts = policyFacts(a.effective_policy);
  if (!canWrite() || !live) {
    return h("section", { class: "card policy", "aria-labelledby": "h-policy" }, heading, facts);
  }
  const own = (v, f) => (v === null ? "" : f(v));
  const addresses = h("input", { type: "text", spellcheck: "false", "aria-describedby": "policy-addresses-help",
    value: own(a.allowed_addresses, (l) => l.join(", ")) });
  const names = h("input", { type: "text", spellcheck: "false", "aria-describedby": "policy-names-help",
    value: own(a.allowed_names, (l) => l.join(", ")) });
  const maxFile = h("input", { type: "number", min: 0, step: "any", "aria-describedby": "policy-max-file-help",
    value: own(a.max_file_bytes, (n) => String(n / GIB)) });
  const rateInput = h("input", { type: "number", min: 0, step: "any", "aria-describedby": "policy-rate-help",
    value: own(a.rate_limit_bytes_per_s, (n) => String(n / MIB)) });
  const sessions = h("input", { type: "number", min: 0, step: 1, "aria-describedby": "policy-sessions-help",
    value: own(a.max_sessions, String) });
  const split = (text) => (text.trim() === "" ? null
    : text.split(",").map((x) => x.trim()).filter((x) => x !== ""));
  const number = (text, unit) => (text.trim() === "" ? null : Math.round(Number(text) * unit));
  const form = h("form", { class: "stack", id: "policy-form" },
    field("Log in only from", "policy-addresses", addresses,
      "Addresses or blocks, commas between them (203.0.113.0/24, 2001:db8::/32). Empty: the server's default."),
    field("File names", "policy-names", names,
      "Patterns, commas between them (*.nsf.age); any case. Empty: the server's default; * for any name."),
    field("Largest file in GiB", "policy-max-file", maxFile, "0: no limit. Empty: the server's default."),
    field("Upload rate in MiB/s", "policy-rate", rateInput,
      "All its sessions together, shared evenly. 0: no limit. Empty: the server's default."),
    field("Sessions at once", "policy-sessions", sessions, "0: no limit. Empty: the server's default."),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save policy")));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    patch({
      allowed_addresses: split(addresses.value),
      allowed_names: split(names.value),
      max_file_bytes: number(maxFile.value, GIB),
      rate_limit_bytes_per_s: number(rateInput.value, MIB),
      max_sessions: number(sessions.value, 1),
    }, "Policy saved");
  });
  return h("section", { class: "card policy", "aria-labelledby": "h-policy" }, heading,
    h("div", {}, h("p", { class: "help" }, "What applies now, with the server's defaults:"), facts), form);
}
