// imgqueue dashboard: live from GET /events (server-sent events); no build step, no external files (uPlot is
// vendored, see operators.js, which adds the charts and the operators' actions).
// With AUTH_MODE=token it asks for a token once and keeps it for the tab (sessionStorage); every fetch
// sends it as a Bearer header, and the event stream opens with a short-lived ticket (EventSource cannot
// send headers). Thumbnails use each job's signed resultUrl.
"use strict";

const MAX_JOBS = 60;          // cards kept on the page
const WINDOW_S = 300;         // throughput card: the last 5 minutes
const jobs = new Map();       // id -> record (as GET /jobs/<id> returns it, updated by events)
const samples = [];           // [time (s), done counter] from summaries, for the throughput chart
let dirty = false;
let me = null;                // {tenant, role, authMode} from GET /me
const TOKEN_KEY = "imgqueue-token";

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
};
const fmtBytes = (n) => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`;
const ago = (ts) => {
  const s = Math.max(0, Date.now() / 1000 - ts);
  return s < 60 ? `${s.toFixed(0)} s ago` : `${(s / 60).toFixed(0)} min ago`;
};

// --- the API, with the tab's token ------------------------------------------------------------------

function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = new Headers(options.headers || {});
  if (token) headers.set("Authorization", `Bearer ${token}`);
  return fetch(path, { ...options, headers }).then((resp) => {
    if (resp.status === 401) askForToken("The token was refused (revoked or mistyped).");
    return resp;
  });
}

function askForToken(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-msg").textContent = message || "";
}

async function signIn() {
  const resp = await fetch("/me", { headers: sessionStorage.getItem(TOKEN_KEY)
    ? { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY)}` } : {} });
  if (resp.status === 401) { askForToken(sessionStorage.getItem(TOKEN_KEY) ? "The token was refused." : ""); return false; }
  me = await resp.json();
  $("login").hidden = true;
  $("main").hidden = false;
  $("who").textContent = me.authMode === "open" ? "open mode" : `${me.tenant} · ${me.role}`;
  for (const node of document.querySelectorAll(".admin-only")) node.hidden = me.role !== "admin";
  return true;
}

// --- jobs ------------------------------------------------------------------------------------------

async function fetchJob(id) {
  const resp = await api(`/jobs/${id}`);
  if (!resp.ok) return;
  const record = await resp.json();
  const known = jobs.get(id);
  if (!known || (record.updated_at || 0) >= (known.updated_at || 0)) jobs.set(id, record);
  schedule();
}

function onJobEvent(event) {
  const known = jobs.get(event.id);
  if (event.status === STATUS.FAILED || (known && known.status === STATUS.FAILED)) refreshFailed();
  if (!known) {
    jobs.set(event.id, { id: event.id, status: event.status, updated_at: event.ts, filename: "" });
    fetchJob(event.id);
  } else if ((event.ts || 0) >= (known.updated_at || 0)) {
    known.status = event.status;
    known.updated_at = event.ts;
    if (event.worker) known.worker = event.worker;
    if (event.error) known.error = event.error;
    if (event.progress) known.progress = event.progress;
    if (TERMINAL.has(event.status)) fetchJob(event.id); // sizes, reason
  }
  schedule();
}

// A delivery attempt of a job's webhook: its badge follows.
function onWebhookEvent(event) {
  const known = jobs.get(event.id);
  if (!known) return;
  known.webhook = event.webhook;
  schedule();
}

function jobCard(job) {
  const card = el("div", "job");
  card.dataset.id = job.id;
  card.dataset.status = job.status;
  const thumb = el("div", "thumb");
  if (job.status === STATUS.DONE) {
    const img = el("img");
    img.alt = job.filename || job.id;
    img.loading = "lazy";
    img.src = job.resultUrl || `/jobs/${job.id}/result`;
    thumb.append(img);
  } else {
    thumb.append(el("span", "ph", job.status === STATUS.FAILED ? "no result" : "…"));
  }
  const meta = el("div", "meta");
  meta.append(el("div", "name", job.filename || job.id.slice(0, 12)));
  const line = el("div", "detail");
  line.append(el("span", `badge ${job.status}`, job.status));
  if (job.status === STATUS.PROCESSING && job.progress) line.append(` ${job.progress.done}/${job.progress.total}`);
  if (job.status === STATUS.DONE && job.variants && job.variants.length) {
    line.append(` ${job.variants.length} outputs · ${fmtBytes(job.output_bytes)} · ${Math.round(job.duration_ms)} ms`);
  } else if (job.status === STATUS.DONE && job.output_width) {
    line.append(` ${job.output_width}×${job.output_height} · ${fmtBytes(job.output_bytes)} · ${Math.round(job.duration_ms)} ms`);
  }
  meta.append(line);
  if (job.status === STATUS.FAILED && job.error) meta.append(el("div", "reason", job.error));
  if (job.webhook) meta.append(webhookDetails(job));
  const action = actionsFor(job);
  if (action) meta.append(action);
  card.append(thumb, meta);
  if (job.status === STATUS.DONE && job.variants && job.variants.length) card.append(outputsRow(job));
  return card;
}

