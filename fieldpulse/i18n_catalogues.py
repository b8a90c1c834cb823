"""The translation catalogues kept in step with the source: extract, update, check.

`fieldpulse i18n update` extracts every marked message (babel.cfg: Python `_()`/`N_()`,
templates `_()`/`{% trans %}`, page scripts `t()`/`nt()`) and merges them into each
`foundations/locale/<locale>/LC_MESSAGES/messages.po` (new ones empty, gone ones
dropped); translators fill in `msgstr`. `fieldpulse i18n check` (and
tests/portal/test_translations.py) lists what is untranslated or fuzzy. Same as
`pybabel extract -F babel.cfg -k t -k nt:1,2 -o messages.pot . && pybabel update
-i messages.pot -d foundations/locale`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from foundations import i18n

ROOT = Path(__file__).resolve().parent.parent
# The scripts' helpers (portal/static/i18n.js), beside gettext's usual names.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None,
            "t": None, "nt": (1, 2)}


def extract(root: Path = ROOT) -> Catalog:
    """Every marked message of the source, with where it is used."""
    with (root / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)  # type: ignore[no-untyped-call]
    template = Catalog(project="FieldPulse", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            str(root), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True):
        template.add(message, None, [(filename, lineno)], auto_comments=comments,
                     context=context)
    return template


def catalogue_path(locale: str) -> Path:
    return i18n.LOCALE_DIR / locale / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


def read(locale: str) -> Catalog:
    with catalogue_path(locale).open("rb") as f:
        return read_po(f, locale=locale)


def update(root: Path = ROOT) -> list[str]:
    """Merge the extracted messages into every catalogue; returns the locales updated."""
    template = extract(root)
    done = []
    for locale in i18n.available():
        if locale == i18n.DEFAULT:
            continue
        catalog = read(locale)
        catalog.update(template, no_fuzzy_matching=True)
        with catalogue_path(locale).open("wb") as f:
            write_po(f, catalog, width=100, omit_header=False, ignore_obsolete=True)
        done.append(locale)
    return done


def problems(root: Path = ROOT) -> list[str]:
    """What a catalogue lacks: a message used in the source but missing, untranslated
    or fuzzy (a fuzzy guess is not shown to anyone)."""
    template = extract(root)
    found = []
    for locale in i18n.available():
        if locale == i18n.DEFAULT:
            continue
        catalog = read(locale)
        for message in template:
            if not message.id:
                continue
            have = catalog.get(message.id, message.context)
            where = ", ".join(f"{f}:{n}" for f, n in message.locations[:2])
            key = message.id if isinstance(message.id, str) else message.id[0]
            strings = [] if have is None or not have.string else (
                [have.string] if isinstance(have.string, str) else list(have.string))
            if have is None:
                found.append(f"{locale}: missing {key!r} ({where})")
            elif have.fuzzy:
                found.append(f"{locale}: fuzzy {key!r} ({where})")
            elif not strings or not all(strings):
                found.append(f"{locale}: untranslated {key!r} ({where})")
    return found


app = typer.Typer(no_args_is_help=True, help="Translations: keep the catalogues in step.")


@app.command("update")
def update_command() -> None:
    """Extract the marked messages and merge them into every catalogue."""
    for locale in update():
        typer.echo(f"updated {catalogue_path(locale)}")


@app.command("check")
def check_command() -> None:
    """List every message a catalogue lacks; exit 1 if there is one."""
    found = problems()
    for line in found:
        typer.echo(line)
    raise typer.Exit(1 if found else 0)
