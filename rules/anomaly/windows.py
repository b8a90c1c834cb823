"""Per-device time windows over a batch of readings, vectorised across devices.

The univariate detector costs about 0.25 ms per update (a nearest-neighbour search
over its memory, twice), far too much for every raw reading at ingest rates (a
thousand readings/s per core); fed one mean per device per window instead, its cost
per reading drops by the readings per window. A window
closes when the device's first reading of a later window arrives, so its mean uses
only readings up to then (causal); readings hold the score of the device's latest
closed window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class OpenWindow:
    """A device's window still collecting readings when a batch ended."""

    index: int     # ts // window_ms
    total: float
    count: int


@dataclass(slots=True)
class Closed:
    """Windows closed by a batch, and which of them each row follows."""

    device: np.ndarray   # segment index per closed window (in device, then time order)
    end_ts: np.ndarray   # event time of the window's last reading
    mean: np.ndarray     # mean value per closed window
    latest: np.ndarray   # per row: index into the closed windows, or -1 (none in this batch)


def close_windows(seg: np.ndarray, ts: np.ndarray, values: np.ndarray, window_ms: int,
                  carried: list[OpenWindow | None]) -> tuple[Closed, list[OpenWindow | None]]:
    """Aggregate one metric's rows (sorted by device, then time; no NaN) into windows.

    `carried[k]` is segment k's open window from earlier batches. Returns the windows
    this batch closed and each segment's open window afterwards.
    """
    n = len(ts)
    k_dev = len(carried)
    win = ts // window_ms
    new = np.ones(n, dtype=bool)
    if n:
        new[1:] = (seg[1:] != seg[:-1]) | (win[1:] != win[:-1])
    starts = np.flatnonzero(new)
    wid = np.cumsum(new) - 1                       # batch window id per row
    sums = np.add.reduceat(values, starts) if n else np.zeros(0)
    counts = np.diff(np.append(starts, n))
    wseg, wwin = seg[starts], win[starts]
    wlast_ts = ts[np.append(starts[1:], n) - 1] if n else np.zeros(0, dtype=ts.dtype)
    # A segment's carried window either continues in its first batch window (merge)
    # or is closed by it (a window of its own, before the batch's).
    seg_first_w = np.full(k_dev, -1)
    if n:
        seg_first_w[wseg[::-1]] = np.arange(len(starts))[::-1]
    extra_dev, extra_mean, extra_ts = [], [], []
    for k, c in enumerate(carried):
        w = seg_first_w[k]
        if c is None or w < 0:
            continue
        if wwin[w] == c.index:
            sums[w] += c.total
            counts[w] += c.count
        else:
            extra_dev.append(k)
            extra_mean.append(c.total / c.count)
            extra_ts.append(c.index * window_ms)  # only its window is known, not its end
    # The last batch window of each segment stays open.
    is_last = np.ones(len(starts), dtype=bool)
    if len(starts):
        is_last[:-1] = wseg[1:] != wseg[:-1]
    out: list[OpenWindow | None] = list(carried)
    for w in np.flatnonzero(is_last).tolist():
        out[int(wseg[w])] = OpenWindow(int(wwin[w]), float(sums[w]), int(counts[w]))
    closed_w = np.flatnonzero(~is_last)
    # Closed windows in (segment, time) order: the carried one first, then the batch's.
    dev = np.concatenate([np.asarray(extra_dev, dtype=np.int64), wseg[closed_w]])
    order = np.argsort(dev, kind="stable")
    mean = np.concatenate([np.asarray(extra_mean, dtype=float),
                           sums[closed_w] / counts[closed_w]])[order]
    end_ts = np.concatenate([np.asarray(extra_ts, dtype=np.int64),
                             wlast_ts[closed_w].astype(np.int64)])[order]
    # Where each candidate ended up after sorting.
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    extra_pos = pos[: len(extra_dev)]
    batch_pos = np.full(len(starts), -1)
    batch_pos[closed_w] = pos[len(extra_dev):]
    # Row r in batch window w follows window w-1 when that is the same segment's,
    # else the segment's closed carried window, else nothing from this batch.
    latest = np.full(n, -1)
    if n:
        prev_w = wid - 1
        same = (prev_w >= 0) & (wseg[np.maximum(prev_w, 0)] == seg)
        latest[same] = batch_pos[prev_w[same]]
        carried_pos = np.full(k_dev, -1)
        carried_pos[np.asarray(extra_dev, dtype=np.int64)] = extra_pos
        first_rows = ~same
        latest[first_rows] = carried_pos[seg[first_rows]]
    return Closed(dev[order], end_ts, mean, latest), out
