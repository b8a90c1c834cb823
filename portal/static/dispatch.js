// Dispatcher console: the device map (clustered, coloured by the worst open
// alert, filtered and searched in the browser), the alert inbox and work
// orders from the JSON API, redrawn on live events. The device panel lives in
// dispatch_panel.js, the inbox actions and plan view in dispatch_plan.js; the
// inbox's assignee picker is here.
"use strict";

const RANK = { info: 1, low: 2, medium: 3, high: 4, critical: 5 };
// Severities, alert states and work-order statuses as the console shows them.
const WORDS = { info: t("info"), low: t("low"), medium: t("medium"), high: t("high"), critical: t("critical"),
  open: t("open"), acknowledged: t("acknowledged"), closed: t("closed"), new: t("new"), assigned: t("assigned"),
  accepted: t("accepted"), en_route: t("en route"), on_site: t("on site"), done: t("done") };
const word = (value) => WORDS[value] || String(value).replace("_", " ");
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const mapEl = document.getElementById("map");
const map = L.map(mapEl, { preferCanvas: true, maxZoom: 19 }); // clustering needs a maxZoom, tiles or not
const tileUrl = mapEl.dataset.tileUrl;
if (tileUrl) L.tileLayer(tileUrl, { maxZoom: 19 }).addTo(map);
// 10,000 markers: clustered, added in chunks so the page stays responsive.
const layer = L.markerClusterGroup({ chunkedLoading: true, iconCreateFunction: clusterIcon,
  showCoverageOnHover: false, maxClusterRadius: 60,
  zoomToBoundsOnClick: false }).addTo(map); // clicks: dispatch_map.js
const routeLayer = L.layerGroup().addTo(map);
const markers = new Map(); // device id -> marker, reused across refreshes
const state = { devices: [], alerts: [], orders: [], engineers: [], names: {}, assignees: [], drawnKey: "" };
let fitted = false;

const fmt = (ms) => (ms ? new Date(ms).toLocaleTimeString(i18nLang, { hour: "2-digit", minute: "2-digit", timeZone: i18nTimeZone }) : "—");
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const $ = (sel) => document.querySelector(sel);

// A cluster takes the colour of the worst device inside it.
function clusterIcon(cluster) {
  let worst = 0, offline = 0;
  const children = cluster.getAllChildMarkers();
  for (const m of children) {
    worst = Math.max(worst, m.options.rank);
    if (!m.options.online) offline++;
  }
  const sev = Object.keys(RANK).find((k) => RANK[k] === worst);
  // Colours by class (app.css: fill-*): the page's policy allows no inline styles.
  const fill = sev || (offline === children.length ? "offline" : "ok");
  const size = children.length < 100 ? 30 : children.length < 1000 ? 38 : 46;
  const worstWords = sev ? t("{severity} alert", { severity: word(sev) }) : fill === "offline" ? t("all offline") : t("no open alert");
  return new LabelledIcon({ html: `<div class="fill-${fill}" aria-hidden="true"><span>${children.length}</span></div>`,
    className: "fp-cluster", iconSize: L.point(size, size),
    label: t("{n} devices close together, worst: {worst}", { n: children.length, worst: worstWords }) });
}

// Devices and clusters are DOM markers (not canvas circles) so the keyboard reaches them:
// Leaflet gives a keyboard marker's icon tabindex 0 and role "button"; this icon names
// it for screen readers (aria-label), and says which device it is (data-device).
const LabelledIcon = L.DivIcon.extend({
  createIcon(old) {
    const el = L.DivIcon.prototype.createIcon.call(this, old);
    el.setAttribute("aria-label", this.options.label);
    if (this.options.device) el.dataset.device = this.options.device;
    return el;
  },
});

function stateWords(d) {
  const alert = d.worst_severity ? t("{severity} alert", { severity: word(d.worst_severity) }) : t("no open alert");
  return d.online ? alert : d.worst_severity ? t("{alert}, offline", { alert }) : t("offline");
}

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

