// The customer's page: arrival windows the dispatcher can keep right now, offered in
// the fault form; without them the report still works.
"use strict";
const windowSelect = document.getElementById("window");
const windowNote = document.getElementById("window-note");
fetch(windowSelect.dataset.offers).then((r) => (r.ok ? r.json() : [])).then((offers) => {
  // Only windows a qualified engineer's day can still take are offered; none: say so.
  windowNote.textContent = offers.length
    ? "Only times an engineer can really keep are offered."
    : "No arrival time can be promised right now: send the report and we will contact you with one.";
  for (const o of offers) {
    const start = new Date(o.start_ms), end = new Date(o.end_ms);
    const day = start.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" });
    const hours = (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    windowSelect.add(new Option(`${day}, ${hours(start)}–${hours(end)}`, `${o.start_ms}-${o.end_ms}`));
  }
}).catch(() => {});
