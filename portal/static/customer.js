// The customer's page: arrival windows the dispatcher can keep right now, offered in
// the fault form; without them the report still works.
"use strict";
const windowSelect = document.getElementById("window");
const windowNote = document.getElementById("window-note");
fetch(windowSelect.dataset.offers).then((r) => (r.ok ? r.json() : [])).then((offers) => {
  // Only windows a qualified engineer's day can still take are offered; none: say so.
  windowNote.textContent = offers.length
    ? t("Only times an engineer can really keep are offered.")
    : t("No arrival time can be promised right now: send the report and we will contact you with one.");
  for (const o of offers) {
    const start = new Date(o.start_ms), end = new Date(o.end_ms);
    // In the page's language and the site's time zone (the times the engineer keeps).
    const zone = { timeZone: i18nTimeZone };
    const day = start.toLocaleDateString(i18nLang, { weekday: "short", day: "numeric", month: "short", ...zone });
    const hours = (d) => d.toLocaleTimeString(i18nLang, { hour: "2-digit", minute: "2-digit", ...zone });
    windowSelect.add(new Option(`${day}, ${hours(start)}–${hours(end)}`, `${o.start_ms}-${o.end_ms}`));
  }
}).catch(() => {});

// The photos picked, shown before sending (the page's own memory: blob: URLs).
const photoInput = document.getElementById("photos");
const preview = document.getElementById("photo-preview");
photoInput.addEventListener("change", () => {
  for (const img of preview.querySelectorAll("img")) URL.revokeObjectURL(img.src);
  preview.replaceChildren(...[...photoInput.files].slice(0, 3).map((file, k) => {
    const li = document.createElement("li"), img = document.createElement("img");
    img.src = URL.createObjectURL(file);
    img.alt = t("Photo {n} chosen: {name}", { n: k + 1, name: file.name });
    li.append(img);
    return li;
  }));
});

// Live progress: the repair and the device's state are fetched again every 20 s
// (and when the page comes back into view), without a reload.
const repairs = document.getElementById("repairs");
async function refreshRepair() {
  if (document.hidden) return;
  const r = await fetch(repairs.dataset.refresh, { credentials: "same-origin" }).catch(() => null);
  if (!r || !r.ok) return;
  const fresh = new DOMParser().parseFromString(await r.text(), "text/html");
  for (const id of ["repairs", "device-state"]) {
    const now = fresh.getElementById(id), here = document.getElementById(id);
    if (now && here && now.innerHTML !== here.innerHTML) {
      here.innerHTML = now.innerHTML;
      here.className = now.className;
    }
  }
}
setInterval(refreshRepair, 20000);
document.addEventListener("visibilitychange", refreshRepair);

// Pushed changes (GET /q/{token}/events: this device's alerts, repair steps, online
// state): the page is fetched again as soon as one happens; the 20 s refresh above
// stays as the safety net. EventSource reconnects by itself, resuming from its cursor.
if (window.EventSource && repairs) {
  const live = new EventSource(`${repairs.dataset.refresh}/events`);
  for (const kind of ["alert", "work_order", "device"]) live.addEventListener(kind, refreshRepair);
}
