"""Troubleshooting articles: ranked search and reading for staff and engineers, writing
for admins (every change a new version; `knowledge.store`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from sqlmodel import Session, select

from foundations.clock import now_ms
from foundations.database import session_scope
from knowledge.front_matter import AUDIENCES, TAG, ArticleFormatError, ArticleSource
from knowledge.ranking import MAX_QUERY, QueryError
from knowledge.rendering import to_html
from knowledge.search import Filters
from knowledge.store import find, save, unwrap, version, versions
from knowledge.tables import Article
from portal.auth.audit import record
from portal.auth.dependencies import Admin, AnyRole, GuardedRoute, Staff
from portal.context import ContextDep, PortalContext, SessionDep
from portal.schemas.articles import (
    ArticleHelp,
    ArticleIn,
    ArticlePublic,
    ArticleSummary,
    ArticleVersionPublic,
    SelfServiceFigures,
)
from portal.schemas.common import RowId
from service.self_service import deflection

router = APIRouter(route_class=GuardedRoute, tags=["articles"])


def _summary(article: Article, rank: float | None) -> ArticleSummary:
    assert article.id is not None
    return ArticleSummary(
        id=article.id, slug=article.slug, title=article.title, summary=article.summary,
        models=list(unwrap(article.models)), rule_ids=list(unwrap(article.rule_ids)),
        fault_codes=list(unwrap(article.fault_codes)), audience=list(unwrap(article.audience)),
        causes=[c for c in article.causes.splitlines() if c], published=article.published,
        version=article.version, rank=rank)


def _public(article: Article) -> ArticlePublic:
    return ArticlePublic(**_summary(article, None).model_dump(), body=article.body,
                         html=to_html(article.body), updated_at=article.updated_at,
                         updated_by=article.updated_by)


def _known_model(ctx: PortalContext, model: str | None) -> None:
    if model is not None and model not in ctx.models:
        raise HTTPException(422, f"model: no device model '{model}'")


@router.get("/api/articles")
def search_articles(
    ctx: ContextDep, session: SessionDep, principal: AnyRole,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
    model: Annotated[str | None, Query(max_length=80)] = None,
    rule: Annotated[str | None, Query(pattern=TAG.pattern)] = None,
    fault: Annotated[str | None, Query(pattern=TAG.pattern)] = None,
    audience: Annotated[str | None, Query(pattern="^(" + "|".join(AUDIENCES) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> list[ArticleSummary]:
    """Articles best first for `q` (every word counts; ranked by relevance), filtered by
    device model, alert rule id, fault code and audience. Without `q`: every match, by title.
    Only admins see unpublished drafts."""
    _known_model(ctx, model)
    filters = Filters(model=model, rule_id=rule, fault_code=fault, audience=audience,
                      published_only=principal.role != "admin")
    try:
        found = find(session, q, filters, limit)
    except QueryError as err:
        raise HTTPException(422, str(err)) from None
    return [_summary(article, rank) for article, rank in found]


def _article(session: Session, article_id: int, principal_role: str) -> Article:
    article = session.get(Article, article_id)
    if article is None or not (article.published or principal_role == "admin"):
        raise HTTPException(404, f"no article {article_id}")
    return article


@router.get("/api/articles/{article_id}")
def read_article(article_id: RowId, session: SessionDep, principal: AnyRole,
                 version_: Annotated[int | None, Query(alias="version", ge=1, le=1_000_000)]
                 = None) -> ArticlePublic:
    """The article as it reads now, or an older `version` of it."""
    article = _article(session, article_id, principal.role)
    if version_ is None or version_ == article.version:
        return _public(article)
    old = version(session, article_id, version_)
    if old is None:
        raise HTTPException(404, f"article {article_id} has no version {version_}")
    shown = Article(id=article.id, slug=article.slug, title=old.title, summary=old.summary,
                    body=old.body, models=old.models, rule_ids=old.rule_ids,
                    fault_codes=old.fault_codes, audience=old.audience, causes=old.causes,
                    published=old.published, version=old.version, updated_at=old.created_at,
                    updated_by=old.created_by)
    return _public(shown)


@router.get("/api/articles/{article_id}/versions")
def article_versions(article_id: RowId, session: SessionDep, principal: AnyRole
                     ) -> list[ArticleVersionPublic]:
    _article(session, article_id, principal.role)
    return [ArticleVersionPublic(version=v.version, title=v.title, created_at=v.created_at,
                                 created_by=v.created_by) for v in versions(session, article_id)]


def _save(ctx: PortalContext, body: ArticleIn, by: str, action: str) -> ArticlePublic:
    for model in body.models:
        _known_model(ctx, model)
    source = ArticleSource(slug=body.slug, title=body.title.strip(), summary=body.summary,
                           body=body.body, models=tuple(body.models),
                           rule_ids=tuple(body.rule_ids), fault_codes=tuple(body.fault_codes),
                           audience=tuple(body.audience), causes=tuple(body.causes),
                           published=body.published)
    with session_scope(ctx.engine) as session:
        try:
            article, changed = save(session, source, by=by, at=now_ms())
        except ArticleFormatError as err:
            raise HTTPException(422, str(err)) from None
        if changed:
            record(session, by, action, f"article:{article.id}", f"v{article.version}")
        return _public(article)


@router.post("/api/articles", status_code=201)
def create_article(body: ArticleIn, ctx: ContextDep, session: SessionDep,
                   principal: Admin) -> ArticlePublic:
    if session.exec(select(Article.id).where(Article.slug == body.slug)).first() is not None:
        raise HTTPException(409, f"an article '{body.slug}' exists: change it with PUT")
    return _save(ctx, body, principal.username, "article.create")


@router.put("/api/articles/{article_id}")
def change_article(article_id: RowId, body: ArticleIn, ctx: ContextDep, session: SessionDep,
                   principal: Admin) -> ArticlePublic:
    """Save the article's next version (the same text again changes nothing)."""
    article = _article(session, article_id, principal.role)
    if body.slug != article.slug:
        raise HTTPException(422, f"slug: article {article_id} is '{article.slug}'")
    return _save(ctx, body, principal.username, "article.change")


@router.get("/api/self-service/figures")
def self_service_figures(session: SessionDep, _principal: Staff) -> SelfServiceFigures:
    """Visits avoided (self-service cases closed as fixed) and each article's answers."""
    figure = deflection(session)
    return SelfServiceFigures(
        visits_avoided=figure.visits_avoided, still_broken=figure.still_broken,
        articles=[ArticleHelp(id=i, title=t, fixed=f, still_broken=b)
                  for i, t, f, b in figure.by_article])
