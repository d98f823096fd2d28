/* The toolbar popup: this page's counts, the per-site switch, and the server's state. */
(async function () {
  'use strict';
  const M = globalThis.VerifyMessages;
  const I = globalThis.VerityI18n;
  const api = M.extensionApi();
  const $ = (id) => document.getElementById(id);

  const { settings } = await M.request('get-settings', {});
  await I.loadFor(settings.language).catch(() => {});
  I.localize(document);

  const [tab] = await api.tabs.query({ active: true, currentWindow: true });
  let site = '';
  try {
    const u = new URL(tab && tab.url);
    if (u.protocol === 'http:' || u.protocol === 'https:') site = u.host;
  } catch (_) { /* not a web page */ }

  async function showServer() {
    const status = await M.request('get-server-status', {});
    const el = $('server');
    el.classList.toggle('down', !status.reachable);
    el.textContent = status.reachable ? I.t('popupServerOk', status.serverUrl) : I.t('popupServerDown', status.serverUrl);
    el.dataset.reachable = String(status.reachable);
  }

  async function showPage() {
    if (!site) {
      $('no-page').hidden = false;
      return;
    }
    $('site-row').hidden = false;
    $('site-label').textContent = I.t('popupSite', site);
    $('auto-off').hidden = settings.autoCheck;
    let stats = null;
    try {
      stats = await M.requestTab(tab.id, 'get-page-stats', {});
    } catch (_) {
      stats = null; // no content script (e.g. the page was open before the extension was installed)
    }
    const { sites } = await M.request('get-settings', {});
    $('site-enabled').checked = !(sites[site] && sites[site].enabled === false);
    if (!stats) return;
    $('counts').hidden = false;
    $('count-checked').textContent = String(stats.checked);
    $('count-labelled').textContent = String(stats.labelled);
    $('count-refuted').textContent = String(stats.refuted);
    const list = $('items');
    list.replaceChildren();
    for (const item of stats.items) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      const params = new URLSearchParams({ src: item.url, kind: item.kind, page: tab.url });
      a.href = api.runtime.getURL('report/report.html') + '?' + params.toString();
      a.target = '_blank';
      a.textContent = `${I.t('badge_' + (item.refuted ? 'refuted' : item.label))}: ${item.url.split('/').pop() || item.url}`;
      li.append(a);
      list.append(li);
    }
    $('items-section').hidden = stats.items.length === 0;
  }

  $('site-enabled').addEventListener('change', async (ev) => {
    await M.request('set-site-enabled', { site, enabled: ev.target.checked });
  });

  await Promise.all([showServer().catch(() => {}), showPage().catch(() => {})]);
  document.body.dataset.ready = 'true';
})();
