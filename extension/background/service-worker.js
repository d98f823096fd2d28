/*
 * Service worker (Chromium) / background script (Firefox): the extension's only door to the Verity API.
 * Every listener is registered synchronously at the top level; messages are dispatched through one handler table
 * keyed by type, after VerifyMessages.validate() has checked them against the sender's trust tier.
 */
import '../shared/messages.js';
import { ApiProblem, createApiClient } from './api-client.js';
import { createLocalChecker } from '../standalone/local.js';

const M = globalThis.VerifyMessages;
const api = M.extensionApi();
const EXT_ORIGIN = api.runtime.getURL('');
const MENU_ID = 'verity-verify';
const MENU_REPORT = 'verity-report';
const MENU_FRAME = 'verity-frame';
const MAX_STORED_REPORTS = 200; // the user's own reports kept in storage.local (id, receipt, sha256, url, time)
const MAX_LISTED_REPORTS = 50; // statuses fetched when the popup opens

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

const progressTabs = new Map(); // media URL -> Set of tab ids waiting for it (progress of long jobs)
const client = createApiClient({ getServerUrl: () => settings.serverUrl, onProgress: sendProgress,
  keepSourceQuery: () => settings.fullSourceUrls === true, localCheck: createLocalChecker(), onLocal: showLocal });

/** A local (standalone) verdict that came before the server's: the tabs waiting for `url` show a `synthetic` at once. */
function showLocal({ url, sha256, response }) {
  if (!M.isHttpUrl(url) || !response || !response.verdict || response.verdict.label !== 'synthetic') return;
  const payload = { url, result: { status: 'checked', via: 'local', sha256, response } };
  for (const tabId of progressTabs.get(url) || []) {
    api.tabs.sendMessage(tabId, M.make('local-verdict', payload)).catch(() => {});
  }
}

// ---- the labels each tab shows (toolbar count, popup list; the test channel too: never read from the page) --------

const tabLabels = new Map(); // tabId -> Map(frameId -> {since, labels})

/** A frame's new list of labels. A top frame with a newer document drops frames of the document before it. */
function setFrameLabels(tabId, frameId, since, labels) {
  let frames = tabLabels.get(tabId);
  if (!frames) tabLabels.set(tabId, (frames = new Map()));
  const top = frames.get(0);
  if (frameId !== 0 && top && since < top.since - 1) return; // a frame of a page that is gone
  if (frameId === 0 && (!top || since > top.since)) {
    for (const [id, frame] of frames) if (id !== 0 && frame.since < since - 1) frames.delete(id);
  }
  frames.set(frameId, { since, labels });
  showCount(tabId);
  api.storage.session.set({ [`labels:${tabId}`]: Array.from(frames.entries()) }).catch(() => {});
}

async function framesOf(tabId) {
  if (!tabLabels.has(tabId)) {
    // The service worker may have been restarted since: storage.session keeps the lists for the browser session.
    const key = `labels:${tabId}`;
    const stored = (await api.storage.session.get(key))[key];
    if (Array.isArray(stored) && !tabLabels.has(tabId)) tabLabels.set(tabId, new Map(stored));
  }
  return tabLabels.get(tabId) || new Map();
}

function countOf(frames) {
  let n = 0;
  for (const frame of frames.values()) n += frame.labels.length;
  return n;
}

function showCount(tabId) {
  const n = countOf(tabLabels.get(tabId) || new Map());
  api.action.setBadgeText({ tabId, text: n > 0 ? String(n) : '' }).catch(() => {});
  api.action.setBadgeBackgroundColor({ tabId, color: '#a50e0e' }).catch(() => {});
}

api.tabs.onRemoved.addListener((tabId) => {
  tabLabels.delete(tabId);
  api.storage.session.remove(`labels:${tabId}`).catch(() => {});
});

/** Tell the tabs waiting for `url`, and the extension's own pages (the report page), how far a job is. */
function sendProgress({ url, progress, stage, status }) {
  if (!M.isHttpUrl(url)) return;
  const payload = { url, progress: Math.max(0, Math.min(1, progress)), stage: String(stage).slice(0, 64),
    status: String(status).slice(0, 64) };
  for (const tabId of progressTabs.get(url) || []) {
    api.tabs.sendMessage(tabId, M.make('check-progress', payload)).catch(() => {});
  }
  api.runtime.sendMessage(M.make('check-progress', payload)).catch(() => {}); // no extension page open: fine
}

