/*
 * Text for every surface. By default chrome.i18n (the browser language, _locales/en and _locales/zh_CN); when the
 * user picked a language in the options, that locale's messages.json table is used instead (chrome.i18n cannot switch
 * language at run time). Defines globalThis.VerityI18n once.
 */
(function (root) {
  'use strict';
  if (root.VerityI18n) return;
  let table = null;
  let tableLang = null;

  function api() {
    return root.browser && root.browser.i18n ? root.browser : root.chrome;
  }

  /** Use a messages.json table (or null for the browser language). */
  function setTable(messages, lang) {
    table = messages && typeof messages === 'object' ? messages : null;
    tableLang = table ? lang : null;
  }

  function fromTable(key, subs) {
    const entry = table[key];
    if (!entry || typeof entry.message !== 'string') return '';
    const values = Array.isArray(subs) ? subs : subs === undefined ? [] : [subs];
    const named = entry.placeholders || {};
    return entry.message.replace(/\$([A-Za-z0-9_]+)\$/g, (m, name) => {
      const ph = named[name.toLowerCase()];
      if (!ph) return m;
      return String(ph.content).replace(/\$(\d)/g, (_, d) => String(values[Number(d) - 1] ?? ''));
    });
  }

  /** The message for `key`, with $1.. substitutions; the key itself when missing (visible, never blank). */
  function t(key, subs) {
    let s = '';
    if (table) s = fromTable(key, subs);
    if (!s && api() && api().i18n) s = api().i18n.getMessage(key, subs === undefined ? undefined : [].concat(subs).map(String));
    return s || key;
  }

  /** BCP 47 tag of the language in use, for <html lang>. */
  function lang() {
    const l = tableLang || (api() && api().i18n ? api().i18n.getUILanguage() : 'en');
    return String(l).replace('_', '-');
  }

  /** Extension pages: load the override table for the user's language setting ("auto" = browser language). */
  async function loadFor(language) {
    if (!language || language === 'auto') {
      setTable(null);
      return;
    }
    const response = await fetch(api().runtime.getURL(`_locales/${language}/messages.json`));
    setTable(await response.json(), language);
  }

  /** Fill every [data-i18n] element's textContent (and [data-i18n-title] titles) on an extension page. */
  function localize(doc) {
    for (const el of doc.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of doc.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
    doc.documentElement.lang = lang();
  }

  /** Whether the server's English text can be shown as is (the API answers in English). */
  function english() {
    return /^en\b/i.test(lang());
  }

  function known(key) {
    const s = t(key);
    return s !== key ? s : null;
  }

  /**
   * A verdict reason ({check, signal, text}) in the user's language. The server writes reasons in English; their
   * `check` and `signal` are codes, so other languages render those (the English text stays available as the
   * original). Unknown codes fall back to the server's text.
   */
  function reason(r) {
    if (english()) return String(r.text || '');
    const check = known('check_' + r.check);
    const signal = known('signal_' + r.signal);
    return check && signal ? `${check}: ${signal}` : String(r.text || '');
  }

  /** A check's name in the user's language (its code when unknown). */
  function checkName(code) {
    return known('check_' + code) || String(code);
  }

  root.VerityI18n = Object.freeze({ t, setTable, loadFor, localize, lang, english, reason, checkName });
})(globalThis);
