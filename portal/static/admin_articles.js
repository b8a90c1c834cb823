// The admin's article page (/admin/articles): search, open, write and save articles
// through the JSON API (each save a new version). No framework.
"use strict";

(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("admin-status");
  const form = document.getElementById("article-form");
  const list = document.getElementById("article-list");
  const say = (message, bad = false) => {
    status.hidden = false;
    status.textContent = message;
    status.classList.toggle("error", bad);
  };
  async function send(method, url, body) {
    const r = await fetch(url, { method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const detail = typeof data.detail === "string" ? data.detail
        : Array.isArray(data.detail) ? data.detail.map((d) => `${d.loc?.at(-1)}: ${d.msg}`).join("; ") : "";
      throw new Error(detail || `${method} ${url}: ${r.status}`);
    }
    return data;
  }
  const csv = (value) => value.split(",").map((s) => s.trim()).filter(Boolean);

  async function search() {
    const params = new URLSearchParams(new FormData(document.getElementById("article-search")));
    for (const [k, v] of [...params]) if (!v) params.delete(k);
    const found = await send("GET", `/api/articles?${params}`);
    list.replaceChildren(...found.map((a) => {
      const li = document.createElement("li"), button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.dataset.article = a.id;
      const draft = a.published ? "" : `, ${t("draft")}`;
      button.textContent = `${a.title} (v${a.version}${draft})`;
      li.append(button, ` — ${a.models.join(", ") || t("every model")}`);
      return li;
    }));
  }

  async function open(id) {
    const a = id ? await send("GET", `/api/articles/${id}`) : null;
    form.hidden = false;
    const f = form.elements;
    f.id.value = a?.id ?? "";
    f.slug.value = a?.slug ?? "";
    f.slug.readOnly = Boolean(a);
    f.title.value = a?.title ?? "";
    f.summary.value = a?.summary ?? "";
    f.models.value = (a?.models ?? []).join(", ");
    f.rule_ids.value = (a?.rule_ids ?? []).join(", ");
    f.fault_codes.value = (a?.fault_codes ?? []).join(", ");
    for (const box of form.querySelectorAll("input[name=audience]")) box.checked = a ? a.audience.includes(box.value) : true;
    f.causes.value = (a?.causes ?? []).join("\n");
    f.body.value = a?.body ?? "";
    f.published.checked = a ? a.published : false;
    document.getElementById("article-heading").textContent = a ? t("{title} — version {version}", { title: a.title, version: a.version }) : t("New article");
    const versions = a ? await send("GET", `/api/articles/${a.id}/versions`) : [];
    const each = versions.map((v) => t("v{version} by {name} {time}", { version: v.version,
      name: v.created_by, time: new Date(v.created_at).toLocaleString(window.i18nLang) }));
    document.getElementById("article-versions").textContent = versions.length
      ? t("Versions: {list}", { list: each.join(" · ") }) : "";
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = form.elements;
    const body = { slug: f.slug.value.trim(), title: f.title.value, summary: f.summary.value,
      body: f.body.value, models: csv(f.models.value), rule_ids: csv(f.rule_ids.value),
      fault_codes: csv(f.fault_codes.value),
      audience: [...form.querySelectorAll("input[name=audience]:checked")].map((b) => b.value),
      causes: f.causes.value.split("\n").map((s) => s.trim()).filter(Boolean),
      published: f.published.checked };
    try {
      const saved = f.id.value ? await send("PUT", `/api/articles/${f.id.value}`, body)
        : await send("POST", "/api/articles", body);
      say(t("Saved: {title}, version {version}", { title: saved.title, version: saved.version }));
      await open(saved.id);
      await search();
    } catch (err) { say(t("Not saved: {error}", { error: err.message }), true); }
  });
  document.getElementById("article-search").addEventListener("submit", (e) => {
    e.preventDefault();
    search().catch((err) => say(err.message, true));
  });
  document.getElementById("article-new").addEventListener("click", () => open(null));
  list.addEventListener("click", (e) => {
    const button = e.target.closest("[data-article]");
    if (button) open(button.dataset.article).catch((err) => say(err.message, true));
  });
  search().catch((err) => say(err.message, true));
})();
