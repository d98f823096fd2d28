/*
 * The only code that talks to the Verity API. Hash first: fetch the media bytes, SHA-256 them with crypto.subtle,
 * ask GET /v1/verdicts/<sha256>, and upload to POST /v1/verify only when the server has never seen those bytes.
 * Bounded concurrency, a size cap, retries with backoff on 429/503, one result per URL per session.
 * Errors come back as ApiProblem carrying an RFC 9457-shaped `problem` (the server's own when it sent one).
 * `fetch`, `subtle`, `sleep` are injected so node --test can drive it with a fake server.
 * A team server's client key (storage.local "apiKey", set on the options page; local, so it never syncs to other
 * devices) goes with every API request as X-Verity-Key, never with the page media the client downloads.
 *
 * Standalone mode (`localCheck`, extension/standalone/): the declared checks (C2PA, metadata labels) run in the
 * browser on the same bytes. With no server configured (serverUrl '') that is the answer and nothing leaves the
 * browser; when the server is unreachable it is the answer too (not cached: the server is asked again next time).
 * With a server, hash-first lookup is unchanged and the server's verdict supersedes the local one; a local verdict
 * that comes first is offered to `onLocal` (the service worker shows a local `synthetic` at once).
 */

export const DEFAULTS = Object.freeze({
  maxBytes: 20 * 1024 * 1024, // media above this is "not checked (too large)"
  concurrency: 3, // media checks in flight at once
  retries: 3, // extra attempts after a 429/503
  baseDelayMs: 500,
  maxDelayMs: 8000,
  timeoutMs: 60000, // one API request
  cacheSize: 2000, // URLs remembered this session
  cacheTtlMs: 10 * 60 * 1000, // then asked again: a refutation published since would otherwise stay hidden
  jobPollMinMs: 500, // first poll of a job (202 from /v1/verify), then slower
  jobPollMaxMs: 3000,
  jobTimeoutMs: 30 * 60 * 1000, // a job not done after this is given up (the server caps decode time far lower)
});

// What a browser sends for an <img> (Chromium's value); servers that negotiate formats then answer Verity as they
// answer the page.
export const IMAGE_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';

/**
 * The part of a URL that may leave the browser: origin + path, without query or fragment (tokens, session ids and
 * tracking parameters live there). `keepQuery` keeps the query (the journalists' option for media URLs); the
 * fragment never goes. Returns null for anything that is not an http(s) URL.
 */
export function privateUrl(url, keepQuery = false) {
  if (!url) return null;
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.origin + u.pathname + (keepQuery ? u.search : '');
  } catch (_) {
    return null;
  }
}

/**
 * Whether the fetched bytes fit what the element shows: `{ok, mismatches: [{field, expected, got}]}`. Type: an image
 * element answered with something that is not an image (or a video with a web page). Size: a different aspect ratio,
 * or a scale no srcset density explains (1x to 4x). Unknowns (no type, an undecodable image) are not mismatches.
 */
export function fitOf(kind, media, expect) {
  const mismatches = [];
  const type = String((media && media.mediaType) || '').split(';')[0].trim().toLowerCase();
  if (type && type !== 'application/octet-stream') {
    const fits = kind === 'image' ? type.startsWith('image/')
      : !(type.startsWith('text/') || type.startsWith('image/'));
    if (!fits) mismatches.push({ field: 'type', expected: kind === 'image' ? 'image/*' : `${kind}/*`, got: type });
  }
  const w = media && media.width;
  const h = media && media.height;
  if (expect && expect.width > 0 && expect.height > 0 && w > 0 && h > 0) {
    const aspect = Math.abs(w / h - expect.width / expect.height) / (expect.width / expect.height);
    const scale = w / expect.width;
    if (aspect > 0.02 || scale < 0.99 || scale > 4.01) {
      mismatches.push({ field: 'size', expected: `${expect.width}x${expect.height}`, got: `${w}x${h}` });
    }
  }
  return { ok: mismatches.length === 0, mismatches };
}

/** Width and height of image bytes (createImageBitmap where the context has it), or null. */
async function decodedSize(data, mediaType) {
  if (typeof globalThis.createImageBitmap !== 'function') return null;
  try {
    const bitmap = await globalThis.createImageBitmap(new Blob([data], { type: mediaType || '' }));
    const size = { width: bitmap.width, height: bitmap.height };
    bitmap.close();
    return size;
  } catch (_) {
    return null; // SVG, a format this browser cannot decode, or not an image at all
  }
}

export const REPORT_CATEGORIES = Object.freeze(['synthetic', 'misleading_context', 'manipulated', 'other']);

