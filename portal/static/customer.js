// The customer's page: arrival windows the dispatcher can keep right now, offered in
// the fault form; without them the report still works.
"use strict";
const windowSelect = document.getElementById("window");
fetch(windowSelect.dataset.offers).then((r) => (r.ok ? r.json() : [])).then((offers) => {
  for (const o of offers) {
    const start = new Date(o.start_ms), end = new Date(o.end_ms);
    const day = start.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" });
    const hours = (d) => d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    windowSelect.add(new Option(`${day}, ${hours(start)}–${hours(end)}`, `${o.start_ms}-${o.end_ms}`));
  }
}).catch(() => {});
