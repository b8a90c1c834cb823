"""Search answers with the right article first for questions written from the shipped
articles' content (not their titles), on SQLite's FTS5 and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy
from sqlalchemy import Engine
from sqlmodel import Session

from fieldpulse.schema import upgrade
from foundations.database import make_engine
from knowledge.ranking import QueryError, terms
from knowledge.search import Filters
from knowledge.store import find
from testing_support.servers import PostgresServer

# What a person types, and the article that answers it.
QUERIES = [
    ("the water has a metallic taste", "ro500-salty-water"),
    ("only a trickle comes out and the cartridge is brown", "ro500-low-water-pressure"),
    ("rejection below 90 % on the handheld meter", "ro500-membrane-replacement"),
    ("no 24 V at the coil and no flow", "ro500-prefilter-and-inlet-valve"),
    ("reset the run-hours counter in the service menu", "ro500-filter-change"),
    ("leaves covering the grille outside", "ch200-warm-water"),
    ("bubble spray and nitrogen pressure test", "ch200-refrigerant-leak"),
    ("capacitor 10 % below its rating, pitted contacts", "ch200-compressor-overcurrent"),
    ("pump rattles like gravel", "cp75-pump-vibration"),
    ("burning smell, housing too hot to touch", "cp75-hot-bearing"),
    ("coupling insert worn, drive fault log", "cp75-low-speed"),
    ("laser tool alignment after fitting new bearings", "cp75-bearing-replacement"),
]


def _first(engine: Engine, query: str, model: str | None = None) -> str:
    with Session(engine) as session:
        found = find(session, query, Filters(model=model))
    assert found, f"nothing found for {query!r}"
    ranks = [rank for _, rank in found]
    assert ranks == sorted(ranks, reverse=True)  # type: ignore[type-var]
    return found[0][0].slug


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    upgrade(engine)
    return engine


@pytest.mark.parametrize(("query", "slug"), QUERIES, ids=[q for q, _ in QUERIES])
def test_sqlite_ranks_the_right_article_first(sqlite_engine: Engine, query: str,
                                              slug: str) -> None:
    assert _first(sqlite_engine, query) == slug


def test_the_model_filter_keeps_other_models_out(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        found = find(session, "bearing pump water", Filters(model="aquapure-ro500"))
    assert found and all("aquapure-ro500" in a.models for a, _ in found)


def test_filter_values_are_matched_as_they_are(sqlite_engine: Engine) -> None:
    with Session(sqlite_engine) as session:
        assert find(session, "", Filters(rule_id="tds-high"))
        assert find(session, "", Filters(rule_id="tds%")) == []
        assert find(session, "", Filters(rule_id="tds_high")) == []


def test_query_words_never_reach_the_query_language() -> None:
    assert terms('pump" OR title:* NEAR(') == ["pump", "title", "near"]
    assert terms("the and of") == []
    with pytest.raises(QueryError, match="at most 200"):
        terms("x" * 201)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.remove()


def test_postgresql_ranks_the_right_article_first(postgres: PostgresServer) -> None:
    with psycopg.connect(host="127.0.0.1", port=postgres.port, user="postgres",
                         dbname="postgres", autocommit=True) as conn:
        conn.execute('CREATE DATABASE "kb"')
    engine = make_engine(postgres.url.rsplit("/", 1)[0] + "/kb")
    try:
        upgrade(engine)
        with Session(engine) as session:
            got = {q: [(a.slug, r) for a, r in find(session, q, Filters())][:3] for q, _ in QUERIES}
        wrong = [(q, slug, got[q]) for q, slug in QUERIES if got[q][0][0] != slug]
        assert wrong == []
        with Session(engine) as session:
            index = session.execute(
                sqlalchemy.text("SELECT indexdef FROM pg_indexes "
                                              "WHERE indexname = 'ix_article_search'")).scalar()
        assert index is not None and "gin" in index
    finally:
        engine.dispose()
