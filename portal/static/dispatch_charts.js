// The device panel's charts: per metric, the min-max band and the mean (SVG, from the
// telemetry store's buckets) over a range the dispatcher picks (or fitted to the data
// there is), the model's alert thresholds as dashed lines, the device's alert periods
// shaded, and each bucket's values on hover (a <title> per bucket).
"use strict";

const RANGES = { auto: 24, 1: 1, 6: 6, 24: 24, 168: 168 };
let chartFor = null; // [device, alerts] of the charts drawn, for a change of range

async function drawCharts(id, d, alerts) {
  chartFor = [d, alerts];
  const box = $("#device-charts");
  const range = $("#chart-range").value;
  const [rules, ...series] = await Promise.all([
    getJSON(`/api/models/${encodeURIComponent(d.model_id)}/rules`).catch(() => ({ rules: [] })),
    ...d.latest.map((v) => fetchSeries(id, v, range))]);
  if (id !== panelDevice) return;
  box.innerHTML = series.map((s) => `<figure class="chart" data-metric="${esc(s.metric)}">` +
    `<figcaption>${esc(s.label)} (${esc(s.unit)}), ${esc(rangeWords(s))}</figcaption>` +
    (s.error ? `<p class="muted">${esc(s.error)}</p>`
      : chartSvg(s, thresholds(rules.rules, s.metric), alerts.filter((a) => a.metric === s.metric))) +
    `</figure>`).join("");
}

async function fetchSeries(id, v, range) {
  const url = (hours) => `/api/devices/${encodeURIComponent(id)}/series?metric=${encodeURIComponent(v.metric)}&hours=${hours}`;
  try {
    let s = await getJSON(url(RANGES[range] || 24));
    // Fitted: a few minutes of data in a 24 h frame is a sliver; ask for finer buckets.
    if (range === "auto" && s.buckets.length && s.end - s.buckets[0].start < 3_600_000) s = await getJSON(url(1));
    return { ...s, fit: range === "auto" };
  } catch (e) {
    return { metric: v.metric, label: v.label, unit: v.unit, error: e.message };
  }
}

function rangeWords(s) {
  if (s.error || !s.buckets.length) return t("no readings");
  const from = s.fit ? s.buckets[0].start : s.start;
  const minutes = Math.round((s.end - from) / 60000);
  return minutes < 120 ? t("last {n} min", { n: minutes }) : minutes < 48 * 60 ? t("last {n} h", { n: Math.round(minutes / 60) })
    : t("last {n} days", { n: Math.round(minutes / 1440) });
}

// The thresholds of the model's rules on this metric (single or combined conditions).
function thresholds(rules, metric) {
  const out = [];
  const visit = (spec, severity) => {
    if (spec.metric === metric && typeof spec.threshold === "number") out.push({ value: spec.threshold, severity, condition: spec.condition });
    for (const key of ["any", "all"]) for (const c of spec[key] || []) visit(c, severity);
  };
  for (const r of rules || []) visit(r, r.severity);
  return out;
}

// Enough decimals that the axis' two ends never read the same.
function axisLabel(v, span) {
  const decimals = Math.min(4, Math.max(0, Math.ceil(-Math.log10(span || 1)) + 1));
  return v.toFixed(Math.abs(v) >= 100 && span >= 10 ? 0 : Math.max(decimals, Math.abs(v) >= 100 ? 0 : 1));
}

