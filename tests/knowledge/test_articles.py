"""Articles as files and as database rows: the front matter read and written back,
every edit a new version, import and export through a folder, HTML escaped."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from fieldpulse.schema import upgrade
from foundations.database import make_engine, session_scope
from knowledge.front_matter import ArticleFormatError, dump, parse, steps
from knowledge.rendering import to_html
from knowledge.search import Filters
from knowledge.store import SHIPPED, export_dir, find, import_dir, save, version, versions
from knowledge.tables import Article

ARTICLE = """+++
title = "Descale the boiler"
summary = "Scale makes it slow."
models = ["m-1"]
rule_ids = ["slow-heat"]
fault_codes = ["Poor performance"]
audience = ["customer"]
causes = ["Hard water"]
+++
Some text.

1. Switch it off.
2. Pour the descaler in.
"""


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.db'}")
    upgrade(engine)
    return engine


def test_front_matter_is_read_and_written_back() -> None:
    article = parse(ARTICLE, "descale")
    assert (article.slug, article.models, article.rule_ids, article.audience) == (
        "descale", ("m-1",), ("slow-heat",), ("customer",))
    assert article.published and article.version == 1
    assert steps(article.body) == ["Switch it off.", "Pour the descaler in."]
    assert parse(dump(article), "descale") == article


@pytest.mark.parametrize(("text", "message"), [
    ("no front matter", "starts with a"),
    ("+++\ntitle = 'x'\n", "no closing"),
    ("+++\ntitle = \n+++\nbody", "front matter"),
    ("+++\ntitle = 'x'\n+++\n  \n", "body"),
    ("+++\ntitle = 'x'\naudience = ['martians']\n+++\nbody", "audience"),
    ("+++\ntitle = 'x'\nmodels = 'm-1'\n+++\nbody", "models: a list of strings"),
    ("+++\ntitle = 'x'\nrule_ids = ['a;drop']\n+++\nbody", "not a plain id"),
    ("+++\ntitle = 'x'\npublished = 'yes'\n+++\nbody", "published"),
])
def test_a_bad_file_is_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(ArticleFormatError, match=message):
        parse(text, "bad")


def test_an_edit_is_a_new_version_and_old_versions_stay_readable(engine: Engine) -> None:
    first = parse(ARTICLE, "descale")
    with session_scope(engine) as session:
        article, changed = save(session, first, by="admin", at=1)
        assert changed and article.version == 1
        assert save(session, first, by="admin", at=2) == (article, False)  # same text
        edited = parse(ARTICLE.replace("Pour the descaler in.", "Pour 1 l of descaler in."),
                       "descale")
        article, changed = save(session, edited, by="admin", at=3)
        assert changed and article.version == 2 and "1 l" in article.body
        assert article.id is not None
        assert [v.version for v in versions(session, article.id)] == [1, 2]
        old = version(session, article.id, 1)
        assert old is not None and "1 l" not in old.body and old.created_by == "admin"
        # The search finds the new text only.
        assert find(session, "descaler 1 l", Filters())[0][0].slug == "descale"


def test_import_and_export_round_trip_and_a_bad_file_changes_nothing(
        engine: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with session_scope(engine) as session:
        written = export_dir(session, out)
    assert sorted(p.name for p in written) == sorted(p.name for p in SHIPPED.glob("*.md"))
    (out / "ro500-salty-water.md").write_text(
        (out / "ro500-salty-water.md").read_text().replace("five minutes", "ten minutes"))
    (out / "zz-broken.md").write_text("+++\ntitle = 'x'\n")
    with pytest.raises(ArticleFormatError, match="zz-broken"), session_scope(engine) as session:
        import_dir(session, out, by="test", at=5)
    with Session(engine) as session:
        salty = session.exec(select(Article).where(Article.slug == "ro500-salty-water")).one()
        assert salty.version == 1  # nothing was imported
    (out / "zz-broken.md").unlink()
    with session_scope(engine) as session:
        results = dict(import_dir(session, out, by="test", at=6))
    assert [slug for slug, changed in results.items() if changed] == ["ro500-salty-water"]
    with Session(engine) as session:
        salty = session.exec(select(Article).where(Article.slug == "ro500-salty-water")).one()
        assert salty.version == 2 and "ten minutes" in salty.body


def test_html_in_an_article_is_shown_as_text_never_run() -> None:
    html = to_html("Hi <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n"
                   "[click](javascript:alert(1))\n\n1. **Step**")
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html and "<strong>Step</strong>" in html


def test_the_shipped_articles_cover_every_model_for_customers_and_engineers(
        engine: Engine) -> None:
    with Session(engine) as session:
        for model in ("aquapure-ro500", "polarflow-ch200", "torrent-cp75"):
            for audience in ("customer", "engineer"):
                found = find(session, "", Filters(model=model, audience=audience))
                assert len(found) >= 1, (model, audience)