// Problems that mean "no server to ask": standalone mode answers instead.
export const NO_SERVER = Object.freeze(['no-server', 'server-unreachable', 'server-timeout']);

export class ApiProblem extends Error {
  constructor(problem) {
    super(problem.detail || problem.title);
    this.name = 'ApiProblem';
    this.problem = problem;
  }
}

export function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A tiny semaphore: at most `limit` tasks run at once, the rest wait in order. */
export function createLimiter(limit) {
  let active = 0;
  const waiting = [];
  const next = () => {
    if (active >= limit || waiting.length === 0) return;
    active += 1;
    const { task, resolve, reject } = waiting.shift();
    Promise.resolve()
      .then(task)
      .then(resolve, reject)
      .finally(() => {
        active -= 1;
        next();
      });
  };
  return {
    run(task) {
      return new Promise((resolve, reject) => {
        waiting.push({ task, resolve, reject });
        next();
      });
    },
    get active() {
      return active;
    },
    get pending() {
      return waiting.length;
    },
  };
}

export const KEY_HEADER = 'X-Verity-Key';
export const KEY_STORAGE = 'apiKey';

// The stored key, kept current from storage.local (the options page writes it), read by every request.
let storedKey = '';
(function watchStoredKey() {
  const ext = globalThis.browser && globalThis.browser.runtime ? globalThis.browser : globalThis.chrome;
  if (!ext || !ext.storage || !ext.storage.local) return; // node --test: keys are injected with getApiKey
  Promise.resolve(ext.storage.local.get({ [KEY_STORAGE]: '' })).then((got) => {
    storedKey = String((got && got[KEY_STORAGE]) || '');
  }, () => {});
  ext.storage.onChanged.addListener((changes, area) => {
    if (area === 'local' && changes[KEY_STORAGE]) storedKey = String(changes[KEY_STORAGE].newValue || '');
  });
})();

function trimSlash(url) {
  return String(url).replace(/\/+$/, '');
}

async function problemFrom(response, fallbackTitle) {
  let body = null;
  const type = (response.headers && response.headers.get && response.headers.get('content-type')) || '';
  if (type.includes('json')) {
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
  }
  const problem = body && typeof body === 'object' && !Array.isArray(body) ? body : {};
  return {
    type: typeof problem.type === 'string' ? problem.type : 'about:blank',
    title: typeof problem.title === 'string' ? problem.title : fallbackTitle || `HTTP ${response.status}`,
    status: response.status,
    ...(typeof problem.detail === 'string' ? { detail: problem.detail } : {}),
  };
}

/**
 * Create a client. `getServerUrl` is called for every request so a settings change applies at once.
 * `onProgress({url, job, progress, stage, status})` (optional) hears about long verifications (jobs) while they run.
 * Returns {check, lookup, verifyBytes, health, report, reportStatus, forget, clearCache}.
 */
