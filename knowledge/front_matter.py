"""An article as a file: TOML front matter between `+++` lines, then Markdown.

Pure: text in, `ArticleSource` out (and back), so the parsing is tested without a
database and a manufacturer can keep the files in git (`fieldpulse articles`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field

AUDIENCES = ("customer", "engineer", "dispatcher")
FENCE = "+++"
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
# Plain ids: device models, rule ids and fault codes are matched as they are written.
TAG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.:/-]{0,79}$")
MAX_TITLE = 200
MAX_BODY = 100_000


class ArticleFormatError(ValueError):
    """The article cannot be taken as it is; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class ArticleSource:
    slug: str
    title: str
    body: str  # Markdown
    summary: str = ""
    models: tuple[str, ...] = ()  # empty: every model
    rule_ids: tuple[str, ...] = ()
    fault_codes: tuple[str, ...] = ()
    audience: tuple[str, ...] = AUDIENCES
    causes: tuple[str, ...] = ()  # likely causes, for the dispatcher
    published: bool = True
    version: int = 1
    extra: dict[str, object] = field(default_factory=dict, compare=False)


def _strings(data: dict[str, object], key: str, pattern: re.Pattern[str] | None = TAG
             ) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ArticleFormatError(f"{key}: a list of strings")
    items = tuple(v.strip() for v in value)
    for item in items:
        if pattern is not None and not pattern.match(item):
            raise ArticleFormatError(f"{key}: '{item}' is not a plain id")
    return items


def check(source: ArticleSource) -> ArticleSource:
    """The checks every article passes, from a file or from the API."""
    if not SLUG.match(source.slug):
        raise ArticleFormatError("slug: lower-case letters, digits and '-', at most 80")
    if not source.title.strip() or len(source.title) > MAX_TITLE:
        raise ArticleFormatError(f"title: 1 to {MAX_TITLE} characters")
    if not source.body.strip() or len(source.body) > MAX_BODY:
        raise ArticleFormatError(f"body: 1 to {MAX_BODY} characters of Markdown")
    unknown = [a for a in source.audience if a not in AUDIENCES]
    if unknown or not source.audience:
        raise ArticleFormatError(f"audience: some of {', '.join(AUDIENCES)}")
    if source.version < 1:
        raise ArticleFormatError("version: 1 or more")
    for key in ("models", "rule_ids", "fault_codes"):
        for item in getattr(source, key):
            if not TAG.match(item):
                raise ArticleFormatError(f"{key}: '{item}' is not a plain id")
    return source


def parse(text: str, slug: str) -> ArticleSource:
    """An article file's text; `slug` (the file's name) unless the front matter names one."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != FENCE:
        raise ArticleFormatError(f"{slug}: starts with a '{FENCE}' line (TOML front matter)")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == FENCE)
    except StopIteration:
        raise ArticleFormatError(f"{slug}: front matter has no closing '{FENCE}'") from None
    try:
        data = tomllib.loads("".join(lines[1:end]))
    except tomllib.TOMLDecodeError as err:
        raise ArticleFormatError(f"{slug}: front matter: {err}") from None
    title, summary = data.get("title"), data.get("summary", "")
    published, version = data.get("published", True), data.get("version", 1)
    if not isinstance(title, str) or not isinstance(summary, str):
        raise ArticleFormatError(f"{slug}: title and summary are strings")
    if not isinstance(published, bool) or not isinstance(version, int):
        raise ArticleFormatError(f"{slug}: published is true/false, version a whole number")
    audience = _strings(data, "audience", None) if "audience" in data else AUDIENCES
    try:
        return check(ArticleSource(
            slug=str(data.get("slug", slug)), title=title.strip(), summary=summary.strip(),
            body="".join(lines[end + 1:]).strip() + "\n",
            models=_strings(data, "models"), rule_ids=_strings(data, "rule_ids"),
            fault_codes=_strings(data, "fault_codes"), audience=audience,
            causes=_strings(data, "causes", None), published=published, version=version))
    except ArticleFormatError as err:
        raise ArticleFormatError(f"{slug}: {err}") from None


def _toml_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(_toml_string(i) for i in items) + "]"


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def dump(source: ArticleSource) -> str:
    """The file `parse` reads back as the same article."""
    return "\n".join([
        FENCE,
        f"title = {_toml_string(source.title)}",
        f"summary = {_toml_string(source.summary)}",
        f"models = {_toml_list(source.models)}",
        f"rule_ids = {_toml_list(source.rule_ids)}",
        f"fault_codes = {_toml_list(source.fault_codes)}",
        f"audience = {_toml_list(source.audience)}",
        f"causes = {_toml_list(source.causes)}",
        f"published = {'true' if source.published else 'false'}",
        f"version = {source.version}",
        FENCE, "", source.body.rstrip("\n"), ""])


STEP = re.compile(r"^\s*\d+[.)]\s+(.+?)\s*$")


def steps(body: str) -> list[str]:
    """The numbered steps of an article's Markdown (what a customer tried)."""
    return [m.group(1) for line in body.splitlines() if (m := STEP.match(line))]
