// The console's stock page: figures, low stock, replenishment, stock per location, and
// the form that records goods in, transfers and returns through the movement API (the
// ledger's checks are the server's: the page shows its refusal as it is).
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const form = document.getElementById("movement-form");
  const status = document.getElementById("movement-status");
  // Which locations each movement names (service/stock.py checks the same).
  const NEEDS = { receipt: ["to"], transfer: ["from", "to"], return: ["to", "work-order"] };

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

  function say(message, bad) {
    status.hidden = false;
    status.textContent = message;
    status.classList.toggle("error", Boolean(bad));
  }

  function options(select, items) {
    const keep = select.value;
    select.replaceChildren(...items.map(([value, label]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      return option;
    }));
    if (items.some(([value]) => value === keep)) select.value = keep;
  }

  // Every warehouse and every engineer's van (a van is a location from its first part).
  let places = [];
  async function fillForm() {
    const [catalogue, locations, engineers] = await Promise.all([
      get("/api/parts"), get("/api/stock/locations"), get("/api/engineers")]);
    const vans = new Set(locations.map((p) => p.id));
    const kindWord = (kind) => ({ van: t("van"), warehouse: t("warehouse") }[kind] || kind);
    places = [...locations.map((p) => [p.id, `${p.name} (${kindWord(p.kind)})`, p.kind]),
      ...engineers.filter((e) => !vans.has(`van-${e.id}`))
        .map((e) => [`van-${e.id}`, t("Van of {name} (van)", { name: e.name }), "van"])];
    options(form.elements.part, catalogue.parts.map((p) => [p.number, `${p.number} ${p.name}`]));
    showFields();
  }

  function showFields() {
    const kind = form.elements.kind.value;
    for (const label of form.querySelectorAll("label[data-for]")) {
      label.hidden = !NEEDS[kind].includes(label.dataset.for);
    }
    options(form.elements.from_location, places);
    // Goods come in at a warehouse only.
    options(form.elements.to_location,
      places.filter((p) => kind !== "receipt" || p[2] === "warehouse"));
  }

  function refusal(data, r) {
    const detail = data.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => `${d.loc.at(-1)}: ${d.msg}`).join("; ");
    return t("the server answered {status}", { status: r.status });
  }

  form.elements.kind.addEventListener("change", showFields);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const kind = f.kind.value;
    const body = { kind, part: f.part.value, qty: Number(f.qty.value), note: f.note.value };
    if (NEEDS[kind].includes("from")) body.from_location = f.from_location.value;
    if (NEEDS[kind].includes("to")) body.to_location = f.to_location.value;
    if (NEEDS[kind].includes("work-order") && f.work_order_id.value) {
      body.work_order_id = Number(f.work_order_id.value);
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say(t("Recording…"));
    try {
      const r = await fetch("/api/stock/movements", { method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body) });
      const data = await r.json().catch(() => ({}));
      if (!r.ok) {
        say(t("Not recorded, nothing changed: {reason}", { reason: refusal(data, r) }), true);
        return;
      }
      const name = (id) => (places.find((p) => p[0] === id) || [id, id])[1];
      const where = [data.from_location && t("from {place}", { place: name(data.from_location) }),
        data.to_location && t("to {place}", { place: name(data.to_location) })].filter(Boolean).join(" ");
      const kindWords = { receipt: t("receipt"), transfer: t("transfer"), return: t("return") };
      say(t("Recorded: {kind} of {qty} × {part} {where} (ledger line {id}).", {
        kind: kindWords[data.kind] || data.kind, qty: data.qty, part: data.part_number, where,
        id: data.id }));
      await load();
      await fillForm();
    } catch (err) {
      say(t("Not recorded: {error}", { error: err.message }), true);
    } finally {
      button.disabled = false;
    }
  });

  load().catch((err) => {
    document.getElementById("ftf-rate").textContent = t("could not load: {error}", { error: err.message });
  });
  // The form is ready to use once its parts and places are there.
  fillForm().then(() => { form.dataset.ready = "1"; }).catch((err) => {
    say(t("The movement form could not load: {error}", { error: err.message }), true);
  });
})();
