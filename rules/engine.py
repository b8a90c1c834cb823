"""Rule evaluation over batches of readings: pure, numpy, no I/O, no wall clock.

Readings are grouped per device model into columns (one float array per
metric, sorted by device then event time) and each rule is evaluated over the
whole group at once. What must carry across batches lives in `RuleMemory`
(per device and rule) and `DeviceMemory` (per device). The output is a list of
transitions: a `raise` when a rule starts to hold, a `clear` once its clear
condition is met, and nothing for the readings in between — one alert per
episode, not one per reading.

Layers, per rule: condition(s) → any/all → duration (`for_s`) or repeat →
schedule → the alert's on/off state with hysteresis.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np

from asset_registry.catalog import DeviceModel
from asset_registry.rule_spec import Condition, Rule
from ingest.reading_blocks import ReadingBlock
from rules.anomaly.model_detector import ModelDetector
from rules.anomaly_scores import AnomalyScorer, ModelScorer, explain_window

Reading = tuple[str, int, Mapping[str, float]]  # (device id, ts ms, metric values)


@dataclass(frozen=True, slots=True)
class Transition:
    kind: Literal["raise", "clear"]
    device_id: str
    rule: Rule
    ts: int
    value: float
    model_id: str
    # For a rule with an anomaly condition, what made it raise: plain data,
    # {"channel", "score", "contributions": [{"metric", "share", "deviation"}, ...]}.
    explanation: Mapping[str, Any] | None = None


@dataclass(slots=True)
class RuleMemory:
    active: bool = False
    in_breach: bool = False  # whether the latest reading met the condition
    breach_since: int = 0  # event time the current breach run began (duration)
    starts: deque[int] = field(default_factory=deque)  # recent run starts (repeat)


@dataclass(slots=True)
class DeviceMemory:
    last_ts: int = -1  # newest event time evaluated: the device's watermark
    last: dict[str, tuple[int, float]] = field(default_factory=dict)  # for rates


@dataclass(slots=True)
class _Group:
    """One model's readings in a batch as columns, sorted by (device, ts)."""

    devices: list[str]
    seg: np.ndarray  # segment (device) index per row
    first: np.ndarray  # row index where each segment starts
    last: np.ndarray  # row index where each segment ends
    is_first: np.ndarray  # bool per row
    ts: np.ndarray
    cols: dict[str, np.ndarray]
    # per model_anomaly column: the detector whose latest batch scored this group
    detectors: dict[str, ModelDetector] = field(default_factory=dict)


def _group(block: ReadingBlock) -> _Group:
    """The block's rows sorted by (device, event time), as columns."""
    order, first, last = block.device_runs()
    is_first = np.zeros(len(order), dtype=bool)
    is_first[first] = True
    values = block.values[order]
    names = block.names
    return _Group([names[c] for c in block.codes[order[first]].tolist()],
                  np.cumsum(is_first) - 1, first, last, is_first, block.ts[order],
                  {m: values[:, j] for j, m in enumerate(block.metrics)})


def _previous(values: np.ndarray, g: _Group, carried: np.ndarray) -> np.ndarray:
    """Each row's predecessor within its device; the first row takes `carried`."""
    prev = np.empty_like(values)
    prev[1:] = values[:-1]
    prev[g.first] = carried
    return prev


def _column(c: Condition) -> str:
    """The group column a condition compares: the metric, or a detector's score."""
    if c.condition == "anomaly":
        return f"anomaly:{c.metric}"
    if c.condition == "model_anomaly":
        return "model_anomaly:" + ",".join(c.inputs)
    return c.metric


def _levels(c: Condition) -> tuple[str, str]:
    """The group columns of a rate-calibrated condition's per-row threshold and clear."""
    key = f"{_column(c)}@{c.false_alerts_per_month!r}"
    return f"threshold:{key}", f"clear:{key}"


