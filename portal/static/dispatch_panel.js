// The device panel: latest readings, a 24 h chart per metric (min-max band and
// mean line, drawn as SVG from the telemetry store's buckets), alert history
// and work orders. Opened from a marker, the inbox or the work-order list.
"use strict";

let panelDevice = null;

async function openDevice(id) {
  panelDevice = id;
  $("#device-panel").hidden = false;
  $("#device-charts").innerHTML = "";
  await refreshPanel(true);
  $("#device-panel").scrollIntoView({ block: "start" });
}

async function refreshPanel(withCharts = false) {
  if (!panelDevice) return;
  const id = panelDevice;
  const [d, alerts, orders] = await Promise.all([
    getJSON(`/api/devices/${encodeURIComponent(id)}`),
    getJSON(`/api/alerts?device_id=${encodeURIComponent(id)}`),
    getJSON(`/api/work-orders?device_id=${encodeURIComponent(id)}`),
  ]);
  if (id !== panelDevice) return; // another device was opened meanwhile
  $("#device-panel").dataset.device = id;
  $("#device-title").textContent = `${d.model_name} · ${d.serial}`;
  $("#device-meta").textContent = `${d.customer_name} — ${d.site_name} · ${d.online ? "online" : "offline"}` +
    ` · last seen ${d.last_seen ? new Date(d.last_seen).toLocaleString() : "never"}`;
  $("#device-latest tbody").innerHTML = d.latest.length ? d.latest.map((v) =>
    `<tr><td>${esc(v.label)}</td><td class="num">${v.value.toFixed(2)} ${esc(v.unit)}</td><td class="muted">${fmt(v.ts)}</td></tr>`).join("")
    : `<tr><td class="muted">No readings yet.</td></tr>`;
  $("#device-alerts tbody").innerHTML = alerts.length ? alerts.slice(0, 20).map((a) =>
    `<tr><td><span class="badge fill-${esc(a.severity)}">${esc(a.severity)}</span></td>` +
    `<td>${esc(a.message)}</td><td>${esc(a.state)}</td><td class="muted">${new Date(a.raised_at).toLocaleString()}</td></tr>`).join("")
    : `<tr><td class="muted">No alerts.</td></tr>`;
  $("#device-orders tbody").innerHTML = orders.length ? orders.map((w) =>
    `<tr><td>#${w.id}</td><td>${esc(w.status.replace("_", " "))}</td><td>${esc(state.names[w.engineer_id] || w.engineer_id || "unassigned")}</td><td>${fmt(w.eta)}</td></tr>`).join("")
    : `<tr><td class="muted">No work orders.</td></tr>`;
  if (withCharts) await drawCharts(id, d.latest);
}

async function drawCharts(id, latest) {
  const box = $("#device-charts");
  const series = await Promise.all(latest.map((v) =>
    getJSON(`/api/devices/${encodeURIComponent(id)}/series?metric=${encodeURIComponent(v.metric)}&hours=24`)
      .catch((e) => ({ metric: v.metric, label: v.label, unit: v.unit, error: e.message }))));
  if (id !== panelDevice) return;
  box.innerHTML = series.map((s) => `<figure class="chart" data-metric="${esc(s.metric)}">` +
    `<figcaption>${esc(s.label)} (${esc(s.unit)}), last 24 h</figcaption>` +
    (s.error ? `<p class="muted">${esc(s.error)}</p>` : chartSvg(s)) + `</figure>`).join("");
}

// min-max band with the mean on top; x is time over the whole window, so gaps show.
function chartSvg(s, w = 380, h = 110) {
  const b = s.buckets;
  if (!b.length) return `<p class="muted">No readings in the last 24 h.</p>`;
  const pad = { l: 40, r: 6, t: 6, b: 18 };
  let lo = Math.min(...b.map((x) => x.min)), hi = Math.max(...b.map((x) => x.max));
  if (hi === lo) { hi += 1; lo -= 1; }
  const x = (t) => pad.l + ((t - s.start) / (s.end - s.start)) * (w - pad.l - pad.r);
  const y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * (h - pad.t - pad.b);
  const mid = (k) => k.start + s.step_ms / 2;
  const band = b.map((k) => `${x(mid(k)).toFixed(1)},${y(k.max).toFixed(1)}`).join(" ") + " " +
    b.slice().reverse().map((k) => `${x(mid(k)).toFixed(1)},${y(k.min).toFixed(1)}`).join(" ");
  const mean = b.map((k) => `${x(mid(k)).toFixed(1)},${y(k.mean).toFixed(1)}`).join(" ");
  const label = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(1));
  return `<svg viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-label="${esc(s.label)} over the last 24 hours">` +
    `<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" stroke="#bbb"/>` +
    `<text x="${pad.l - 4}" y="${pad.t + 8}" text-anchor="end" class="axis">${label(hi)}</text>` +
    `<text x="${pad.l - 4}" y="${h - pad.b}" text-anchor="end" class="axis">${label(lo)}</text>` +
    `<text x="${pad.l}" y="${h - 4}" class="axis">${Math.round((s.end - s.start) / 3600000)} h ago</text>` +
    `<text x="${w - pad.r}" y="${h - 4}" text-anchor="end" class="axis">now (${fmt(s.end)})</text>` +
    `<polygon points="${band}" fill="#90caf9" fill-opacity="0.5" stroke="none"/>` +
    `<polyline points="${mean}" fill="none" stroke="#1565c0" stroke-width="1.5"/></svg>`;
}

document.getElementById("device-close").addEventListener("click", () => {
  panelDevice = null;
  $("#device-panel").hidden = true;
});
