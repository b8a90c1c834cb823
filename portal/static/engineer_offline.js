// On the engineer's pages: install the service worker that lets them open without
// signal (engineer_sw.js). Logging out makes it forget the copies it keeps
// (session_end.js).
"use strict";
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/engineer-sw.js", { scope: "/engineer/" })
    .catch((err) => console.warn("offline pages unavailable:", err));
}
