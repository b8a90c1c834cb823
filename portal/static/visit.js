// The customer's visit page (/v/{token}): who is coming and when, redrawn from the
// visit's own stream (server-sent events) whenever the plan moves the ETA or the
// visit moves on; once the job is done, only "Done" and the stream is closed.
"use strict";

const visitEl = document.getElementById("visit");
const liveEl = document.getElementById("visit-live");

function clockText(ms) {
  const at = new Date(ms);
  const time = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (at.toDateString() === new Date().toDateString()) return time;
  return `${at.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" })}, ${time}`;
}

function statusText(v) {
  if (v.phase === "on_the_way") return t("{name} is on the way", { name: v.engineer });
  if (v.phase === "arrived") return t("{name} has arrived", { name: v.engineer });
  if (v.phase === "planned" && v.engineer) return t("{name} will come", { name: v.engineer });
  return t("Your visit is being rescheduled; we will tell you the new time");
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function draw(v) {
  if (v.phase === "done") {
    visitEl.replaceChildren(el("p", { id: "visit-status", class: ["state", "ok"].join(" ") }, t("Done")));
    return;
  }
  const parts = [el("p", { id: "visit-where", class: "muted" }, `${v.device} · ${v.site}`),
    el("p", { id: "visit-status", class: ["state", "info"].join(" ") }, statusText(v))];
  if (v.eta) {
    const eta = el("p", { id: "visit-eta", class: "eta", "data-eta": String(v.eta) }, `${t("Expected arrival:")} `);
    eta.append(el("strong", {}, clockText(v.eta)));
    parts.push(eta);
  }
  visitEl.replaceChildren(...parts);
}

draw(JSON.parse(visitEl.dataset.state));
if (JSON.parse(visitEl.dataset.state).phase !== "done") {
  const events = new EventSource(visitEl.dataset.live);
  events.addEventListener("visit", (e) => {
    const v = JSON.parse(e.data);
    draw(v);
    visitEl.dataset.updated = String(Number(visitEl.dataset.updated || 0) + 1);
    liveEl.textContent = v.phase === "done" ? "" : `Updated ${clockText(Date.now())}`;
    if (v.phase === "done") events.close();
  });
  events.onerror = () => { liveEl.textContent = "Reconnecting…"; };
}
