// The dispatch board (/dispatch/board): engineers as rows, the board's day as a
// timeline, the plan in force's jobs as blocks with the drive before each, and the
// jobs no plan placed with the plan's reason (GET /api/plans/board). A job dragged to
// another engineer's row, or picked in "Move a job" (the keyboard's way), is pinned
// to them (PUT /api/work-orders/{id}/pin); the solver then re-plans, and the board
// says where the job went, or why the plan could not follow the pin. Redrawn on the
// live feed's plan and work-order events (/api/events).
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const hhmm = (ms) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
let board = null;
let pending = null; // { id, engineer, name, afterPlan }: a pin waiting for its plan

async function getBoard() {
  const r = await fetch("/api/plans/board", { credentials: "same-origin" });
  if (!r.ok) throw new Error(`board: ${r.status}`);
  return r.json();
}

// Positions are CSSOM properties (allowed by the page's policy, unlike style attributes).
function place(el, from, to) {
  const span = board.day_end - board.day_start;
  el.style.left = `${(100 * (Math.max(from, board.day_start) - board.day_start)) / span}%`;
  el.style.width = `${Math.max(0.4, (100 * (Math.min(to, board.day_end) - Math.max(from, board.day_start))) / span)}%`;
}

function div(cls, text) {
  const el = document.createElement("div");
  el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

function drawHours() {
  const hours = $("#board-hours");
  hours.replaceChildren();
  for (let t = board.day_start; t < board.day_end; t += 3_600_000) {
    const h = div("board-hour", hhmm(t));
    place(h, t, t + 3_600_000);
    hours.append(h);
  }
}

// Work-order statuses as the board says them.
const STATUS = { new: t("new"), assigned: t("assigned"), accepted: t("accepted"),
  en_route: t("en route"), on_site: t("on site"), done: t("done") };
const word = (status) => STATUS[status] || status.replace("_", " ");

function blockOf(b, row) {
  const job = document.createElement("button");
  job.type = "button";
  job.className = ["board-job", `status-${b.status}`, ...(b.pinned ? ["pinned"] : [])].join(" ");
  job.dataset.workOrder = String(b.work_order_id);
  job.draggable = b.movable;
  job.textContent = `#${b.work_order_id} ${b.serial}`;
  // The name starts with the text shown (#12 SN-…), as speech input expects.
  const label = t("#{id} {serial}: {title} at {customer}, {from}–{to}, {engineer}", {
    id: b.work_order_id, serial: b.serial, title: b.title, customer: b.customer,
    from: hhmm(b.start), to: hhmm(b.end), engineer: row.name }) +
    (b.pinned ? t(", pinned") : "") + (b.movable ? "" : `, ${word(b.status)}`);
  job.setAttribute("aria-label", label);
  job.title = `${label}; ${t("drive {min} min", { min: b.drive_min })}`;
  place(job, b.start, b.end);
  return job;
}

function drawRows() {
  const rows = board.rows.map((row) => {
    const el = div("board-row");
    el.dataset.engineer = row.engineer_id;
    const name = div("board-name");
    name.innerHTML = `<b>${esc(row.name)}</b><span class="muted">${esc(row.skills.join(", "))} · ${hhmm(row.shift_start)}–${hhmm(row.shift_end)}</span>`;
    const lane = div("board-lane");
    lane.dataset.engineer = row.engineer_id;
    lane.setAttribute("role", "group");
    lane.setAttribute("aria-label", `${row.name}'s day: ${row.blocks.length} jobs`);
    const shift = div("board-shift");
    place(shift, row.shift_start, row.shift_end);
    lane.append(shift);
    for (const b of row.blocks) {
      if (b.drive_min > 0) {
        const drive = div("board-drive");
        drive.setAttribute("aria-hidden", "true");
        drive.title = t("drive {min} min", { min: b.drive_min });
        place(drive, b.drive_from, b.start);
        lane.append(drive);
      }
      lane.append(blockOf(b, row));
    }
    el.append(name, lane);
    return el;
  });
  $("#board-rows").replaceChildren(...rows);
}

function drawSide() {
  $("#unassigned-count").textContent = `(${board.unassigned.length})`;
  $("#unassigned").innerHTML = board.unassigned.map((u) =>
    `<li draggable="true" data-work-order="${u.work_order_id}"><b>#${u.work_order_id} ${esc(u.title)}</b> ` +
    `<span class="muted">${esc(u.serial)} · ${esc(u.customer)} · ${esc(u.skill)} · ${esc(t("priority {n}", { n: u.priority }))}</span>` +
    `<div class="reason">${esc(u.reason)}${u.pinned_engineer_id ? " " + esc(t("(pinned to {name})", { name: nameOf(u.pinned_engineer_id) })) : ""}</div></li>`).join("")
    || `<li class="muted">${esc(t("every open job is planned"))}</li>`;
  const jobSelect = $("#move-job"), keepJob = jobSelect.value;
  const jobs = [...board.rows.flatMap((r) => r.blocks.filter((b) => b.movable).map((b) => [b.work_order_id, `#${b.work_order_id} ${b.serial} (${r.name}, ${hhmm(b.start)})`])),
    ...board.unassigned.map((u) => [u.work_order_id, t("#{id} {serial} (not planned)", { id: u.work_order_id, serial: u.serial })])];
  jobSelect.innerHTML = jobs.map(([id, text]) => `<option value="${id}">${esc(text)}</option>`).join("");
  if (jobs.some(([id]) => String(id) === keepJob)) jobSelect.value = keepJob;
  const engineerSelect = $("#move-engineer"), keepEngineer = engineerSelect.value;
  engineerSelect.innerHTML = board.rows.map((r) => `<option value="${esc(r.engineer_id)}">${esc(r.name)}</option>`).join("");
  if (keepEngineer) engineerSelect.value = keepEngineer;
}

const nameOf = (id) => board?.rows.find((r) => r.engineer_id === id)?.name || id;

function say(text, bad = false) {
  $("#board-status").textContent = text;
  $("#board-status").classList.toggle("error", bad);
}

// After a pin, a plan newer than the pin says where the job went: with the engineer,
// or left out with the plan's reason. A plan that was already being solved when the
// pin came may not know it yet, so up to three plans are waited for.
function followPin() {
  if (!pending || board.plan_id == null || board.plan_id <= pending.afterPlan) return;
  const row = board.rows.find((r) => r.blocks.some((b) => b.work_order_id === pending.id));
  const waiting = board.unassigned.find((u) => u.work_order_id === pending.id);
  if (row && row.engineer_id === pending.engineer) {
    const b = row.blocks.find((x) => x.work_order_id === pending.id);
    say(t("Job #{id} is now {name}'s, arriving {time}.", { id: pending.id, name: row.name, time: hhmm(b.start) }));
  } else if (waiting && waiting.pinned_engineer_id === pending.engineer) {
    say(t("The plan could not give job #{id} to {name}: {reason}", { id: pending.id, name: pending.name, reason: waiting.reason }), true);
  } else if (board.plan_id - pending.afterPlan < 3) {
    return; // not this plan's answer yet
  } else {
    say(t("The plans kept job #{id} with {name}.", { id: pending.id, name: row ? row.name : t("no one") }), true);
  }
  pending = null;
}

async function redraw() {
  board = await getBoard();
  $("#board-plan").textContent = board.plan_id == null ? t("(no plan yet)") : t("(plan {id}, {time})", { id: board.plan_id, time: hhmm(board.plan_at) });
  drawHours();
  drawRows();
  drawSide();
  followPin();
  $("#board").dataset.drawn = String(board.plan_id ?? 0);
}

async function pinTo(id, engineer) {
  const name = nameOf(engineer);
  say(t("Pinning job #{id} to {name}…", { id, name }));
  const r = await fetch(`/api/work-orders/${id}/pin`, { method: "PUT", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ engineer_id: engineer }) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    say(t("Job #{id} cannot be pinned to {name}: {reason}", { id, name, reason: typeof data.detail === "string" ? data.detail : r.status }), true);
    return;
  }
  pending = { id, engineer, name, afterPlan: board.plan_id ?? 0 };
  say(t("Job #{id} pinned to {name}; waiting for the next plan…", { id, name }));
}