// A job's webhook: where its latest message stands; opened, every message's attempts (read when opened) and
// a button that sends a dead one again.
function webhookDetails(job) {
  const box = el("details", "webhook");
  box.append(el("summary", `badge hook-${job.webhook}`, `webhook ${job.webhook}`));
  box.addEventListener("toggle", async () => {
    if (!box.open) return;
    const resp = await api(`/jobs/${job.id}/deliveries`);
    const list = el("ol", "attempts");
    for (const message of resp.ok ? (await resp.json()).deliveries : []) {
      for (const a of message.attempts) {
        const when = new Date(a.at * 1000).toLocaleTimeString();
        list.append(el("li", "", `${message.event} · ${when} · ${a.status ?? "no answer"} · ${Math.round(a.ms)} ms${a.error ? " · " + a.error : ""}`));
      }
      if (message.state === DELIVERY.DEAD) {
        const again = el("button", "redeliver", "redeliver");
        again.addEventListener("click", async () => {
          await api(`/deliveries/${message.id}/redeliver`, { method: "POST" });
          again.disabled = true;
          again.textContent = "queued again";
        });
        list.append(again);
      }
    }
    box.querySelector("ol")?.remove();
    box.append(list);
  });
  return box;
}

// A set's outputs, a thumbnail each (its own signed link), named and sized on hover.
function outputsRow(job) {
  const row = el("div", "outputs");
  for (const v of job.variants) {
    const img = el("img");
    img.loading = "lazy";
    img.src = v.url;
    img.alt = img.title = `${v.name}: ${v.width}×${v.height} ${v.format}, ${fmtBytes(v.bytes)}`;
    row.append(img);
  }
  return row;
}

function renderJobs() {
  const list = [...jobs.values()].sort((a, b) => (b.created_at || b.updated_at || 0) - (a.created_at || a.updated_at || 0));
  for (const stale of list.slice(MAX_JOBS)) jobs.delete(stale.id);
  const box = $("jobs");
  const existing = new Map([...box.children].map((c) => [c.dataset.id, c]));
  const fragment = document.createDocumentFragment();
  for (const job of list.slice(0, MAX_JOBS)) {
    let card = existing.get(job.id);
    const progress = job.progress ? `${job.progress.done}/${job.progress.total}` : "";
    const stamp = `${job.status}|${job.output_bytes || ""}|${job.error || ""}|${job.filename || ""}|${progress}|${job.webhook || ""}`;
    if (!card || card.dataset.stamp !== stamp) {
      card = jobCard(job);
      card.dataset.stamp = stamp;
    }
    fragment.append(card);
  }
  box.replaceChildren(fragment);
  $("no-jobs").hidden = list.length > 0;
}

// --- queue, workers, throughput ---------------------------------------------------------------------

function onSummary(summary) {
  const c = summary.counts || {};
  $("c-queued").textContent = c.queued ?? 0;
  $("c-processing").textContent = c.processing ?? 0;
  $("c-delayed").textContent = c.delayed ?? 0;
  $("c-retrying").textContent = c.retrying ?? 0;
  $("c-cancelled").textContent = c.cancelled ?? 0;
  $("c-done").textContent = c.done ?? 0;
  $("c-failed").textContent = c.failed ?? 0;
  $("c-workers").textContent = c.workers ?? 0;
  samples.push([summary.ts, (c.done || 0) + (c.failed || 0)]);
  while (samples.length > 2 && samples[0][0] < summary.ts - WINDOW_S) samples.shift();
  renderWorkers(summary.workers || []);
  drawThroughput();
}

function renderWorkers(workers) {
  const rows = workers.map((w) => {
    const tr = el("tr");
    tr.append(el("td", "id", w.id), el("td", "", w.host || ""), el("td", "id", w.current_job || "–"),
      el("td", "", w.last_heartbeat ? ago(parseFloat(w.last_heartbeat)) : "–"), el("td", "", w.jobs_done || "0"));
    const state = el("td");
    state.append(el("span", `badge ${w.alive ? "alive" : "lost"}`, w.alive ? "alive" : "lost"));
    tr.append(state);
    return tr;
  });
  $("workers").tBodies[0].replaceChildren(...rows);
  $("no-workers").hidden = workers.length > 0;
}

