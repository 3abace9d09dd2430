// The overview: a migration as it happens. Uploads by state, what this
// node received in the last hour, the uploads running now, and those that
// need someone's attention, kept current by the event stream (and, while
// uploads run, a look at their progress every two seconds).
import { h, show, api, bytes, rate, when, duration, stateBadge, redrawOnEvents, onLeave, attempt,
  writeButton, toast } from "./app.js";
import { graph } from "./graph.js";
import { accountName, accountRecipient, advice } from "./accounts.js";

const STATES = ["receiving", "partial", "received", "verifying", "verified", "rejected",
  "importing", "imported", "failed"];
const PARTIAL_LONG_MS = 3600 * 1000; // a partial upload not resumed for an hour needs a look
const PROGRESS_MS = 2000;

export function overview() {
  const counts = h("ul", { class: "tiles", id: "counts", "aria-label": "Uploads by state" });
  const hour = h("p", { class: "big", id: "last-hour" }, "…");
  const chart = h("div", { class: "chart", id: "throughput" });
  const running = h("tbody", { id: "running" });
  const attention = h("ul", { class: "attention", id: "attention" });
  const nowRate = h("span", { id: "rate-now" }, "");

  show(
    h("div", { class: "title" }, h("h1", {}, "Overview"),
      h("span", { class: "live", id: "live", "aria-live": "polite" }, "connecting…")),
    h("section", { "aria-labelledby": "h-counts" }, h("h2", { id: "h-counts" }, "Uploads by state"), counts),
    h("section", { class: "card", "aria-labelledby": "h-hour" },
      h("h2", { id: "h-hour" }, "Received in the last hour ", h("small", { id: "rate-node" }, "")),
      hour, nowRate, chart),
    h("section", { "aria-labelledby": "h-running" },
      h("h2", { id: "h-running" }, "Running uploads"),
      h("div", { class: "scroll", tabindex: 0 }, h("table", { class: "list" },
        h("thead", {}, h("tr", {},
          ["Account", "File", "Received", "Rate", "Running for", "From", "Node"].map((t) => h("th", { scope: "col" }, t)))),
        running))),
    h("section", { "aria-labelledby": "h-attention" },
      h("h2", { id: "h-attention" }, "Needs attention"), attention));

  const last = new Map(); // upload id -> {bytes, at}: for rates
  let timer = null;
  let busy = false;
  let again = false;

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      const [stats, run, rejected, failed, partial] = await Promise.all([
        api("GET", "/stats"),
        api("GET", "/uploads?state=receiving&limit=100"),
        api("GET", "/uploads?state=rejected&limit=20"),
        api("GET", "/uploads?state=failed&limit=20"),
        api("GET", "/uploads?state=partial&limit=50"),
      ]);
      drawCounts(counts, stats.uploads);
      hour.textContent = bytes(stats.received.last_hour_bytes);
      document.getElementById("rate-node").textContent = "by node " + stats.received.node;
      graph(chart, stats.received.buckets, stats.received.bucket_seconds);
      await drawRunning(running, run.items, last, nowRate);
      const longPartial = partial.items.filter((u) =>
        Date.now() - new Date(u.updated_at || u.started_at).getTime() > PARTIAL_LONG_MS);
      await drawAttention(attention, [...rejected.items, ...failed.items, ...longPartial], refresh);
      clearTimeout(timer);
      timer = run.items.length ? setTimeout(refresh, PROGRESS_MS) : setTimeout(refresh, 30000);
    } catch (e) {
      if (e.status !== 401) toast("Cannot refresh the overview: " + e.message, true);
      clearTimeout(timer);
      timer = setTimeout(refresh, 5000);
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }
  onLeave(() => clearTimeout(timer));
  redrawOnEvents(refresh);
  refresh();
}

function drawCounts(ul, byState) {
  ul.replaceChildren(...STATES.map((s) => h("li", { class: "tile s-" + s },
    h("a", { href: "#/uploads?state=" + s, "data-state": s },
      h("span", { class: "n" }, String(byState[s] || 0)), h("span", { class: "label" }, s)))));
}

async function drawRunning(tbody, items, last, nowRate) {
  const now = Date.now();
  let total = 0;
  const rows = [];
  await Promise.all(items.map((u) => accountName(u.account_id)));
  for (const u of items) {
    const prev = last.get(u.id);
    let r = null;
    if (prev && now > prev.at) r = ((u.bytes_received - prev.bytes) * 1000) / (now - prev.at);
    else if (u.started_at) r = (u.bytes_received * 1000) / Math.max(1000, now - new Date(u.started_at).getTime());
    last.set(u.id, { bytes: u.bytes_received, at: now, rate: r });
    total += r || 0;
    const name = await accountName(u.account_id);
    rows.push(h("tr", { "data-upload": u.id },
      h("td", {}, h("a", { href: "#/accounts/" + u.account_id }, name)),
      h("td", { class: "path" }, u.path),
      h("td", { class: "num" }, bytes(u.bytes_received),
        h("progress", { "aria-label": "received of " + u.path, max: 1 })), // size unknown until the end
      h("td", { class: "num" }, r === null ? "–" : rate(r)),
      h("td", { class: "num" }, duration(now - new Date(u.started_at).getTime())),
      h("td", {}, u.client_address),
      h("td", {}, u.node || "")));
  }
  for (const id of last.keys()) if (!items.some((u) => u.id === id)) last.delete(id);
  nowRate.textContent = items.length ? "now " + rate(total) + " into " + items.length +
    " upload" + (items.length === 1 ? "" : "s") : "";
  if (!rows.length) rows.push(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No upload is running.")));
  tbody.replaceChildren(...rows);
}

async function drawAttention(ul, items, refresh) {
  if (!items.length) {
    ul.replaceChildren(h("li", { class: "empty" }, "Nothing needs attention."));
    return;
  }
  items.sort((a, b) => b.id - a.id);
  // the names and recipients at once, not one request after another
  await Promise.all(items.map((u) => Promise.all([accountName(u.account_id),
    u.state === "rejected" ? accountRecipient(u.account_id) : null])));
  const rows = [];
  for (const u of items) {
    const name = await accountName(u.account_id);
    const recipient = u.state === "rejected" ? await accountRecipient(u.account_id) : null;
    rows.push(h("li", { class: "s-" + u.state, "data-upload": u.id },
      h("div", { class: "what" }, stateBadge(u.state), " ",
        h("a", { href: "#/accounts/" + u.account_id }, name), " ", h("span", { class: "path" }, u.path),
        h("span", { class: "muted" }, " · " + bytes(u.size !== null ? u.size : u.bytes_received) +
          " · " + when(u.updated_at || u.started_at))),
      h("div", { class: "reason" }, u.error || (u.state === "partial" ? "the transfer stopped before the end" : "")),
      h("div", { class: "todo" }, advice(u, recipient)),
      u.state === "failed" ? writeButton("Retry import", () => attempt(async () => {
        await api("POST", "/uploads/" + u.id + "/retry");
        refresh();
      }, "Import queued again")) : null));
  }
  ul.replaceChildren(...rows);
}