function chartSvg(s, lines, alerts, w = 380, h = 120) {
  const b = s.buckets;
  if (!b.length) return `<p class="muted">${esc(t("No readings in this range."))}</p>`;
  const when = (ms) => new Date(ms).toLocaleString(i18nLang, { timeZone: i18nTimeZone });
  const sev = (v) => (typeof WORDS === "object" && WORDS[v]) || v;
  const pad = { l: 44, r: 6, t: 6, b: 18 };
  const from = s.fit ? Math.max(s.start, b[0].start - s.step_ms) : s.start;
  const dataLo = Math.min(...b.map((x) => x.min)), dataHi = Math.max(...b.map((x) => x.max));
  // A threshold far from the data would flatten it: drawn only when near, else named.
  const near = Math.max(dataHi - dataLo, Math.abs(dataHi) * 0.2, 1);
  const off = lines.filter((l) => l.value < dataLo - near || l.value > dataHi + near);
  lines = lines.filter((l) => !off.includes(l));
  let lo = Math.min(dataLo, ...lines.map((t) => t.value));
  let hi = Math.max(dataHi, ...lines.map((t) => t.value));
  if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
  const margin = (hi - lo) * 0.05;
  lo -= margin; hi += margin;
  const x = (t) => pad.l + ((t - from) / (s.end - from)) * (w - pad.l - pad.r);
  const y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * (h - pad.t - pad.b);
  const mid = (k) => k.start + s.step_ms / 2;
  const band = b.map((k) => `${x(mid(k)).toFixed(1)},${y(k.max).toFixed(1)}`).join(" ") + " " +
    b.slice().reverse().map((k) => `${x(mid(k)).toFixed(1)},${y(k.min).toFixed(1)}`).join(" ");
  const mean = b.map((k) => `${x(mid(k)).toFixed(1)},${y(k.mean).toFixed(1)}`).join(" ");
  const clampX = (at) => Math.min(w - pad.r, Math.max(pad.l, x(at)));
  const shaded = alerts.map((a) => {
    const until = a.cleared_at || a.closed_at || s.end;
    if (until < from) return "";
    const x0 = clampX(a.raised_at), x1 = clampX(until);
    return `<rect class="alert-period sev-fill-${esc(a.severity)}" x="${x0.toFixed(1)}" y="${pad.t}" width="${Math.max(2, x1 - x0).toFixed(1)}" height="${h - pad.t - pad.b}">` +
      `<title>${esc(a.cleared_at ? t("{severity} alert from {from} to {to}", { severity: sev(a.severity), from: when(a.raised_at), to: when(until) })
        : t("{severity} alert from {from} (still open)", { severity: sev(a.severity), from: when(a.raised_at) }))}</title></rect>`;
  }).join("");
  const limits = lines.map((l) => `<line class="threshold sev-stroke-${esc(l.severity)}" x1="${pad.l}" x2="${w - pad.r}" y1="${y(l.value).toFixed(1)}" y2="${y(l.value).toFixed(1)}">` +
    `<title>${esc(t("{severity} alert", { severity: sev(l.severity) }))} ${esc(l.condition || "")} ${l.value} ${esc(s.unit)}</title></line>`).join("");
  const slot = Math.max(1, (w - pad.l - pad.r) * s.step_ms / (s.end - from));
  const hover = b.map((k) => `<rect class="hover" x="${(x(mid(k)) - slot / 2).toFixed(1)}" y="${pad.t}" width="${slot.toFixed(1)}" height="${h - pad.t - pad.b}">` +
    `<title>${esc(when(k.start))}: ${esc(t("mean {mean} {unit} (min {min}, max {max}, {n} readings)", { mean: k.mean.toFixed(2), unit: s.unit, min: k.min.toFixed(2), max: k.max.toFixed(2), n: k.n }))}</title></rect>`).join("");
  const span = hi - lo;
  return `<svg viewBox="0 0 ${w} ${h}" width="100%" role="img" aria-label="${esc(s.label)}, ${esc(rangeWords(s))}">` +
    shaded +
    `<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" stroke="#bbb"/>` +
    `<text x="${pad.l - 4}" y="${pad.t + 8}" text-anchor="end" class="axis">${axisLabel(hi, span)}</text>` +
    `<text x="${pad.l - 4}" y="${h - pad.b}" text-anchor="end" class="axis">${axisLabel(lo, span)}</text>` +
    `<text x="${pad.l}" y="${h - 4}" class="axis">${fmt(from)}</text>` +
    `<text x="${w - pad.r}" y="${h - 4}" text-anchor="end" class="axis">${esc(t("now ({time})", { time: fmt(s.end) }))}</text>` +
    `<polygon points="${band}" class="band"/>` +
    `<polyline points="${mean}" class="mean"/>` + limits + hover + `</svg>` +
    (off.length ? `<p class="muted off-chart">${esc(t("{limits} (off the chart)", { limits: off.map((l) => `${t("{severity} alert", { severity: sev(l.severity) })} ${l.condition || t("at")} ${l.value} ${s.unit}`).join("; ") }))}</p>` : "");
}

$("#chart-range").addEventListener("change", () => {
  if (panelDevice && chartFor) drawCharts(panelDevice, ...chartFor).catch((e) => console.error(e));
});