async function checkWithProgress(url, tabId, options) {
  if (tabId === undefined) return client.check(url, options);
  if (!progressTabs.has(url)) progressTabs.set(url, new Set());
  progressTabs.get(url).add(tabId);
  try {
    return await client.check(url, options);
  } finally {
    const waiting = progressTabs.get(url);
    if (waiting) {
      waiting.delete(tabId);
      if (waiting.size === 0) progressTabs.delete(url);
    }
  }
}

/** Keep a report's receipt in this browser only (storage.local): it is the only key to the report's status. */
async function rememberReport(receipt, url, kind) {
  const { reports } = await api.storage.local.get({ reports: [] });
  const list = Array.isArray(reports) ? reports : [];
  list.unshift({ id: receipt.id, receipt: receipt.receipt, sha256: receipt.sha256, url, kind: kind || 'image',
    category: receipt.category, time: new Date().toISOString() });
  await api.storage.local.set({ reports: list.slice(0, MAX_STORED_REPORTS) });
}

async function sendReport({ sha256, category, text, sourceUrl, pageUrl, kind }) {
  const receipt = await client.report({ sha256, category, text, sourceUrl, pageUrl });
  await rememberReport(receipt, sourceUrl, kind);
  return receipt;
}

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

function openReport(url, kind, pageUrl, report = false) {
  const params = new URLSearchParams({ src: url, kind: kind || 'image' });
  if (pageUrl && M.isHttpUrl(pageUrl)) params.set('page', pageUrl);
  if (report) params.set('report', '1'); // opened to report it: the form is focused
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

  async 'check-media'({ url, kind, credentials, expect }, sender) {
    const page = senderPage(sender);
    if (!settings.autoCheck || !siteEnabled(siteOf(page))) {
      throw new ApiProblem({ type: 'checking-off', title: 'Automatic checking is off for this site' });
    }
    return checkWithProgress(url, sender.tab && sender.tab.id, { pageUrl: M.isHttpUrl(page) ? page : null, kind,
      credentials: credentials || 'include', expect: expect || null });
  },

  async 'check-frame-here'(payload, sender) {
    // A stream the badge offers to check (or one that has played a while): the frame the sender's video shows.
    if (!sender.tab || !Number.isInteger(sender.tab.id)) throw new ApiProblem({ type: 'invalid-sender', title: 'No tab' });
    return checkFrame(sender.tab.id, sender.frameId || 0);
  },

  async 'labels-changed'({ since, labels }, sender) {
    if (!sender.tab || !Number.isInteger(sender.tab.id)) throw new ApiProblem({ type: 'invalid-sender', title: 'No tab' });
    setFrameLabels(sender.tab.id, sender.frameId || 0, since, labels);
    return null;
  },

  async 'get-tab-labels'({ tabId }) {
    const frames = await framesOf(tabId);
    const labels = [];
    for (const [frameId, frame] of frames) for (const label of frame.labels) labels.push({ ...label, frameId });
    const badge = await api.action.getBadgeText({ tabId });
    return { count: labels.length, badgeText: badge, labels };
  },

  async 'open-report'({ url, kind, report }, sender) {
    await openReport(url, kind, senderPage(sender), report === true);
    return null;
  },

  async 'report-media'({ url, kind, category, text }, sender) {
    // The sha256 is the service worker's own (from its check of that URL), never the page's.
    const page = senderPage(sender);
    const result = await client.check(url, { pageUrl: M.isHttpUrl(page) ? page : null, kind: kind || 'image' });
    if (result.status !== 'checked') {
      throw new ApiProblem({ type: 'not-checked', title: 'This media was not checked, so it cannot be reported here' });
    }
    const receipt = await sendReport({ sha256: result.sha256, category, text, sourceUrl: url, kind,
      pageUrl: M.isHttpUrl(page) ? page : null });
    return { id: receipt.id, status: receipt.status }; // the receipt itself stays in the extension
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
    // mode: "server" (a reachable server decides) or "standalone" (the declared checks run in this browser only).
    try {
      return { ...(await client.health()), mode: 'server' };
    } catch (err) {
      if (err instanceof ApiProblem) {
        return { reachable: false, mode: 'standalone', serverUrl: settings.serverUrl, problem: err.problem };
      }
      throw err;
    }
  },

  async 'report-fake'({ sha256, category, text, sourceUrl, pageUrl, kind }) {
    return sendReport({ sha256, category, text, sourceUrl, pageUrl, kind });
  },

  async 'list-reports'() {
    const { reports } = await api.storage.local.get({ reports: [] });
    const list = (Array.isArray(reports) ? reports : []).slice(0, MAX_LISTED_REPORTS);
    return Promise.all(list.map(async (r) => {
      const mine = { id: r.id, sha256: r.sha256, url: r.url, kind: r.kind || 'image', category: r.category,
        time: r.time };
      try {
        const status = await client.reportStatus(r.id, r.receipt);
        // A decision can change what the media's check says (a refutation): ask the server again next time.
        if (status.status !== 'open') client.forget(r.url);
        return { ...mine, status: status.status, decided: status.decided, refutation: status.refutation || null };
      } catch (err) {
        return { ...mine, status: null, problem: toProblem(err) };
      }
    }));
  },

  async 'check-frame'({ tabId }) {
    return checkFrame(tabId);
  },
};

