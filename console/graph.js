// The throughput graph: bytes per bucket as a rate over the last hour,
// drawn as SVG (no chart library: one area and two axes are all it is).
import { rate } from "./app.js";

const NS = "http://www.w3.org/2000/svg";

function s(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function graph(box, buckets, bucketSeconds) {
  const W = 720, H = 160, L = 70, B = 22, T = 8, R = 8;
  const rates = buckets.map((b) => b / bucketSeconds);
  const max = Math.max(1, ...rates);
  // the axis in one binary unit, its top a round 1, 2 or 5 times ten to some power
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
  let k = 0;
  while (k < units.length - 1 && max >= Math.pow(1024, k + 1)) k++;
  const scale = Math.pow(1024, k);
  const pow = Math.pow(10, Math.floor(Math.log10(max / scale)));
  const top = [1, 2, 5, 10].map((m) => m * pow).find((v) => v * scale >= max) * scale;
  const label = (v) => (v / scale).toLocaleString(undefined, { maximumFractionDigits: 1 }) + " " + units[k];
  const x = (i) => L + ((W - L - R) * i) / (rates.length - 1);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  let d = "M" + x(0) + "," + y(0);
  rates.forEach((v, i) => (d += " L" + x(i).toFixed(1) + "," + y(v).toFixed(1)));
  d += " L" + x(rates.length - 1) + "," + y(0) + " Z";
  const peak = Math.max(...rates);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "graph",
    "aria-label": "Throughput over the last hour; peak " + rate(peak) });
  svg.append(s("title", {}, "Throughput over the last hour, " + bucketSeconds + " s buckets"));
  for (const f of [0, 0.5, 1]) {
    svg.append(s("line", { x1: L, x2: W - R, y1: y(top * f), y2: y(top * f), class: "grid" }));
    svg.append(s("text", { x: L - 6, y: y(top * f) + 4, class: "axis", "text-anchor": "end" }, label(top * f)));
  }
  for (const [i, label] of [[0, "−60 min"], [rates.length / 2, "−30 min"], [rates.length - 1, "now"]])
    svg.append(s("text", { x: x(i), y: H - 6, class: "axis", "text-anchor": i === 0 ? "start" : i > rates.length / 2 ? "end" : "middle" }, label));
  svg.append(s("path", { d, class: "area" }));
  box.replaceChildren(svg);
}