export function createApiClient(options) {
  const opts = { ...DEFAULTS, ...options };
  const doFetch = opts.fetch || ((...args) => globalThis.fetch(...args));
  const subtle = opts.subtle || globalThis.crypto.subtle;
  const sleep = opts.sleep || ((ms) => new Promise((r) => setTimeout(r, ms)));
  const limiter = createLimiter(opts.concurrency);
  const now = opts.now || (() => Date.now());
  const cache = new Map(); // url -> {promise, at}: successful (or in-flight) results only
  const serverUrl = () => trimSlash(opts.getServerUrl());
  const apiKey = () => String((opts.getApiKey ? opts.getApiKey() : storedKey) || '').trim();
  const onProgress = opts.onProgress || (() => {});
  const imageSize = opts.imageSize || decodedSize;
  const keepSourceQuery = opts.keepSourceQuery || (() => false);
  const localCheckUncached = opts.localCheck || null;
  const localCache = new Map(); // sha256 -> promise of the standalone response (the same bytes give the same answer)
  const localCheck = localCheckUncached && ((data, mediaType, sha256) => {
    let promise = localCache.get(sha256);
    if (!promise) {
      promise = Promise.resolve().then(() => localCheckUncached(data, mediaType, sha256));
      localCache.set(sha256, promise);
      if (localCache.size > opts.cacheSize) localCache.delete(localCache.keys().next().value);
      promise.catch(() => localCache.delete(sha256));
    }
    return promise;
  });
  const onLocal = opts.onLocal || (() => {});

  /** One API request with a timeout and retries on 429/503 (Retry-After honoured, capped). */
  async function api(path, init, timeoutMs = opts.timeoutMs) {
    const base = serverUrl();
    if (!base) throw new ApiProblem({ type: 'no-server', title: 'No Verity server is configured (standalone mode)' });
    for (let attempt = 0; ; attempt += 1) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), timeoutMs);
      let response;
      try {
        const key = apiKey();
        const headers = key ? { ...(init.headers || {}), [KEY_HEADER]: key } : init.headers;
        response = await doFetch(base + path, {
          ...init, ...(headers ? { headers } : {}), signal: controller.signal, credentials: 'omit',
        });
      } catch (err) {
        const timedOut = controller.signal.aborted;
        throw new ApiProblem({
          type: timedOut ? 'server-timeout' : 'server-unreachable',
          title: timedOut ? 'The Verity server is too slow' : 'The Verity server is unreachable',
          detail: base,
          serverUrl: base,
        });
      } finally {
        clearTimeout(timer);
      }
      if ((response.status === 429 || response.status === 503) && attempt < opts.retries) {
        const retryAfter = Number(response.headers && response.headers.get && response.headers.get('retry-after'));
        const backoff = opts.baseDelayMs * 2 ** attempt;
        const delay = Math.min(opts.maxDelayMs, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : backoff);
        await sleep(delay);
        continue;
      }
      return response;
    }
  }

  /** GET /v1/verdicts/<sha256>: the cached response, or null when the server has not seen these bytes. */
  async function lookup(sha256) {
    const response = await api(`/v1/verdicts/${sha256}`, { method: 'GET' });
    if (response.status === 404) return null;
    if (!response.ok) throw new ApiProblem(await problemFrom(response));
    return response.json();
  }

  /**
   * POST /v1/verify with the bytes as multipart field `file`, plus source_url and page_url. Long audio/video is
   * answered 202 with a job: then the job is polled until it is done, and its result is the answer.
   */
  async function verifyBytes(bytes, mediaType, sourceUrl, pageUrl) {
    const form = new FormData();
    form.append('file', new Blob([bytes], { type: mediaType || 'application/octet-stream' }), 'media');
    // Only origin + path reach the server (the query too for media URLs, when the user chose so).
    const source = privateUrl(sourceUrl, keepSourceQuery());
    const page = privateUrl(pageUrl);
    if (source) form.append('source_url', source);
    if (page) form.append('page_url', page);
    const response = await api('/v1/verify', { method: 'POST', body: form });
    if (!response.ok) throw new ApiProblem(await problemFrom(response));
    if (response.status === 202) {
      const job = await response.json();
      const location = response.headers && response.headers.get && response.headers.get('location');
      return waitForJob(job, location, sourceUrl);
    }
    return response.json();
  }

  /** The job's path on the server: Location, else job.url, else /v1/jobs/<id> (only /v1/jobs/ paths are followed). */
  function jobPath(job, location) {
    for (const candidate of [location, job && job.url, job && job.id ? `/v1/jobs/${job.id}` : null]) {
      if (typeof candidate !== 'string' || candidate === '') continue;
      let path = candidate;
      if (/^https?:/i.test(candidate)) {
        try {
          const u = new URL(candidate);
          if (u.origin !== new URL(serverUrl()).origin) continue;
          path = u.pathname;
        } catch (_) {
          continue;
        }
      }
      if (/^\/v1\/jobs\/[A-Za-z0-9_-]{1,64}$/.test(path)) return path;
    }
    throw new ApiProblem({ type: 'invalid-job', title: 'The server answered 202 without a usable job URL' });
  }

  /** Poll GET /v1/jobs/<id> until done (its `result`) or failed (its `problem`), reporting progress 0-1. */
  async function waitForJob(job, location, url) {
    const path = jobPath(job, location);
    const started = Date.now();
    let delay = opts.jobPollMinMs;
    let current = job;
    for (;;) {
      onProgress({ url, job: current.id, progress: Number(current.progress) || 0, stage: current.stage || '',
        status: current.status || 'queued' });
      if (current.status === 'done' && current.result) return current.result;
      if (current.status === 'failed') {
        const p = current.problem && typeof current.problem === 'object' ? current.problem : {};
        throw new ApiProblem({ type: typeof p.type === 'string' ? p.type : 'job-failed',
          title: typeof p.title === 'string' ? p.title : 'The verification job failed',
          ...(typeof p.status === 'number' ? { status: p.status } : {}),
          ...(typeof p.detail === 'string' ? { detail: p.detail } : {}) });
      }
      if (Date.now() - started > opts.jobTimeoutMs) {
        throw new ApiProblem({ type: 'job-timeout', title: 'The verification job took too long', detail: path });
      }
      await sleep(delay);
      delay = Math.min(opts.jobPollMaxMs, delay * 1.5);
      const response = await api(path, { method: 'GET' });
      if (!response.ok) throw new ApiProblem(await problemFrom(response));
      current = await response.json();
    }
  }

  /**
   * The media's bytes, read with the size cap; {tooLarge: true, bytes} when over it. Fetched as the page fetched it,
   * as far as an extension can: the element's credentials mode, an image Accept header for images, and the HTTP
   * cache first (so usually the very bytes the page got; otherwise a server could tell Verity's download apart).
   */
  async function fetchMedia(url, { credentials = 'include', kind = 'image' } = {}) {
    let response;
    try {
      response = await doFetch(url, { credentials, cache: 'force-cache',
        headers: kind === 'image' ? { Accept: IMAGE_ACCEPT } : {} });
    } catch (_) {
      throw new ApiProblem({ type: 'media-unavailable', title: 'The media could not be downloaded', detail: url });
    }
    if (!response.ok) {
      throw new ApiProblem({ type: 'media-unavailable', title: 'The media could not be downloaded',
        detail: `${url} answered HTTP ${response.status}`, status: response.status });
    }
    const declared = Number(response.headers && response.headers.get && response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      if (response.body && response.body.cancel) response.body.cancel().catch(() => {});
      return { tooLarge: true, bytes: declared };
    }
    const mediaType = (response.headers && response.headers.get && response.headers.get('content-type')) || '';
    if (!response.body || !response.body.getReader) {
      const buffer = await response.arrayBuffer();
      if (buffer.byteLength > opts.maxBytes) return { tooLarge: true, bytes: buffer.byteLength };
      return { tooLarge: false, data: new Uint8Array(buffer), mediaType };
    }
    const reader = response.body.getReader();
    const chunks = [];
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > opts.maxBytes) {
        reader.cancel().catch(() => {});
        return { tooLarge: true, bytes: total };
      }
      chunks.push(value);
    }
    const data = new Uint8Array(total);
    let offset = 0;
    for (const c of chunks) {
      data.set(c, offset);
      offset += c.byteLength;
    }
    return { tooLarge: false, data, mediaType };
  }

  async function checkUncached(url, pageUrl, fetchOptions) {
    const media = await fetchMedia(url, fetchOptions);
    if (media.tooLarge) return { status: 'too-large', bytes: media.bytes, limit: opts.maxBytes };
    const sha256 = hex(await subtle.digest('SHA-256', media.data));
    const size = fetchOptions.kind === 'image' ? await imageSize(media.data, media.mediaType) : null;
    const fetched = { mediaType: media.mediaType, ...(size || {}) };
    // The local checks start at once, beside the server's lookup; a failure there only means no local answer.
    let serverDone = false;
    const local = localCheck
      ? Promise.resolve().then(() => localCheck(media.data, media.mediaType, sha256)).then((response) => {
        if (!serverDone && serverUrl()) onLocal({ url, sha256, response });
        return response;
      }, () => null)
      : null;
    const standalone = async (problem) => {
      const response = local ? await local : null;
      if (!response) throw new ApiProblem(problem);
      return { status: 'checked', via: 'local', sha256, response, fetched, ...(serverUrl() ? { serverProblem: problem } : {}) };
    };
    if (!serverUrl()) return standalone({ type: 'no-server', title: 'No Verity server is configured' });
    try {
      const known = await lookup(sha256);
      if (known) return { status: 'checked', via: 'hash', sha256, response: known, fetched };
      const response = await verifyBytes(media.data, media.mediaType, url, pageUrl);
      return { status: 'checked', via: 'upload', sha256, response, fetched };
    } catch (err) {
      if (local && err instanceof ApiProblem && NO_SERVER.includes(err.problem.type)) return standalone(err.problem);
      throw err;
    } finally {
      serverDone = true;
    }
  }

  /**
   * Check the media at `url`: {status: "checked", via, sha256, response, fetched, fit} | {status: "too-large", ...}.
   * `credentials` and `kind` say how the page fetched it; `expect` ({width, height}, the element's natural size) is
   * compared with what was fetched (`fit`). Results are cached per URL and credentials mode for `cacheTtlMs`;
   * `force` re-asks the server.
   */
  function check(url, { pageUrl = null, force = false, credentials = 'include', kind = 'image', expect = null } = {}) {
    const key = `${credentials} ${url}`;
    const hit = cache.get(key);
    let promise;
    if (!force && hit && now() - hit.at < opts.cacheTtlMs) {
      promise = hit.promise;
    } else {
      promise = limiter.run(() => checkUncached(url, pageUrl, { credentials, kind }));
      cache.delete(key); // re-inserted last: the oldest entry is the first one evicted
      cache.set(key, { promise, at: now() });
      if (cache.size > opts.cacheSize) cache.delete(cache.keys().next().value);
      const drop = () => {
        const entry = cache.get(key);
        if (entry && entry.promise === promise) cache.delete(key);
      };
      promise.then((r) => {
        if (r.serverProblem) drop(); // a local answer because the server was unreachable: ask the server next time
      }, drop); // failures are retried next time
    }
    return promise.then((r) => (r.status === 'checked' ? { ...r, fit: fitOf(kind, r.fetched, expect) } : r));
  }

  /**
   * GET /v1/health, then GET /v1/keys/me: {reachable: true, pipeline, key: {ok, name, required} | {ok: false,
   * problem}} or an ApiProblem when the server is unreachable. `key` tells the options page whether the key works.
   */
  async function health() {
    const timeout = Math.min(opts.timeoutMs, 5000);
    const response = await api('/v1/health', { method: 'GET' }, timeout);
    if (!response.ok) throw new ApiProblem(await problemFrom(response));
    const body = { reachable: true, serverUrl: serverUrl(), ...(await response.json()) };
    const me = await api('/v1/keys/me', { method: 'GET' }, timeout);
    if (me.ok) {
      const info = await me.json();
      body.key = { ok: true, name: info.key || null, required: Boolean(info.required) };
    } else if (me.status === 404) {
      body.key = { ok: true, name: null, required: false }; // a server without keys
    } else {
      body.key = { ok: false, problem: await problemFrom(me) };
    }
    return body;
  }

  /**
   * POST /v1/reports {sha256, category, text, source_url, page_url}: the Art. 15 complaint entry.
   * 201 -> {id, receipt, status, status_url, ...}. A server without the endpoint (404/405/501) gives the problem type
   * "reporting-unavailable" (the server's own type is kept as serverType).
   */
  async function report({ sha256, category, text, sourceUrl, pageUrl }) {
    const body = { sha256, category };
    if (text) body.text = text;
    const source = privateUrl(sourceUrl, keepSourceQuery());
    const page = privateUrl(pageUrl);
    if (source) body.source_url = source;
    if (page) body.page_url = page;
    // The media's bytes go with the report when they can still be read and are the bytes that were checked: the
    // reviewer then sees the picture, and a refutation made from the report matches re-posts, not only exact copies.
    const media = await reportMedia(sourceUrl, sha256);
    let init;
    if (media) {
      const form = new FormData();
      form.append('file', new Blob([media.data], { type: media.mediaType || 'application/octet-stream' }), 'media');
      for (const [key, value] of Object.entries(body)) form.append(key, value);
      init = { method: 'POST', body: form };
    } else {
      init = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) };
    }
    const response = await api('/v1/reports', init);
    if (!response.ok) {
      const problem = await problemFrom(response);
      if (response.status === 404 || response.status === 405 || response.status === 501) {
        problem.serverType = problem.type;
        problem.type = 'reporting-unavailable';
      }
      throw new ApiProblem(problem);
    }
    return response.json();
  }

  /** The reported media's bytes when they are still readable, within the cap, and hash to `sha256`; else null. */
  async function reportMedia(sourceUrl, sha256) {
    if (!sourceUrl || !/^https?:/i.test(sourceUrl)) return null;
    try {
      const media = await fetchMedia(sourceUrl);
      if (media.tooLarge) return null;
      return hex(await subtle.digest('SHA-256', media.data)) === sha256 ? media : null;
    } catch (_) {
      return null;
    }
  }

  /**
   * GET /v1/reports/<id> with the X-Verity-Receipt header: the reporter's own report's status. The receipt is a
   * secret, so it never goes in the URL (URLs end up in access logs and proxies' logs).
   */
  async function reportStatus(id, receipt) {
    if (!/^[0-9a-f]{20}$/.test(String(id))) {
      throw new ApiProblem({ type: 'invalid-report-id', title: 'Invalid report id' });
    }
    const response = await api(`/v1/reports/${id}`, { method: 'GET', headers: { 'X-Verity-Receipt': String(receipt) } },
      Math.min(opts.timeoutMs, 10000));
    if (!response.ok) throw new ApiProblem(await problemFrom(response));
    return response.json();
  }

  return {
    check,
    lookup,
    verifyBytes,
    health,
    report,
    reportStatus,
    forget: (url) => {
      for (const mode of ['omit', 'same-origin', 'include']) cache.delete(`${mode} ${url}`);
    },
    clearCache: () => cache.clear(),
    get cacheSize() {
      return cache.size;
    },
  };
}
