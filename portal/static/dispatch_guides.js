// Knowledge for the dispatcher: for an alert in the inbox, the likely causes and the
// articles linked to the rule that fired (GET /api/articles?rule=…&model=…); in the
// device panel, the device's open cases with what the customer already tried; and the
// deflection figure (visits avoided by customers' self-help, which articles help).
"use strict";

// A button for the inbox row (called by dispatch.js when it draws the inbox).
function guidesButton(a) {
  return ` <button type="button" class="small" data-guides="${a.id}">${t("Causes")}</button>`;
}

async function showGuides(alertId) {
  const a = state.alerts.find((x) => String(x.id) === String(alertId));
  if (!a) return;
  const device = state.devices.find((d) => d.id === a.device_id);
  const params = new URLSearchParams({ rule: a.rule_id, audience: "dispatcher" });
  if (device) params.set("model", device.model_id);
  const articles = await getJSON(`/api/articles?${params}`);
  const causes = [...new Set(articles.flatMap((x) => x.causes))];
  const box = $("#alert-guides");
  box.hidden = false;
  box.dataset.alert = a.id;
  $("#alert-guides-title").textContent = t("Likely causes: {message}", { message: a.message });
  $("#alert-causes").innerHTML = causes.length ? causes.map((c) => `<li>${esc(c)}</li>`).join("")
    : `<li class="muted">${t("No article names causes for rule {rule} yet.", { rule: esc(a.rule_id) })}</li>`;
  $("#alert-articles").innerHTML = articles.map((x) =>
    `<li><details class="procedure" data-article="${x.id}"><summary>${esc(x.title)} <span class="muted">(${esc(x.audience.join(", "))}, v${x.version})</span></summary>` +
    `<div class="article-body"></div></details></li>`).join("");
}

// An article's text is fetched when it is opened; its HTML is rendered by the server
// with every piece of HTML in the article escaped.
document.addEventListener("toggle", async (e) => {
  const details = e.target;
  if (!details.matches?.("#alert-articles details[data-article]") || !details.open) return;
  const body = details.querySelector(".article-body");
  if (body.dataset.loaded) return;
  const article = await getJSON(`/api/articles/${details.dataset.article}`);
  body.innerHTML = article.html;
  body.dataset.loaded = "1";
}, true);

document.addEventListener("click", (e) => {
  const button = e.target.closest?.("[data-guides]");
  if (button) showGuides(button.dataset.guides).catch((err) => notify(String(err)));
});
document.getElementById("alert-guides-close").addEventListener("click", () => {
  $("#alert-guides").hidden = true;
});

// The device panel's open cases, each with its description: a customer's report lists
// the guides already tried and their steps.
async function showDeviceCases(id) {
  const cases = await getJSON(`/api/cases?device_id=${encodeURIComponent(id)}&status=open&limit=5`);
  const details = await Promise.all(cases.map((c) => getJSON(`/api/cases/${c.id}`)));
  if ($("#device-panel").dataset.device !== id) return;
  $("#device-cases").innerHTML = details.length ? details.map((c) =>
    `<li data-case="${c.id}"><strong>${t("Case {id}: {title}", { id: c.id, title: esc(c.title) })}</strong>` +
    `<p class="report-text">${esc(c.description || "")}</p></li>`).join("")
    : `<li class="muted">${t("No open case.")}</li>`;
}
new MutationObserver(() => {
  const id = $("#device-panel").dataset.device;
  if (id) showDeviceCases(id).catch(() => {});
}).observe(document.getElementById("device-panel"), { attributes: true, attributeFilter: ["data-device"] });

async function showDeflection() {
  const f = await getJSON("/api/self-service/figures");
  $("#deflection-figure").textContent =
    `${nt("{n} visit avoided by customers' self-help", "{n} visits avoided by customers' self-help", f.visits_avoided)} · ${t("{n} still broken after a guide", { n: f.still_broken })}`;
  $("#deflection-articles").innerHTML = f.articles.slice(0, 5).map((x) =>
    `<li>${t("{title}: {fixed} fixed, {broken} still broken", { title: esc(x.title), fixed: x.fixed, broken: x.still_broken })}</li>`).join("");
}
showDeflection().catch(() => {});
setInterval(() => showDeflection().catch(() => {}), 60000);
