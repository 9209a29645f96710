import Hummingbird

/// The web console at `GET /`: one page, no external resources (no CDN), drawn from the JSON
/// API. The pipeline as a picture (the log's head and each consumer and projection with lag,
/// rate and status, plots of the last minutes), a record browser, dead letters with retry and
/// skip, projections with rebuild progress, and a search box with facets. Writes send the
/// token from the page's address (`#token=…`, which `kiroku serve` prints) or typed in.
enum ConsolePage {
    static func response() -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Kiroku console</title>
<style>
  :root { --ok: #2e7d32; --warn: #ef6c00; --bad: #c62828; --build: #1565c0; --ink: #1b1f24; --muted: #667; --line: #d8dde3; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK JP", sans-serif; color: var(--ink); background: #f6f7f9; }
  header { display: flex; gap: 24px; align-items: baseline; padding: 10px 20px; background: #14202e; color: #fff; }
  header h1 { font-size: 18px; margin: 0; }
  header .stat b { font-size: 16px; }
  header .right { margin-left: auto; }
  header input { width: 180px; }
  main { padding: 12px 20px; display: grid; gap: 14px; grid-template-columns: 1fr 1fr; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 15px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef0f3; vertical-align: top; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .status-ok { color: var(--ok); } .status-stalled, .status-failed { color: var(--bad); font-weight: 600; }
  .status-dead-letters { color: var(--warn); font-weight: 600; } .status-building { color: var(--build); }
  .muted { color: var(--muted); }
  button { font: inherit; font-size: 12px; padding: 1px 8px; cursor: pointer; }
  input, select { font: inherit; padding: 2px 4px; }
  .bar { height: 6px; background: #e3e8ee; border-radius: 3px; overflow: hidden; width: 120px; display: inline-block; vertical-align: middle; }
  .bar > span { display: block; height: 100%; background: var(--build); }
  pre { margin: 0; white-space: pre-wrap; word-break: break-all; font-size: 12px; }
  #message { position: fixed; bottom: 10px; right: 10px; background: #14202e; color: #fff; padding: 6px 12px; border-radius: 4px; display: none; }
  svg text { font-size: 12px; }
  .facets span { margin-right: 10px; }
  mark { background: #fff3a3; }
</style>
</head>
<body>
<header>
  <h1>Kiroku</h1>
  <span class="stat">head <b id="head">–</b></span>
  <span class="stat">append rate <b id="rate">–</b>/s</span>
  <span class="stat">keys <b id="keys">–</b></span>
  <span class="stat">file <b id="size">–</b></span>
  <span class="stat" id="health">health –</span>
  <span class="right" id="access"></span>
</header>
<main>
  <section class="wide">
    <h2>Pipeline</h2>
    <svg id="pipeline" width="100%" height="160" role="img" aria-label="The log and its consumers and projections"></svg>
  </section>
  <section class="wide">
    <h2>Lag over the last minutes <span class="muted">(records behind the head)</span></h2>
    <svg id="plot" width="100%" height="180" role="img" aria-label="Lag of each consumer and projection over time"></svg>
  </section>
  <section>
    <h2>Consumers</h2>
    <table id="consumers"><thead><tr><th>Name</th><th class="num">Position</th><th class="num">Lag</th><th class="num">Lag s</th><th class="num">Rate/s</th><th>Status</th><th>Holder</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Projections</h2>
    <table id="projections"><thead><tr><th>Name</th><th>Version</th><th>State</th><th class="num">Position</th><th class="num">Lag</th><th>Progress</th><th></th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide">
    <h2>Dead letters</h2>
    <table id="deadletters"><thead><tr><th>Consumer</th><th class="num">Position</th><th>Key</th><th>Type</th><th class="num">Attempts</th><th>State</th><th>Error</th><th></th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide">
    <h2>Records</h2>
    <form id="recordForm">
      <input id="recordKey" placeholder="key"> or <input id="recordPrefix" placeholder="key prefix">
      from <input id="recordFrom" placeholder="position" size="8">
      <label><input type="checkbox" id="recordReverse" checked> newest first</label>
      <button>Show</button> <button type="button" id="recordNext" disabled>Next page</button>
    </form>
    <table id="records"><thead><tr><th class="num">Position</th><th>Key</th><th class="num">Version</th><th>Type</th><th>Time</th><th>Data</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="wide">
    <h2>Search</h2>
    <form id="searchForm">
      <select id="searchView"></select>
      <input id="searchQuery" placeholder="query, e.g. 見積 owner:alice" size="40">
      <span id="searchFacetFields"></span>
      <button>Search</button> <button type="button" id="searchNext" disabled>Next page</button>
    </form>
    <div id="searchSummary" class="muted"></div>
    <div id="searchFacets" class="facets"></div>
    <table id="searchHits"><thead><tr><th>Id</th><th class="num">Score</th><th>Match</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<div id="message"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("kiroku-token") || "";
if (token) sessionStorage.setItem("kiroku-token", token);
const base = location.pathname.replace(/\/$/, "");
const fmt = (n) => n === undefined || n === null ? "–" : Number(n).toLocaleString("en-US", { maximumFractionDigits: 1 });
const bytes = (n) => n > 1 << 30 ? (n / (1 << 30)).toFixed(1) + " GiB" : n > 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB" : (n / 1024).toFixed(0) + " KiB";
function esc(text) { return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }
function note(text) { const m = $("message"); m.textContent = text; m.style.display = "block"; clearTimeout(note.timer); note.timer = setTimeout(() => m.style.display = "none", 4000); }
async function api(path, method) {
  const headers = {};
  if (method === "POST" && token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(base + path, { method: method || "GET", headers });
  const text = await response.text();
  let body; try { body = JSON.parse(text); } catch (e) { body = text; }
  if (!response.ok && response.status !== 503) { throw new Error(body && body.error ? body.error.code + ": " + body.error.message : response.status + " " + text); }
  return body;
}
async function act(path) { try { await api(path, "POST"); note("Done: " + path); refresh(); loadDeadLetters(); } catch (e) { note(e.message); } }

const colors = ["#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#2e7d32", "#ad1457", "#4e342e", "#283593"];
function statusOf(node) { return node.kind === "consumer" ? node.status : node.stalled ? "stalled" : node.state === "failed" ? "failed" : node.state === "building" ? "building" : "ok"; }
function drawPipeline(p) {
  const svg = $("pipeline");
  const nodes = p.consumers.map((c) => ({ kind: "consumer", id: c.name, label: c.name, lag: c.lagRecords, lagSeconds: c.lagSeconds, rate: c.rate, status: c.status }))
    .concat(p.projections.filter((x) => x.state !== "retired").map((x) => ({ kind: "projection", id: x.name + "/v" + x.version, label: x.name + " v" + x.version, lag: x.lag, lagSeconds: x.lagSeconds, rate: x.rate, state: x.state, stalled: x.stalled })));
  const width = svg.clientWidth || 1200, rowH = 34;
  const height = Math.max(80, nodes.length * rowH + 20);
  svg.setAttribute("height", height);
  let out = `<g class="log" data-head="${p.head}"><rect x="10" y="${height / 2 - 30}" width="170" height="60" rx="6" fill="#14202e"/>` +
    `<text x="22" y="${height / 2 - 8}" fill="#fff" font-weight="600">log</text>` +
    `<text x="22" y="${height / 2 + 12}" fill="#fff">head ${fmt(p.head)} · ${fmt(p.appendRate)}/s</text></g>`;
  nodes.forEach((n, i) => {
    const y = 12 + i * rowH, s = statusOf(n);
    const color = s === "ok" ? "var(--ok)" : s === "building" ? "var(--build)" : s === "dead-letters" ? "var(--warn)" : "var(--bad)";
    out += `<path d="M180 ${height / 2} C 260 ${height / 2}, 260 ${y + 13}, 340 ${y + 13}" stroke="#9aa5b1" fill="none"/>`;
    out += `<g class="node ${n.kind}" data-name="${esc(n.id)}" data-lag="${n.lag}" data-status="${s}">` +
      `<rect x="340" y="${y}" width="${Math.min(520, width - 360)}" height="26" rx="4" fill="#fff" stroke="${color}" stroke-width="2"/>` +
      `<text x="350" y="${y + 17}"><tspan font-weight="600">${esc(n.label)}</tspan> <tspan class="muted">${n.kind}</tspan>` +
      ` · lag ${fmt(n.lag)}${n.lag ? " (" + fmt(n.lagSeconds) + " s)" : ""} · ${fmt(n.rate)}/s · <tspan fill="${color}">${s}</tspan></text></g>`;
  });
  if (nodes.length === 0) out += `<text x="340" y="${height / 2 + 4}" class="muted">no consumers or projections yet</text>`;
  svg.innerHTML = out;
}
function drawPlot(p) {
  const svg = $("plot"), width = svg.clientWidth || 1200, height = 180, left = 60, right = 200, top = 10, bottom = 24;
  const history = p.history || [];
  const series = {};
  history.forEach((s) => {
    for (const [name, lag] of Object.entries(s.consumers)) (series[name] = series[name] || []).push([s.time, lag]);
    for (const [name, lag] of Object.entries(s.projections)) (series[name] = series[name] || []).push([s.time, lag]);
  });
  const times = history.map((s) => Date.parse(s.time));
  const t0 = Math.min(...times, Date.now() - 60000), t1 = Math.max(...times, Date.now());
  let max = 1;
  for (const points of Object.values(series)) for (const [, lag] of points) max = Math.max(max, lag);
  const x = (t) => left + (Date.parse(t) - t0) / Math.max(1, t1 - t0) * (width - left - right);
  const y = (v) => top + (1 - v / max) * (height - top - bottom);
  let out = `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#ccd"/>` +
    `<text x="${left - 6}" y="${top + 10}" text-anchor="end">${fmt(max)}</text><text x="${left - 6}" y="${height - bottom}" text-anchor="end">0</text>` +
    `<text x="${left}" y="${height - 6}" class="muted">${Math.round((t1 - t0) / 60000) || 1} min ago</text><text x="${width - right}" y="${height - 6}" text-anchor="end">now</text>`;
  Object.keys(series).sort().forEach((name, i) => {
    const color = colors[i % colors.length], points = series[name];
    out += `<polyline class="series" data-name="${esc(name)}" fill="none" stroke="${color}" stroke-width="2" points="${points.map(([t, v]) => x(t).toFixed(1) + "," + y(v).toFixed(1)).join(" ")}"/>`;
    out += `<text x="${width - right + 10}" y="${top + 14 + i * 16}" fill="${color}">${esc(name)}: ${fmt(points[points.length - 1][1])}</text>`;
  });
  svg.innerHTML = out;
}
function fillConsumers(p) {
  $("consumers").tBodies[0].innerHTML = p.consumers.map((c) =>
    `<tr data-name="${esc(c.name)}"><td>${esc(c.name)}</td><td class="num">${fmt(c.position)}</td><td class="num">${fmt(c.lagRecords)}</td>` +
    `<td class="num">${fmt(c.lagSeconds)}</td><td class="num">${fmt(c.rate)}</td><td class="status-${c.status}">${c.status}` +
    `${c.failedDeadLetters ? " (" + c.failedDeadLetters + " failed)" : ""}</td><td class="muted">${esc(c.holder || "")}</td></tr>`).join("") ||
    `<tr><td colspan="7" class="muted">none</td></tr>`;
}
function fillProjections(p) {
  const writable = p.access !== "read-only";
  $("projections").tBodies[0].innerHTML = p.projections.map((x) => {
    const s = x.stalled ? "stalled" : x.state;
    const done = p.head ? Math.min(100, 100 * x.position / p.head) : 100;
    const buttons = !writable ? "" : x.state === "active" ? `<button data-rebuild="${esc(x.name)}">Rebuild</button>` :
      x.state === "retired" ? `<button data-switch="${esc(x.name)}" data-version="${x.version}">Switch</button> <button data-prune="${esc(x.name)}" data-version="${x.version}">Prune</button>` : "";
    return `<tr data-name="${esc(x.name)}" data-version="${x.version}"><td>${esc(x.name)}</td><td>v${x.version}</td><td class="status-${s}">${s}${x.rebuilding ? " (rebuilding here)" : ""}` +
      `${x.error ? "<br><span class='muted'>" + esc(x.error) + "</span>" : ""}</td><td class="num">${fmt(x.position)}</td><td class="num">${fmt(x.lag)}</td>` +
      `<td><span class="bar"><span style="width:${done.toFixed(1)}%"></span></span> ${done.toFixed(0)}%</td><td>${buttons}</td></tr>`;
  }).join("") || `<tr><td colspan="7" class="muted">none</td></tr>`;
}
let lastPipeline = null;
async function refresh() {
  try {
    const p = await api("/api/pipeline");
    lastPipeline = p;
    $("head").textContent = fmt(p.head); $("rate").textContent = fmt(p.appendRate); $("keys").textContent = fmt(p.keys); $("size").textContent = bytes(p.fileBytes);
    $("access").innerHTML = p.access === "read-only" ? "read-only" :
      token ? "writes enabled" : `token <input id="tokenInput" type="password" placeholder="to retry, rebuild…">`;
    const input = $("tokenInput");
    if (input) input.onchange = () => { token = input.value; sessionStorage.setItem("kiroku-token", token); refresh(); };
    drawPipeline(p); drawPlot(p); fillConsumers(p); fillProjections(p);
    const health = await api("/health");
    $("health").innerHTML = health.status === "ok" ? `health <b class="status-ok">ok</b>` : `health <b class="status-failed" title="${esc(health.reasons.map((r) => r.message).join("\n"))}">unhealthy (${health.reasons.length})</b>`;
  } catch (e) { $("health").textContent = "unreachable: " + e.message; }
}
async function loadDeadLetters() {
  try {
    const letters = await api("/api/deadletters?limit=200");
    const writable = lastPipeline && lastPipeline.access !== "read-only";
    $("deadletters").tBodies[0].innerHTML = letters.map((d) =>
      `<tr><td>${esc(d.consumer)}</td><td class="num">${d.position}</td><td>${esc(d.key)}</td><td>${esc(d.type)}</td><td class="num">${d.attempts}</td>` +
      `<td class="status-${d.state === "failed" ? "failed" : "building"}">${d.state}${d.holdsKey ? " (holds key)" : ""}</td><td><pre>${esc(d.error)}</pre></td>` +
      `<td>${writable && d.state !== "held" ? `<button data-retry="${esc(d.consumer)}/${d.position}">Retry</button> <button data-skip="${esc(d.consumer)}/${d.position}">Skip</button>` : ""}</td></tr>`).join("") ||
      `<tr><td colspan="8" class="muted">none</td></tr>`;
  } catch (e) { note(e.message); }
}
document.addEventListener("click", (event) => {
  const t = event.target, d = t.dataset || {};
  if (d.retry) act(`/api/deadletters/${d.retry}/retry`);
  else if (d.skip) act(`/api/deadletters/${d.skip}/skip`);
  else if (d.rebuild) act(`/api/projections/${encodeURIComponent(d.rebuild)}/rebuild`);
  else if (d.switch) act(`/api/projections/${encodeURIComponent(d.switch)}/switch?version=${d.version}`);
  else if (d.prune) act(`/api/projections/${encodeURIComponent(d.prune)}/prune?version=${d.version}`);
});
let recordNext = null;
async function loadRecords(next) {
  const key = $("recordKey").value, prefix = $("recordPrefix").value, from = $("recordFrom").value, reverse = $("recordReverse").checked;
  const q = new URLSearchParams({ limit: "50" });
  if (key) q.set("key", key); else if (prefix) q.set("prefix", prefix);
  if (reverse) q.set("reverse", "true");
  const cursor = next !== undefined ? next : from;
  if (cursor) q.set(key ? "version" : reverse ? "before" : "from", cursor);
  try {
    const page = await api("/api/records?" + q);
    recordNext = page.next === undefined ? null : page.next;
    $("recordNext").disabled = recordNext === null;
    $("records").tBodies[0].innerHTML = page.records.map((r) =>
      `<tr><td class="num">${r.position}</td><td><a href="#" data-key="${esc(r.key)}">${esc(r.key)}</a></td><td class="num">${r.version}</td><td>${esc(r.type)}${r.schema ? " (schema " + r.schema + ")" : ""}</td>` +
      `<td class="muted">${esc(r.timestamp)}</td><td><pre>${esc(r.deletion ? "<" + r.deletion + " deletion>" : r.erased ? "<erased>" : JSON.stringify(r.data !== undefined ? r.data : r.dataBase64))}</pre></td></tr>`).join("") ||
      `<tr><td colspan="6" class="muted">no records</td></tr>`;
  } catch (e) { note(e.message); }
}
$("recordForm").onsubmit = (e) => { e.preventDefault(); loadRecords(); };
$("recordNext").onclick = () => loadRecords(recordNext);
$("records").onclick = (e) => { if (e.target.dataset.key !== undefined) { e.preventDefault(); $("recordKey").value = e.target.dataset.key; $("recordPrefix").value = ""; loadRecords(); } };
let views = [], searchNext = null;
async function loadViews() {
  try {
    views = await api("/api/views");
    $("searchView").innerHTML = views.map((v) => `<option value="${esc(v.name)}">${esc(v.name)} v${v.version}</option>`).join("") || `<option value="">no search views</option>`;
    showFacetFields();
  } catch (e) { note(e.message); }
}
function showFacetFields() {
  const view = views.find((v) => v.name === $("searchView").value);
  $("searchFacetFields").innerHTML = !view ? "" : "facets: " + view.fields.filter((f) => f.type === "keyword")
    .map((f) => `<label><input type="checkbox" class="facet" value="${esc(f.name)}" checked>${esc(f.name)}</label>`).join(" ");
}
$("searchView").onchange = showFacetFields;
async function search(after) {
  const view = $("searchView").value;
  if (!view) return;
  const q = new URLSearchParams({ q: $("searchQuery").value, limit: "20" });
  document.querySelectorAll(".facet:checked").forEach((f) => q.append("facet", f.value));
  if (after) q.set("after", after);
  try {
    const r = await api(`/api/search/${encodeURIComponent(view)}?` + q);
    searchNext = r.next || null;
    $("searchNext").disabled = !searchNext;
    $("searchSummary").textContent = `${fmt(r.total)} hits`;
    $("searchFacets").innerHTML = Object.entries(r.facets || {}).map(([field, counts]) =>
      `<div><b>${esc(field)}</b>: ${counts.map((c) => `<span><a href="#" data-filter="${esc(field)}:${esc(c.value)}">${esc(c.value)}</a> (${c.count})</span>`).join("")}</div>`).join("");
    $("searchHits").tBodies[0].innerHTML = r.hits.map((h) => {
      const text = h.snippet || Object.values(h.fields || {}).find((v) => typeof v === "string") || "";
      return `<tr><td>${esc(h.id)}</td><td class="num">${h.score.toFixed(3)}</td><td>${esc(text).replace(/&lt;(\/?)em&gt;/g, "<$1mark>")}</td></tr>`;
    }).join("") || `<tr><td colspan="3" class="muted">no hits</td></tr>`;
  } catch (e) { note(e.message); $("searchSummary").textContent = e.message; }
}
$("searchForm").onsubmit = (e) => { e.preventDefault(); search(); };
$("searchNext").onclick = () => search(searchNext);
$("searchFacets").onclick = (e) => { const f = e.target.dataset.filter; if (f) { e.preventDefault(); $("searchQuery").value = ($("searchQuery").value + " " + f).trim(); search(); } };
refresh(); loadDeadLetters(); loadViews(); loadRecords();
setInterval(refresh, 1000);
setInterval(loadDeadLetters, 5000);
</script>
</body>
</html>
"""#
}
