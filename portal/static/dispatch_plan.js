// Alert inbox actions (acknowledge, comment, assign, turn into a work order,
// close) and the plan view: engineers' routes with ETAs on the map, running
// the dispatcher, its latest changes, pinning or reassigning a job, and the
// nearest qualified engineers for one.
"use strict";

const ROUTE_COLOURS = ["#1565c0", "#6a1b9a", "#00838f", "#ad1457", "#4e342e", "#283593", "#558b2f", "#e65100"];

function alertButtons(a) {
  return (a.state === "active" ? `<button type="button" class="small" data-alert-action="acknowledge">${esc(t("Ack"))}</button>` : "") +
    `<button type="button" class="small" data-diagnose="${esc(a.device_id)}">${esc(t("Diagnose"))}</button>` +
    (a.case_id ? "" : `<button type="button" class="small" data-alert-action="work-order">${esc(t("Work order"))}</button>`) +
    `<button type="button" class="small" data-alert-action="close">${esc(t("Close"))}</button>` +
    `<details><summary>${esc(t("More"))}</summary><input type="text" name="note" placeholder="${esc(t("Comment"))}" aria-label="${esc(t("Comment"))}">` +
    `<button type="button" class="small" data-alert-action="comment">${esc(t("Comment"))}</button></details>`;
}

function orderControls(w, options) {
  if (!["new", "assigned", "accepted"].includes(w.status)) return "";
  return `<select name="engineer" aria-label="${esc(t("Engineer for #{id}", { id: w.id }))}"><option value="">${esc(t("any engineer"))}</option>${options}</select>` +
    `<input type="time" name="start" aria-label="${esc(t("Arrival time for #{id}", { id: w.id }))}" title="${esc(t("arrive at (optional)"))}">` +
    `<button type="button" class="small" data-order-action="pin">${esc(t("Pin"))}</button>` +
    `<button type="button" class="small" data-order-action="candidates">${esc(t("Nearest"))}</button>`;
}

async function alertAction(row, action) {
  const id = row.dataset.alert;
  const text = row.querySelector("input[name=note]").value.trim();
  if (action === "work-order") {
    const order = await send("POST", `/api/alerts/${id}/work-order`, { note: text });
    notify(t("work order #{id} opened; the dispatcher is planning it", { id: order.id }));
  } else {
    if (action === "comment" && !text) throw new Error(t("type a comment first"));
    await send("POST", `/api/alerts/${id}/${action}`, { note: text });  // the server knows who acts
    const done = { acknowledge: t("alert {id} acknowledged", { id }), close: t("alert {id} closed", { id }), comment: t("alert {id} commented", { id }) };
    notify(done[action] || `${id} ${action}`);
  }
}

async function orderAction(row, action) {
  const id = row.dataset.workOrder;
  if (action === "pin") {
    const engineer = row.querySelector("select[name=engineer]").value || null;
    const start = arrivalAt(row.querySelector("input[name=start]").value);
    await send("PUT", `/api/work-orders/${id}/pin`, { engineer_id: engineer, start });
    const who = state.names[engineer], when = start ? fmt(start) : "";
    notify(engineer && start ? t("#{id} pinned to {name} at {time}; re-planning", { id, name: who, time: when })
      : engineer ? t("#{id} pinned to {name}; re-planning", { id, name: who })
      : start ? t("#{id} pinned at {time}; re-planning", { id, time: when })
      : t("#{id} released; re-planning", { id }));
  } else if (action === "candidates") {
    await showCandidates(id);
  }
}

// "HH:MM" as the next such moment (today, or tomorrow once it has passed), ms epoch.
function arrivalAt(hhmm) {
  if (!hhmm) return null;
  const [h, m] = hhmm.split(":").map(Number);
  const at = new Date();
  at.setHours(h, m, 0, 0);
  if (at.getTime() < Date.now()) at.setDate(at.getDate() + 1);
  return at.getTime();
}