// The throughput card: jobs ended per second over the last 5 minutes, from the summaries (uPlot).
let spark = null;
function drawThroughput() {
  if (samples.length < 2) return;
  const times = [], rates = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = samples[i][0] - samples[i - 1][0];
    times.push(samples[i][0]);
    rates.push(dt > 0 ? Math.max(0, samples[i][1] - samples[i - 1][1]) / dt : 0);
  }
  const recent = rates.slice(-15);
  $("c-rate").textContent = (recent.reduce((s, r) => s + r, 0) / recent.length).toFixed(1);
  const data = [times, rates];
  if (!spark) {
    spark = new uPlot({ width: 360, height: 60, legend: { show: false }, cursor: { show: false },
      scales: { x: { time: true } }, axes: [{ show: false }, { show: false }],
      series: [{}, { stroke: "#2563eb", fill: "rgba(37, 99, 235, 0.12)", width: 2 }] }, data, $("chart"));
  } else {
    spark.setData(data);
  }
}

function schedule() {
  if (dirty) return;
  dirty = true;
  requestAnimationFrame(() => { dirty = false; renderJobs(); });
}

// --- live connection --------------------------------------------------------------------------------

let source = null;

async function connect() {
  // A fresh ticket for every (re)connection: a ticket only opens a stream, and only for a minute.
  const resp = await api("/events/ticket", { method: "POST" }).catch(() => null);
  if (!resp || !resp.ok) { setTimeout(connect, 3000); return; }
  const { ticket } = await resp.json();
  source = new EventSource(`/events?ticket=${encodeURIComponent(ticket)}`);
  source.addEventListener("open", () => { $("conn").textContent = "live"; $("conn").className = "conn live"; });
  source.addEventListener("error", () => {
    $("conn").textContent = "reconnecting…"; $("conn").className = "conn down";
    source.close();
    setTimeout(connect, 2000);
  });
  source.addEventListener("summary", (e) => onSummary(JSON.parse(e.data)));
  source.addEventListener("job", (e) => onJobEvent(JSON.parse(e.data)));
  source.addEventListener("webhook", (e) => onWebhookEvent(JSON.parse(e.data)));
  source.addEventListener("sample", () => loadHistory());
  source.addEventListener("resync", () => loadRecent());
}

async function loadRecent(query = "") {
  const resp = await api(`/jobs?limit=40${query}`);
  if (!resp.ok) return;
  for (const record of (await resp.json()).jobs) {
    const known = jobs.get(record.id);
    if (!known || (record.updated_at || 0) >= (known.updated_at || 0)) jobs.set(record.id, record);
  }
  schedule();
}

// --- upload form ------------------------------------------------------------------------------------

function setupUpload() {
  const drop = $("drop"), input = $("files"), msg = $("upload-msg");
  let chosen = [];
  const show = () => { $("drop-text").textContent = chosen.length ? `${chosen.length} file(s) chosen` : "Drop images here or choose files"; };
  input.addEventListener("change", () => { chosen = [...input.files]; show(); });
  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => { chosen = [...e.dataTransfer.files]; show(); });
  $("upload-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!chosen.length) { msg.textContent = "Choose one or more images first."; msg.className = "msg error"; return; }
    const form = new FormData();
    chosen.forEach((f) => form.append("images", f, f.name));
    for (const name of ["width", "height", "fit", "format"]) {
      const value = $(name).value;
      if (value) form.append(name, value);
    }
    $("upload-button").disabled = true;
    msg.className = "msg";
    msg.textContent = `Uploading ${chosen.length} file(s)…`;
    try {
      const resp = await api("/jobs", { method: "POST", body: form });
      const body = await resp.json();
      if (!resp.ok) throw new Error(body.error ? body.error.message : `HTTP ${resp.status}`);
      msg.textContent = `Queued ${body.jobs.length} job(s).`;
      for (const entry of body.jobs) {
        if (!jobs.has(entry.jobId)) jobs.set(entry.jobId, { id: entry.jobId, status: entry.status, filename: entry.filename, created_at: Date.now() / 1000 });
        fetchJob(entry.jobId);
      }
      chosen = []; input.value = ""; show(); schedule();
    } catch (err) {
      msg.textContent = `Upload refused: ${err.message}`;
      msg.className = "msg error";
    } finally {
      $("upload-button").disabled = false;
    }
  });
}

async function start() {
  if (!(await signIn())) return;
  loadRecent();
  setupOperators();
  connect();
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  start();
});
setupUpload();
start();
setInterval(schedule, 5000); // keep "… ago" fresh
