/* Options page (an extension page: the only place, with the popup, where settings can change). */
(async function () {
  'use strict';
  const M = globalThis.VerifyMessages;
  const I = globalThis.VerityI18n;
  const $ = (id) => document.getElementById(id);

  const { settings } = await M.request('get-settings', {});
  await I.loadFor(settings.language).catch(() => {});
  I.localize(document);

  $('serverUrl').value = settings.serverUrl;
  $('autoCheck').checked = settings.autoCheck;
  $('fullSourceUrls').checked = settings.fullSourceUrls === true;
  $('language').value = settings.language;
  for (const label of M.SHOWABLE) {
    const row = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = label;
    box.checked = settings.showLabels.includes(label);
    const text = document.createElement('span');
    text.textContent = `${I.t('badge_' + label)} \u2014 ${I.t('label_' + label)}`;
    row.append(box, text);
    $('labels').append(row);
  }

  $('form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const patch = {
      serverUrl: $('serverUrl').value.trim().replace(/\/+$/, ''),
      autoCheck: $('autoCheck').checked,
      fullSourceUrls: $('fullSourceUrls').checked,
      showLabels: Array.from($('labels').querySelectorAll('input:checked'), (b) => b.value),
      language: $('language').value,
    };
    const status = $('status');
    try {
      await M.request('set-settings', { settings: patch });
      status.className = '';
      status.textContent = I.t('optSaved');
    } catch (err) {
      status.className = 'error';
      status.textContent = I.t('optInvalid', (err.problem && err.problem.detail) || String(err));
    }
  });
  document.body.dataset.ready = 'true';
})();