/**
 * "Check this frame": for video the extension cannot fetch (MSE blob: streams, DRM). Captures the visible tab, crops
 * the video's rectangle (reported by the content script, in CSS pixels, scaled to the capture's pixels), uploads that
 * PNG to POST /v1/verify, and hands the result to the content script, which says that only one frame was checked.
 */
async function checkFrame(tabId, frameId = 0) {
  const tab = await api.tabs.get(tabId);
  const rect = await M.requestTab(tabId, 'get-frame-rect', {}, frameId);
  let payload;
  try {
    const dataUrl = await api.tabs.captureVisibleTab(tab.windowId, { format: 'png' });
    const bitmap = await createImageBitmap(await (await fetch(dataUrl)).blob());
    // The capture is in device pixels: devicePixelRatio times CSS pixels (measured from the capture's width, so a
    // page zoom the ratio does not describe is still cropped right).
    const scale = rect.viewportWidth > 0 ? bitmap.width / rect.viewportWidth : rect.dpr || 1;
    const sx = Math.max(0, Math.round(rect.x * scale));
    const sy = Math.max(0, Math.round(rect.y * scale));
    const width = Math.min(bitmap.width - sx, Math.round(rect.width * scale));
    const height = Math.min(bitmap.height - sy, Math.round(rect.height * scale));
    if (width < 16 || height < 16) throw new ApiProblem({ type: 'frame-not-visible', title: 'The video is not visible' });
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d').drawImage(bitmap, sx, sy, width, height, 0, 0, width, height);
    bitmap.close();
    const png = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
    const response = await client.verifyBytes(png, 'image/png', null, M.isHttpUrl(tab.url) ? tab.url : null);
    payload = { result: { response, frame: { width, height } } };
  } catch (err) {
    payload = { problem: toProblem(err) };
  }
  await M.requestTab(tabId, 'frame-result', payload, frameId);
  if (payload.problem) throw new ApiProblem(payload.problem);
  return payload.result;
}

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
    api.contextMenus.create({ id: MENU_ID, title: api.i18n.getMessage('menuVerify'), contexts: ['image', 'video', 'audio'] });
    api.contextMenus.create({ id: MENU_REPORT, title: api.i18n.getMessage('menuReport'),
      contexts: ['image', 'video', 'audio'] });
    api.contextMenus.create({ id: MENU_FRAME, title: api.i18n.getMessage('menuFrame'), contexts: ['video'] });
  });
});

api.contextMenus.onClicked.addListener((info, tab) => {
  // Works whatever the automatic-checking settings say: the user asked for this one item.
  if (info.menuItemId === MENU_FRAME) {
    if (tab && Number.isInteger(tab.id)) checkFrame(tab.id).catch(() => {}); // the page shows the outcome
    return;
  }
  if ((info.menuItemId !== MENU_ID && info.menuItemId !== MENU_REPORT) || !M.isHttpUrl(info.srcUrl)) return;
  openReport(info.srcUrl, info.mediaType || 'image', info.pageUrl || (tab && tab.url), info.menuItemId === MENU_REPORT);
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
