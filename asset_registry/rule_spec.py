"""The alert-rule language of a device model: data, validated, with errors that name the field.

A rule is one condition (or `any`/`all` of several) on a device's readings,
optionally qualified:

    metric + condition   above | below (with a `clear` level: hysteresis),
                         outside (a `band`, with a narrower `clear_band`),
                         rate_above | rate_below (change per minute),
                         anomaly (the detector's score in [0, 1])
    metrics + condition  model_anomaly: the device model's multivariate detector
                         scores the reading's `metrics` (two or more) together;
                         its levels are `threshold` and `clear`, or a target
                         `false_alerts_per_month` (per device, in normal operation)
                         that the detector's calibration turns into levels
    condition = no_data  silent for `silent_s` seconds (no metric)
    any = [...] / all = [...]   several conditions on the same reading
    for_s                held continuously this long before raising (duration)
    repeat               {count, within_s}: the condition began `count` times
                         within `within_s` seconds
    schedule             {days, from, to}: raise only in these local hours

The same shape arrives from TOML model files and, as JSON, from the API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
VALUE_CONDITIONS = ("above", "below", "outside", "rate_above", "rate_below", "anomaly",
                    "model_anomaly")
SCORE_CONDITIONS = ("anomaly", "model_anomaly")  # thresholds on a score in [0, 1]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RULE_KEYS = {"id", "severity", "message", "metric", "metrics", "condition", "threshold", "clear",
             "band", "clear_band", "silent_s", "any", "all", "for_s", "repeat", "schedule",
             "false_alerts_per_month"}
CONDITION_KEYS = {"metric", "metrics", "condition", "threshold", "clear", "band", "clear_band",
                  "false_alerts_per_month"}
RATE = "false_alerts_per_month"
MAX_RATE = 1000.0  # false alerts per device per month: beyond this a rate is no target

# A rule as written in a model file or sent to the API: checked field by field here.
Raw = Mapping[str, Any]


class RuleError(ValueError):
    """A rule is invalid; the message names the field, e.g. `rules[2].clear: …`."""


@dataclass(frozen=True, slots=True)
class Condition:
    metric: str  # "" for model_anomaly, which reads `inputs`
    condition: str
    threshold: float = 0.0  # above/below/rate_*/anomaly
    clear: float = 0.0  # the level that ends the alarm (hysteresis)
    band: tuple[float, float] = (0.0, 0.0)  # outside: normal band
    clear_band: tuple[float, float] = (0.0, 0.0)  # outside: back inside this to clear
    inputs: tuple[str, ...] = ()  # model_anomaly: the metrics scored together, sorted
    # model_anomaly: levels from a target rate of false alerts per device per month
    # instead of `threshold` and `clear` (which are then unused)
    false_alerts_per_month: float | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        """The reading's metrics this condition needs."""
        return self.inputs if self.condition == "model_anomaly" else (self.metric,)


@dataclass(frozen=True, slots=True)
class Schedule:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time  # an end before the start spans midnight

    def active_at(self, moment: datetime) -> bool:
        t = moment.time()
        if self.start <= self.end:
            return moment.weekday() in self.days and self.start <= t < self.end
        # Overnight window: the part after midnight belongs to the previous day.
        if t >= self.start:
            return moment.weekday() in self.days
        return t < self.end and (moment.weekday() - 1) % 7 in self.days


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: str
    message: str
    conditions: tuple[Condition, ...] = ()
    combine: str = "all"  # all | any
    silent_s: float | None = None  # set for a no-data rule (then no conditions)
    for_s: float = 0.0
    repeat_count: int = 1
    repeat_within_s: float = 0.0
    schedule: Schedule | None = None

    # A single-condition rule reads like the simple threshold rules it mostly is.
    @property
    def metric(self) -> str:
        return self.conditions[0].metric if len(self.conditions) == 1 else ""

    @property
    def condition(self) -> str:
        if self.silent_s is not None:
            return "no_data"
        return self.conditions[0].condition if len(self.conditions) == 1 else self.combine

    @property
    def threshold(self) -> float:
        return self.conditions[0].threshold

    @property
    def clear(self) -> float:
        return self.conditions[0].clear

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m for c in self.conditions for m in c.reads))


def _number(raw: Raw, key: str, where: str) -> float:
    if key not in raw:
        raise RuleError(f"{where}: missing field '{key}'")
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{where}.{key}: expected a number, got {value!r}")
    return float(value)


