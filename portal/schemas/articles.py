"""Troubleshooting articles on the wire (`portal/routers/articles.py`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


def _ids() -> list[str]:
    return []




class ArticleSummary(BaseModel):
    id: int
    slug: str
    title: str
    summary: str
    models: list[str]
    rule_ids: list[str]
    fault_codes: list[str]
    audience: list[str]
    causes: list[str]  # likely causes, for the dispatcher's alert panel
    published: bool
    version: int
    rank: float | None  # larger is better; None when no query was given


class ArticlePublic(ArticleSummary):
    body: str  # Markdown
    html: str  # rendered, every piece of HTML in the Markdown escaped
    updated_at: int
    updated_by: str


class ArticleVersionPublic(BaseModel):
    version: int
    title: str
    created_at: int
    created_by: str


class ArticleIn(BaseModel):
    """An article written in the portal (admins): the same fields as a file's front
    matter (knowledge/README.md). Saving a changed article makes its next version."""

    slug: str = Field(min_length=1, max_length=80)
    title: str = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=500)
    body: str = Field(min_length=1, max_length=100_000)
    models: list[str] = Field(default_factory=_ids, max_length=50)
    rule_ids: list[str] = Field(default_factory=_ids, max_length=50)
    fault_codes: list[str] = Field(default_factory=_ids, max_length=50)
    audience: list[str] = Field(default_factory=lambda: ["customer", "engineer", "dispatcher"],
                                max_length=3)
    causes: list[str] = Field(default_factory=list, max_length=20)
    published: bool = True


class ArticleHelp(BaseModel):
    id: int
    title: str
    fixed: int
    still_broken: int


class SelfServiceFigures(BaseModel):
    """Deflection: visits avoided by customers' self-help, and which articles help."""

    visits_avoided: int  # self-service cases closed as fixed
    still_broken: int
    articles: list[ArticleHelp]  # most helpful first
