"""Every user-facing text is marked for translation, and every catalogue translates it.

The catalogues are checked against a fresh extraction (Babel, with babel.cfg: the
Python of asset_registry/service/portal, the templates, the page scripts). What counts
as unmarked text (the rules; portal/README.md, "Languages"):

Templates (portal/templates/*.html), independent of any rendering:
  1. `{% trans %}…{% endtrans %}`, `{# … #}`, `<script>`/`<style>`/`<code>` bodies and the
     `body_class` block (CSS classes) are dropped;
  2. the attributes people read (title, placeholder, aria-label, alt) with letters left
     once `{{ … }}` is removed are unmarked;
  3. inside `{{ … }}` and `{% … %}`, a string literal that reads as prose (two words, or
     a capitalised word) and is not the argument of `_()`/`gettext()`/`ngettext()` is
     unmarked;
  4. with every `{{ … }}`, `{% … %}` and tag removed, any word left is unmarked
     (except the product's name).
Page scripts (portal/static/*.js; a small scanner of strings, template literals nested
or not, comments and regular expressions):
  a string or template literal that reads as prose (two words of letters separated by
  whitespace, once `${…}` and HTML tags are removed; "use strict" aside), or that holds
  HTML with a title/placeholder/aria-label/alt with letters, is unmarked unless it is an argument
  of `t()`/`nt()`, of `console.*()`/`Error()` (developers' text, never shown as such), or
  of `querySelector()`/`querySelectorAll()`/`closest()`/`matches()`/`$()` (CSS selectors).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fieldpulse.i18n_catalogues import ROOT, problems
from foundations import i18n

TEMPLATES = sorted((ROOT / "portal" / "templates").glob("*.html"))
SCRIPTS = sorted((ROOT / "portal" / "static").glob("*.js"))
NAMES = {"FieldPulse"}  # proper names, the same in every language
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
PROSE = re.compile(r"[^\W\d_]{2,}\s+[^\W\d_]{2,}")
CAPITALISED = re.compile(r"^[A-Z][a-z]+")
MARKERS = ("_", "gettext", "ngettext")
SELECTOR_CALLS = ("querySelector", "querySelectorAll", "closest", "matches", "$")


def test_every_catalogue_translates_every_message() -> None:
    assert set(i18n.available()) >= {"en", "de", "zh_CN"}
    assert problems() == []


def _literals(code: str) -> list[tuple[str, bool]]:
    """Each string literal of a Jinja expression, and whether a marker call takes it."""
    found = []
    for match in re.finditer(r"""(?P<q>['"])(?P<text>(?:\\.|(?!(?P=q)).)*)(?P=q)""", code):
        before = code[:match.start()].rstrip()
        marked = any(re.search(rf"(?<![\w.]){m}\($", before) for m in MARKERS)
        found.append((match.group("text"), marked))
    return found


def unmarked_in_template(source: str) -> list[str]:
    text = re.sub(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", " ", source, flags=re.S)
    text = re.sub(r"{#.*?#}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style|code)\b[^>]*>.*?</\1>", " ", text, flags=re.S | re.I)
    # The page's CSS classes (the body's class attribute), not text.
    text = re.sub(r"{%\s*block body_class\s*%}.*?{%\s*endblock\s*%}", " ", text, flags=re.S)
    found = []
    for code in re.findall(r"{{(.*?)}}|{%(.*?)%}", text, flags=re.S):
        for literal, marked in _literals("".join(code)):
            if not marked and (PROSE.search(literal) or CAPITALISED.match(literal)):
                found.append(literal)
    for attribute in READ_ATTRIBUTES:
        for value in re.findall(rf'\s{attribute}="([^"]*)"', text):
            rest = re.sub(r"{{.*?}}|{%.*?%}", "", value)
            if re.search(r"[^\W\d_]", rest):
                found.append(f'{attribute}="{value}"')
    plain = re.sub(r"{{.*?}}|{%.*?%}", " ", text, flags=re.S)
    plain = re.sub(r"<[^>]*>", " ", plain)
    plain = re.sub(r"&\w+;|&#\d+;", " ", plain)
    found += [word for word in plain.split()
              if re.search(r"[^\W\d_]", word) and word.strip(".,:;()") not in NAMES]
    return found


def _script_literals(source: str) -> list[tuple[int, str, bool]]:
    """Each string and template literal of a script (template literals nested in `${…}`
    included, which Babel's lexer cannot follow): its line, its text with `${…}` blanked,
    and whether the call it is an argument of is exempt."""
    found: list[tuple[int, str, bool]] = []
    calls: list[bool] = []  # per open parenthesis: whether its call is exempt
    k, n = 0, len(source)

    def line(at: int) -> int:
        return source.count("\n", 0, at) + 1

    def call_name(at: int) -> str:  # `name(`, `a.name(`, `a?.name?.(`
        match = re.search(r"([\w$.]*?)(?:\?\.)?\s*$", source[:at].replace("?.", "."))
        return match.group(1).rstrip(".") if match else ""

    def template(at: int) -> int:  # at: just after the opening backtick; returns the end
        begin, text, j = at, [], at
        while j < n and source[j] != "`":
            if source[j] == "\\":
                text.append(source[j:j + 2])
                j += 2
            elif source.startswith("${", j):
                text.append(" ")
                j = code(j + 2, "}")
            else:
                text.append(source[j])
                j += 1
        found.append((line(begin), "".join(text), bool(calls) and calls[-1]))
        return j + 1

    def code(at: int, until: str) -> int:  # scans code up to `until` (or the end)
        nonlocal calls
        j, depth = at, 0
        while j < n:
            c = source[j]
            if source.startswith("//", j):
                j = source.find("\n", j) if "\n" in source[j:] else n
            elif source.startswith("/*", j):
                j = source.find("*/", j) + 2
            elif c in "'\"":
                end = j + 1
                while source[end] != c:
                    end += 2 if source[end] == "\\" else 1
                found.append((line(j), source[j + 1:end], bool(calls) and calls[-1]))
                j = end + 1
            elif c == "`":
                j = template(j + 1)
            elif c == "/" and re.search(r"(^|[(,=:\[!&|?{};]|return)\s*$", source[:j]):
                end = j + 1  # a regular expression literal
                while source[end] != "/" or source[end - 1] == "\\":
                    end += 1
                j = end + 1
            elif c == "(":
                name = call_name(j)
                last = name.rsplit(".", 1)[-1]
                exempt = last in ("t", "nt", "Error", *SELECTOR_CALLS) or name.startswith(
                    "console.")
                calls.append(exempt or (bool(calls) and calls[-1] and last == ""))
                j += 1
            elif c == ")":
                if calls:
                    calls.pop()
                j += 1
            elif c == "{":
                depth += 1
                j += 1
            elif c == "}":
                if depth == 0 and until == "}":
                    return j + 1
                depth -= 1
                j += 1
            else:
                j += 1
        return j

    while k < n:
        k = code(k, "")
    return found


def unmarked_in_script(source: str) -> list[str]:
    found = []
    for lineno, value, exempt in _script_literals(source):
        if value == "use strict" or exempt:
            continue
        # HTML built in a script: the attributes people read, and the text between tags.
        attributes = re.findall(rf'(?:{"|".join(READ_ATTRIBUTES)})="([^"]*)"', value)
        text = re.sub(r"<[^>]*>?|^[^<]*>", " ", value)
        if any(re.search(r"[^\W\d_]", a) for a in attributes) or PROSE.search(text):
            found.append(f"line {lineno}: {value[:80]}")
    return found


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_text_of_a_template_is_marked(path: Path) -> None:
    assert unmarked_in_template(path.read_text()) == []


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_every_text_of_a_page_script_is_marked(path: Path) -> None:
    assert unmarked_in_script(path.read_text()) == []


def test_the_rules_find_unmarked_text() -> None:
    """The checks above would catch what they are meant to."""
    assert unmarked_in_template('<p>Hello {{ _("World") }}</p>') == ["Hello"]
    assert unmarked_in_template('<b title="Open it">{{ _("x") }}</b>') == ['title="Open it"']
    assert unmarked_in_template("{{ 'Closed' if a else _('Open') }}") == ["Closed"]
    assert unmarked_in_template("{% trans %}All of this{% endtrans %}<b>{{ n }}</b>") == []
    assert unmarked_in_script('el.textContent = "Not saved";') == ["line 1: Not saved"]
    assert unmarked_in_script('el.textContent = t("Not saved", { n: f("a b") });') == []
    assert unmarked_in_script("x = `${n} jobs waiting`;") == ["line 1:   jobs waiting"]
    assert unmarked_in_script("x = `<td>${a ? `<b>${t('Yes')}</b>` : 'no way'}</td>`;") == [
        "line 1: no way"]
    assert unmarked_in_script('console.warn("offline pages unavailable:", e);') == []
    assert unmarked_in_script('x = `<div class="a b">${n}</div>`;') == []
    assert unmarked_in_script('x = `<b title="Pinned by you">${n}</b>`;') != []


def test_locale_negotiation_and_formats() -> None:
    assert i18n.negotiate(accept="zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN"
    assert i18n.negotiate(accept="fr-FR, de-AT;q=0.7") == "de"
    assert i18n.negotiate(None, "", accept="fr") == "en"
    assert i18n.negotiate("de", accept="zh-CN") == "de"  # an explicit choice first
    assert i18n.plural_tags("de") == ["one", "other"] and i18n.plural_tags("zh_CN") == ["other"]
    assert i18n.translations("de").ngettext(
        "{n} change waiting for signal — sent automatically",
        "{n} changes waiting for signal — sent automatically", 2).startswith("{n} Änderungen")
