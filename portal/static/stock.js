// The console's stock page: figures, low stock, replenishment, stock per location.
(function () {
  "use strict";

  async function get(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    return r.json();
  }

  function row(cells, cls) {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    for (const value of cells) {
      const td = document.createElement("td");
      td.textContent = String(value);
      tr.appendChild(td);
    }
    return tr;
  }

  async function load() {
    const [figures, levels, requests, places] = await Promise.all([
      get("/api/service-figures"), get("/api/stock"),
      get("/api/stock/replenishment?status=open"), get("/api/stock/locations")]);
    const ftf = figures.first_time_fix;
    document.getElementById("ftf-rate").textContent =
      ftf.rate === null ? t("no closed case yet") : `${(Math.round(ftf.rate * 1000) / 10).toLocaleString(window.i18nLang)} %`;
    document.getElementById("ftf-detail").textContent =
      t("{fixed} of {cases} closed cases fixed in one visit (last {days} days)", { fixed: ftf.first_time, cases: ftf.cases, days: ftf.window_days });
    document.getElementById("low-summary").textContent =
      t("{low} low stock levels, {open} open replenishment requests", { low: figures.low_stock, open: figures.open_replenishment });

    const names = Object.fromEntries(places.map((p) => [p.id, p.name]));
    const low = document.querySelector("#low-stock tbody");
    low.replaceChildren(...levels.filter((l) => l.low).map((l) => row(
      [names[l.location_id] || l.location_id, `${l.part_number} ${l.part_name}`,
       l.available, l.min_qty], "low")));
    const repl = document.querySelector("#replenishment tbody");
    repl.replaceChildren(...requests.map((r) => row(
      [names[r.location_id] || r.location_id, r.part_number, r.qty,
       new Date(r.raised_at).toLocaleString(window.i18nLang, { timeZone: window.i18nTimeZone })])));

    const box = document.getElementById("locations");
    box.replaceChildren();
    for (const place of places) {
      const mine = levels.filter((l) => l.location_id === place.id);
      const h = document.createElement("h3");
      h.textContent = `${place.name} (${{ van: t("van"), warehouse: t("warehouse") }[place.kind] || place.kind})`;
      h.id = `loc-${place.id}`;
      const table = document.createElement("table");
      table.className = "stock";
      table.dataset.location = place.id;
      const head = row([t("Part"), t("On hand"), t("Reserved"), t("Available"), t("Threshold")]);
      const tbody = document.createElement("tbody");
      tbody.append(...mine.map((l) => row(
        [`${l.part_number} ${l.part_name}`, l.on_hand, l.reserved, l.available,
         l.min_qty || ""], l.low ? "low" : "")));
      table.append(head, tbody);
      box.append(h, table);
    }
  }

  load().catch((err) => {
    document.getElementById("ftf-rate").textContent = t("could not load: {error}", { error: err.message });
  });
})();
