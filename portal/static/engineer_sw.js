// The engineer app's service worker (served as /engineer-sw.js, scope /engineer/):
// the job pages open without any signal. Every GET a job page makes (the page
// itself, its script and styles, the job's data) goes to the network first and
// falls back to the last copy kept here; so with signal the engineer always sees
// fresh data, and in a cellar the page they last opened still works. Changes are
// not handled here: the page's own outbox queues them (engineer_job.js).
"use strict";
const CACHE = "fieldpulse-engineer-v1";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();  // pages open now are served offline too
  })());
});

function keepable(request, response) {
  // Only this site's successful answers: never a login redirect or an error page.
  return response.ok && response.type === "basic" && !response.redirected;
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (keepable(request, response)) await cache.put(request, response.clone());
    return response;
  } catch (offline) {
    const kept = await cache.match(request);
    if (kept) return kept;
    throw offline;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  // The live feed is a stream, not a page to keep.
  if (url.pathname.startsWith("/api/events")) return;
  event.respondWith(networkFirst(event.request));
});

// Logging out forgets what was kept (the page asks before it leaves).
self.addEventListener("message", (event) => {
  if (event.data === "forget") event.waitUntil(caches.delete(CACHE));
});
