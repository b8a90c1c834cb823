// The page's language for its scripts (portal/i18n.py puts the catalogue in the page):
// t("Text with {name}", {name}) and nt("One job", "{n} jobs", n). Messages are found by
// `pybabel extract` (keywords t and nt:1,2), so pass them literal strings.
"use strict";
(() => {
  const node = document.getElementById("i18n-messages");
  const data = node ? JSON.parse(node.textContent) : {};
  const lang = data.lang || "en", messages = data.messages || {};
  const plural = data.plural || ["one", "other"];
  const fill = (text, vars) => (vars
    ? text.replace(/\{(\w+)\}/g, (whole, key) => (key in vars ? String(vars[key]) : whole))
    : text);
  const rules = new Intl.PluralRules(lang);
  window.t = (message, vars) => fill(typeof messages[message] === "string"
    ? messages[message] : message, vars);
  window.nt = (one, many, n, vars) => {
    const forms = messages[one], all = { n, ...vars };
    if (!Array.isArray(forms)) return fill(n === 1 ? one : many, all);
    // The catalogue's forms are in CLDR order (zero, one, two, few, many, other).
    const index = plural.indexOf(rules.select(n));
    return fill(forms[index >= 0 ? index : forms.length - 1], all);
  };
  // Dates and times in scripts: the page's language and the site's time zone.
  window.i18nLang = lang;
  window.i18nTimeZone = data.tz || undefined;
})();
