// Opening a case by hand from the console (a customer on the phone): the device is
// looked up by serial, customer or site among the devices loaded for the map, then
// POST /api/cases opens the case with its work order (the dispatcher plans it).
"use strict";

const caseForm = document.getElementById("new-case-form");
const deviceInput = caseForm.elements.device;
const deviceText = (d) => `${d.serial} — ${d.customer_name} — ${d.site_name}`;

// Whatever was typed or picked: the one device it names, if exactly one.
function pickedDevice() {
  const q = deviceInput.value.trim().toLowerCase();
  if (!q) return null;
  const exact = state.devices.find((d) => deviceText(d).toLowerCase() === q || d.serial.toLowerCase() === q);
  if (exact) return exact;
  const found = state.devices.filter((d) => deviceText(d).toLowerCase().includes(q));
  return found.length === 1 ? found[0] : null;
}

deviceInput.addEventListener("input", () => {
  const q = deviceInput.value.trim().toLowerCase();
  const found = q ? state.devices.filter((d) => deviceText(d).toLowerCase().includes(q)) : [];
  document.getElementById("device-options").innerHTML = found.slice(0, 20)
    .map((d) => `<option value="${esc(deviceText(d))}"></option>`).join("");
  const d = pickedDevice();
  $("#new-case-device").textContent = d ? t("{model} at {site} ({customer})", { model: d.model_name, site: d.site_name, customer: d.customer_name })
    : q ? nt("{n} device matches; pick one", "{n} devices match; pick one", found.length) : "";
});

caseForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const d = pickedDevice();
  if (!d) { notify(t("pick the device from the list (serial, customer or site)"), true); return; }
  try {
    const made = await send("POST", "/api/cases", { device_id: d.id, title: caseForm.elements.title.value.trim(),
      description: caseForm.elements.description.value, contact: caseForm.elements.contact.value.trim(),
      priority: Number(caseForm.elements.priority.value) });
    const order = made.work_orders[0];
    notify(t("case {id} opened for {serial} with work order #{order}; the dispatcher is planning it", { id: made.case.id, serial: d.serial, order: order ? order.id : "?" }));
    caseForm.reset();
    $("#new-case-device").textContent = "";
    document.getElementById("new-case").open = false;
    refresh().catch((err) => console.error(err));
  } catch (err) {
    notify(err.message, true);
  }
});