async function showCandidates(id) {
  const list = await getJSON(`/api/work-orders/${id}/candidates`);
  $("#candidates").hidden = false;
  $("#candidates-order").textContent = id;
  $("#candidates").dataset.order = id;
  const assign = esc(t("Assign"));
  $("#candidates tbody").innerHTML = list.length ? list.map((c) =>
    `<tr data-engineer="${esc(c.engineer_id)}"><td>${esc(c.name)}</td><td>${esc(t("{n} min", { n: Math.round(c.drive_s / 60) }))}</td>` +
    `<td>${c.eta ? fmt(c.eta) : esc(c.reason)}</td>` +
    `<td>${c.eta ? `<button type="button" class="small" data-candidate="${esc(c.engineer_id)}">${assign}</button>` : ""}</td></tr>`).join("")
    : `<tr><td class="muted" colspan="4">${esc(t("No engineer on shift has the skill."))}</td></tr>`;
}

async function drawRoutes() {
  const routes = await getJSON("/api/plans/routes");
  routeLayer.clearLayers();
  routes.forEach((r, i) => {
    if (!r.stops.length) return;
    const colour = ROUTE_COLOURS[i % ROUTE_COLOURS.length];
    const points = [[r.home_lat, r.home_lon], ...r.stops.map((s) => [s.lat, s.lon])];
    L.polyline(points, { color: colour, weight: 3, opacity: 0.8, dashArray: "6 4", engineer: r.engineer_id })
      .bindTooltip(r.name).addTo(routeLayer);
    r.stops.forEach((s, k) => {
      L.circleMarker([s.lat, s.lon], { radius: 5, color: colour, fillColor: "#fff", fillOpacity: 1, weight: 2 })
        .bindTooltip(esc(t("{name} · stop {n}: #{id} · ETA {time}", { name: r.name, n: k + 1, id: s.work_order_id, time: fmt(s.eta) })) + (s.pinned ? " · " + esc(t("pinned")) : ""),
          // On hover only: permanent labels covered the devices (and alerts) under them.
          { direction: "top", className: "eta" })
        .addTo(routeLayer);
    });
  });
}

async function drawPlanChanges() {
  // Re-plans that changed nothing (the dispatcher's every-minute runs) are counted,
  // not listed: the list keeps the plans a dispatcher has to read.
  const all = await getJSON("/api/plans/changes");
  const plans = all.filter((p) => p.changes.length);
  const quiet = all.length - plans.length;
  const moved = t("moved"), none = " · " + esc(t("no changes"));
  $("#plan-changes").innerHTML = plans.slice(0, 5).map((p) =>
    `<li data-plan="${p.plan_id}"><b>${esc(t("Plan {id}", { id: p.plan_id }))}</b> (${esc(p.kind)}): ${esc(t("{assigned} assigned, {unassigned} unassigned", p))}` +
    (p.changes.length ? `<ul>${p.changes.map((c) => `<li>${esc(state.names[c.engineer_id] || c.engineer_id)}: ` +
      [c.added.length ? `+${c.added.map((j) => "#" + j).join(", ")}` : "",
       c.removed.length ? `−${c.removed.map((j) => "#" + j).join(", ")}` : "",
       c.moved.length ? `${moved} ${c.moved.map((j) => "#" + j).join(", ")}` : ""].filter(Boolean).join(" · ") + "</li>").join("")}</ul>`
      : none) + "</li>").join("") +
    (quiet ? `<li class="muted" data-quiet="${quiet}">${esc(nt("{n} re-plan changed nothing", "{n} re-plans changed nothing", quiet))}</li>` : "");
}

// A plan was stored (accepted here or elsewhere, or an emergency insertion): said on a
// line of its own, so it never overwrites what the dispatcher's last action answered.
function planArrived() {
  $("#plan-live").textContent = t("latest plan in force since {time}", { time: fmt(Date.now()) });
}

async function act(fn) {
  try { await fn(); } catch (e) { notify(e.message, true); return; }
  await refresh();
}

document.addEventListener("click", (e) => {
  const alertButton = e.target.closest("[data-alert-action]");
  if (alertButton) return act(() => alertAction(alertButton.closest("tr"), alertButton.dataset.alertAction));
  const orderButton = e.target.closest("[data-order-action]");
  if (orderButton) return act(() => orderAction(orderButton.closest("tr"), orderButton.dataset.orderAction));
  const candidate = e.target.closest("[data-candidate]");
  if (candidate) {
    const id = $("#candidates").dataset.order;
    return act(async () => {
      await send("PUT", `/api/work-orders/${id}/pin`, { engineer_id: candidate.dataset.candidate });
      notify(t("#{id} pinned to {name}; re-planning", { id, name: state.names[candidate.dataset.candidate] }));
      $("#candidates").hidden = true;
    });
  }
  return undefined;
});
