// The engineer's job page. Every change goes through the outbox: an ordered list
// kept in localStorage and sent in order whenever the phone has signal, so a status
// tapped in a cellar reaches the dispatcher when the engineer is back upstairs.
// Images (photos, the customer's signature) are too big for localStorage: their
// blobs wait in IndexedDB under their outbox entry's id, and the entry keeps its
// place in the order (a photo taken before "done" is sent before "done").
// Replays are safe: the server treats a replayed status as done already, and a
// photo or sign-off carries its entry id, so one whose answer was lost is not
// stored twice when it is sent again.
// The outbox belongs to the user who made its entries: each carries their name, a
// page sends only its own user's (another user's wait for them to log in again,
// unseen), and logging out deletes them all (session_end.js).
"use strict";
const root = document.querySelector(".job-app");
const orderId = root.dataset.order;
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const me = document.querySelector('meta[name="fp-user"]').content;
const mine = (item) => item.user === me;
const KEY = "fieldpulse.outbox";
const FAILED_KEY = "fieldpulse.outbox.failed";
// The server's limits (portal/uploads.py), checked here too so the engineer hears
// at once, while still with the customer, rather than after reconnecting.
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
const IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"];

// crypto.randomUUID needs https; getRandomValues works on plain http too.
function newId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)),
                    (b) => b.toString(16).padStart(2, "0")).join("");
}

// IndexedDB: one store of image blobs, keyed by the id of their outbox entry.
const blobs = {
  db: null,
  open() {
    this.db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open("fieldpulse-outbox", 1);
      req.onupgradeneeded = () => req.result.createObjectStore("blobs");
      req.onsuccess = () => {
        // Logging out deletes the database: let it, and open it anew if still needed.
        req.result.onversionchange = () => { req.result.close(); this.db = null; };
        resolve(req.result);
      };
      req.onerror = () => reject(req.error);
    }).catch((err) => { this.db = null; throw err; });  // try again next time
    return this.db;
  },
  async run(mode, action) {
    const db = await this.open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction("blobs", mode);
      const req = action(tx.objectStore("blobs"));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = tx.onabort = () => reject(tx.error || new Error("storage refused"));
    });
  },
  put(id, blob) { return this.run("readwrite", (s) => s.put(blob, id)); },
  get(id) { return this.run("readonly", (s) => s.get(id)); },
  delete(id) { return this.run("readwrite", (s) => s.delete(id)); },
  keys() { return this.run("readonly", (s) => s.getAllKeys()); },
};

const outbox = {
  items() { return JSON.parse(localStorage.getItem(KEY) || "[]"); },
  save(items) { localStorage.setItem(KEY, JSON.stringify(items)); showOutbox(); },
  push(item) { this.save([...this.items(), item]); },
  // By id, not by position: the engineer may queue more while one is being sent.
  remove(id) { this.save(this.items().filter((i) => i.id !== id)); },
};

// Changes the server refused for good: dropped from the outbox, kept here (across
// reloads) until the engineer has read them.
const failed = {
  all() { return JSON.parse(localStorage.getItem(FAILED_KEY) || "[]"); },
  items() { return this.all().filter(mine); },
  add(label, reason) {
    const items = [...this.all(), { label, reason, at: Date.now(), user: me }];
    localStorage.setItem(FAILED_KEY, JSON.stringify(items));
    showFailed();
  },
  clear() {
    localStorage.setItem(FAILED_KEY, JSON.stringify(this.all().filter((f) => !mine(f))));
    showFailed();
  },
};

