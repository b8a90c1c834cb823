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
    figure("sla-response", t("SLA: on site in time"), pct(k.sla_response), t("{met} of {counted} cases", k.sla_response)),
    figure("sla-resolution", t("SLA: resolved in time"), pct(k.sla_resolution), t("{met} of {counted} cases", k.sla_resolution)),
    figure("first-time-fix", t("First-time fix"), pct(ftf), t("{first_time} of {cases} closed cases", ftf)),
    figure("mttr", t("Mean time to repair"), duration(k.mean_time_to_repair_min), nt("over {n} repair", "over {n} repairs", k.repairs)),
    figure("rating", t("Customer rating"), r.mean == null ? "—" : `${r.mean.toFixed(1)} / 5`, nt("{n} rating", "{n} ratings", r.count) +
      (r.count ? ` (${[5, 4, 3, 2, 1].filter((n) => r.by_stars[n]).map((n) => `${n}★ ${r.by_stars[n]}`).join(", ")})` : "")),
  ].join("");
  $("#kpis").dataset.days = String(k.days);
  $("#kpi-alerts tbody").innerHTML = k.alerts_by_model.length
    ? k.alerts_by_model.map((m) => `<tr data-model="${esc(m.model_id)}"><td>${esc(m.model_name)}</td><td class="num">${m.alerts}</td></tr>`).join("")
    : `<tr><td colspan="2" class="muted">${esc(t("no alerts in the period"))}</td></tr>`;
}

window.addEventListener("DOMContentLoaded", () => {
  const draw = () => drawKpis().catch((e) => console.error(e));
  $("#kpi-days").addEventListener("change", draw);
  draw();
  setInterval(draw, 300_000);
});
