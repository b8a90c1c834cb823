"""Articles in the database: saved as new versions, read, listed and searched, and
imported from and exported to a folder of Markdown files.

An edit that changes anything makes the next version (the old ones stay readable
in `article_version`); saving the same text again changes nothing, so importing a
folder twice is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from foundations.clock import now_ms
from foundations.database import session_scope
from knowledge import search as fts
from knowledge.front_matter import ArticleSource, check, dump, parse
from knowledge.ranking import terms
from knowledge.tables import Article, ArticleVersion

SHIPPED = Path(__file__).with_name("articles")
CONTENT = ("title", "summary", "body", "models", "rule_ids", "fault_codes", "audience",
           "causes", "published")


def _wrap(items: Iterable[str]) -> str:
    items = [i for i in items if i]
    return f",{','.join(items)}," if items else ""


def unwrap(value: str) -> tuple[str, ...]:
    return tuple(i for i in value.split(",") if i)


def _columns(source: ArticleSource) -> dict[str, object]:
    return {"title": source.title, "summary": source.summary, "body": source.body,
            "models": _wrap(source.models), "rule_ids": _wrap(source.rule_ids),
            "fault_codes": _wrap(source.fault_codes), "audience": _wrap(source.audience),
            "causes": "\n".join(source.causes), "published": source.published}


def as_source(row: Article | ArticleVersion, slug: str) -> ArticleSource:
    return ArticleSource(
        slug=slug, title=row.title, summary=row.summary, body=row.body,
        models=unwrap(row.models), rule_ids=unwrap(row.rule_ids),
        fault_codes=unwrap(row.fault_codes), audience=unwrap(row.audience),
        causes=tuple(c for c in row.causes.splitlines() if c), published=row.published,
        version=row.version)


def save(session: Session, source: ArticleSource, *, by: str, at: int) -> tuple[Article, bool]:
    """Create the article, or make its next version when anything changed: (article,
    whether it changed). A file's `version` is kept when it is ahead of the database's."""
    check(source)
    columns = _columns(source)
    article = session.exec(select(Article).where(Article.slug == source.slug)).first()
    if article is not None and all(getattr(article, k) == v for k, v in columns.items()):
        return article, False
    if article is None:
        article = Article(slug=source.slug, version=source.version, updated_at=at,
                          updated_by=by, **columns)  # type: ignore[arg-type]
    else:
        for key, value in columns.items():
            setattr(article, key, value)
        article.version = max(article.version + 1, source.version)
        article.updated_at, article.updated_by = at, by
    session.add(article)
    session.flush()
    assert article.id is not None
    session.add(ArticleVersion(article_id=article.id, version=article.version, created_at=at,
                               created_by=by, **columns))  # type: ignore[arg-type]
    fts.index(session, article)
    return article, True


def versions(session: Session, article_id: int) -> list[ArticleVersion]:
    """Every version of the article, oldest first."""
    return list(session.exec(select(ArticleVersion)
                             .where(ArticleVersion.article_id == article_id)
                             .order_by(col(ArticleVersion.version))))


def version(session: Session, article_id: int, number: int) -> ArticleVersion | None:
    return session.exec(select(ArticleVersion).where(ArticleVersion.article_id == article_id,
                                                     ArticleVersion.version == number)).first()


def find(session: Session, query: str, filters: fts.Filters, limit: int = 20
         ) -> list[tuple[Article, float | None]]:
    """The articles for `query` ranked best first (rank given), or without a query
    every article the filters let through, by title (rank None). Raises QueryError."""
    words = terms(query)
    if words:
        ranked = fts.search(session, words, filters, limit)
        rows = {a.id: a for a in session.exec(
            select(Article).where(col(Article.id).in_([i for i, _ in ranked])))}
        return [(rows[i], rank) for i, rank in ranked if i in rows]
    params: dict[str, object] = {}
    where = fts.where_clause(filters, params)  # the same filters as the ranked search
    stmt = select(Article).order_by(col(Article.title)).limit(limit)
    if where:
        stmt = stmt.where(text(where.removeprefix(" AND ")).bindparams(**params))
    return [(a, None) for a in session.exec(stmt)]


def import_dir(session: Session, folder: Path, *, by: str, at: int) -> list[tuple[str, bool]]:
    """Every `*.md` in the folder (the file name is the slug): (slug, changed) each.
    Every file is parsed before any is saved, so a bad file changes nothing."""
    sources = [parse(path.read_text(encoding="utf-8"), path.stem)
               for path in sorted(folder.glob("*.md"))]
    return [(s.slug, save(session, s, by=by, at=at)[1]) for s in sources]


def export_dir(session: Session, folder: Path) -> list[Path]:
    """Each article's current version as `<slug>.md`, ready for `import_dir` (and git)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for article in session.exec(select(Article).order_by(col(Article.slug))):
        path = folder / f"{article.slug}.md"
        path.write_text(dump(as_source(article, article.slug)), encoding="utf-8")
        written.append(path)
    return written


def seed(engine: Engine) -> None:
    """The articles that ship with FieldPulse (knowledge/articles/), once: into a
    database that has none yet (an admin's later edits and deletions stay theirs)."""
    with session_scope(engine) as session:
        if session.exec(select(Article.id).limit(1)).first() is None:
            import_dir(session, SHIPPED, by="fieldpulse", at=now_ms())
