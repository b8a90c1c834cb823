// On the engineer's pages: install the service worker that lets them open without
// signal (engineer_sw.js). Logging out makes it forget the copies it keeps
// (session_end.js).
"use strict";
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/engineer-sw.js", { scope: "/engineer/" })
    .catch((err) => console.warn("offline pages unavailable:", err));
  // This page may have loaded before the worker ran: have it keep the page, its
  // scripts and styles, and the job pages (with their data) it links to.
  navigator.serviceWorker.ready.then((registration) => {
    const jobs = [...document.querySelectorAll('a[href^="/engineer/"][href*="/jobs/"]')].map((a) => a.getAttribute("href"));
    const data = jobs.map((href) => `/api/work-orders/${href.split("/jobs/")[1]}/job`);
    const assets = [...document.querySelectorAll("script[src], link[rel=stylesheet][href]")].map((el) => el.getAttribute("src") || el.getAttribute("href"));
    const order = document.querySelector("main[data-order]")?.dataset.order;
    const worker = registration.active || navigator.serviceWorker.controller;
    navigator.serviceWorker.addEventListener("message", (e) => {
      if (e.data && e.data.kept) document.documentElement.dataset.offlineReady = String(e.data.kept);
    });
    worker?.postMessage({ keep: [location.pathname + location.search, ...assets, ...jobs, ...data,
      ...(order ? [`/api/work-orders/${order}/job`] : [])] });
  });
}
