// The operators' part of the dashboard: charts of the last hour (or day) from the samples the workers keep
// in Redis (GET /stats/history; redrawn on each "sample" event), drawn with uPlot (vendored: static/vendor,
// MIT, 50 KB, canvas only, no style injection, so it lives within the page's Content-Security-Policy); the
// failed jobs with a retry button; cancel on the jobs that have not ended; search by id; and for admins, a
// tenant filter. Each action is an API call, allowed exactly as the API allows it to the token.
"use strict";

const charts = {};            // name -> uPlot, also window.imgqueueCharts (the browser test reads them)
let historyWindow = 3600;
let tenantFilter = null;      // admins: null (all) or a tenant ('' is open mode's)

const CHARTS = {
  ended: { title: "Jobs ended per minute", series: [["done", "#16a34a"], ["failed", "#dc2626"], ["cancelled", "#6b7280"]],
           values: (p) => [p.done, p.failed, p.cancelled] },
  latency: { title: "Upload to done (seconds)", series: [["p50", "#2563eb"], ["p95", "#9333ea"]],
             values: (p) => [p.p50, p.p95] },
  depth: { title: "Queue depth", series: [["high", "#ea580c"], ["normal", "#2563eb"], ["low", "#64748b"]],
           values: (p) => [p.depth.high ?? 0, p.depth.normal ?? 0, p.depth.low ?? 0] },
};

function chartOptions(title, series, width) {
  return {
    title, width, height: 170,
    scales: { x: { time: true } },
    series: [{}, ...series.map(([label, stroke]) => ({ label, stroke, width: 2, spanGaps: true }))],
    axes: [{}, { size: 50 }],
  };
}

function drawChart(name, title, series, rows) {
  const box = $(`chart-${name}`);
  const data = [rows.map((r) => r[0]), ...series.map((_, i) => rows.map((r) => r[i + 1]))];
  if (charts[name]) charts[name].destroy();
  charts[name] = new uPlot(chartOptions(title, series.map((s) => [s[0], s[1]]), Math.max(280, box.clientWidth - 8)), data, box);
}

async function loadHistory() {
  if (!me || me.role !== "admin") return;
  const resp = await api(`/stats/history?window=${historyWindow}`);
  if (!resp.ok) return;
  const points = (await resp.json()).points;
  for (const [name, spec] of Object.entries(CHARTS)) {
    drawChart(name, spec.title, spec.series, points.map((p) => [p.t, ...spec.values(p)]));
  }
  const reasons = [...new Set(points.flatMap((p) => Object.keys(p.reasons)))].sort();
  const palette = ["#dc2626", "#ea580c", "#ca8a04", "#9333ea", "#0891b2", "#be185d", "#4d7c0f"];
  drawChart("reasons", "Failures by reason (per minute)", reasons.map((r, i) => [r, palette[i % palette.length]]),
    points.map((p) => [p.t, ...reasons.map((r) => p.reasons[r] ?? 0)]));
  window.imgqueueCharts = charts;
}

// --- failed jobs, actions, search, tenant filter ----------------------------------------------------

function tenantQuery() {
  return tenantFilter === null ? "" : `&tenant=${encodeURIComponent(tenantFilter)}`;
}

async function loadFailed() {
  const resp = await api(`/jobs?status=${STATUS.FAILED}&limit=50${tenantQuery()}`);
  if (!resp.ok) return;
  const failed = (await resp.json()).jobs;
  const rows = failed.map((job) => {
    const tr = el("tr");
    tr.dataset.id = job.id;
    const retry = el("button", "retry", "retry");
    retry.addEventListener("click", () => act(job.id, "retry", retry));
    const cell = el("td");
    cell.append(retry);
    tr.append(el("td", "", job.filename || job.id.slice(0, 12)), el("td", "reason", job.error || job.error_code || ""),
      el("td", "", job.finished_at ? new Date(job.finished_at * 1000).toLocaleTimeString() : ""),
      el("td", "", job.engine || "–"), el("td", "", job.tenant || ""), cell);
    return tr;
  });
  $("failed").tBodies[0].replaceChildren(...rows);
  $("failed-panel").hidden = false;
  $("no-failed").hidden = rows.length > 0;
}

let failedTimer = null;
function refreshFailed() {  // a job failed, or a failed one moved on: the list follows, at most twice a second
  clearTimeout(failedTimer);
  failedTimer = setTimeout(loadFailed, 500);
}

// A retry or a cancel, as the API allows it to this token; the card and the failed list follow.
async function act(id, verb, button) {
  button.disabled = true;
  const resp = await api(`/jobs/${id}/${verb}`, { method: "POST" });
  const body = await resp.json().catch(() => ({}));
  button.textContent = resp.ok ? (verb === "retry" ? "queued again" : "cancelled") : (body.error ? body.error.code : `HTTP ${resp.status}`);
  await fetchJob(id);
  loadFailed();
}

// The buttons a job card offers: cancel, while it has not ended.
function actionsFor(job) {
  if (!(NEXT[job.status] || []).includes(STATUS.CANCELLED)) return null;  // status.NEXT says when
  const cancel = el("button", "cancel", "cancel");
  cancel.addEventListener("click", () => act(job.id, "cancel", cancel));
  return cancel;
}

function setupOperators() {
  $("search-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = $("search").value.trim().toLowerCase();
    const resp = await api(`/jobs/${encodeURIComponent(id)}`);
    $("search-msg").textContent = resp.ok ? "" : `No job ${id.slice(0, 40)} here.`;
    if (!resp.ok) return;
    const record = await resp.json();
    jobs.set(record.id, { ...record, created_at: Date.now() / 1000 });  // first in the list
    schedule();
  });
  $("history-window").addEventListener("change", () => { historyWindow = Number($("history-window").value); loadHistory(); });
  $("tenant-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("tenant").value.trim();
    tenantFilter = value === "" ? null : value;
    jobs.clear();
    loadRecent(tenantQuery());
    loadFailed();
  });
  loadFailed();
  loadHistory();
  window.addEventListener("resize", () => loadHistory());
}
