// Settling the job at the door: parts used from the van, labour, then the priced
// service report (PDF), which is also e-mailed to the customer. Needs a connection:
// stock and prices are the server's.
(function () {
  "use strict";
  const main = document.querySelector("main.job-app");
  const order = main.dataset.order;
  const engineer = main.dataset.engineer;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const used = new Map(); // part number -> qty
  const names = new Map();
  const select = document.querySelector("#settle-part select");
  const list = document.getElementById("settle-parts");
  const result = document.getElementById("settled");

  function euros(cents) {
    // As the service report writes it in English; other languages their own way ("12,50 €").
    if (window.i18nLang === "en") return `EUR ${(cents / 100).toFixed(2)}`;
    return new Intl.NumberFormat(window.i18nLang, { style: "currency", currency: "EUR" }).format(cents / 100);
  }

  function draw() {
    list.replaceChildren(...[...used].map(([part, qty]) => {
      const li = document.createElement("li");
      li.textContent = `${qty} x ${names.get(part) || part} (${part})`;
      return li;
    }));
  }

  function showSettled(bill) {
    document.getElementById("settle-part").hidden = true;
    document.getElementById("settle").hidden = true;
    result.replaceChildren();
    const text = document.createElement("span");
    const coverage = { warranty: t("warranty"), service_contract: t("service contract"), chargeable: t("chargeable") }[bill.coverage] || bill.coverage.replace("_", " ");
    text.textContent = t("Settled ({coverage}): {total}. ", { coverage, total: euros(bill.total_cents) });
    const link = document.createElement("a");
    link.href = bill.report_url;
    link.textContent = t("Service report (PDF)");
    link.id = "report-link";
    result.append(text, link);
  }

  async function load() {
    const [job, van, settled] = await Promise.all([
      fetch(`/api/work-orders/${order}/job`, { credentials: "same-origin" }).then((r) => r.json()),
      fetch(`/api/stock?location=van-${encodeURIComponent(engineer)}`,
        { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : [])),
      fetch(`/api/work-orders/${order}/settlement`, { credentials: "same-origin" }),
    ]);
    const needs = job.parts_needed || [];
    document.getElementById("settle-needs").textContent = needs.length
      ? t("Needs: {parts}", { parts: needs.map((n) => `${n.qty} x ${n.part}`).join(", ") }) + (job.plan_note ? ` — ${job.plan_note}` : "")
      : "";
    select.replaceChildren(...van.filter((l) => l.on_hand > 0).map((l) => {
      names.set(l.part_number, l.part_name);
      const option = document.createElement("option");
      option.value = l.part_number;
      option.textContent = t("{name} ({number}), {n} in the van", { name: l.part_name, number: l.part_number, n: l.on_hand });
      return option;
    }));
    if (settled.ok) showSettled(await settled.json());
  }

  document.getElementById("settle-part").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const qty = Number(form.qty.value);
    if (!form.part.value || !(qty > 0)) return;
    used.set(form.part.value, (used.get(form.part.value) || 0) + qty);
    draw();
  });

  document.getElementById("settle").addEventListener("submit", async (event) => {
    event.preventDefault();
    result.textContent = t("Settling…");
    const body = {
      parts: [...used].map(([part, qty]) => ({ part, qty })),
      labour_minutes: Number(event.target.labour_minutes.value),
    };
    const r = await fetch(`/api/work-orders/${order}/settle`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) {
      result.textContent = t("Not settled: {reason}", { reason: answer.detail || r.status });
      return;
    }
    showSettled(answer);
  });

  load().catch((err) => { result.textContent = t("Could not load the van: {error}", { error: err.message }); });
})();
