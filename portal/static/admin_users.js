// The admin's user page (/admin/users): each button calls the JSON API with the
// session's CSRF token, then reloads the server-rendered table. No framework.
"use strict";

(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("admin-status");

  function say(message, bad = false) {
    status.hidden = false;
    status.textContent = message;
    status.classList.toggle("error", bad);
  }

  async function send(method, url, body) {
    const r = await fetch(url, { method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body) });
    const data = r.status === 204 ? {} : await r.json().catch(() => ({}));
    if (!r.ok) {
      const detail = typeof data.detail === "string" ? data.detail
        : Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : "";
      throw new Error(detail || `${method} ${url}: ${r.status}`);
    }
    return data;
  }

  // The message survives the reload that redraws the table.
  function done(message) {
    sessionStorage.setItem("fp-admin-status", message);
    location.reload();
  }

  async function act(row, action, button) {
    const name = row.dataset.user;
    const base = `/api/users/${encodeURIComponent(name)}`;
    if (action === "role") {
      const role = row.querySelector("select[name=role]").value;
      const engineer = row.querySelector("select[name=engineer_id]").value || null;
      if (role === "engineer" && !engineer) throw new Error(t("pick the engineer record this account sees the jobs of"));
      await send("PUT", `${base}/role`, { role, engineer_id: role === "engineer" ? engineer : null });
      done(role === "engineer" ? t("{name} is now engineer ({engineer})", { name, engineer }) : t("{name} is now {role}", { name, role }));
    } else if (action === "disable" || action === "enable") {
      if (action === "disable" && !confirm(t("Disable {name}? Their sessions and API tokens stop working now.", { name }))) return;
      await send("POST", `${base}/${action}`);
      done(action === "disable" ? t("{name} disabled", { name }) : t("{name} enabled", { name }));
    } else if (action === "password") {
      const input = row.querySelector("input[name=password]");
      const result = await send("POST", `${base}/password`, { password: input.value || null });
      input.value = "";
      // A generated password is shown once, here, and not kept across the reload.
      say(result.password ? t("New password of {name}: {password} (shown once)", { name, password: result.password })
        : t("Password of {name} changed; their other sessions ended", { name }));
    } else if (action === "revoke") {
      if (!confirm(t("Revoke token #{id} of {name}? Whatever uses it stops working now.", { id: button.dataset.tokenId, name }))) return;
      await send("DELETE", `/api/tokens/${button.dataset.tokenId}`);
      done(t("token #{id} of {name} revoked", { id: button.dataset.tokenId, name }));
    }
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("[data-user-action]");
    if (!button) return;
    act(button.closest("tr"), button.dataset.userAction, button).catch((err) => say(err.message, true));
  });

  // A new user: the generated password is shown once, here (never kept for the reload).
  document.getElementById("add-user").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.target;
    const role = form.role.value, engineer = form.engineer_id.value || null;
    try {
      if (role === "engineer" && !engineer) throw new Error(t("pick the engineer record this account sees the jobs of"));
      const made = await send("POST", "/api/users", { username: form.username.value.trim(), role,
        engineer_id: role === "engineer" ? engineer : null });
      form.reset();
      say(t("User {name} ({role}) added. Password: {password} — shown once; reload the page to manage the new user.", { name: made.username, role: made.role, password: made.password }));
    } catch (err) {
      say(err.message, true);
    }
  });

  const kept = sessionStorage.getItem("fp-admin-status");
  if (kept) {
    sessionStorage.removeItem("fp-admin-status");
    say(kept);
  }
})();
