// The engineer's job page. Every change goes through the outbox: it is kept in
// localStorage and sent in order whenever the phone has signal, so a status
// tapped in a cellar reaches the dispatcher when the engineer is back upstairs.
// The server treats a replayed status as done already, so sending twice is safe.
"use strict";
const root = document.querySelector(".job-app");
const orderId = root.dataset.order;
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const KEY = "fieldpulse.outbox";

const outbox = {
  items() { return JSON.parse(localStorage.getItem(KEY) || "[]"); },
  save(items) { localStorage.setItem(KEY, JSON.stringify(items)); showOutbox(); },
  push(item) { const items = this.items(); items.push(item); this.save(items); },
};

function showOutbox() {
  const n = outbox.items().length;
  const el = document.getElementById("outbox");
  el.hidden = n === 0;
  el.textContent = n ? `${n} change${n > 1 ? "s" : ""} waiting for signal — sent automatically` : "";
}

async function send(item) {
  const r = await fetch(item.url, {
    method: item.method, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(item.body),
  });
  // Server trouble or a lapsed login: keep it queued (after logging in, it goes out).
  if (r.status >= 500 || r.status === 401 || r.status === 403) throw new Error(`HTTP ${r.status}`);
  if (!r.ok) {  // refused for good (e.g. already signed off): drop it, say why
    const detail = (await r.json().catch(() => ({}))).detail || r.statusText;
    alert(`Not saved: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
}

let flushing = false;
async function flush() {
  if (flushing) return;
  flushing = true;
  try {
    while (outbox.items().length) {
      const [first, ...rest] = outbox.items();
      try { await send(first); } catch (e) { return; }  // no signal: keep it, retry later
      outbox.save(rest);
    }
    await load();
  } finally { flushing = false; }
}

function queue(method, url, body) {
  outbox.push({ method, url, body, queued_at: Date.now() });
  flush();
}

function text(id, value) { document.getElementById(id).textContent = value ?? ""; }
function time(ms) { return ms ? new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "—"; }
function list(id, rows) {
  const ul = document.getElementById(id);
  ul.replaceChildren(...rows.map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
}

async function load() {
  const r = await fetch(`/api/work-orders/${orderId}/job`, { credentials: "same-origin" });
  if (!r.ok) return;
  const job = await r.json();
  text("title", job.title);
  text("where", `${job.customer ?? ""} — ${job.site ?? ""}, ${job.address ?? ""}`);
  document.getElementById("navigate").href = job.navigation || "#";
  text("eta", `ETA ${time(job.eta)}`);
  text("status", job.status.replace("_", " "));
  text("device", `${job.device.model_id} · ${job.device.serial} · ${job.device.online ? "online" : "offline"}`);
  const table = document.getElementById("latest");
  table.replaceChildren(...job.latest.map((v) => {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td>";
    tr.children[0].textContent = v.label || v.metric;
    tr.children[1].textContent = `${v.value} ${v.unit || ""}`;
    return tr;
  }));
  list("alerts", job.alerts.map((a) => `${a.severity}: ${a.message} (${a.state})`));
  list("history", job.history.map((h) => `${h.title} — ${h.status}`));
  list("parts-list", job.report.parts.map((p) => `${p.qty} × ${p.part}`));
  list("photos", job.report.photos);
  const links = document.getElementById("customer-photos");
  links.replaceChildren(...job.customer_photos.map((name) => {
    const li = document.createElement("li"), a = document.createElement("a");
    a.href = `/api/work-orders/${orderId}/files/${encodeURIComponent(name)}`;
    a.textContent = name;
    li.append(a);
    return li;
  }));
  text("signed", job.report.signed_by ? `Signed by ${job.report.signed_by} at ${time(job.report.signed_at)}` : "");
  document.querySelector("textarea[name=notes]").value = job.report.notes;
}

document.querySelectorAll("[data-status]").forEach((b) => b.addEventListener("click", () => {
  queue("POST", `/api/work-orders/${orderId}/status`, { status: b.dataset.status });
  text("status", `${b.dataset.status.replace("_", " ")} (sending…)`);
}));
document.getElementById("give-back").addEventListener("submit", (e) => {
  e.preventDefault();
  queue("POST", `/api/work-orders/${orderId}/cannot-complete`, { reason: e.target.reason.value });
});
document.getElementById("parts").addEventListener("submit", (e) => {
  e.preventDefault();
  queue("POST", `/api/work-orders/${orderId}/parts`,
        { parts: [{ part: e.target.part.value, qty: Number(e.target.qty.value) }] });
  e.target.reset();
});
document.getElementById("notes").addEventListener("submit", (e) => {
  e.preventDefault();
  queue("PUT", `/api/work-orders/${orderId}/notes`, { notes: e.target.notes.value });
});
// Photos are sent at once (a file does not fit the outbox); without signal, say so.
document.getElementById("photo").addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = new FormData(e.target);
  try {
    const r = await fetch(`/api/work-orders/${orderId}/photos`, {
      method: "POST", body: data, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    if (!r.ok) throw new Error((await r.json()).detail);
    e.target.reset();
    load();
  } catch (err) { alert(`Photo not uploaded (${err.message}); try again with signal.`); }
});

const canvas = document.getElementById("signature");
const pen = canvas.getContext("2d");
let drawing = false, signed = false;
function at(e) { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; }
canvas.addEventListener("pointerdown", (e) => { drawing = true; signed = true; pen.beginPath(); pen.moveTo(...at(e)); });
canvas.addEventListener("pointermove", (e) => { if (drawing) { pen.lineTo(...at(e)); pen.stroke(); } });
window.addEventListener("pointerup", () => { drawing = false; });
document.getElementById("clear-signature").addEventListener("click", () => {
  pen.clearRect(0, 0, canvas.width, canvas.height); signed = false;
});
document.getElementById("sign-off").addEventListener("submit", (e) => {
  e.preventDefault();
  if (!signed) { alert("Ask the customer to sign in the box first."); return; }
  queue("POST", `/api/work-orders/${orderId}/sign-off`,
        { signed_by: e.target.signed_by.value, signature_png: canvas.toDataURL("image/png") });
});

window.addEventListener("online", flush);
setInterval(flush, 15000);
showOutbox();
load().then(flush);
