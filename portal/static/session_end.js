// On every page with a session: logging out forgets what this browser keeps for the
// user (the engineer app's outbox with its photos and signatures, the pages the
// service worker kept), before the logout is sent, so nothing of theirs is left on
// a shared phone for the next user's session to show or send. The server's answer
// says the same (Clear-Site-Data), for browsers that honour it.
"use strict";
{
  const OUTBOX_KEYS = ["fieldpulse.outbox", "fieldpulse.outbox.failed"];
  const form = document.querySelector("form.logout");

  const settled = (request) => new Promise((resolve) => {
    request.onsuccess = request.onerror = request.onblocked = () => resolve();
  });

  async function forget() {
    for (const key of OUTBOX_KEYS) localStorage.removeItem(key);
    navigator.serviceWorker?.controller?.postMessage("forget");
    await Promise.all([
      settled(indexedDB.deleteDatabase("fieldpulse-outbox")),
      window.caches?.delete("fieldpulse-engineer-v1"),
    ].map((p) => Promise.resolve(p).catch(() => {})));
  }

  form?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const unsent = JSON.parse(localStorage.getItem(OUTBOX_KEYS[0]) || "[]")
      .filter((i) => i.user === form.dataset.user).length;
    if (unsent && !confirm(nt("{n} change not sent yet will be deleted from this device. Log out anyway?",
                              "{n} changes not sent yet will be deleted from this device. Log out anyway?", unsent))) return;
    await Promise.race([forget(), new Promise((resolve) => setTimeout(resolve, 2000))]);
    form.submit();
  });
}
