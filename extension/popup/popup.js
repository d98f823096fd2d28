/* The toolbar popup: this page's counts, the per-site switch, the server's state, and the user's own reports. */
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
    // Which mode is active: a reachable server, or standalone (no server configured, or none reachable).
    el.textContent = status.reachable ? I.t('popupServerOk', status.serverUrl)
      : status.serverUrl ? I.t('popupStandaloneDown', status.serverUrl) : I.t('popupStandalone');
    el.dataset.reachable = String(status.reachable);
    el.dataset.mode = status.mode || (status.reachable ? 'server' : 'standalone');
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
    $('count-refuted').textContent = String(stats.refuted);
    // The labels as the extension itself drew them, every frame included (the toolbar count is the same number): a
    // badge the page forged is not in this list.
    const shown = await M.request('get-tab-labels', { tabId: tab.id });
    $('count-labelled').textContent = String(shown.count);
    const list = $('items');
    list.replaceChildren();
    for (const label of shown.labels.slice(0, 50)) {
      const li = document.createElement('li');
      li.dataset.key = label.key;
      const name = label.url ? label.url.split('/').pop() || label.url : label.kind;
      const text = `${I.t('badge_' + label.key)}: ${name}${label.frameId ? ' (' + I.t('popupInFrame') + ')' : ''}`;
      if (label.url) {
        const a = document.createElement('a');
        const params = new URLSearchParams({ src: label.url, kind: label.kind, page: tab.url });
        a.href = api.runtime.getURL('report/report.html') + '?' + params.toString();
        a.target = '_blank';
        a.textContent = text;
        li.append(a);
      } else {
        li.textContent = text;
      }
      list.append(li);
    }
    $('items-section').hidden = shown.labels.length === 0;
  }

  /** The reports sent from this browser, with their status as the server says now (asked by receipt). */
  async function showReports() {
    const reports = await M.request('list-reports', {});
    const list = $('reports');
    list.replaceChildren();
    for (const r of reports) {
      const li = document.createElement('li');
      li.dataset.reportId = r.id;
      li.dataset.status = r.status || 'unknown';
      const a = document.createElement('a');
      const params = new URLSearchParams({ src: r.url, kind: M.KINDS.includes(r.kind) ? r.kind : 'image' });
      a.href = api.runtime.getURL('report/report.html') + '?' + params.toString();
      a.target = '_blank';
      a.textContent = (String(r.url).split('/').pop() || r.url).slice(0, 60);
      const known = ['open', 'refuted', 'synthetic', 'dismissed'].includes(r.status);
      const status = document.createElement('span');
      status.className = 'report-status ' + (known ? r.status : 'unknown');
      status.textContent = I.t(known ? 'status_' + r.status : 'status_unknown');
      const meta = document.createElement('small');
      meta.className = 'muted';
      meta.textContent = ` ${I.t('category_' + r.category) || ''} · ${String(r.time || '').slice(0, 10)}`;
      li.append(a, document.createTextNode(': '), status, meta);
      if (r.refutation && r.refutation.claim) {
        const claim = document.createElement('div');
        claim.className = 'muted';
        claim.textContent = `${r.refutation.rating || ''}: ${r.refutation.claim}`;
        li.append(claim);
      }
      list.append(li);
    }
    $('reports-section').hidden = reports.length === 0;
  }

  $('site-enabled').addEventListener('change', async (ev) => {
    await M.request('set-site-enabled', { site, enabled: ev.target.checked });
  });

  await Promise.all([showServer().catch(() => {}), showPage().catch(() => {}), showReports().catch(() => {})]);
  document.body.dataset.ready = 'true';
})();