def _condition(c: Condition, g: _Group, memory: Mapping[str, DeviceMemory]
               ) -> tuple[np.ndarray, np.ndarray]:
    """(breach, recovered) per row. A missing value is neither."""
    v = g.cols[_column(c)]
    if c.false_alerts_per_month is not None:
        threshold, clear = (g.cols[k] for k in _levels(c))
        with np.errstate(invalid="ignore"):
            return v > threshold, v <= clear
    with np.errstate(invalid="ignore", divide="ignore"):
        if c.condition.startswith("rate_"):
            carried = [memory[d].last.get(c.metric, (-1, np.nan)) if d in memory else (-1, np.nan)
                       for d in g.devices]
            prev_v = _previous(v, g, np.array([x[1] for x in carried], dtype=np.float64))
            prev_t = _previous(g.ts.astype(np.float64), g,
                               np.array([x[0] if x[0] >= 0 else np.nan for x in carried]))
            v = (v - prev_v) / (g.ts - prev_t) * 60_000.0  # change per minute
        if c.condition == "outside":
            lo, hi = c.band
            clo, chi = c.clear_band
            return (v < lo) | (v > hi), (v >= clo) & (v <= chi)
        if c.condition in ("below", "rate_below"):
            return v < c.threshold, v >= c.clear
        return v > c.threshold, v <= c.clear  # above, rate_above, the anomaly scores