async function send(method, url, body) {
  const r = await fetch(url, { method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(typeof data.detail === "string" ? data.detail : `${method} ${url}: ${r.status}`);
  return data;
}

function filters() {
  return { severity: $("#severity-filter").value, model: $("#model-filter").value,
    online: $("#online-filter").value, customer: $("#customer-filter").value,
    q: $("#search").value.trim().toLowerCase() };
}

function matches(d, f) {
  if (f.severity && (f.severity === "ok" ? d.worst_severity : d.worst_severity !== f.severity)) return false;
  if (f.model && d.model_id !== f.model) return false;
  if (f.online && String(d.online) !== f.online) return false;
  if (f.customer && d.customer_id !== f.customer) return false;
  return !f.q || d.serial.toLowerCase().includes(f.q) || d.customer_name.toLowerCase().includes(f.q);
}

function markerOf(d) {
  const fill = d.worst_severity || (d.online ? "ok" : "offline");
  const label = t("Device {serial}, {customer}: {state}", { serial: d.serial, customer: d.customer_name, state: stateWords(d) });
  const iconKey = `${fill}|${label}`;
  let m = markers.get(d.id);
  if (!m || m.options.iconKey !== iconKey) {
    const icon = new LabelledIcon({ className: ["fp-device", `fill-${fill}`].join(" "), iconSize: [16, 16], label, device: d.id });
    if (!m) {
      m = L.marker([d.lat, d.lon], { icon, keyboard: true });
      m.on("click", () => openDevice(m.options.deviceId));
      markers.set(d.id, m);
    } else {
      m.setIcon(icon);
    }
    m.options.iconKey = iconKey;
  }
  m.options.deviceId = d.id;
  m.options.rank = RANK[d.worst_severity] || 0;
  m.options.online = d.online;
  m.options.siteId = d.site_id;
  m.bindTooltip(`${esc(d.serial)} · ${esc(d.customer_name)}`);
  return m;
}

function fillOptions(select, pairs) {
  const keep = select.value;
  select.innerHTML = `<option value="">${esc(t("all"))}</option>` +
    pairs.map(([v, label]) => `<option value="${esc(v)}">${esc(label)}</option>`).join("");
  select.value = keep;
}

// Redraws the clusters only when what is shown (or its colours) changed: a live
// event about one work order must not re-cluster 10,000 markers.
function drawDevices() {
  const f = filters();
  const shown = state.devices.filter((d) => matches(d, f));
  const key = JSON.stringify(f) + "|" + shown.map((d) => `${d.id}:${d.worst_severity}:${d.online}`).join(",");
  $("#summary").textContent = t("{shown} of {total} devices · {alerts} open alerts", { shown: shown.length, total: state.devices.length, alerts: state.alerts.length });
  drawSites(shown);
  if (key === state.drawnKey) return;
  state.drawnKey = key;
  mapEl.dataset.drawn = "";
  // Chunked loading finishes later; the flag tells tests and the benchmark when
  // (the callback is read when addLayers starts, so it is set first).
  // A redraw re-clusters, which drops the keyboard's focus on a device: given back.
  const focused = document.activeElement?.closest?.(".fp-device")?.dataset.device;
  const done = () => requestAnimationFrame(() => {
    if (state.drawnKey !== key) return; // a newer redraw took over
    if (focused && document.activeElement === document.body) markers.get(focused)?.getElement()?.focus();
    mapEl.dataset.drawn = String(shown.length);
    window.fpMapDrawnAt = window.fpMapDrawnAt || performance.now();
  });
  layer.options.chunkProgress = (processed, total) => { if (processed === total) done(); };
  layer.clearLayers();
  layer.addLayers(shown.map(markerOf), true);
  if (!shown.length) done();
}

// An anomaly alert names the metrics behind it: "tds_ppm 62 % (+4.1 sd)".
function explanation(a) {
  const parts = a.explanation?.contributions ?? [];
  if (!parts.length) return "";
  const text = parts.map((c) => `${esc(c.metric)} ${Math.round(100 * c.share)} %` +
    (c.deviation == null ? "" : ` (${c.deviation > 0 ? "+" : ""}${Number(c.deviation).toFixed(1)} sd)`)).join(" · ");
  return `<div class="explanation" data-explanation>${esc(t("because of {metrics}", { metrics: "\u0000" })).replace("\u0000", text)}</div>`;
}

// Who an alert can go to: a list of the users GET /api/assignees names (the
// current assignee stays shown even if no longer on it). Picking one assigns.
function assigneePicker(a) {
  const users = state.assignees.map((u) => [u.username, u.display_name]);
  if (a.assigned_to && !users.some(([name]) => name === a.assigned_to)) users.push([a.assigned_to, a.assigned_to]);
  return `<select name="assignee" aria-label="${esc(t("Assign alert {id} to", { id: a.id }))}">` +
    (a.assigned_to ? "" : `<option value="" selected>${esc(t("Assign to…"))}</option>`) +
    users.map(([name, label]) => `<option value="${esc(name)}"${name === a.assigned_to ? " selected" : ""}>${esc(label)}</option>`).join("") +
    `</select>`;
}

// A device as people know it: serial, then customer and site (the id only as a fallback).
function deviceCell(d, id) {
  if (!d) return `<a href="#" data-open-device="${esc(id)}">${esc(id)}</a>`;
  return `<a href="#" data-open-device="${esc(id)}">${esc(d.serial)}</a>` +
    `<div class="muted">${esc(d.customer_name)} · ${esc(d.site_name)}</div>`;
}

function drawInbox() {
  // A live redraw must not eat a comment being typed: keep open forms and their text.
  const typed = new Map([...document.querySelectorAll("#alerts tr[data-alert]")]
    .filter((tr) => tr.querySelector("details[open]"))
    .map((tr) => [tr.dataset.alert, tr.querySelector("input[name=note]").value]));
  const focused = document.activeElement?.closest?.("#alerts tr[data-alert]")?.dataset.alert;
  const picking = document.activeElement?.matches?.("#alerts select[name=assignee]");
  const devices = new Map(state.devices.map((d) => [d.id, d]));
  const worstFirst = [...state.alerts].sort((a, b) =>
    (RANK[b.severity] || 0) - (RANK[a.severity] || 0) || b.raised_at - a.raised_at);
  $("#alerts tbody").innerHTML = worstFirst.map((a) =>
    `<tr data-alert="${a.id}" class="state-${esc(a.state)}"><td><span class="badge fill-${esc(a.severity)}">${esc(word(a.severity))}</span></td>` +
    `<td>${deviceCell(devices.get(a.device_id), a.device_id)}</td>` +
    `<td>${esc(a.message)}${explanation(a)}<div class="muted">${esc(word(a.state))}${a.assigned_to ? " · " + esc(t("assigned to {name}", { name: a.assigned_to })) : ""}${a.case_id ? " · " + esc(t("case {id}", { id: a.case_id })) : ""}</div></td>` +
    `<td>${fmt(a.raised_at)}</td><td class="actions">${assigneePicker(a)}${alertButtons(a)}${typeof guidesButton === "function" ? guidesButton(a) : ""}</td></tr>`).join("");
  if (picking && focused) document.querySelector(`#alerts tr[data-alert="${focused}"] select[name=assignee]`)?.focus();
  for (const [id, text] of typed) {
    const tr = document.querySelector(`#alerts tr[data-alert="${id}"]`);
    if (!tr) continue;
    tr.querySelector("details").open = true;
    const input = tr.querySelector("input[name=note]");
    input.value = text;
    if (id === focused) input.focus();
  }
}

// The case's response clock: when the engineer must be on site. Red when the plan's
// ETA (or now, for a job without one) is past it.
function slaBadge(w) {
  if (!w.sla_due || ["on_site", "done"].includes(w.status)) return "";
  const late = (w.eta ?? Date.now()) > w.sla_due;
  const due = new Date(w.sla_due);
  const when = due.toDateString() === new Date().toDateString() ? fmt(w.sla_due)
    : `${due.toLocaleDateString(i18nLang, { day: "numeric", month: "short", timeZone: i18nTimeZone })} ${fmt(w.sla_due)}`;
  const onSiteBy = t("SLA: on site by {time}", { time: due.toLocaleString(i18nLang, { timeZone: i18nTimeZone }) });
  return ` <span class="badge ${late ? "sla-late" : "sla"}" title="${esc(onSiteBy)}">` +
    `${esc(t("SLA {time}", { time: when }))}${late ? " · " + esc(t("late")) : ""}</span>`;
}

function drawOrders() {
  // Keep what the dispatcher picked in a row (engineer, time) across live redraws.
  const picked = [...document.querySelectorAll("#work-orders tr[data-work-order]")].map((tr) =>
    [tr.dataset.workOrder, tr.querySelector("select[name=engineer]")?.value, tr.querySelector("input[name=start]")?.value]);
  const devices = new Map(state.devices.map((d) => [d.id, d]));
  const options = state.engineers.map((e) => `<option value="${esc(e.id)}">${esc(e.name)}</option>`).join("");
  // Translated outside the HTML's template literals: Babel's extractor does not see into
  // a template literal nested in another one.
  const urgent = ' <span class="badge fill-critical">' + esc(t("urgent")) + "</span>";
  const pin = ' <span class="pin" title="' + esc(t("pinned by the dispatcher")) + '">' + esc(t("pinned")) + "</span>";
  const unassigned = t("unassigned");
  $("#work-orders tbody").innerHTML = state.orders.map((w) =>
    `<tr data-work-order="${w.id}" class="status-${esc(w.status)}"><td>${w.id}${w.priority >= 5 ? urgent : ""}</td>` +
    `<td>${deviceCell(devices.get(w.device_id), w.device_id)}</td><td>${esc(word(w.status))}</td>` +
    `<td>${w.engineer_id ? `<a href="/engineer/${esc(w.engineer_id)}">${esc(state.names[w.engineer_id] || w.engineer_id)}</a>` : esc(w.unassigned_reason || unassigned)}` +
    `${w.pinned_engineer_id || w.pinned_start ? pin : ""}</td>` +
    `<td>${fmt(w.eta)}${slaBadge(w)}</td><td class="actions">${orderControls(w, options)}</td></tr>`).join("");
  for (const [id, engineer, start] of picked) {
    const tr = document.querySelector(`#work-orders tr[data-work-order="${id}"]`);
    const select = tr?.querySelector("select[name=engineer]");
    if (select && engineer) select.value = engineer;
    const time = tr?.querySelector("input[name=start]");
    if (time && start) time.value = start;
  }
}

async function refresh() {
  const [devices, alerts, orders, engineers, assignees] = await Promise.all([
    getJSON("/api/devices"), getJSON("/api/alerts?state=open"),
    getJSON("/api/work-orders"), getJSON("/api/engineers"), getJSON("/api/assignees"),
  ]);
  Object.assign(state, { devices, alerts, orders, engineers, assignees,
    names: Object.fromEntries(engineers.map((e) => [e.id, e.name])) });
  fillOptions($("#model-filter"), [...new Map(devices.map((d) => [d.model_id, d.model_name]))].sort((a, b) => a[1].localeCompare(b[1])));
  fillOptions($("#customer-filter"), [...new Map(devices.map((d) => [d.customer_id, d.customer_name]))].sort((a, b) => a[1].localeCompare(b[1])));
  if (!fitted && devices.length) {
    map.fitBounds(devices.map((d) => [d.lat, d.lon]), { padding: [20, 20] });
    fitted = true;
  }
  drawDevices();
  drawInbox();
  drawOrders();
  $("#engineers").innerHTML = engineers.map((e) =>
    `<li><a href="/engineer/${esc(e.id)}">${esc(e.name)}</a> <span class="muted">${esc(e.skills.join(", "))} · ${esc(e.shift_start)}–${esc(e.shift_end)}</span></li>`).join("");
  await Promise.all([drawRoutes(), drawPlanChanges(), refreshPanel()]);
}

// Live updates: the server pushes alert, work-order, plan and online changes
// (/api/events, server-sent events); each one triggers a refresh, coalesced so
// a burst redraws once. A slow poll stays as a safety net if the stream drops.
let pending = null;
function soon() {
  if (pending) return;
  pending = setTimeout(() => { pending = null; refresh().catch((e) => console.error(e)); }, 300);
}
function live() {
  const events = new EventSource("/api/events");
  for (const kind of ["alert", "work_order", "plan", "device"]) {
    events.addEventListener(kind, () => {
      const what = { alert: t("alert"), work_order: t("work order"), plan: t("plan"), device: t("device") }[kind];
      $("#live").textContent = t("live · last {what} {time}", { what, time: fmt(Date.now()) });
      if (kind === "plan") planArrived();
      soon();
    });
  }
  events.onopen = () => { $("#live").textContent = t("live"); };
  events.onerror = () => { $("#live").textContent = t("reconnecting…"); };
}

function notify(message, bad = false) {
  const el = $("#plan-status");
  el.textContent = message;
  el.classList.toggle("error", bad);
}

function startConsole() {
  function tick() { refresh().catch((e) => console.error(e)).finally(() => setTimeout(tick, 30000)); }
  for (const id of ["#severity-filter", "#model-filter", "#online-filter", "#customer-filter"]) {
    $(id).addEventListener("change", drawDevices);
  }
  let typing = null;
  $("#search").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(drawDevices, 200); });
  $("#show-routes").addEventListener("change", (e) => {
    if (e.target.checked) routeLayer.addTo(map); else routeLayer.remove();
  });
  document.addEventListener("click", (e) => {
    const link = e.target.closest("[data-open-device]");
    if (link) { e.preventDefault(); showOnMap(link.dataset.openDevice); openDevice(link.dataset.openDevice); }
  });
  document.addEventListener("change", async (e) => {
    const pick = e.target.closest?.("#alerts select[name=assignee]");
    if (!pick || !pick.value) return;
    const id = pick.closest("tr").dataset.alert;
    try {
      await send("POST", `/api/alerts/${id}/assign`, { to: pick.value });
      notify(t("alert {id} assigned to {name}", { id, name: pick.value }));
    } catch (err) {
      notify(err.message, true);
    }
    refresh().catch((err) => console.error(err));
  });
  map.setView([48.137, 11.575], 11);
  tick();
  live();
}
window.addEventListener("DOMContentLoaded", startConsole);
