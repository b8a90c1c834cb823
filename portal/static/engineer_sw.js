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

// Logging out forgets what was kept (the page asks before it leaves). A page loaded
// before this worker ran was not kept: it sends its own address, its assets and the
// pages it links to ({ keep: [...] }), fetched and kept now, so it opens offline too.
self.addEventListener("message", (event) => {
  if (event.data === "forget") event.waitUntil(caches.delete(CACHE));
  const keep = event.data && Array.isArray(event.data.keep) ? event.data.keep : [];
  const ours = keep.filter((u) => typeof u === "string" && new URL(u, self.location.origin).origin === self.location.origin);
  if (ours.length) {
    event.waitUntil(Promise.all(ours.slice(0, 100).map(keepWithAssets))
      .then(() => event.source && event.source.postMessage({ kept: ours.length })));
  }
});

// A page kept with the scripts and styles it loads (a job page linked from the list
// needs its own script offline).
async function keepWithAssets(url) {
  const response = await networkFirst(new Request(url, { credentials: "same-origin" })).catch(() => null);
  if (!response || !(response.headers.get("content-type") || "").startsWith("text/html")) return;
  const html = await response.text();
  const assets = [...html.matchAll(/(?:src|href)="(\/static\/[^"]+)"/g)].map((m) => m[1]);
  await Promise.all(assets.map((a) => networkFirst(new Request(a)).catch(() => null)));
}