let soon = null;
function redrawSoon() {
  if (soon) return;
  soon = setTimeout(() => { soon = null; redraw().catch((e) => console.error(e)); }, 300);
}

function start() {
  const board = $("#board");
  board.addEventListener("dragstart", (e) => {
    const job = e.target.closest?.("[data-work-order]");
    if (job) e.dataTransfer.setData("text/plain", job.dataset.workOrder);
  });
  const side = $("#unassigned");
  side.addEventListener("dragstart", (e) => {
    const job = e.target.closest?.("[data-work-order]");
    if (job) e.dataTransfer.setData("text/plain", job.dataset.workOrder);
  });
  const marked = () => document.querySelectorAll(".board-lane.drop-target");
  board.addEventListener("dragover", (e) => {
    const row = e.target.closest?.(".board-row");
    if (!row) return;
    e.preventDefault(); // a row takes the drop
    for (const lane of marked()) if (!row.contains(lane)) lane.classList.remove("drop-target");
    row.querySelector(".board-lane").classList.add("drop-target");
  });
  board.addEventListener("dragleave", (e) => {
    if (!e.relatedTarget || !board.contains(e.relatedTarget)) for (const lane of marked()) lane.classList.remove("drop-target");
  });
  document.addEventListener("dragend", () => { for (const lane of marked()) lane.classList.remove("drop-target"); });
  board.addEventListener("drop", (e) => {
    for (const lane of marked()) lane.classList.remove("drop-target");
    const row = e.target.closest?.(".board-row");
    const id = Number(e.dataTransfer.getData("text/plain"));
    if (!row || !id) return;
    e.preventDefault();
    pinTo(id, row.dataset.engineer).catch((err) => say(err.message, true));
  });
  // A click (or Enter) on a block picks it in the form: the keyboard's way to move it.
  board.addEventListener("click", (e) => {
    const job = e.target.closest?.(".board-job");
    if (!job || !job.draggable) return;
    $("#move-job").value = job.dataset.workOrder;
    $("#move-engineer").focus();
  });
  $("#move-form").addEventListener("submit", (e) => {
    e.preventDefault();
    pinTo(Number($("#move-job").value), $("#move-engineer").value).catch((err) => say(err.message, true));
  });
  const events = new EventSource("/api/events");
  for (const kind of ["plan", "work_order"]) events.addEventListener(kind, redrawSoon);
  events.onopen = () => { $("#board-live").textContent = "live"; };
  events.onerror = () => { $("#board-live").textContent = "reconnecting…"; };
  redraw().catch((e) => console.error(e));
  setInterval(redrawSoon, 30000); // a safety net if the stream drops
}
window.addEventListener("DOMContentLoaded", start);
