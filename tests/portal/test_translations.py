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
Page scripts (portal/static/*.js, Babel's JavaScript lexer):
  a string or template literal that reads as prose (two words of letters separated by
  whitespace, once `${…}` and HTML tags are removed; "use strict" aside), or that holds
  HTML with a title/placeholder/aria-label/alt with letters, is unmarked unless it is an argument
  of `t()`/`nt()`, of `console.*()`/`Error()` (developers' text, never shown as such), or
  of `querySelector()`/`querySelectorAll()`/`closest()`/`matches()` (CSS selectors).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.jslexer import tokenize, unquote_string

from fieldpulse.i18n_catalogues import ROOT, problems
from foundations import i18n

TEMPLATES = sorted((ROOT / "portal" / "templates").glob("*.html"))
SCRIPTS = sorted((ROOT / "portal" / "static").glob("*.js"))
NAMES = {"FieldPulse"}  # proper names, the same in every language
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
PROSE = re.compile(r"[^\W\d_]{2,}\s+[^\W\d_]{2,}")
CAPITALISED = re.compile(r"^[A-Z][a-z]+")
MARKERS = ("_", "gettext", "ngettext")
SELECTOR_CALLS = ("querySelector", "querySelectorAll", "closest", "matches")


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


def unmarked_in_script(source: str) -> list[str]:
    found = []
    tokens = [t for t in tokenize(source, jsx=False, dotted=True, template_string=True)
              if t.type not in ("linecomment", "multilinecomment")]
    calls: list[bool] = []  # per open parenthesis: whether its call is exempt
    for k, token in enumerate(tokens):
        previous = tokens[k - 1].value if k else ""
        if token.type == "operator" and token.value == "(":
            name = previous.rsplit(".", 1)[-1]
            exempt = name in ("t", "nt", "Error", *SELECTOR_CALLS) or previous.startswith(
                "console.")
            calls.append(exempt or (bool(calls) and calls[-1] and name == ""))
        elif token.type == "operator" and token.value == ")" and calls:
            calls.pop()
        elif token.type in ("string", "template_string"):
            if token.type == "string":
                value = unquote_string(token.value)
            else:
                value = re.sub(r"\$\{[^}]*\}", " ", token.value[1:-1])
            if value == "use strict" or (calls and calls[-1]):
                continue
            # HTML built in a script: the attributes people read, and the text between tags.
            attributes = re.findall(rf'(?:{"|".join(READ_ATTRIBUTES)})="([^"]*)"', value)
            text = re.sub(r"<[^>]*>?|^[^<]*>", " ", value)
            if any(re.search(r"[^\W\d_]", a) for a in attributes) or PROSE.search(text):
                found.append(f"line {token.lineno}: {token.value[:80]}")
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
    assert unmarked_in_script('el.textContent = "Not saved";') == ['line 1: "Not saved"']
    assert unmarked_in_script('el.textContent = t("Not saved", { n: f("a b") });') == []
    assert unmarked_in_script("x = `${n} jobs waiting`;") == ["line 1: `${n} jobs waiting`"]
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
