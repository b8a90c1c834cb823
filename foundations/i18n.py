"""Languages: which one a person reads, its translations, and its dates and numbers.

Pure (no I/O but reading the catalogues once): every layer that writes words for
people (the portal's pages, the e-mails of `service`) uses it, so it sits in the
lowest layer. Catalogues are gettext `.po` files in `foundations/locale/<locale>/
LC_MESSAGES/messages.po`, compiled in memory on first use (no build step, nothing
to forget on a fresh machine). A language is available when its directory is
there: adding one needs no code change (portal/README.md, "Adding a language").
Source strings are English, so English needs no catalogue and is the fallback.

Locale names: directories use Babel's form (`de`, `zh_CN`); pages and headers
use BCP 47 tags (`de`, `zh-CN`). `tag()` and `normalise()` convert.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).with_name("locale")
DEFAULT = "en"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks a constant for extraction (`pybabel extract` finds `N_`); it is
    translated where it is shown, in the reader's language."""
    return message


@cache
def available() -> tuple[str, ...]:
    """The locales people can choose: English and every catalogue on disk."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (DEFAULT, *[name for name in found if name != DEFAULT])


def tag(locale: str) -> str:
    """`zh_CN` -> `zh-CN` (the `lang` attribute, cookies, `?lang=`)."""
    return locale.replace("_", "-")


def normalise(value: str | None) -> str | None:
    """An available locale for a tag someone gave (`zh-cn`, `de-AT`, `zh`), or None.
    An exact match first, then the same language (`de-AT` reads `de`)."""
    if not value:
        return None
    wanted = value.strip().replace("-", "_").lower()
    by_lower = {name.lower(): name for name in available()}
    if wanted in by_lower:
        return by_lower[wanted]
    language = wanted.split("_", 1)[0]
    for name in available():
        if name.lower().split("_", 1)[0] == language:
            return name
    return None


def accept_language(header: str | None) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (q=0 left out)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        name, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if name and name != "*" and quality > 0:
            ranked.append((-quality, position, name))
    return [name for _, _, name in sorted(ranked)]


def negotiate(*choices: str | None, accept: str | None = None) -> str:
    """The first of `choices` (an explicit pick, the account's or customer's language)
    that is available, else the best of the browser's Accept-Language, else English."""
    for choice in (*choices, *accept_language(accept)):
        found = normalise(choice)
        if found:
            return found
    return DEFAULT


@cache
def _catalogue(locale: str) -> tuple[gettext.NullTranslations, dict[str, str | list[str]]]:
    """The locale's translations, and the messages its page scripts use (by msgid)."""
    path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if locale == DEFAULT or not path.exists():
        return gettext.NullTranslations(), {}
    with path.open("rb") as f:
        catalog = read_po(f, locale=locale)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    scripts: dict[str, str | list[str]] = {}
    for message in catalog:
        if not message.id or message.fuzzy or not message.string:
            continue
        if any(file.endswith(".js") for file, _ in message.locations):
            key = message.id if isinstance(message.id, str) else message.id[0]
            value = message.string
            scripts[key] = value if isinstance(value, str) else list(value)
    return gettext.GNUTranslations(compiled), scripts


def translations(locale: str) -> gettext.NullTranslations:
    return _catalogue(locale)[0]


def script_messages(locale: str) -> dict[str, str | list[str]]:
    """What the pages' `t()`/`nt()` look up: msgid -> translation (plurals: the forms)."""
    return _catalogue(locale)[1]


def plural_tags(locale: str) -> list[str]:
    """The CLDR plural categories in the order of the catalogue's plural forms, so a
    script picks form `tags.indexOf(new Intl.PluralRules(lang).select(n))`."""
    rule = _babel(locale).plural_form
    order = ("zero", "one", "two", "few", "many")
    return [name for name in order if name in rule.tags] + ["other"]


@cache
def _babel(locale: str) -> Locale:
    try:
        return Locale.parse(locale)
    except (ValueError, UnknownLocaleError):
        return Locale.parse(DEFAULT)


@dataclass(frozen=True, slots=True)
class Formats:
    """Dates, times and numbers as people of one locale read them, in one time zone."""

    locale: str
    tz: ZoneInfo | None = None

    def _at(self, ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, self.tz)

    def clock(self, ms: int | None) -> str:
        """Weekday and time (`Tue 14:30`, `Di. 14:30`, `周二 14:30`)."""
        if not ms:
            return "—"
        return babel_dates.format_datetime(self._at(ms), "EEE HH:mm", locale=_babel(self.locale))

    def time(self, ms: int) -> str:
        return babel_dates.format_time(self._at(ms), "HH:mm", locale=_babel(self.locale))

    def datetime(self, ms: int | None) -> str:
        """A full date and time (the audit log)."""
        if not ms:
            return "—"
        return babel_dates.format_datetime(self._at(ms), "yyyy-MM-dd HH:mm:ss",
                                           locale=_babel(self.locale))

    def long(self, ms: int) -> str:
        """Weekday, date, time and the zone's abbreviation, for e-mails: the reader
        may be elsewhere (`Tue, 3 Mar 2026, 14:30 CET`)."""
        locale, at = _babel(self.locale), self._at(ms)
        day = babel_dates.format_skeleton("yMMMEd", at, locale=locale)
        joined = str(locale.datetime_formats["medium"])  # "{1}, {0}" / "{1} {0}": date, time
        return f"{joined.format(self.time(ms), day)} {self.zone(ms)}"

    def zone(self, ms: int | None = None) -> str:
        """The time zone's abbreviation at that moment (`CET`, `CEST`), else its name."""
        if self.tz is None:
            return ""
        at = datetime.fromtimestamp(ms / 1000, self.tz) if ms else datetime.now(self.tz)
        return at.tzname() or str(self.tz)

    def number(self, value: float, digits: int = 1) -> str:
        return babel_numbers.format_decimal(value, format=f"#,##0.{'0' * digits}",
                                            locale=_babel(self.locale))

    def money(self, value: float, currency: str = "EUR") -> str:
        return babel_numbers.format_currency(value, currency, locale=_babel(self.locale))
