"""The search query, built from what a person typed: pure, so both stores share it.

Every word (letters and digits only, so nothing reaches the query language) counts,
joined by OR: a question written in plain words ("water tastes salty") finds the
article that shares most of its rare words, ranked by BM25 (SQLite FTS5) or
ts_rank (PostgreSQL), not only the article that holds all of them.
"""

from __future__ import annotations

import re

MAX_QUERY = 200
MAX_TERMS = 24
WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words too common to tell articles apart (PostgreSQL's english config drops these
# too; FTS5 has no stop list).
_STOP = ("a an and are as at be but by do does for from has have how i if in into is it its "
         "my no not of on or our so that the their then there this to was we what when where "
         "which why will with you your")
STOP_WORDS = frozenset(_STOP.split(" "))
# Column weights for FTS5's bm25(): title, summary, tags (models, rules, codes), body.
FTS5_WEIGHTS = (10.0, 5.0, 4.0, 1.0)


class QueryError(ValueError):
    """The search text cannot be used; the message says why."""


def terms(text: str) -> list[str]:
    """The words of a query worth searching for, lower-case, each once, in order."""
    if len(text) > MAX_QUERY:
        raise QueryError(f"q: at most {MAX_QUERY} characters")
    seen: dict[str, None] = {}
    for word in WORD.findall(text.lower()):
        if word not in STOP_WORDS:
            seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


def fts5_match(words: list[str]) -> str:
    """An FTS5 MATCH expression: any of the words (each quoted, so never an operator)."""
    return " OR ".join(f'"{w}"' for w in words)


def pg_tsquery(words: list[str]) -> str:
    """A to_tsquery('english', …) text: any of the words; they are stemmed by PostgreSQL."""
    return " | ".join(words)
