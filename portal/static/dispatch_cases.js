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
  $("#new-case-device").textContent = d ? `${d.model_name} at ${d.site_name} (${d.customer_name})`
    : q ? `${found.length} devices match; pick one` : "";
});

caseForm.addEventListener("submit", async (e) => {
  e.preventDefault();
  const d = pickedDevice();
  if (!d) { notify("pick the device from the list (serial, customer or site)", true); return; }
  try {
    const made = await send("POST", "/api/cases", { device_id: d.id, title: caseForm.elements.title.value.trim(),
      description: caseForm.elements.description.value, contact: caseForm.elements.contact.value.trim(),
      priority: Number(caseForm.elements.priority.value) });
    const order = made.work_orders[0];
    notify(`case ${made.case.id} opened for ${d.serial} with work order #${order ? order.id : "?"}; the dispatcher is planning it`);
    caseForm.reset();
    $("#new-case-device").textContent = "";
    document.getElementById("new-case").open = false;
    refresh().catch((err) => console.error(err));
  } catch (err) {
    notify(err.message, true);
  }
});
