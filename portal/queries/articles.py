"""Articles as the pages show them: the customer's "Try this first" guides, the
engineer's procedures for a job, the dispatcher's causes and articles for an alert."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session

from knowledge.front_matter import steps
from knowledge.rendering import to_html
from knowledge.search import Filters
from knowledge.store import find, unwrap
from knowledge.tables import Article
from service.self_service import Guide

MAX_GUIDES = 4


def linked(session: Session, model_id: str, rule_ids: Iterable[str], audience: str,
           fault_code: str | None = None) -> list[Article]:
    """Published articles for the model and audience: those linked to the rules first
    (in the rules' order), then to the fault code, then the model's other ones (its
    common problems)."""
    first: dict[int | None, Article] = {}
    wanted = [Filters(model=model_id, rule_id=r, audience=audience) for r in rule_ids]
    if fault_code:
        wanted.append(Filters(model=model_id, fault_code=fault_code, audience=audience))
    for filters in wanted:
        for article, _ in find(session, "", filters):
            first.setdefault(article.id, article)
    for article, _ in find(session, "", Filters(model=model_id, audience=audience)):
        first.setdefault(article.id, article)
    return list(first.values())


def as_guide(article: Article) -> Guide:
    assert article.id is not None
    return Guide(article_id=article.id, version=article.version, title=article.title,
                 steps=tuple(steps(article.body)))


def for_customer(session: Session, model_id: str, rule_ids: Iterable[str]
                 ) -> list[dict[str, Any]]:
    """The "Try this first" guides of the device's QR page, rendered."""
    return [{"id": a.id, "title": a.title, "summary": a.summary, "html": to_html(a.body),
             "version": a.version}
            for a in linked(session, model_id, rule_ids, "customer")[:MAX_GUIDES]]


def customer_article(session: Session, article_id: int, model_id: str) -> Article | None:
    """An article a customer of this model may follow: published, for customers, for
    this model (or every model)."""
    article = session.get(Article, article_id)
    if article is None or not article.published or "customer" not in unwrap(article.audience):
        return None
    models = unwrap(article.models)
    return article if not models or model_id in models else None


def for_job(session: Session, model_id: str, rule_id: str | None,
            fault_code: str | None = None) -> list[dict[str, Any]]:
    """The engineer's procedures for a job (its alert's rule first, then the fault the
    customer reported), rendered: part of the job's data, so the service worker keeps
    them for the phone without signal."""
    return [{"id": a.id, "title": a.title, "version": a.version, "html": to_html(a.body),
             "linked_to_alert": bool(rule_id and rule_id in unwrap(a.rule_ids)),
             "linked_to_fault": bool(fault_code and fault_code in unwrap(a.fault_codes))}
            for a in linked(session, model_id, [rule_id] if rule_id else [], "engineer",
                            fault_code)]
