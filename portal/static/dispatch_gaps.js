// The device panel's data gaps: readings its gateway reported dropping before the cloud
// had them (evicted from a full outbox, lost when even memory was full), so an empty
// stretch on a chart reads as "the gateway dropped it", not "the device was quiet".
"use strict";

const GAP_WORDS = { evicted: "evicted on the gateway (its outbox was full)", lost: "lost on the gateway (its memory was full)" };

function gapWhen(ms) {
  return new Date(ms).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
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
  list.innerHTML = gaps === null ? `<li class="muted">Data gaps could not be loaded.</li>`
    : gaps.length ? gaps.map((g) =>
      `<li class="data-gap" data-kind="${esc(g.kind)}">No data ${g.since_ts ? esc(gapWhen(g.since_ts)) : "before"}–${esc(gapWhen(g.until_ts))}: ` +
      `${g.readings} reading${g.readings === 1 ? "" : "s"} ${esc(GAP_WORDS[g.kind] || g.kind)}</li>`).join("")
    : `<li class="muted">No data gaps reported by the gateway.</li>`;
}
