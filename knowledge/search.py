"""The ranked search over articles: SQLite's FTS5 (bm25) in the embedded set-up,
PostgreSQL's full-text search (ts_rank, a GIN index) where PostgreSQL is the store.

`index` keeps SQLite's FTS5 table in step with an article (PostgreSQL's index is
over the article's own columns and needs nothing). `search` answers article ids
with their rank, best first; the filters (model, rule, audience, published) are the
caller's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

from knowledge.ranking import FTS5_WEIGHTS, fts5_match, pg_tsquery
from knowledge.tables import FTS_TABLE, Article

# The text PostgreSQL's GIN index is built over (the migration uses the same words).
PG_DOCUMENT = ("to_tsvector('english', coalesce(title, '') || ' ' || coalesce(summary, '') "
               "|| ' ' || coalesce(models, '') || ' ' || coalesce(rule_ids, '') || ' ' "
               "|| coalesce(fault_codes, '') || ' ' || coalesce(body, ''))")
PG_WEIGHTED = ("setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
               "setweight(to_tsvector('english', coalesce(summary, '')), 'B') || "
               "setweight(to_tsvector('english', coalesce(models, '') || ' ' || "
               "coalesce(rule_ids, '') || ' ' || coalesce(fault_codes, '')), 'B') || "
               "setweight(to_tsvector('english', coalesce(body, '')), 'D')")


@dataclass(frozen=True, slots=True)
class Filters:
    model: str | None = None
    rule_id: str | None = None
    fault_code: str | None = None
    audience: str | None = None
    published_only: bool = True


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _tags(article: Article) -> str:
    return " ".join(x.replace("-", " ") + " " + x for x in
                    (article.models + article.rule_ids + article.fault_codes).split(",") if x)


def index(session: Session, article: Article) -> None:
    """Put the article's current text in SQLite's FTS5 table (replacing what was there)."""
    if not _is_sqlite(session):
        return
    session.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid = :id"), {"id": article.id})
    session.execute(text(f"INSERT INTO {FTS_TABLE} (rowid, title, summary, tags, body) "
                         "VALUES (:id, :title, :summary, :tags, :body)"),
                    {"id": article.id, "title": article.title, "summary": article.summary,
                     "tags": _tags(article), "body": article.body})


def _member(value: str) -> str:
    """A LIKE pattern for one member of a comma-wrapped list; '%' and '_' in the value
    are matched as themselves (escaped with '\\')."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%,{escaped},%"


def where_clause(filters: Filters, params: dict[str, object], prefix: str = "") -> str:
    """The filters as SQL (each value a bound parameter), for both stores."""
    clauses = []
    like = "LIKE {} ESCAPE '\\'"
    if filters.model:
        clauses.append(f"({prefix}models = '' OR {prefix}models {like.format(':model')})")
        params["model"] = _member(filters.model)
    for column, key, value in (("rule_ids", "rule", filters.rule_id),
                               ("fault_codes", "fault", filters.fault_code),
                               ("audience", "audience", filters.audience)):
        if value:
            clauses.append(f"{prefix}{column} {like.format(':' + key)}")
            params[key] = _member(value)
    if filters.published_only:
        clauses.append(f"{prefix}published")
    return "".join(f" AND {c}" for c in clauses)


def search(session: Session, words: list[str], filters: Filters, limit: int
           ) -> list[tuple[int, float]]:
    """(article id, rank) of the articles matching any of `words`, best first; the rank
    is larger for a better match on both stores."""
    params: dict[str, object] = {"limit": limit}
    if _is_sqlite(session):
        params["match"] = fts5_match(words)
        weights = ", ".join(str(w) for w in FTS5_WEIGHTS)
        # bm25() is smaller for better matches: negated, larger is better.
        sql = (f"SELECT a.id, -bm25({FTS_TABLE}, {weights}) AS rank FROM {FTS_TABLE} "
               f"JOIN article a ON a.id = {FTS_TABLE}.rowid WHERE {FTS_TABLE} MATCH :match"
               f"{where_clause(filters, params, 'a.')} ORDER BY rank DESC, a.id LIMIT :limit")
    else:
        sql = _pg_search(session, words, filters, params)
    return [(int(row[0]), float(row[1])) for row in session.execute(text(sql), params)]


def _pg_search(session: Session, words: list[str], filters: Filters,
               params: dict[str, object]) -> str:
    """PostgreSQL's ts_rank counts how often words occur but not how rare they are, so
    "no flow" would outrank "24 V at the coil"; each word's ts_rank is weighted by its
    inverse document frequency (as BM25 does), counted in the same query's table."""
    params["query"] = pg_tsquery(words)
    counts = ", ".join(f"count(*) FILTER (WHERE {PG_DOCUMENT} @@ to_tsquery('english', :w{i}))"
                       for i in range(len(words)))
    for i, word in enumerate(words):
        params[f"w{i}"] = word
    row = session.execute(text(f"SELECT count(*), {counts} FROM article"), params).one()
    total, frequencies = int(row[0]), [int(n) for n in row[1:]]
    terms = " + ".join(
        f"ts_rank('{{0.4, 0.4, 0.6, 1.0}}', {PG_WEIGHTED}, to_tsquery('english', :w{i})) * "
        f"{math.log(1 + (total - df + 0.5) / (df + 0.5)):.6f}"
        for i, df in enumerate(frequencies) if df)
    return (f"SELECT id, {terms or '0'} AS rank "
            f"FROM article WHERE {PG_DOCUMENT} @@ to_tsquery('english', :query)"
            f"{where_clause(filters, params)} ORDER BY rank DESC, id LIMIT :limit")
