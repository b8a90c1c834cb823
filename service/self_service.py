"""Self-help on the device's QR page: a customer follows a troubleshooting guide and
answers "this fixed it" or "still broken".

"Fixed" is a self-service case, closed at once with no work order: a visit avoided.
"Still broken" is kept until the customer's fault report, whose case then lists
what was already tried (`attach_tried`). Deflection (visits avoided, and which
articles help) is counted from these records, on the console and in /metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from service.cases import contract_level
from service.tables import Case, SelfHelpAttempt

SOURCE = "self_service"
OUTCOMES = ("fixed", "still_broken")
MAX_TRIED = 5  # guides listed with one fault report


class SelfHelpError(ValueError):
    """The answer cannot be taken; the message says why."""


@dataclass(frozen=True, slots=True)
class Guide:
    """The article a customer followed, as it read then."""

    article_id: int
    version: int
    title: str
    steps: tuple[str, ...]


def record_outcome(session: Session, *, device_id: str, guide: Guide, outcome: str, at: int
                   ) -> SelfHelpAttempt:
    """The customer's answer; "fixed" opens and closes a self-service case (no visit)."""
    if outcome not in OUTCOMES:
        raise SelfHelpError(f"outcome: one of {', '.join(OUTCOMES)}")
    attempt = SelfHelpAttempt(device_id=device_id, article_id=guide.article_id,
                              article_version=guide.version, article_title=guide.title,
                              steps="\n".join(guide.steps), outcome=outcome, at=at)
    if outcome == "fixed":
        case = Case(device_id=device_id, source=SOURCE, title=f"Fixed by the customer: "
                    f"{guide.title}", description=tried_text([attempt]), status="closed",
                    created_at=at, sla_level=contract_level(session, device_id),
                    resolution_met_at=at)
        session.add(case)
        session.flush()
        attempt.case_id = case.id
    session.add(attempt)
    session.flush()
    return attempt


def tried_text(attempts: Iterable[SelfHelpAttempt]) -> str:
    """What was tried, in the words the dispatcher and engineer read on the case."""
    lines = []
    for attempt in attempts:
        lines.append(f"Tried before reporting: {attempt.article_title} "
                     f"(guide {attempt.article_id} v{attempt.article_version})")
        lines += [f"  {n}. {step}" for n, step in enumerate(attempt.steps.splitlines(), 1)]
    return "\n".join(lines)


def attach_tried(session: Session, case: Case, attempt_ids: Iterable[int]
                 ) -> list[SelfHelpAttempt]:
    """Attach the device's "still broken" answers not yet on a case to the fault report's
    case, and add what was tried to its description. Others' ids are ignored."""
    ids = list(dict.fromkeys(attempt_ids))[:MAX_TRIED]
    if not ids:
        return []
    attempts = list(session.exec(select(SelfHelpAttempt).where(
        col(SelfHelpAttempt.id).in_(ids), SelfHelpAttempt.device_id == case.device_id,
        SelfHelpAttempt.outcome == "still_broken", col(SelfHelpAttempt.case_id).is_(None))
        .order_by(col(SelfHelpAttempt.id))))
    for attempt in attempts:
        attempt.case_id = case.id
        session.add(attempt)
    if attempts:
        case.description = "\n\n".join(t for t in (case.description, tried_text(attempts)) if t)
        session.add(case)
    return attempts


def tried_on(session: Session, case_id: int) -> list[SelfHelpAttempt]:
    return list(session.exec(select(SelfHelpAttempt).where(SelfHelpAttempt.case_id == case_id)
                             .order_by(col(SelfHelpAttempt.id))))


@dataclass(frozen=True, slots=True)
class Deflection:
    visits_avoided: int  # self-service cases closed as fixed
    still_broken: int
    by_article: tuple[tuple[int, str, int, int], ...]  # (id, title, fixed, still broken)


def deflection(session: Session) -> Deflection:
    rows = session.exec(select(SelfHelpAttempt.article_id, SelfHelpAttempt.outcome,
                               func.count(), func.max(SelfHelpAttempt.article_title))
                        .group_by(col(SelfHelpAttempt.article_id), col(SelfHelpAttempt.outcome))
                        ).all()
    titles: dict[int, str] = {}
    counts: dict[tuple[int, str], int] = {}
    for article_id, outcome, count, title in rows:
        titles[article_id] = str(title)
        counts[article_id, outcome] = int(count)
    # Most helpful first.
    by_article = tuple(sorted(((i, t, counts.get((i, "fixed"), 0),
                                counts.get((i, "still_broken"), 0)) for i, t in titles.items()),
                              key=lambda r: (-r[2], r[0])))
    return Deflection(visits_avoided=sum(r[2] for r in by_article),
                      still_broken=sum(r[3] for r in by_article), by_article=by_article)


class DeflectionCollector(Collector):
    """`/metrics`: visits avoided by self-help, and each article's answers, read from the
    database at scrape time (counts of stored answers only ever grow)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[CounterMetricFamily]:
        with Session(self._engine) as session:
            figure = deflection(session)
        avoided = CounterMetricFamily(
            "fieldpulse_self_service_visits_avoided",
            "Self-service cases closed as fixed by the customer with a guide (no visit).")
        avoided.add_metric([], figure.visits_avoided)
        answers = CounterMetricFamily(
            "fieldpulse_article_answers", "Customers' answers after following a guide.",
            labels=["article", "outcome"])
        for article_id, _title, fixed, broken in figure.by_article:
            answers.add_metric([str(article_id), "fixed"], fixed)
            answers.add_metric([str(article_id), "still_broken"], broken)
        yield avoided
        yield answers
