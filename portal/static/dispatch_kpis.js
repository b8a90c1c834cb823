// The console's service figures (GET /api/kpis?days=N): SLA compliance, first-time-fix
// rate, mean time to repair, customer ratings and alerts by device model, over the
// period picked (7, 30 or 90 days). Fetched again when the period changes and every
// five minutes (they move slowly; the live events are about single changes).
"use strict";

const pct = (share) => (share.rate == null ? "—" : `${Math.round(share.rate * 1000) / 10} %`);

function duration(minutes) {
  if (minutes == null) return "—";
  const h = Math.floor(minutes / 60), m = Math.round(minutes % 60);
  return h ? `${h} h ${String(m).padStart(2, "0")} min` : `${m} min`;
}

function figure(key, label, value, detail) {
  return `<div data-kpi="${key}"><dt>${esc(label)}</dt><dd><b>${esc(value)}</b> <span class="muted">${esc(detail)}</span></dd></div>`;
}

async function drawKpis() {
  const days = $("#kpi-days").value;
  const k = await getJSON(`/api/kpis?days=${encodeURIComponent(days)}`);
  if (String(k.days) !== $("#kpi-days").value) return; // the period changed meanwhile
  const ftf = k.first_time_fix, r = k.ratings;
  $("#kpi-figures").innerHTML = [
    figure("sla-response", "SLA: on site in time", pct(k.sla_response), `${k.sla_response.met} of ${k.sla_response.counted} cases`),
    figure("sla-resolution", "SLA: resolved in time", pct(k.sla_resolution), `${k.sla_resolution.met} of ${k.sla_resolution.counted} cases`),
    figure("first-time-fix", "First-time fix", pct(ftf), `${ftf.first_time} of ${ftf.cases} closed cases`),
    figure("mttr", "Mean time to repair", duration(k.mean_time_to_repair_min), `over ${k.repairs} repairs`),
    figure("rating", "Customer rating", r.mean == null ? "—" : `${r.mean.toFixed(1)} / 5`, `${r.count} ratings` +
      (r.count ? ` (${[5, 4, 3, 2, 1].filter((n) => r.by_stars[n]).map((n) => `${n}★ ${r.by_stars[n]}`).join(", ")})` : "")),
  ].join("");
  $("#kpis").dataset.days = String(k.days);
  $("#kpi-alerts tbody").innerHTML = k.alerts_by_model.length
    ? k.alerts_by_model.map((m) => `<tr data-model="${esc(m.model_id)}"><td>${esc(m.model_name)}</td><td class="num">${m.alerts}</td></tr>`).join("")
    : `<tr><td colspan="2" class="muted">no alerts in the period</td></tr>`;
}

window.addEventListener("DOMContentLoaded", () => {
  const draw = () => drawKpis().catch((e) => console.error(e));
  $("#kpi-days").addEventListener("change", draw);
  draw();
  setInterval(draw, 300_000);
});