function text(id, value) { document.getElementById(id).textContent = value ?? ""; }
function time(ms) { return ms ? new Date(ms).toLocaleTimeString(i18nLang, { hour: "2-digit", minute: "2-digit", timeZone: i18nTimeZone }) : "—"; }
function list(id, rows) {
  const ul = document.getElementById(id);
  ul.replaceChildren(...rows.map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
}
function size(bytes) {
  return bytes < 1024 * 1024 ? `${Math.ceil(bytes / 1024)} kB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

const thumbs = new Map();  // outbox entry id -> object URL of its image
let shown = 0;  // drawing is async (blobs come from IndexedDB): only the latest call draws
async function showOutbox() {
  const draw = ++shown;
  const all = outbox.items(), items = all.filter(mine);
  const box = document.getElementById("outbox");
  const n = items.length, others = all.length - n;
  box.hidden = n + others === 0;
  text("outbox-count", [
    n ? nt("{n} change waiting for signal — sent automatically", "{n} changes waiting for signal — sent automatically", n) : "",
    others ? nt("{n} change of another user, kept for them", "{n} changes of another user, kept for them", others) : "",
  ].filter(Boolean).join("; "));
  const rows = await Promise.all(items.map(async (item) => {
    const li = document.createElement("li");
    if (item.image) {
      if (!thumbs.has(item.id)) {
        const blob = await blobs.get(item.id).catch(() => undefined);
        if (blob) thumbs.set(item.id, URL.createObjectURL(blob));
      }
      if (thumbs.has(item.id)) {
        const img = document.createElement("img");
        img.src = thumbs.get(item.id);
        img.alt = item.label;
        li.append(img);
      }
    }
    li.append(item.label || `${item.method} ${item.url}`);
    return li;
  }));
  if (draw !== shown) return;
  document.getElementById("outbox-items").replaceChildren(...rows);
  const waiting = new Set(items.map((i) => i.id));
  for (const [id, url] of thumbs) if (!waiting.has(id)) { URL.revokeObjectURL(url); thumbs.delete(id); }
}

function showFailed() {
  const items = failed.items();
  document.getElementById("outbox-failed").hidden = items.length === 0;
  list("failed-items", items.map((f) => `${f.label}: ${f.reason}`));
}

class Refused extends Error {}  // the server said no for good: do not send it again

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

// A send that hangs on a weak signal must not hold up the outbox for good; if it
// did arrive, sending it again is harmless.
const SEND_TIMEOUT_MS = 120_000;
async function request(item) {
  const headers = { "X-CSRF-Token": csrf };
  const base = { credentials: "same-origin", signal: AbortSignal.timeout?.(SEND_TIMEOUT_MS) };
  if (!item.image) {
    // The entry's id lets the API recognise a replay whose answer was lost.
    const body = JSON.stringify({ ...item.body, client_id: item.id });
    return fetch(item.url, { ...base, method: item.method, body,
                             headers: { ...headers, "Content-Type": "application/json" } });
  }
  const blob = await blobs.get(item.id);  // a read that fails (page closing) is tried again
  if (!blob) throw new Refused(t("the image is no longer stored on this phone; please do it again"));
  if (item.image === "photo") {
    const form = new FormData();
    form.append("client_id", item.id);
    form.append("photo", blob, item.name);
    return fetch(item.url, { ...base, method: "POST", body: form, headers });
  }
  // The signature: the API takes it as a PNG data URL in JSON.
  const body = { ...item.body, client_id: item.id, signature_png: await dataUrl(blob) };
  return fetch(item.url, { ...base, method: "POST", body: JSON.stringify(body),
                           headers: { ...headers, "Content-Type": "application/json" } });
}

async function send(item) {
  const r = await request(item);  // no signal: fetch throws, the entry stays queued
  // Server trouble or a lapsed login: keep it queued (after logging in, it goes out).
  if (r.status >= 500 || [401, 408, 429].includes(r.status)) throw new Error(`HTTP ${r.status}`);
  if (!r.ok) {  // refused for good (too large, not an image, already signed off): say why
    const detail = (await r.json().catch(() => ({}))).detail || r.statusText;
    // A stale CSRF token (logged in again elsewhere) passes once the page reloads; any
    // other 403 (the job was given to someone else) will not, and must not block the rest.
    if (r.status === 403 && String(detail).includes("CSRF")) throw new Error("HTTP 403 (CSRF)");
    const why = { 413: t("too large"), 415: t("not a JPEG, PNG or WebP image") }[r.status] || `HTTP ${r.status}`;
    throw new Refused(`${why} — ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
}

let flushing = false;
async function sendAll() {
  // Only this user's entries, in their order; nobody else's is sent under this session.
  for (let item = outbox.items().find(mine); item; item = outbox.items().find(mine)) {
    try { await send(item); } catch (err) {
      if (!(err instanceof Refused)) return false;  // no signal: keep it, retry later
      failed.add(item.label || item.url, err.message);
    }
    outbox.remove(item.id);
    if (item.image) await blobs.delete(item.id).catch(() => {});
  }
  return true;
}
async function flush() {
  if (flushing) return;
  flushing = true;
  try {
    // Two open job pages share the outbox: one of them sends at a time.
    const sent = navigator.locks
      ? await navigator.locks.request(KEY, { ifAvailable: true }, (lock) => lock && sendAll())
      : await sendAll();
    if (sent) await load();
  } finally { flushing = false; }
}

// Queued one after another, so a photo still being written to IndexedDB keeps
// its place ahead of a "done" tapped right after it.
let queued = Promise.resolve();
function enqueue(entry, blob) {
  queued = queued.then(async () => {
    const item = { id: newId(), queued_at: Date.now(), user: me, ...entry };
    if (blob) {
      try { await blobs.put(item.id, blob); } catch (err) {
        failed.add(item.label, t("could not be kept on this phone ({error}); try again", { error: err.message || err }));
        return;
      }
    }
    outbox.push(item);
  });
  queued.then(flush);
}
function queue(method, url, body, label) { enqueue({ method, url, body, label }); }

async function load() {
  const r = await fetch(`/api/work-orders/${orderId}/job`, { credentials: "same-origin" }).catch(() => null);
  if (!r || !r.ok) return;
  const job = await r.json();
  text("title", job.title);
  text("where", `${job.customer ?? ""} — ${job.site ?? ""}, ${job.address ?? ""}`);
  document.getElementById("navigate").href = job.navigation || "#";
  text("eta", t("ETA {time}", { time: time(job.eta) }));
  text("status", STATUS_WORDS[job.status] || job.status.replace("_", " "));
  text("device", `${job.device.model_id} · ${job.device.serial} · ${job.device.online ? t("online") : t("offline")}`);
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
  fileLinks("photos", job.report.photos, t("Photo of the work"));
  fileLinks("customer-photos", job.customer_photos, t("Customer's photo"));
  text("description", job.description || t("No description given."));
  contactLink(job.contact);
  text("signed", job.report.signed_by ? t("Signed by {name} at {time}", { name: job.report.signed_by, time: time(job.report.signed_at) }) : "");
  document.querySelector("textarea[name=notes]").value = job.report.notes;
  showSteps(job.status, Boolean(job.report.signed_by));
  showProcedures(job.articles || []);
}
// The procedures for the job's alert and the device's model: part of the job's data, so
// they show without signal too. Their HTML is rendered by the server with every piece
// of HTML in the article escaped (knowledge/rendering.py).
function showProcedures(articles) {
  const box = document.getElementById("procedure-list");
  if (!articles.length) { box.textContent = t("No procedure for this device model yet."); return; }
  box.replaceChildren(...articles.map((a, k) => {
    const details = document.createElement("details"), summary = document.createElement("summary");
    details.className = "procedure";
    details.dataset.article = a.id;
    details.open = k === 0;
    const why = a.linked_to_alert ? ` — ${t("for this job's alert")}` : a.linked_to_fault ? ` — ${t("for the reported fault")}` : "";
    summary.textContent = `${a.title}${why} (v${a.version})`;
    const body = document.createElement("div");
    body.className = "article-body";
    body.innerHTML = a.html;
    details.append(summary, body);
    return details;
  }));
}
// Thumbnails, each opening the full image; named by what they are, not by file name.
function fileLinks(id, names, what) {
  const ul = document.getElementById(id);
  ul.replaceChildren(...names.map((name, k) => {
    const li = document.createElement("li"), a = document.createElement("a"), img = document.createElement("img");
    a.href = `/api/work-orders/${orderId}/files/${encodeURIComponent(name)}`;
    img.src = a.href;
    img.alt = `${what} ${k + 1}`;
    img.loading = "lazy";
    a.append(img);
    li.append(a);
    return li;
  }));
}
// The customer's contact: a phone number to call, an address to write to, or as given.
function contactLink(contact) {
  const el = document.getElementById("contact");
  const value = (contact || "").trim();
  if (!value) { el.textContent = t("none given"); return; }
  const a = document.createElement("a");
  a.href = value.includes("@") ? `mailto:${value}` : /^[+\d][\d ()/-]{4,}$/.test(value) ? `tel:${value.replace(/[^+\d]/g, "")}` : "";
  a.textContent = value;
  el.replaceChildren(a.href ? a : document.createTextNode(value));
}

// Only the steps still ahead can be tapped (once done, none), and a signed report's
// forms are closed, so nothing is queued that the server must refuse.
const STEP_ORDER = ["accepted", "en_route", "on_site", "done"];
function showSteps(status, signedOff) {
  const reached = STEP_ORDER.indexOf(status);
  for (const b of document.querySelectorAll("[data-status]")) {
    b.disabled = STEP_ORDER.indexOf(b.dataset.status) <= reached;
  }
  const over = status === "done";
  const note = document.getElementById("status-note");
  note.hidden = !over;
  note.textContent = over ? t("This job is done: nothing more to report here.") : "";
  document.querySelector("#give-back").closest("details").hidden = over;
  document.getElementById("report-final").hidden = !signedOff;
  for (const form of ["parts", "notes", "photo", "sign-off"]) {
    for (const el of document.getElementById(form).elements) el.disabled = signedOff;
  }
  document.getElementById("signature").classList.toggle("closed", signedOff);
}

const STEP_NAMES = { accepted: t("accepted"), en_route: t("on my way"), on_site: t("arrived"), done: t("job done") };
// A status as the page shows it (the server's names are for the API).
const STATUS_WORDS = { new: t("new"), assigned: t("assigned"), accepted: t("accepted"), en_route: t("en route"), on_site: t("on site"), done: t("done") };
document.querySelectorAll("[data-status]").forEach((b) => b.addEventListener("click", () => {
  queue("POST", `/api/work-orders/${orderId}/status`, { status: b.dataset.status },
        t("Job {id}: {step}", { id: orderId, step: STEP_NAMES[b.dataset.status] }));
  text("status", t("{status} (sending…)", { status: STATUS_WORDS[b.dataset.status] }));
  showSteps(b.dataset.status, false);
}));
document.getElementById("give-back").addEventListener("submit", (e) => {
  e.preventDefault();
  queue("POST", `/api/work-orders/${orderId}/cannot-complete`, { reason: e.target.reason.value },
        t("Job {id}: cannot complete", { id: orderId }));
});
document.getElementById("parts").addEventListener("submit", (e) => {
  e.preventDefault();
  const part = e.target.part.value, qty = Number(e.target.qty.value);
  queue("POST", `/api/work-orders/${orderId}/parts`, { parts: [{ part, qty }] },
        t("Job {id}: part {qty} × {part}", { id: orderId, qty, part }));
  e.target.reset();
});
document.getElementById("notes").addEventListener("submit", (e) => {
  e.preventDefault();
  queue("PUT", `/api/work-orders/${orderId}/notes`, { notes: e.target.notes.value }, t("Job {id}: notes", { id: orderId }));
});
document.getElementById("photo").addEventListener("submit", (e) => {
  e.preventDefault();
  for (const file of e.target.photo.files) {
    const label = t("Job {id}: photo {name} ({size})", { id: orderId, name: file.name, size: size(file.size) });
    const problem = !IMAGE_TYPES.includes(file.type) ? t("not a JPEG, PNG or WebP image")
      : file.size > MAX_IMAGE_BYTES ? t("too large (at most {size})", { size: size(MAX_IMAGE_BYTES) })
      : file.size === 0 ? t("the file is empty") : "";
    if (problem) { failed.add(label, problem); continue; }
    enqueue({ method: "POST", url: `/api/work-orders/${orderId}/photos`, image: "photo",
              name: file.name, label }, file);
  }
  e.target.reset();
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
  if (!signed) { alert(t("Ask the customer to sign in the box first.")); return; }
  const signedBy = e.target.signed_by.value;
  canvas.toBlob((png) => enqueue({ method: "POST", url: `/api/work-orders/${orderId}/sign-off`,
                                   image: "signature", body: { signed_by: signedBy },
                                   label: t("Job {id}: signed by {name}", { id: orderId, name: signedBy }) }, png), "image/png");
});
document.getElementById("dismiss-failed").addEventListener("click", () => failed.clear());

// Entries queued by an older version of this page have no user: nobody can tell
// whose they are, so none is sent; they are listed as not saved. Blobs whose entry is
// gone (the page closed between sending and deleting, or logged out) are dropped.
async function tidy() {
  const items = outbox.items();
  for (const i of items.filter((i) => !i.user)) failed.add(i.label || i.url, t("queued before this phone's outbox knew whose it was"));
  if (items.some((i) => !i.user)) outbox.save(items.filter((i) => i.user));
  const ids = new Set(outbox.items().map((i) => i.id));
  const stored = await blobs.keys().catch(() => []);
  await Promise.all(stored.filter((k) => !ids.has(k)).map((k) => blobs.delete(k).catch(() => {})));
}

window.addEventListener("online", flush);
setInterval(flush, 15000);
showFailed();
tidy().then(showOutbox).then(load).finally(flush);
