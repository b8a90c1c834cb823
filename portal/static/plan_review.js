// Plan review: the dispatcher asks for a proposal, reads what it would change
// (work done, driving, lateness; per engineer, the jobs added, removed and moved
// with ETAs before and after; the jobs it would leave undone, with why), and
// accepts or discards it. Nothing changes until it is accepted.
"use strict";

const hours = (h) => `${h.toFixed(1)} h`;

function figuresRow(label, f) {
  return `<tr><th>${esc(label)}</th><td>${f.assigned}</td><td>${f.unassigned}</td>` +
    `<td>${hours(f.travel_h)}</td><td>${hours(f.sla_late_h)}</td></tr>`;
}

function stopText(s, kind) {
  const what = `#${s.work_order_id} <span class="muted">${esc(s.device_id)}</span>`;
  if (kind === "added") return `${what} ${esc(t("at {time}", { time: fmt(s.eta_after) }))}`;
  if (kind === "removed") return `${what} ${esc(t("(was {time})", { time: fmt(s.eta_before) }))}`;
  return `${what} ${fmt(s.eta_before)} → ${fmt(s.eta_after)}`;
}

function renderProposal(p) {
  const box = $("#plan-proposal");
  box.dataset.proposal = p.id;
  const changes = p.changes.map((c) => `<li data-engineer="${esc(c.engineer_id)}"><b>${esc(c.name || c.engineer_id)}</b><ul>` +
    ["added", "removed", "moved"].flatMap((kind) => c[kind].map((s) =>
      `<li class="${kind}">${{ added: "+", removed: "−", moved: "↻" }[kind]} ${stopText(s, kind)}</li>`)).join("") +
    "</ul></li>").join("");
  const undone = p.unassigned.map((u) =>
    `<li>#${u.work_order_id} <span class="muted">${esc(u.device_id)}</span>: ${esc(u.reason)}</li>`).join("");
  const head = [t("Assigned"), t("Unassigned"), t("Driving"), t("SLA late")].map((h) => `<th>${esc(h)}</th>`).join("");
  box.innerHTML = `<h3>${esc(t("Proposal {id}", { id: p.id }))} <span class="muted">${esc(t("by {name} at {time}, valid until {until}", { name: p.made_by, time: fmt(p.made_at), until: fmt(p.expires_at) }))}` +
    `</span></h3>` +
    `<table class="figures"><thead><tr><th></th>${head}</tr></thead>` +
    `<tbody>${figuresRow(t("In force"), p.before)}${figuresRow(t("Proposed"), p.after)}</tbody></table>` +
    (changes ? `<ul class="plan-diff">${changes}</ul>` : `<p class="muted">${esc(t("No route changes."))}</p>`) +
    (undone ? `<details><summary>${esc(t("Left unassigned ({n})", { n: p.unassigned.length }))}</summary><ul>${undone}</ul></details>` : "") +
    `<p><button type="button" id="accept-proposal">${esc(t("Accept"))}</button> ` +
    `<button type="button" class="small secondary" id="discard-proposal">${esc(t("Discard"))}</button></p>`;
  box.hidden = false;
}

function closeProposal() {
  const box = $("#plan-proposal");
  box.hidden = true;
  box.innerHTML = "";
  delete box.dataset.proposal;
}

async function proposePlan() {
  const button = $("#propose-plan");
  button.disabled = true;
  notify(t("the dispatcher is solving a proposal…"));
  try {
    const p = await send("POST", "/api/plans/proposals");
    renderProposal(p);
    const n = p.changes.length;
    notify(nt("proposal {id}: {n} engineer's route would change; nothing changes until you accept",
      "proposal {id}: {n} engineers' routes would change; nothing changes until you accept", n, { id: p.id }));
  } finally {
    button.disabled = false;
  }
}

async function acceptProposal() {
  const id = $("#plan-proposal").dataset.proposal;
  try {
    const plan = await send("POST", `/api/plans/proposals/${id}/accept`);
    notify(t("plan {id} in force: {assigned} assigned, {unassigned} unassigned", { id: plan.plan_id, assigned: plan.assigned, unassigned: plan.unassigned }));
  } finally {
    closeProposal();  // accepted, or refused as out of date: either way it is gone
  }
}

async function discardProposal() {
  const id = $("#plan-proposal").dataset.proposal;
  await send("DELETE", `/api/plans/proposals/${id}`);
  closeProposal();
  notify(t("proposal {id} discarded", { id }));
}

// With periodic plans in review (fieldpulse run --review-plans), the newest one waits here.
async function showPendingProposal() {
  if ($("#plan-proposal").dataset.proposal) return;
  const pending = await getJSON("/api/plans/proposals");
  if (pending.length) renderProposal(pending[0]);
}

document.getElementById("propose-plan").addEventListener("click", () => act(proposePlan));
document.addEventListener("click", (e) => {
  if (e.target.closest("#accept-proposal")) return act(acceptProposal);
  if (e.target.closest("#discard-proposal")) return act(discardProposal);
  return undefined;
});
showPendingProposal().catch((e) => console.error(e));
setInterval(() => showPendingProposal().catch((e) => console.error(e)), 30000);
