// The device panel's data gaps: readings its gateway reported dropping before the cloud
// had them (evicted from a full outbox, lost when even memory was full), so an empty
// stretch on a chart reads as "the gateway dropped it", not "the device was quiet".
"use strict";

const GAP_WORDS = { evicted: t("evicted on the gateway (its outbox was full)"), lost: t("lost on the gateway (its memory was full)") };

function gapWhen(ms) {
  return new Date(ms).toLocaleString(i18nLang, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZone: i18nTimeZone });
}

async function drawGaps(id) {
  let gaps;
  try {
    gaps = await getJSON(`/api/devices/${encodeURIComponent(id)}/gaps`);
  } catch (e) {
    gaps = null;
  }
  if (id !== panelDevice) return; // another device was opened meanwhile
  const list = $("#device-gaps");
  list.innerHTML = gaps === null ? `<li class="muted">${esc(t("Data gaps could not be loaded."))}</li>`
    : gaps.length ? gaps.map((g) =>
      `<li class="data-gap" data-kind="${esc(g.kind)}">${esc(t("No data {from}–{to}:", { from: g.since_ts ? gapWhen(g.since_ts) : t("before"), to: gapWhen(g.until_ts) }))} ` +
      `${esc(nt("{n} reading", "{n} readings", g.readings))} ${esc(GAP_WORDS[g.kind] || g.kind)}</li>`).join("")
    : `<li class="muted">${esc(t("No data gaps reported by the gateway."))}</li>`;
}
