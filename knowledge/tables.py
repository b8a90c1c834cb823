"""The articles' records: the current text of each article, and every version it had.

The search index is not a table here: SQLite keeps an FTS5 table `article_fts`
(rowid = article id) and PostgreSQL a GIN index over the article's text; both are
made by the migration and kept by `knowledge.search`.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

# The search index's names, which the schema's comparison with the tables leaves out.
FTS_TABLE = "article_fts"
PG_INDEX = "ix_article_search"


class Article(SQLModel, table=True):
    """An article as it reads now (its newest version)."""

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True)
    title: str
    summary: str = ""
    body: str = Field(sa_type=Text)  # Markdown; rendered with HTML escaped
    # Comma-wrapped lists (",a,b,") so one LIKE '%,a,%' finds a member; "" is none
    # (for models: every model).
    models: str = ""
    rule_ids: str = ""
    fault_codes: str = ""
    audience: str = ",customer,engineer,dispatcher,"
    causes: str = Field(default="", sa_type=Text)  # one likely cause per line
    published: bool = True
    version: int = 1
    updated_at: int = Field(sa_type=BigInteger)
    updated_by: str = ""


class ArticleVersion(SQLModel, table=True):
    """One version of an article, kept readable after later edits."""

    __tablename__ = "article_version"
    __table_args__ = (UniqueConstraint("article_id", "version", name="ux_article_version"),)
    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True)
    version: int
    title: str
    summary: str = ""
    body: str = Field(sa_type=Text)
    models: str = ""
    rule_ids: str = ""
    fault_codes: str = ""
    audience: str = ""
    causes: str = Field(default="", sa_type=Text)
    published: bool = True
    created_at: int = Field(sa_type=BigInteger)
    created_by: str = ""
