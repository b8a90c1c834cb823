// On the engineer's pages: install the service worker that lets them open without
// signal (engineer_sw.js), and make logging out forget the copies it keeps.
"use strict";
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/engineer-sw.js", { scope: "/engineer/" })
    .catch((err) => console.warn("offline pages unavailable:", err));
  document.querySelector("form.logout")?.addEventListener("submit", () => {
    navigator.serviceWorker.controller?.postMessage("forget");
    caches.delete("fieldpulse-engineer-v1");  // also from the page, in case no worker runs
  });
}