def _text(raw: Raw, key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise RuleError(f"{where}.{key}: expected a non-empty string, got {value!r}")
    return value


def _pair(raw: Raw, key: str, where: str) -> tuple[float, float]:
    value = raw.get(key)
    if (not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or value[0] >= value[1]):
        raise RuleError(f"{where}.{key}: expected [low, high] with low < high, got {value!r}")
    return float(value[0]), float(value[1])


def _unknown(raw: Raw, allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise RuleError(f"{where}.{extra[0]}: unknown field")


def parse_condition(raw: Raw, where: str, metrics: Mapping[str, object]) -> Condition:
    if not isinstance(raw, Mapping):
        raise RuleError(f"{where}: expected a table")
    _unknown(raw, CONDITION_KEYS, where)
    if raw.get("condition") == "model_anomaly":
        return _model_anomaly(raw, where, metrics)
    if RATE in raw:
        raise RuleError(f"{where}.{RATE}: only a model_anomaly condition is calibrated to a "
                        f"false-alert rate; give threshold and clear")
    if "metrics" in raw:
        raise RuleError(f"{where}.metrics: only a model_anomaly condition takes metrics")
    metric = _text(raw, "metric", where)
    if metric not in metrics:
        raise RuleError(f"{where}.metric: '{metric}' is not an attribute of this model")
    kind = _text(raw, "condition", where)
    if kind not in VALUE_CONDITIONS:
        raise RuleError(f"{where}.condition: '{kind}' not one of {VALUE_CONDITIONS}")
    if kind == "outside":
        band, clear_band = _pair(raw, "band", where), _pair(raw, "clear_band", where)
        if not band[0] <= clear_band[0] < clear_band[1] <= band[1]:
            raise RuleError(f"{where}.clear_band: {list(clear_band)} must lie inside the band "
                            f"{list(band)}")
        return Condition(metric, kind, band=band, clear_band=clear_band)
    threshold, clear = _number(raw, "threshold", where), _number(raw, "clear", where)
    _check_levels(kind, threshold, clear, where)
    return Condition(metric, kind, threshold=threshold, clear=clear)


def _check_levels(kind: str, threshold: float, clear: float, where: str) -> None:
    # The clear level sits on the safe side of the threshold, or the alert would
    # clear while the condition still holds.
    high_is_bad = kind in ("above", "rate_above", *SCORE_CONDITIONS)
    if (clear > threshold) if high_is_bad else (clear < threshold):
        raise RuleError(f"{where}.clear: {clear:g} is on the alarm side of the threshold "
                        f"{threshold:g}")
    if kind in SCORE_CONDITIONS and not 0 < threshold <= 1:
        raise RuleError(f"{where}.threshold: an anomaly score threshold is in (0, 1]")


def _model_anomaly(raw: Raw, where: str, metrics: Mapping[str, object]) -> Condition:
    if "metric" in raw:
        raise RuleError(f"{where}.metric: a model_anomaly condition takes metrics = [...]")
    names = raw.get("metrics")
    if (not isinstance(names, list) or len(names) < 2
            or not all(isinstance(m, str) for m in names)):
        raise RuleError(f"{where}.metrics: expected a list of at least two metric names, "
                        f"got {names!r}")
    for i, name in enumerate(names):
        if name not in metrics:
            raise RuleError(f"{where}.metrics[{i}]: '{name}' is not an attribute of this model")
    if len(set(names)) != len(names):
        raise RuleError(f"{where}.metrics: a metric is listed twice")
    if "band" in raw or "clear_band" in raw:
        raise RuleError(f"{where}.band: a model_anomaly condition takes threshold and clear")
    # Sorted: the same set of metrics is one detector whatever order a rule lists.
    inputs = tuple(sorted(names))
    if RATE in raw:
        given = [k for k in ("threshold", "clear") if k in raw]
        if given:
            raise RuleError(f"{where}.{given[0]}: give either {RATE} or threshold and clear, "
                            f"not both")
        rate = _number(raw, RATE, where)
        if not 0 < rate <= MAX_RATE:
            raise RuleError(f"{where}.{RATE}: expected a rate in (0, {MAX_RATE:g}] false "
                            f"alerts per device per month, got {rate:g}")
        return Condition("", "model_anomaly", inputs=inputs, false_alerts_per_month=rate)
    threshold, clear = _number(raw, "threshold", where), _number(raw, "clear", where)
    _check_levels("model_anomaly", threshold, clear, where)
    return Condition("", "model_anomaly", threshold=threshold, clear=clear, inputs=inputs)


def _schedule(raw: object, where: str) -> Schedule:
    if not isinstance(raw, Mapping):
        raise RuleError(f"{where}: expected a table with days, from, to")
    _unknown(raw, {"days", "from", "to"}, where)
    days = raw.get("days", list(DAYS))
    if not isinstance(days, list) or not days or any(d not in DAYS for d in days):
        raise RuleError(f"{where}.days: expected a list of {DAYS}, got {days!r}")
    bounds = []
    for key in ("from", "to"):
        value = raw.get(key, "00:00")
        try:
            bounds.append(time.fromisoformat(value))
        except (TypeError, ValueError):
            raise RuleError(f"{where}.{key}: expected HH:MM, got {value!r}") from None
    if bounds[0] == bounds[1] and raw.get("from") is not None:
        raise RuleError(f"{where}.to: the window is empty (from == to)")
    return Schedule(frozenset(DAYS.index(d) for d in days), bounds[0], bounds[1])


def parse_rule(raw: Raw, where: str, metrics: Mapping[str, object]) -> Rule:
    if not isinstance(raw, Mapping):
        raise RuleError(f"{where}: expected a table")
    _unknown(raw, RULE_KEYS, where)
    rule_id = _text(raw, "id", where)
    severity = _text(raw, "severity", where)
    if severity not in SEVERITIES:
        raise RuleError(f"{where}.severity: '{severity}' not one of {SEVERITIES}")
    message = _text(raw, "message", where)
    combos = [key for key in ("any", "all") if key in raw]
    silent_s = None
    if raw.get("condition") == "no_data":
        silent_s = _number(raw, "silent_s", where)
        if silent_s <= 0:
            raise RuleError(f"{where}.silent_s: must be > 0")
        conditions: tuple[Condition, ...] = ()
        combine = "all"
    elif combos:
        if len(combos) > 1 or "metric" in raw or "condition" in raw:
            raise RuleError(f"{where}.{combos[0]}: use either any, all, or metric+condition")
        combine = combos[0]
        items = raw[combine]
        if not isinstance(items, list) or len(items) < 2:
            raise RuleError(f"{where}.{combine}: expected a list of at least two conditions")
        conditions = tuple(parse_condition(c, f"{where}.{combine}[{i}]", metrics)
                           for i, c in enumerate(items))
    else:
        conditions = (parse_condition({k: v for k, v in raw.items() if k in CONDITION_KEYS},
                                      where, metrics),)
        combine = "all"
    for_s = _number(raw, "for_s", where) if "for_s" in raw else 0.0
    if for_s < 0:
        raise RuleError(f"{where}.for_s: must be >= 0")
    repeat_count, repeat_within = 1, 0.0
    if "repeat" in raw:
        rep = raw["repeat"]
        if not isinstance(rep, Mapping):
            raise RuleError(f"{where}.repeat: expected a table with count, within_s")
        _unknown(rep, {"count", "within_s"}, f"{where}.repeat")
        count = rep.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 2:
            raise RuleError(f"{where}.repeat.count: expected an integer >= 2, got {count!r}")
        repeat_count, repeat_within = count, _number(rep, "within_s", f"{where}.repeat")
        if repeat_within <= 0:
            raise RuleError(f"{where}.repeat.within_s: must be > 0")
        if for_s:
            raise RuleError(f"{where}.repeat: combine repeat with for_s in two rules instead")
    if silent_s is not None and (for_s or repeat_count > 1):
        raise RuleError(f"{where}.condition: a no_data rule takes only silent_s")
    schedule = _schedule(raw["schedule"], f"{where}.schedule") if "schedule" in raw else None
    return Rule(rule_id, severity, message, conditions, combine, silent_s, for_s, repeat_count,
                repeat_within, schedule)


def parse_rules(raw: object, where: str, metrics: Mapping[str, object]) -> tuple[Rule, ...]:
    if not isinstance(raw, list):
        raise RuleError(f"{where}: expected a list of rules")
    rules = tuple(parse_rule(item, f"{where}[{i}]", metrics) for i, item in enumerate(raw))
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.id in seen:
            raise RuleError(f"{where}[{i}].id: duplicate rule id '{rule.id}'")
        seen.add(rule.id)
    return rules


def _condition_spec(c: Condition) -> dict[str, Any]:
    if c.condition == "model_anomaly" and c.false_alerts_per_month is not None:
        return {"metrics": list(c.inputs), "condition": c.condition,
                RATE: c.false_alerts_per_month}
    if c.condition == "model_anomaly":
        return {"metrics": list(c.inputs), "condition": c.condition, "threshold": c.threshold,
                "clear": c.clear}
    if c.condition == "outside":
        return {"metric": c.metric, "condition": c.condition, "band": list(c.band),
                "clear_band": list(c.clear_band)}
    return {"metric": c.metric, "condition": c.condition, "threshold": c.threshold,
            "clear": c.clear}


def rule_spec_of(rule: Rule) -> dict[str, Any]:
    """The rule back in the file's shape: `parse_rule(rule_spec_of(r)) == r`."""
    spec: dict[str, Any] = {"id": rule.id, "severity": rule.severity, "message": rule.message}
    if rule.silent_s is not None:
        spec.update(condition="no_data", silent_s=rule.silent_s)
    elif len(rule.conditions) == 1:
        spec.update(_condition_spec(rule.conditions[0]))
    else:
        spec[rule.combine] = [_condition_spec(c) for c in rule.conditions]
    if rule.for_s:
        spec["for_s"] = rule.for_s
    if rule.repeat_count > 1:
        spec["repeat"] = {"count": rule.repeat_count, "within_s": rule.repeat_within_s}
    if rule.schedule is not None:
        spec["schedule"] = {"days": [DAYS[d] for d in sorted(rule.schedule.days)],
                            "from": rule.schedule.start.strftime("%H:%M"),
                            "to": rule.schedule.end.strftime("%H:%M")}
    return spec
