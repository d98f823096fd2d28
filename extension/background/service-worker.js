/*
 * Service worker (Chromium) / background script (Firefox): the extension's only door to the Verity API.
 * Every listener is registered synchronously at the top level; messages are dispatched through one handler table
 * keyed by type, after VerifyMessages.validate() has checked them against the sender's trust tier.
 */
import '../shared/messages.js';
import { ApiProblem, createApiClient } from './api-client.js';

const M = globalThis.VerifyMessages;
const api = M.extensionApi();
const EXT_ORIGIN = api.runtime.getURL('');
const MENU_ID = 'verity-verify';

let settings = { ...M.DEFAULT_SETTINGS };
let sites = {}; // host -> {enabled: false} (storage.sync)
let collapsed = {}; // host -> true (storage.local: UI state, written for the sender's own site only)

const ready = (async () => {
  const [sync, local] = await Promise.all([
    api.storage.sync.get({ settings: {}, sites: {} }),
    api.storage.local.get({ collapsed: {} }),
  ]);
  settings = { ...M.DEFAULT_SETTINGS, ...sanitizeSettings(sync.settings) };
  sites = sync.sites && typeof sync.sites === 'object' ? sync.sites : {};
  collapsed = local.collapsed && typeof local.collapsed === 'object' ? local.collapsed : {};
})();

const client = createApiClient({ getServerUrl: () => settings.serverUrl });

function sanitizeSettings(stored) {
  // Stored values are re-validated: sync storage can hold values written by an older version.
  const out = {};
  for (const [key, value] of Object.entries(stored || {})) {
    if (M.validateSettingsPatch({ [key]: value }) === null) out[key] = value;
  }
  return out;
}

/** "extension" only for the extension's own pages; content scripts (any sender.tab on a web page) are "content". */
function tierOf(sender) {
  const fromUs = sender && sender.id === api.runtime.id;
  return fromUs && typeof sender.url === 'string' && sender.url.startsWith(EXT_ORIGIN) ? 'extension' : 'content';
}

function siteOf(url) {
  try {
    return new URL(url).host.toLowerCase();
  } catch (_) {
    return '';
  }
}

function senderPage(sender) {
  return (sender.tab && sender.tab.url) || sender.url || '';
}

function siteEnabled(site) {
  return !(sites[site] && sites[site].enabled === false);
}

async function localeTable(language) {
  if (!language || language === 'auto') return null;
  const response = await fetch(api.runtime.getURL(`_locales/${language}/messages.json`));
  return response.json();
}

function openReport(url, kind, pageUrl) {
  const params = new URLSearchParams({ src: url, kind: kind || 'image' });
  if (pageUrl && M.isHttpUrl(pageUrl)) params.set('page', pageUrl);
  return api.tabs.create({ url: api.runtime.getURL('report/report.html') + '?' + params.toString() });
}

const HANDLERS = {
  async 'get-config'(payload, sender) {
    const site = siteOf(senderPage(sender));
    return {
      site,
      autoCheck: settings.autoCheck,
      siteEnabled: siteEnabled(site),
      collapsed: collapsed[site] === true,
      showLabels: settings.showLabels,
      language: settings.language,
      strings: await localeTable(settings.language),
    };
  },

  async 'check-media'({ url }, sender) {
    const page = senderPage(sender);
    if (!settings.autoCheck || !siteEnabled(siteOf(page))) {
      throw new ApiProblem({ type: 'checking-off', title: 'Automatic checking is off for this site' });
    }
    return client.check(url, { pageUrl: M.isHttpUrl(page) ? page : null });
  },

  async 'open-report'({ url, kind }, sender) {
    await openReport(url, kind, senderPage(sender));
    return null;
  },

  async 'set-collapsed'({ collapsed: value }, sender) {
    const site = siteOf(senderPage(sender));
    if (!site) throw new ApiProblem({ type: 'invalid-sender', title: 'No site' });
    if (value) collapsed[site] = true;
    else delete collapsed[site];
    await api.storage.local.set({ collapsed });
    return null;
  },

  async 'verify-url'({ url, pageUrl }) {
    return client.check(url, { pageUrl: pageUrl || null });
  },

  async 'get-settings'() {
    return { settings, sites, defaults: M.DEFAULT_SETTINGS };
  },

  async 'set-settings'({ settings: patch }) {
    const serverChanged = patch.serverUrl !== undefined && patch.serverUrl !== settings.serverUrl;
    settings = { ...settings, ...patch };
    await api.storage.sync.set({ settings });
    if (serverChanged) client.clearCache();
    return { settings };
  },

  async 'set-site-enabled'({ site, enabled }) {
    const key = site.toLowerCase();
    if (enabled) delete sites[key];
    else sites[key] = { enabled: false };
    await api.storage.sync.set({ sites });
    return { site: key, enabled };
  },

  async 'get-server-status'() {
    try {
      return await client.health();
    } catch (err) {
      if (err instanceof ApiProblem) return { reachable: false, serverUrl: settings.serverUrl, problem: err.problem };
      throw err;
    }
  },

  async 'report-fake'({ sha256, sourceUrl, pageUrl, reason }) {
    return client.report({ sha256, sourceUrl, pageUrl, reason });
  },
};

function toProblem(err) {
  if (err instanceof ApiProblem || err instanceof M.ProblemError) return err.problem;
  console.error('Verity: handler failed', err);
  return { type: 'internal-error', title: 'The extension hit an internal error' };
}

api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  const problem = M.validate(msg, tierOf(sender));
  if (problem) {
    sendResponse(M.fail(problem));
    return false;
  }
  const handler = HANDLERS[msg.type];
  if (!handler) {
    sendResponse(M.fail(M.problem('not-handled', 'Not handled by the service worker', msg.type)));
    return false;
  }
  ready
    .then(() => handler(msg.payload, sender))
    .then((data) => sendResponse(M.ok(data)), (err) => sendResponse(M.fail(toProblem(err))));
  return true; // keeps the reply channel open for the async answer
});

api.runtime.onInstalled.addListener((details) => {
  // First install: show the settings (the server URL is the one thing a user may need to set).
  if (details.reason === 'install') api.runtime.openOptionsPage().catch(() => {});
  api.contextMenus.removeAll(() => {
    api.contextMenus.create({
      id: MENU_ID,
      title: api.i18n.getMessage('menuVerify'),
      contexts: ['image', 'video', 'audio'],
    });
  });
});

api.contextMenus.onClicked.addListener((info, tab) => {
  // Works whatever the automatic-checking settings say: the user asked for this one item.
  if (info.menuItemId !== MENU_ID || !M.isHttpUrl(info.srcUrl)) return;
  openReport(info.srcUrl, info.mediaType || 'image', info.pageUrl || (tab && tab.url));
});

api.storage.onChanged.addListener((changes, area) => {
  if (area === 'sync' && changes.settings) {
    const next = { ...M.DEFAULT_SETTINGS, ...sanitizeSettings(changes.settings.newValue) };
    if (next.serverUrl !== settings.serverUrl) client.clearCache();
    settings = next;
  }
  if (area === 'sync' && changes.sites) sites = changes.sites.newValue || {};
  if (area === 'local' && changes.collapsed) collapsed = changes.collapsed.newValue || {};
});
