// The device panel's "Remote diagnosis": the commands of the device's model
// (GET /api/devices/{id}/command-specs), a form per command the user may send, and the
// device's recent commands with their status history, polled until each has ended.
// A read_now shows its values; a stream redraws the charts while its readings arrive.
// Opened from an alert ("Diagnose"), the commands carry its id and its timeline is shown.
"use strict";

const DIAG_ENDED = new Set(["succeeded", "failed", "expired"]);
let diagDevice = null;
let diagTimer = null;
let streamUntil = 0; // ms: redraw the charts until the newest stream's window ends
let diagAlert = null; // the alert the panel was opened from
let pendingAlert = null; // {device, alert}: set by "Diagnose" before the panel opens

async function openDiagnosis(id) {
  diagDevice = id;
  streamUntil = 0;
  diagAlert = pendingAlert?.device === id ? pendingAlert.alert : null;
  pendingAlert = null;
  $("#diag-alert").hidden = diagAlert === null;
  $("#diag-alert-title").textContent = diagAlert === null ? "" : t("Alert #{id} timeline", { id: diagAlert });
  $("#diag-alert-events").innerHTML = "";
  const box = $("#diag-forms");
  box.innerHTML = "";
  $("#diag-status").textContent = "";
  const specs = await getJSON(`/api/devices/${encodeURIComponent(id)}/command-specs`);
  if (id !== diagDevice) return;
  box.innerHTML = specs.length ? specs.map(diagForm).join("") : `<p class="muted">${esc(t("This model takes no commands."))}</p>`;
  await pollCommands();
}

function diagForm(spec) {
  const fields = spec.params.map((p) => {
    const label = `${esc(p.name.replace(/_/g, " "))}${p.required ? "" : " " + esc(t("(optional)"))}`;
    if (p.type === "metrics") {
      return `<label>${label} <select name="${esc(p.name)}" multiple size="3"${p.required ? " required" : ""}>` +
        p.choices.map((m, i) => `<option value="${esc(m)}"${i === 0 ? " selected" : ""}>${esc(m)}</option>`).join("") + `</select></label>`;
    }
    const limits = (p.min == null ? "" : ` min="${p.min}"`) + (p.max == null ? "" : ` max="${p.max}"`);
    const start = p.min == null ? "" : ` value="${p.min}"`;
    return `<label>${label} <input type="number" step="any" name="${esc(p.name)}"${limits}${start}${p.required ? " required" : ""}></label>`;
  }).join("");
  const why = spec.allowed ? "" : `<p class="muted">${esc(t("Only dispatchers and admins may send this ({kind}).", { kind: spec.kind }))}</p>`;
  return `<form class="diag-form" data-command="${esc(spec.name)}" aria-label="${esc(spec.label)}">` +
    `<fieldset${spec.allowed ? "" : " disabled"}><legend>${esc(spec.label)} <span class="badge diag-kind">${esc(spec.kind)}</span></legend>` +
    fields + why + `<button type="submit" class="small">${esc(t("Send {command}", { command: spec.name.replace(/_/g, " ") }))}</button></fieldset></form>`;
}

function paramsOf(form) {
  const params = {};
  for (const el of form.querySelectorAll("select[name], input[name]")) {
    if (el.multiple) params[el.name] = [...el.selectedOptions].map((o) => o.value);
    else if (el.value !== "") params[el.name] = Number(el.value);
  }
  return params;
}

function commandRow(c) {
  const steps = c.history.map((e) => `<li>${esc(e.status)} <span class="muted">${fmt(e.at)}${e.note ? " · " + esc(e.note) : ""}</span></li>`).join("");
  let outcome = "";
  if (c.command === "read_now" && c.result?.values) {
    outcome = `<dl class="diag-values">${Object.entries(c.result.values).map(([m, v]) =>
      `<dt>${esc(m)}</dt><dd data-metric="${esc(m)}">${Number(v).toFixed(2)}</dd>`).join("")}</dl>`;
  } else if (c.result) {
    outcome = `<p class="muted">${esc(JSON.stringify(c.result))}</p>`;
  }
  if (c.error) outcome += `<p class="error">${esc(c.error)}</p>`;
  return `<li data-command-id="${esc(c.id)}" data-status="${esc(c.status)}"><b>${esc(c.command)}</b> ` +
    `<span class="badge diag-${esc(c.status)}">${esc(c.status)}</span> <span class="muted">${esc(t("by {name}", { name: c.created_by }))}</span>` +
    `<ol class="diag-steps">${steps}</ol>${outcome}</li>`;
}

// Until every command shown has ended (or a stream's window is open): poll again.
async function pollCommands() {
  clearTimeout(diagTimer);
  const id = diagDevice;
  if (!id) return;
  const alertId = diagAlert;
  const [list, trail] = await Promise.all([
    getJSON(`/api/devices/${encodeURIComponent(id)}/commands?limit=10`),
    alertId === null ? null : getJSON(`/api/alerts/${alertId}/events`)]);
  if (id !== diagDevice) return;
  if (trail) {
    $("#diag-alert-events").innerHTML = trail.map((e) => `<li data-action="${esc(e.action)}">${esc(e.action)} ` +
      `<span class="muted">${fmt(e.at)} · ${esc(e.by)}</span>${e.note ? " — " + esc(e.note) : ""}</li>`).join("");
  }
  $("#diag-commands").innerHTML = list.length ? list.map(commandRow).join("") : `<li class="muted">${esc(t("No commands yet."))}</li>`;
  for (const c of list) {
    if (c.command === "stream" && c.status === "succeeded" && c.result?.until) streamUntil = Math.max(streamUntil, c.result.until);
  }
  const streaming = Date.now() < streamUntil;
  if (streaming && typeof refreshPanel === "function") await refreshPanel(true);
  if (streaming || list.some((c) => !DIAG_ENDED.has(c.status))) {
    diagTimer = setTimeout(() => pollCommands().catch((e) => console.error(e)), streaming ? 2000 : 1000);
  }
}

$("#diag-forms").addEventListener("submit", async (e) => {
  const form = e.target.closest("form.diag-form");
  if (!form) return;
  e.preventDefault();
  const name = form.dataset.command;
  try {
    const c = await send("POST", `/api/devices/${encodeURIComponent(diagDevice)}/commands`,
      { command: name, params: paramsOf(form), expires_in_s: 120, alert_id: diagAlert });
    $("#diag-status").textContent = t("{command} queued ({id})", { command: name, id: c.id });
    $("#diag-status").classList.remove("error");
  } catch (err) {
    $("#diag-status").textContent = err.message;
    $("#diag-status").classList.add("error");
  }
  await pollCommands();
});

// "Diagnose" on an alert: the device panel, scrolled to the remote diagnosis.
document.addEventListener("click", (e) => {
  const button = e.target.closest("[data-diagnose]");
  if (!button) return;
  e.preventDefault();
  const id = button.dataset.diagnose;
  const alert = Number(button.closest("tr[data-alert]")?.dataset.alert);
  pendingAlert = Number.isInteger(alert) ? { device: id, alert } : null;
  openDevice(id).then(() => $("#diagnosis").scrollIntoView({ block: "start" })).catch((err) => console.error(err));
});

document.getElementById("device-close").addEventListener("click", () => {
  diagDevice = null;
  clearTimeout(diagTimer);
});
