// Dispatcher console: device markers coloured by the worst open alert, plus
// open alerts and work orders, from the JSON API, redrawn on live events.
"use strict";

const COLOURS = { critical: "#b71c1c", high: "#d84315", medium: "#ef6c00", low: "#f9a825", info: "#1565c0" };
const OK = "#2e7d32", OFFLINE = "#9e9e9e";
const mapEl = document.getElementById("map");
const map = L.map(mapEl, { preferCanvas: true });
const tileUrl = mapEl.dataset.tileUrl;
if (tileUrl) L.tileLayer(tileUrl, { maxZoom: 19 }).addTo(map);
const layer = L.layerGroup().addTo(map);
let fitted = false;

const fmt = (ms) => (ms ? new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "—");
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function colour(d) {
  if (d.worst_severity) return COLOURS[d.worst_severity] || OK;
  return d.online ? OK : OFFLINE;
}

async function getJSON(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
}

async function refresh() {
  const filter = document.getElementById("severity-filter").value;
  const [devices, alerts, orders, engineers] = await Promise.all([
    getJSON("/api/devices"), getJSON("/api/alerts?state=open"),
    getJSON("/api/work-orders"), getJSON("/api/engineers"),
  ]);
  layer.clearLayers();
  const shown = devices.filter((d) => !filter || (filter === "ok" ? !d.worst_severity : d.worst_severity === filter));
  for (const d of shown) {
    L.circleMarker([d.lat, d.lon], { radius: 8, color: "#333", weight: 1, fillColor: colour(d), fillOpacity: 0.9 })
      .bindPopup(`<b>${esc(d.model_name)}</b><br>${esc(d.serial)}<br>${esc(d.customer_name)} — ${esc(d.site_name)}<br>` +
                 `${d.online ? "online" : "offline"}${d.worst_severity ? ", worst alert: " + esc(d.worst_severity) : ""}`)
      .addTo(layer);
  }
  if (!fitted && devices.length) {
    map.fitBounds(devices.map((d) => [d.lat, d.lon]), { padding: [20, 20] });
    fitted = true;
  }
  document.getElementById("summary").textContent =
    `${shown.length} of ${devices.length} devices · ${alerts.length} open alerts`;
  document.querySelector("#alerts tbody").innerHTML = alerts.map((a) =>
    `<tr data-alert="${a.id}"><td><span class="badge" style="background:${COLOURS[a.severity]}">${esc(a.severity)}</span></td>` +
    `<td>${esc(a.device_id)}</td><td>${esc(a.message)}</td><td>${fmt(a.raised_at)}</td></tr>`).join("");
  const names = Object.fromEntries(engineers.map((e) => [e.id, e.name]));
  document.querySelector("#work-orders tbody").innerHTML = orders.map((w) =>
    `<tr data-work-order="${w.id}"><td>${w.id}</td><td>${esc(w.device_id)}</td><td>${esc(w.status)}</td>` +
    `<td>${w.engineer_id ? `<a href="/engineer/${esc(w.engineer_id)}">${esc(names[w.engineer_id] || w.engineer_id)}</a>` : esc(w.unassigned_reason || "unassigned")}</td>` +
    `<td>${fmt(w.eta)}</td></tr>`).join("");
  document.getElementById("engineers").innerHTML = engineers.map((e) =>
    `<li><a href="/engineer/${esc(e.id)}">${esc(e.name)}</a> <span class="muted">${esc(e.skills.join(", "))} · ${esc(e.shift_start)}–${esc(e.shift_end)}</span></li>`).join("");
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
    events.addEventListener(kind, (e) => {
      document.getElementById("live").textContent = `live · last ${kind.replace("_", " ")} ${fmt(Date.now())}`;
      soon();
    });
  }
  events.onopen = () => { document.getElementById("live").textContent = "live"; };
  events.onerror = () => { document.getElementById("live").textContent = "reconnecting…"; };
}
function tick() { refresh().catch((e) => console.error(e)).finally(() => setTimeout(tick, 30000)); }
document.getElementById("severity-filter").addEventListener("change", () => refresh());
map.setView([48.137, 11.575], 11);
tick();
live();
