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
  /** What the server field means as typed: empty is standalone mode (the declared checks, in this browser only). */
  function showServerMode() {
    const standalone = $('serverUrl').value.trim() === '';
    $('serverMode').textContent = I.t(standalone ? 'optServerStandalone' : 'optServerWithServer');
    $('serverMode').dataset.mode = standalone ? 'standalone' : 'server';
  }
  showServerMode();
  $('serverUrl').addEventListener('input', showServerMode);
  // The client key lives in storage.local (this device only); the API client reads it from there (api-client.js).
  const ext = M.extensionApi();
  $('apiKey').value = (await ext.storage.local.get({ apiKey: '' })).apiKey || '';

  /**
   * Ask the server (through the service worker) whether it is reachable and whether the key works. Only the newest
   * question may write the line: the check at page load (the stored server) can answer after a save asked about
   * another one, and a state left from an earlier answer must not stand for the new one while it is pending.
   */
  let keyStatusAsked = 0;
  async function showKeyStatus() {
    const asked = ++keyStatusAsked;
    const line = $('keyStatus');
    line.className = 'pending';
    line.dataset.state = 'pending';
    if ($('serverUrl').value.trim() === '') {
      line.className = '';
      line.textContent = I.t('optKeyStandalone');
      line.dataset.state = 'standalone';
      return;
    }
    let status;
    try {
      status = await M.request('get-server-status', {});
    } catch (err) {
      status = { reachable: false, problem: err.problem || { title: String(err) } };
    }
    if (asked !== keyStatusAsked) return;
    const key = status.key;
    if (!status.reachable) {
      line.className = 'error';
      line.textContent = I.t('optKeyUnreachable', (status.problem && (status.problem.detail || status.problem.title)) || '');
    } else if (key && key.ok && key.name) {
      line.className = 'ok';
      line.textContent = I.t('optKeyWorks', key.name);
    } else if (key && key.ok) {
      line.className = key.required ? 'error' : 'ok';
      line.textContent = I.t(key.required ? 'optKeyNeeded' : 'optKeyNotNeeded');
    } else {
      line.className = 'error';
      line.textContent = I.t('optKeyRefused', (key && key.problem && (key.problem.detail || key.problem.title)) || '');
    }
    line.dataset.state = line.className;
  }
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
    keyStatusAsked += 1;  // what the line says is about the settings being saved now, from here on
    $('keyStatus').className = 'pending';
    $('keyStatus').dataset.state = 'pending';
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
      await ext.storage.local.set({ apiKey: $('apiKey').value.trim() });
      status.className = '';
      status.textContent = I.t('optSaved');
      await showKeyStatus();
    } catch (err) {
      status.className = 'error';
      status.textContent = I.t('optInvalid', (err.problem && err.problem.detail) || String(err));
    }
  });
  document.body.dataset.ready = 'true';
  showKeyStatus();
})();
