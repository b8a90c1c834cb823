// The map's geography without any tile server: a scale, the sites named with their
// customers once zoomed in, and a legend of the colours and symbols. A cluster of one
// site's devices opens in one click (spread around the site); a cluster of several
// sites zooms to them with a margin, so none ends up cut off at the edge; a device
// opened from the inbox or the work orders is brought into view.
"use strict";

const SITE_LABEL_ZOOM = 13;
L.control.scale({ metric: true, imperial: false, position: "bottomleft" }).addTo(map);

const legend = L.control({ position: "bottomright" });
legend.onAdd = () => {
  const div = L.DomUtil.create("div", "map-legend");
  div.id = "map-legend";
  const dots = [["critical", t("critical alert")], ["high", t("high alert")], ["medium", t("medium alert")],
    ["low", t("low alert")], ["info", t("information")], ["ok", t("no open alert")], ["offline", t("offline")]];
  div.innerHTML = `<details open><summary>${esc(t("Legend"))}</summary><ul>` +
    dots.map(([k, text]) => `<li><span class="dot fill-${k}"></span>${esc(text)}</li>`).join("") +
    `<li><span class="dot group fill-high">5</span>${esc(t("devices close together: how many, in the colour of the worst"))}</li>` +
    `<li><span class="site-mark"></span>${esc(t("site, with its customer (names from zoom {zoom})", { zoom: SITE_LABEL_ZOOM }))}</li>` +
    `<li><span class="route-mark"></span>${esc(t("engineer's route; ○ its stops (point at one for the ETA)"))}</li>` +
    `</ul></details>`;
  L.DomEvent.disableClickPropagation(div);
  L.DomEvent.disableScrollPropagation(div);
  return div;
};
legend.addTo(map);

const siteLayer = L.layerGroup();
let sitesKey = "";

// One label per site of the devices shown, beside (not over) the site's devices.
function drawSites(shown) {
  const sites = new Map();
  for (const d of shown) {
    if (!sites.has(d.site_id)) sites.set(d.site_id, { id: d.site_id, name: d.site_name, customer: d.customer_name, lat: d.lat, lon: d.lon });
  }
  const key = [...sites.keys()].join(",");
  if (key === sitesKey) return;
  sitesKey = key;
  siteLayer.clearLayers();
  for (const s of sites.values()) {
    L.marker([s.lat, s.lon], { interactive: false, keyboard: false, site: s.id,
      icon: L.divIcon({ className: "fp-site", iconSize: null, iconAnchor: [-14, 10],
        html: `<b>${esc(s.name)}</b><span>${esc(s.customer)}</span>` }) }).addTo(siteLayer);
  }
}

function showSiteLabels() {
  if (map.getZoom() >= SITE_LABEL_ZOOM) siteLayer.addTo(map); else siteLayer.remove();
}
map.on("zoomend", showSiteLabels);

layer.on("clusterclick", (e) => {
  const children = e.layer.getAllChildMarkers();
  if (new Set(children.map((m) => m.options.siteId)).size === 1 || map.getZoom() >= map.getMaxZoom()) {
    e.layer.spiderfy();
  } else {
    map.fitBounds(e.layer.getBounds(), { padding: [80, 80], maxZoom: 17 });
  }
});

// Brings a device into view: out of its cluster, in the middle of the map.
function showOnMap(id) {
  const m = markers.get(id);
  if (!m || !layer.hasLayer(m)) return;
  layer.zoomToShowLayer(m, () => map.panTo(m.getLatLng()));
}

// The keyboard: Tab reaches every device and cluster (Leaflet makes them buttons), and
// Enter or Space does what a click does. A cluster opened so moves the focus on to
// what it held (the spread devices, or the devices and clusters it zoomed to), so the
// focus is not lost with the cluster's icon.
mapEl.addEventListener("keydown", (e) => {
  if (e.key !== "Enter" && e.key !== " ") return;
  const icon = e.target.closest?.(".fp-device, .fp-cluster");
  if (!icon) return;
  e.preventDefault(); // no page scroll on Space
  if (icon.classList.contains("fp-cluster")) focusAfterOpening();
  icon.click();
});

// Spread: the first of the spread devices. Zoomed: once the zoom and the re-clustering
// are over (markercluster's own test, as in its zoomToShowLayer), the first icon in view.
function focusAfterOpening() {
  const done = () => { layer.off("spiderfied", spread); map.off("moveend", settled); layer.off("animationend", settled); };
  const focusFirst = (els) => { for (const el of els) if (el && mapEl.contains(el)) { el.focus(); return; } };
  const spread = (s) => { done(); focusFirst(s.markers.map((m) => m.getElement())); };
  const settled = () => {
    if (layer._inZoomAnimation) return;
    done();
    focusFirst(visibleIcons());
  };
  layer.on("spiderfied", spread);
  map.on("moveend", settled);
  layer.on("animationend", settled);
}

// The device and cluster icons inside the map's view, top left first.
function visibleIcons() {
  const box = mapEl.getBoundingClientRect();
  return [...mapEl.querySelectorAll(".fp-device, .fp-cluster")].filter((el) => {
    const r = el.getBoundingClientRect();
    return r.left >= box.left && r.right <= box.right && r.top >= box.top && r.bottom <= box.bottom;
  });
}
