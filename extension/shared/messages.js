/*
 * Verity's one message schema, shared by the content script, the service worker, the popup, the options page and the
 * report page. Loaded from this same file everywhere: content scripts list it first in "js", the service worker does
 * `import '../shared/messages.js'`, extension pages use a <script> tag. It defines globalThis.VerifyMessages once
 * (idempotent, the uBO Lite isolated-api pattern) and has no exports, so it is valid as a classic script and as a module.
 *
 * Envelope: {type, requestId, payload} -> reply {ok: true, data} | {ok: false, problem}.
 * Every type names who may send it: "content" (a content script; untrusted input, validated field by field) or
 * "extension" (only the extension's own pages; e.g. every settings change).
 */
(function (root) {
  'use strict';
  if (root.VerifyMessages) return;

  const MAX_URL = 2048;
  const MAX_TEXT = 2000; // the server's default VERIFY_REPORT_TEXT_MAX
  const REPORT_CATEGORIES = Object.freeze(['synthetic', 'misleading_context', 'manipulated', 'other']);
  const KINDS = Object.freeze(['image', 'video', 'audio']);
  const LABELS = Object.freeze(['synthetic', 'likely_synthetic', 'provenance_invalid', 'has_provenance', 'untrusted_provenance',
    'unknown']);
  // Labels a user can choose to show; "refuted" stands for any media a fact-checker has refuted.
  const SHOWABLE = Object.freeze(['synthetic', 'likely_synthetic', 'provenance_invalid', 'has_provenance', 'untrusted_provenance',
    'refuted']);
  const LANGUAGES = Object.freeze(['auto', 'en', 'zh_CN']);
  const DEFAULT_SETTINGS = Object.freeze({
    serverUrl: 'http://127.0.0.1:8787',
    autoCheck: true,
    showLabels: SHOWABLE,
    language: 'auto',
    fullSourceUrls: false, // false: only origin + path of media URLs reach the server (journalists may keep queries)
  });
  const CREDENTIALS = Object.freeze(['omit', 'same-origin', 'include']);
  const MAX_LABELS = 1000; // labels one frame reports to the service worker
  const MAX_BASE64 = Math.ceil((20 * 1024 * 1024) / 3) * 4; // api-client.js DEFAULTS.maxBytes, as base64

  function isHttpUrl(x) {
    if (typeof x !== 'string' || x.length === 0 || x.length > MAX_URL) return false;
    try {
      const u = new URL(x);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
    } catch (_) {
      return false;
    }
  }

  const FIELD = {
    httpUrl: isHttpUrl,
    kind: (x) => KINDS.includes(x),
    boolean: (x) => typeof x === 'boolean',
    sha256: (x) => typeof x === 'string' && /^[0-9a-f]{64}$/.test(x),
    category: (x) => REPORT_CATEGORIES.includes(x),
    text: (x) => typeof x === 'string' && x.length <= MAX_TEXT,
    reportId: (x) => typeof x === 'string' && /^[0-9a-f]{20}$/.test(x),
    progress: (x) => typeof x === 'number' && x >= 0 && x <= 1,
    shortText: (x) => typeof x === 'string' && x.length <= 64,
    object: (x) => x !== null && typeof x === 'object' && !Array.isArray(x),
    site: (x) => typeof x === 'string' && x.length <= 253 && /^[a-z0-9.-]+(:[0-9]{1,5})?$/i.test(x),
    tabId: (x) => Number.isInteger(x) && x >= 0,
    settingsPatch: (x) => validateSettingsPatch(x) === null,
    credentials: (x) => CREDENTIALS.includes(x),
    // Media bytes as base64 (service worker -> offscreen document: Chromium's runtime messages are JSON only).
    base64: (x) => typeof x === 'string' && x.length <= MAX_BASE64 && /^[A-Za-z0-9+/]*={0,2}$/.test(x),
    // What the element shows, so the service worker can tell when the bytes it fetched do not fit it.
    expect: (x) => x !== null && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length <= 2 &&
      Object.entries(x).every(([k, v]) => (k === 'width' || k === 'height') && Number.isInteger(v) && v >= 0 && v < 1e6),
    timestamp: (x) => typeof x === 'number' && Number.isFinite(x) && x >= 0,
    labelList: (x) => Array.isArray(x) && x.length <= MAX_LABELS && x.every(isLabel),
  };

  /** One label a content script shows (its own state, reported to the service worker: toolbar count, popup, tests). */
  function isLabel(x) {
    if (!x || typeof x !== 'object' || Array.isArray(x)) return false;
    if (JSON.stringify(x).length > 8192) return false;
    return typeof x.key === 'string' && x.key.length <= 32 && (x.url === null || isHttpUrl(x.url)) &&
      KINDS.includes(x.kind);
  }

  // type -> {from, payload: {field: [validator, optional?]}}
  const TYPES = Object.freeze({
    // content script -> service worker
    'get-config': { from: 'content', payload: {} },
    'check-media': {
      from: 'content',
      payload: { url: ['httpUrl'], kind: ['kind'], credentials: ['credentials', true], expect: ['expect', true] },
    },
    // A stream (blob:/MSE video) the extension cannot download: check what is on screen in the sender's own frame.
    'check-frame-here': { from: 'content', payload: {} },
    // The labels a frame shows now (replaces that frame's earlier list); `since` is the document's timeOrigin.
    'labels-changed': { from: 'content', payload: { since: ['timestamp'], labels: ['labelList'] } },
    'open-report': { from: 'content', payload: { url: ['httpUrl'], kind: ['kind'], report: ['boolean', true] } },
    'set-collapsed': { from: 'content', payload: { collapsed: ['boolean'] } },
    // "Report as suspected fake" from the badge card: only media the service worker has itself checked can be
    // reported this way (it supplies the sha256 and the page URL; the content script cannot choose them).
    'report-media': {
      from: 'content',
      payload: { url: ['httpUrl'], kind: ['kind', true], category: ['category'], text: ['text', true] },
    },
    // extension pages -> service worker
    'verify-url': { from: 'extension', payload: { url: ['httpUrl'], kind: ['kind'], pageUrl: ['httpUrl', true] } },
    'get-settings': { from: 'extension', payload: {} },
    'set-settings': { from: 'extension', payload: { settings: ['settingsPatch'] } },
    'set-site-enabled': { from: 'extension', payload: { site: ['site'], enabled: ['boolean'] } },
    'get-server-status': { from: 'extension', payload: {} },
    'report-fake': {
      from: 'extension',
      payload: { sha256: ['sha256'], category: ['category'], text: ['text', true], sourceUrl: ['httpUrl'],
        pageUrl: ['httpUrl', true], kind: ['kind', true] },
    },
    'list-reports': { from: 'extension', payload: {} },
    'check-frame': { from: 'extension', payload: { tabId: ['tabId'] } },
    // popup (and tests): every label the extension shows in a tab, all frames, as the content scripts reported them
    'get-tab-labels': { from: 'extension', payload: { tabId: ['tabId'] } },
    // popup -> content script of the active tab
    'get-page-stats': { from: 'extension', payload: {} },
    // service worker -> content script / extension pages
    'check-progress': {
      from: 'extension',
      payload: { url: ['httpUrl'], progress: ['progress'], stage: ['shortText', true], status: ['shortText', true] },
    },
    'get-frame-rect': { from: 'extension', payload: {} },
    'frame-result': { from: 'extension', payload: { result: ['object', true], problem: ['object', true] } },
    // Standalone mode. Service worker -> offscreen document (Chromium; Firefox's background page runs it itself):
    // read the C2PA manifest and metadata labels of these bytes in the C2PA worker, answer a standalone response.
    'local-check': {
      from: 'extension',
      payload: { data: ['base64'], mime: ['shortText', true], sha256: ['sha256'] },
    },
    // Service worker -> content script: the local verdict of `url` while the server still works on it (shown at
    // once when it is `synthetic`; the server's answer to check-media replaces it).
    'local-verdict': { from: 'extension', payload: { url: ['httpUrl'], result: ['object'] } },
  });

  function validateSettingsPatch(x) {
    if (!x || typeof x !== 'object' || Array.isArray(x)) return 'settings must be an object';
    for (const [key, value] of Object.entries(x)) {
      if (key === 'serverUrl') {
        // '' = no server: standalone mode only (the declared checks run in the browser, nothing is sent anywhere).
        if (value !== '' && !isHttpUrl(value)) return 'serverUrl must be an http(s) URL or empty';
      } else if (key === 'autoCheck' || key === 'fullSourceUrls') {
        if (typeof value !== 'boolean') return key + ' must be a boolean';
      } else if (key === 'showLabels') {
        if (!Array.isArray(value) || value.length > SHOWABLE.length || !value.every((v) => SHOWABLE.includes(v))) {
          return 'showLabels must be a list of ' + SHOWABLE.join(', ');
        }
      } else if (key === 'language') {
        if (!LANGUAGES.includes(value)) return 'language must be one of ' + LANGUAGES.join(', ');
      } else {
        return 'unknown setting ' + JSON.stringify(String(key).slice(0, 40));
      }
    }
    return null;
  }

  function problem(type, title, detail) {
    return detail === undefined ? { type, title } : { type, title, detail };
  }

  /**
   * Check an incoming envelope. `senderTier` is "content" or "extension" (decided by the receiver from `sender`,
   * never from the message). Returns null when valid, else a problem object.
   */
  function validate(msg, senderTier) {
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) {
      return problem('invalid-message', 'Invalid message', 'A message must be an object.');
    }
    const spec = typeof msg.type === 'string' && Object.prototype.hasOwnProperty.call(TYPES, msg.type)
      ? TYPES[msg.type] : null;
    if (!spec) return problem('unknown-type', 'Unknown message type', String(msg.type).slice(0, 60));
    if (typeof msg.requestId !== 'string' || msg.requestId.length === 0 || msg.requestId.length > 64) {
      return problem('invalid-message', 'Invalid message', 'requestId must be a short string.');
    }
    if (spec.from === 'extension' && senderTier !== 'extension') {
      return problem('forbidden', 'Not allowed from a web page', msg.type + ' is accepted only from extension pages.');
    }
    const payload = msg.payload;
    if (!payload || typeof payload !== 'object' || Array.isArray(payload)) {
      return problem('invalid-message', 'Invalid message', 'payload must be an object.');
    }
    for (const key of Object.keys(payload)) {
      if (!Object.prototype.hasOwnProperty.call(spec.payload, key)) {
        return problem('invalid-field', 'Invalid field', 'unexpected field ' + JSON.stringify(key.slice(0, 40)));
      }
    }
    for (const [key, [fieldType, optional]] of Object.entries(spec.payload)) {
      const value = payload[key];
      if (value === undefined || value === null) {
        if (optional) continue;
        return problem('invalid-field', 'Invalid field', key + ' is required');
      }
      if (!FIELD[fieldType](value)) {
        const why = fieldType === 'settingsPatch' ? validateSettingsPatch(value) : key + ' is not a valid ' + fieldType;
        return problem('invalid-field', 'Invalid field', why);
      }
    }
    return null;
  }

  let counter = 0;
  function newRequestId() {
    if (root.crypto && typeof root.crypto.randomUUID === 'function') return root.crypto.randomUUID();
    counter += 1;
    return 'r' + Date.now().toString(36) + '-' + counter;
  }

  /** Build an envelope. */
  function make(type, payload) {
    if (!Object.prototype.hasOwnProperty.call(TYPES, type)) throw new TypeError('unknown message type ' + type);
    return { type, requestId: newRequestId(), payload: payload || {} };
  }

  function ok(data) {
    return { ok: true, data: data === undefined ? null : data };
  }

  function fail(p) {
    return { ok: false, problem: p };
  }

  /** A reply's problem as an Error (so callers can `await request(...)` and catch). */
  class ProblemError extends Error {
    constructor(p) {
      super((p && (p.detail || p.title)) || 'request failed');
      this.name = 'ProblemError';
      this.problem = p || problem('no-reply', 'No reply');
    }
  }

  function extensionApi() {
    return root.browser && root.browser.runtime ? root.browser : root.chrome;
  }

  function unwrap(reply) {
    if (!reply || typeof reply !== 'object') {
      throw new ProblemError(problem('no-reply', 'No reply', 'The extension did not answer.'));
    }
    if (reply.ok === true) return reply.data;
    throw new ProblemError(reply.problem);
  }

  /** Send a message to the service worker and resolve with its `data` (rejects with ProblemError). */
  async function request(type, payload) {
    return unwrap(await extensionApi().runtime.sendMessage(make(type, payload)));
  }

  /** Send a message to the content script of one frame of a tab (the top frame unless `frameId` says otherwise). */
  async function requestTab(tabId, type, payload, frameId = 0) {
    return unwrap(await extensionApi().tabs.sendMessage(tabId, make(type, payload), { frameId }));
  }

  root.VerifyMessages = Object.freeze({
    TYPES, KINDS, LABELS, SHOWABLE, LANGUAGES, CREDENTIALS, MAX_LABELS, DEFAULT_SETTINGS, MAX_URL, MAX_TEXT, REPORT_CATEGORIES,
    isHttpUrl, validate, validateSettingsPatch, make, ok, fail, problem, ProblemError, unwrap, request, requestTab,
    extensionApi,
  });
})(globalThis);
