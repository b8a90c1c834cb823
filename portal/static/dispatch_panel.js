// The device panel: latest readings, a chart per metric (dispatch_charts.js), alert
// history and work orders. Opened from a marker, the inbox or the work-order list.
"use strict";

let panelDevice = null;

async function openDevice(id) {
  panelDevice = id;
  $("#device-panel").hidden = false;
  $("#device-charts").innerHTML = "";
  await refreshPanel(true);
  await openDiagnosis(id); // dispatch_commands.js
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
  $("#device-meta").textContent = `${d.customer_name} — ${d.site_name} · ${d.online ? t("online") : t("offline")}` +
    " · " + t("last seen {time}", { time: d.last_seen ? new Date(d.last_seen).toLocaleString(i18nLang, { timeZone: i18nTimeZone }) : t("never") });
  $("#device-latest tbody").innerHTML = d.latest.length ? d.latest.map((v) =>
    `<tr><td>${esc(v.label)}</td><td class="num">${v.value.toFixed(2)} ${esc(v.unit)}</td><td class="muted">${fmt(v.ts)}</td></tr>`).join("")
    : `<tr><td class="muted">${esc(t("No readings yet."))}</td></tr>`;
  $("#device-alerts tbody").innerHTML = alerts.length ? alerts.slice(0, 20).map((a) =>
    `<tr><td><span class="badge fill-${esc(a.severity)}">${esc(word(a.severity))}</span></td>` +
    `<td>${esc(a.message)}</td><td>${esc(word(a.state))}</td><td class="muted">${new Date(a.raised_at).toLocaleString(i18nLang, { timeZone: i18nTimeZone })}</td></tr>`).join("")
    : `<tr><td class="muted">${esc(t("No alerts."))}</td></tr>`;
  $("#device-orders tbody").innerHTML = orders.length ? orders.map((w) =>
    `<tr><td>#${w.id}</td><td>${esc(word(w.status))}</td><td>${esc(state.names[w.engineer_id] || w.engineer_id || t("unassigned"))}</td><td>${fmt(w.eta)}</td></tr>`).join("")
    : `<tr><td class="muted">${esc(t("No work orders."))}</td></tr>`;
  await drawGaps(id);
  if (withCharts) await drawCharts(id, d, alerts);
}

document.getElementById("device-close").addEventListener("click", () => {
  panelDevice = null;
  $("#device-panel").hidden = true;
});
