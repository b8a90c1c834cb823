"""The language of a page: who reads it, and what its templates and scripts translate with.

Which language (first that is available wins): `?lang=` (the page's language switch,
remembered in a cookie), a signed-in user's account language, that cookie, the
customer record's language (QR pages), the browser's Accept-Language, English.

Templates mark text with `{{ _("…") }}` or `{% trans %}…{% endtrans %}` (plurals:
`{% trans count=n %}…{% pluralize %}…{% endtrans %}`); Python marks constants with
`N_("…")` and translates them where they are shown with `_()` from `gettext_for`.
Page scripts call `t("…", {name})` and `nt("one", "many", n)` (`static/i18n.js`),
fed from the JSON this module puts in every page (`i18n_json`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from fastapi import Request
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.responses import Response

from foundations import i18n
from foundations.i18n import N_ as N_
from foundations.i18n import Formats
from portal.auth.accounts import Principal

COOKIE = "lang"
_YEAR_S = 365 * 24 * 3600


def _query_choice(request: Request) -> str | None:
    return i18n.normalise(request.query_params.get("lang"))


def page_locale(request: Request, principal: Principal | None,
                record: str | None = None) -> str:
    account = principal.language if principal is not None else None
    return i18n.negotiate(_query_choice(request), account, request.cookies.get(COOKIE), record,
                          accept=request.headers.get("accept-language"))


def remember_choice(request: Request, response: Response) -> None:
    """A language picked with the switch (`?lang=`) stays for the next pages."""
    chosen = _query_choice(request)
    if chosen is not None:
        response.set_cookie(COOKIE, i18n.tag(chosen), max_age=_YEAR_S, samesite="lax",
                            secure=request.url.scheme == "https")


def gettext_for(locale: str) -> Callable[[str], str]:
    return i18n.translations(locale).gettext


def _template_callables(locale: str) -> dict[str, Any]:
    """gettext/ngettext as Jinja's newstyle i18n calls them: translated, then
    `%(name)s` filled in (escaped when autoescaping)."""
    tr = i18n.translations(locale)

    @pass_context
    def gettext(ctx: Context, message: str, **variables: Any) -> str:
        text: str = tr.gettext(message)
        if ctx.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    @pass_context
    def ngettext(ctx: Context, singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        text: str = tr.ngettext(singular, plural, num)
        if ctx.eval_ctx.autoescape:
            text = Markup(text)
        return text % variables

    return {"gettext": gettext, "_": gettext, "ngettext": ngettext}


def languages() -> list[tuple[str, str]]:
    """Every available language as (tag, its name in itself: "中文", "Deutsch"), for the
    switch; two of one language (zh_CN, zh_TW) are told apart by their full names."""
    names = i18n.available()
    result = []
    for name in names:
        locale = Locale.parse(name)
        twins = sum(1 for other in names if other.split("_")[0] == name.split("_")[0]) > 1
        own = locale.get_display_name(name) if twins else locale.get_language_name(name)
        result.append((i18n.tag(name), own or name))
    return result


def page_context(locale: str, tz: Any = None) -> dict[str, Any]:
    """What every page's template gets: the language, gettext, and the scripts' catalogue."""
    zone = tz if isinstance(tz, ZoneInfo) else None
    data = {"lang": i18n.tag(locale), "plural": i18n.plural_tags(locale),
            "tz": str(zone) if zone else None, "messages": i18n.script_messages(locale)}
    # In a <script type="application/json">: "<" escaped so no text can close the element.
    blob = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return {**_template_callables(locale), "locale": locale, "lang": i18n.tag(locale),
            "languages": languages(), "i18n_json": Markup(blob),
            "formats": Formats(locale, zone),
            "zone_name": Formats(locale, zone).zone() if zone else ""}