class RuleEngine:
    """Evaluates every rule of every device model; remembers what spans batches."""

    def __init__(self, models: Mapping[str, DeviceModel], tz: ZoneInfo | None = None,
                 scorer: AnomalyScorer | None = None,
                 model_scorer: ModelScorer | None = None) -> None:
        self.models = models
        self.tz = tz or ZoneInfo("UTC")
        # Without scorers, anomaly conditions never hold (the replay lane).
        self.scorer = scorer
        self.model_scorer = model_scorer
        self.rules: dict[tuple[str, str], RuleMemory] = {}
        self.devices: dict[str, DeviceMemory] = {}

    # -- public -------------------------------------------------------------------

    def evaluate(self, model_id: str, readings: Sequence[Reading]) -> list[Transition]:
        """Evaluate one model's readings (any order, any devices) in event time."""
        if not readings:
            return []
        return self.evaluate_block(ReadingBlock.from_rows(model_id, readings))

    def evaluate_block(self, block: ReadingBlock) -> list[Transition]:
        """`evaluate` for readings already in columns (what ingest hands over)."""
        model_id = block.model_id
        model = self.models[model_id]
        if not len(block):
            return []
        value_rules = [r for r in model.rules if r.conditions]
        g = _group(block)
        nan = np.full(len(g.ts), np.nan)
        for metric in {m for r in value_rules for m in r.metrics} - g.cols.keys():
            g.cols[metric] = nan  # no reading in the block carries it
        conditions = [c for r in value_rules for c in r.conditions]
        self._score_anomalies(g, {c.metric for c in conditions if c.condition == "anomaly"})
        self._score_models(model_id, g, [c for c in conditions
                                         if c.condition == "model_anomaly"])
        out: list[Transition] = []
        for rule in value_rules:
            out.extend(self._evaluate_rule(model_id, rule, g))
        self._remember_devices(g)
        out.sort(key=lambda t: (t.ts, t.device_id))
        return out

    def silence(self, now_ms: int, device_models: Mapping[str, str],
                last_seen: Mapping[str, int | None] | None = None) -> list[Transition]:
        """No-data rules: raise for devices silent too long, clear once they report.

        `last_seen` (from the device table) covers readings other ingest processes
        evaluated; the newer of it and this engine's own watermark counts."""
        out: list[Transition] = []
        for device_id, model_id in device_models.items():
            seen = self.devices.get(device_id)
            stored = (last_seen or {}).get(device_id) or -1
            if stored > (seen.last_ts if seen else -1):
                seen = DeviceMemory(last_ts=stored)
            for rule in self.models[model_id].rules:
                if rule.silent_s is None:
                    continue
                mem = self.rules.setdefault((device_id, rule.id), RuleMemory())
                last = seen.last_ts if seen else -1
                silent = last >= 0 and now_ms - last >= rule.silent_s * 1000
                if silent and not mem.active and self._scheduled(rule, now_ms):
                    mem.active = True
                    out.append(Transition("raise", device_id, rule, now_ms,
                                          (now_ms - last) / 1e3, model_id))
                elif mem.active and not silent:
                    # Cleared when we learn data flows again: now, even if the
                    # readings that arrived are a backlog from before the alert.
                    mem.active = False
                    out.append(Transition("clear", device_id, rule, now_ms, 0.0, model_id))
        return out

    def is_active(self, device_id: str, rule_id: str) -> bool:
        mem = self.rules.get((device_id, rule_id))
        return bool(mem and mem.active)

    def set_active(self, device_id: str, rule_id: str, active: bool = True) -> None:
        """Restore an open alert's state (after a restart)."""
        self.rules.setdefault((device_id, rule_id), RuleMemory()).active = active

    def watermark(self, device_id: str) -> int:
        mem = self.devices.get(device_id)
        return mem.last_ts if mem else -1

    def _score_anomalies(self, g: _Group, metrics: set[str]) -> None:
        for metric in metrics:
            if self.scorer is None:
                g.cols[f"anomaly:{metric}"] = np.full(len(g.ts), np.nan)
            else:
                g.cols[f"anomaly:{metric}"] = self.scorer.scores(metric, g.devices, g.seg, g.ts,
                                                                 g.cols[metric])

    def _score_models(self, model_id: str, g: _Group, conditions: list[Condition]) -> None:
        for c in conditions:
            name = _column(c)
            if name not in g.cols:
                if self.model_scorer is None:
                    g.cols[name] = np.full(len(g.ts), np.nan)
                else:
                    values = np.column_stack([g.cols[m] for m in c.inputs])
                    g.cols[name] = self.model_scorer.scores(model_id, c.inputs, g.devices,
                                                            g.seg, g.ts, values)
                    g.detectors[name] = self.model_scorer.detectors[(model_id, c.inputs)]
            if c.false_alerts_per_month is None or _levels(c)[0] in g.cols:
                continue
            # Rate-calibrated: each device's threshold from its detector's calibration
            # and the device's own interval between readings.
            det = g.detectors.get(name)
            levels = np.array([det.threshold_for_rate(d, c.false_alerts_per_month)
                               if det is not None else (np.nan, np.nan) for d in g.devices]
                              ).reshape(len(g.devices), 2)
            g.cols[_levels(c)[0]], g.cols[_levels(c)[1]] = levels[g.seg, 0], levels[g.seg, 1]

    @staticmethod
    def _explain(rule: Rule, g: _Group, row: int) -> Mapping[str, Any] | None:
        """What made a raise: the rule's anomaly condition scoring highest at that row."""
        scored = [(float(g.cols[_column(c)][row]), c) for c in rule.conditions
                  if c.condition in ("anomaly", "model_anomaly")]
        scored = [(s, c) for s, c in scored if s == s]  # NaN: not scored
        if not scored:
            return None
        score, c = max(scored, key=lambda sc: sc[0])
        if c.condition == "anomaly":
            return explain_window(c.metric, score)
        det = g.detectors.get(_column(c))
        return None if det is None else det.explain(row)

    # -- per rule -------------------------------------------------------------------

    def _memories(self, rule: Rule, g: _Group) -> list[RuleMemory]:
        return [self.rules.setdefault((d, rule.id), RuleMemory()) for d in g.devices]

    def _evaluate_rule(self, model_id: str, rule: Rule, g: _Group) -> list[Transition]:
        mems = self._memories(rule, g)
        parts = [_condition(c, g, self.devices) for c in rule.conditions]
        if rule.combine == "any":
            breach = np.logical_or.reduce([b for b, _ in parts])
            recovered = np.logical_and.reduce([r for _, r in parts])
        else:
            breach = np.logical_and.reduce([b for b, _ in parts])
            recovered = np.logical_or.reduce([r for _, r in parts])

        was_breach = _previous(breach, g, np.array([m.in_breach for m in mems]))
        run_start = breach & ~was_breach
        qualifying = self._qualifying(rule, g, mems, breach, run_start)
        if rule.schedule is not None:
            qualifying &= np.fromiter((self._scheduled(rule, int(t)) for t in g.ts), dtype=bool,
                                      count=len(g.ts))

        # The alert's on/off state: +1 on a qualifying row, -1 on a recovered
        # row, else unchanged. Seeding each device's first row with its prior
        # state lets one forward fill run over all devices at once.
        prior = np.array([m.active for m in mems])
        event = np.where(qualifying, 1, np.where(recovered, -1, 0)).astype(np.int8)
        first_event = event[g.first]
        event[g.first] = np.where(first_event != 0, first_event, np.where(prior, 1, -1))
        marker = np.where(event != 0, np.arange(len(event)), 0)
        state = event[np.maximum.accumulate(marker)] > 0
        before = _previous(state, g, prior)

        # The value an alert records: the metric, or for model_anomaly the score.
        first = rule.conditions[0]
        value_col = g.cols[_column(first) if first.condition == "model_anomaly" else first.metric]
        # In row order: two readings with one timestamp may raise and clear.
        out = [Transition("raise" if state[i] else "clear", g.devices[g.seg[i]], rule,
                          int(g.ts[i]), float(value_col[i]), model_id,
                          self._explain(rule, g, int(i)) if state[i] else None)
               for i in np.flatnonzero(state != before)]
        for k, mem in enumerate(mems):
            end = g.last[k]
            mem.active = bool(state[end])
            mem.in_breach = bool(breach[end])
        return out

    def _qualifying(self, rule: Rule, g: _Group, mems: list[RuleMemory], breach: np.ndarray,
                    run_start: np.ndarray) -> np.ndarray:
        if rule.repeat_count > 1:
            return self._repeated(rule, g, mems, run_start)
        # When did the current breach run begin? New runs begin at their first
        # row; a run continuing from the previous batch began at breach_since.
        carried = g.is_first & breach & ~run_start
        began = np.where(run_start, g.ts, 0)
        began[carried] = [mems[g.seg[i]].breach_since for i in np.flatnonzero(carried)]
        marker = np.where(run_start | carried, np.arange(len(began)), 0)
        since = began[np.maximum.accumulate(marker)]
        for k, mem in enumerate(mems):
            if breach[g.last[k]]:
                mem.breach_since = int(since[g.last[k]])
        if rule.for_s <= 0:
            return breach
        return breach & (g.ts - since >= rule.for_s * 1000)

    @staticmethod
    def _repeated(rule: Rule, g: _Group, mems: list[RuleMemory], run_start: np.ndarray
                  ) -> np.ndarray:
        # Run starts are rare events: a plain loop over them is cheap.
        window = rule.repeat_within_s * 1000
        qualifying = np.zeros(len(g.ts), dtype=bool)
        for i in np.flatnonzero(run_start):
            starts = mems[g.seg[i]].starts
            t = int(g.ts[i])
            starts.append(t)
            while starts and starts[0] <= t - window:
                starts.popleft()
            qualifying[i] = len(starts) >= rule.repeat_count
        return qualifying

    def _scheduled(self, rule: Rule, ts: int) -> bool:
        if rule.schedule is None:
            return True
        return rule.schedule.active_at(datetime.fromtimestamp(ts / 1000, self.tz))

    def _remember_devices(self, g: _Group) -> None:
        for k, device_id in enumerate(g.devices):
            mem = self.devices.setdefault(device_id, DeviceMemory())
            end = g.last[k]
            mem.last_ts = max(mem.last_ts, int(g.ts[end]))
            for metric, col in g.cols.items():
                if not np.isnan(col[end]):
                    mem.last[metric] = (int(g.ts[end]), float(col[end]))


def by_model(readings: Iterable[tuple[str, str, int, Mapping[str, float]]]
             ) -> dict[str, list[Reading]]:
    """Split (device, model, ts, metrics) rows into per-model reading lists."""
    out: dict[str, list[Reading]] = {}
    for device_id, model_id, ts, metrics in readings:
        out.setdefault(model_id, []).append((device_id, ts, metrics))
    return out


