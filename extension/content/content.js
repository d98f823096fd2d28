/*
 * Content script, the last part (classic script; runs in every frame): asks the service worker about the media that
 * discovery.js finds once it is visible, shows the answers with badges.js and card.js, and tells the service worker
 * which labels this frame shows (the toolbar count and the popup list come from there, never from the page). Streams
 * (blob:/MSE video) cannot be downloaded: their badge offers "Check this frame", and a frame is checked on its own
 * once the video has played for a while (frame-check.js). Never talks to the API itself and never blocks the page: discovery runs in
 * time slices, checks go a few at a time, badges move at most once per animation frame.
 */
(function () {
  'use strict';
  if (globalThis.__verityContent) return;
  globalThis.__verityContent = true;

  const M = globalThis.VerifyMessages;
  const S = globalThis.VerityScan;
  const I = globalThis.VerityI18n;
  const D = globalThis.VerityDiscovery;
  const B = globalThis.VerityBadges;
  const C = globalThis.VerityCard;
  const FC = globalThis.VerityFrameCheck;
  const api = M.extensionApi();
  const EXT_ORIGIN = api.runtime.getURL('');

  const MAX_IN_FLIGHT = 4;
  const RETRY_MIN_MS = 5000;
  const RETRY_MAX_MS = 5 * 60 * 1000;
  const LABELS_DEBOUNCE_MS = 150;

  let config = null;
  let active = false;
  const items = new Map(); // key (URL, or "stream:n") -> {url, kind, targets: Set, status, result, problem, ...}
  let targetKey = new WeakMap(); // target -> key of the item it is tracked under
  const visible = new WeakMap(); // element -> intersecting?
  const waitingForLoad = new WeakSet();
  const badges = new Map(); // target -> badge
  const sendQueue = [];
  let inFlight = 0;
  let streams = 0;
  let retryDelay = RETRY_MIN_MS;
  let retryTimer = null;
  let lastProblem = null;

  // ---- discovery -> visibility -> what to check -------------------------------------------------------------------

  const io = new IntersectionObserver(onIntersect, { threshold: 0 });
  const discovery = D.create({
    found(el, targets) {
      io.observe(el); // observing again is a no-op
      if (visible.get(el)) for (const t of targets) consider(t);
      for (const [t] of badges) if (t.el === el && !targets.includes(t)) untrack(t);
    },
    removed: scheduleLayout,
    isOurs: B.isOurs,
    ourNodeRemoved(host) {
      for (const badge of badges.values()) if (badge.host === host) B.restore(badge);
    },
  });

  function onIntersect(entries) {
    for (const entry of entries) {
      const el = entry.target;
      visible.set(el, entry.isIntersecting);
      for (const t of discovery.targetsOf(el)) {
        if (entry.isIntersecting) consider(t, entry.boundingClientRect);
        const badge = badges.get(t);
        if (badge && B.place(badge, entry.boundingClientRect, entry.isIntersecting)) labelsChanged();
      }
    }
    scheduleLayout();
  }

  /** Decide whether a visible target is checked, and under which URL. */
  function consider(target, rect) {
    if (!active) return;
    const el = target.el;
    const d = D.describe(target);
    const box = rect || el.getBoundingClientRect();
    const big = S.bigEnough(d.kind, box.width, box.height);
    const notReady = el.localName === 'img' && (!el.complete || el.naturalWidth === 0);
    if ((!d.url || !big) && notReady && !waitingForLoad.has(el)) {
      // Lazy images often have no size and no URL until they load: look again then.
      waitingForLoad.add(el);
      el.addEventListener('load', () => {
        waitingForLoad.delete(el);
        if (visible.get(el)) consider(target);
      }, { once: true });
      return;
    }
    if (!big) return;
    if (d.stream) {
      trackStream(target, d.kind);
      return;
    }
    if (!d.url) return;
    const previous = targetKey.get(target);
    if (previous === d.url) return;
    if (previous) untrack(target);
    track(target, d);
  }

  function track(target, d) {
    targetKey.set(target, d.url);
    let item = items.get(d.url);
    if (!item) {
      item = { url: d.url, kind: d.kind, credentials: d.credentials, expect: d.expect, targets: new Set(),
        status: 'new', result: null, problem: null };
      items.set(d.url, item);
    }
    item.targets.add(target);
    if (item.status === 'new') {
      item.status = 'queued';
      sendQueue.push(item);
      pump();
    } else if (item.status === 'done' || item.status === 'too-large') {
      applyBadge(target, item);
    }
  }

  /** A stream: nothing to download, so its badge offers the frame check (and it runs on its own after a while). */
  function trackStream(target, kind) {
    if (targetKey.has(target) || kind !== 'video') return;
    streams += 1;
    const key = `stream:${streams}`;
    const item = { url: null, kind, stream: true, targets: new Set([target]), status: 'stream', result: null,
      problem: null };
    items.set(key, item);
    targetKey.set(target, key);
    applyBadge(target, item);
    FC.watchStream(target.el, () => active && visible.get(target.el) === true);
  }

  function untrack(target) {
    const key = targetKey.get(target);
    const item = key && items.get(key);
    if (item) item.targets.delete(target);
    targetKey.delete(target);
    removeBadge(target);
  }

  // ---- checks (through the service worker) ------------------------------------------------------------------------

  function pump() {
    while (active && inFlight < MAX_IN_FLIGHT && sendQueue.length > 0) {
      const item = sendQueue.shift();
      if (item.status !== 'queued') continue;
      item.status = 'checking';
      inFlight += 1;
      M.request('check-media', { url: item.url, kind: item.kind, credentials: item.credentials,
        ...(item.expect ? { expect: item.expect } : {}) })
        .then((data) => {
          item.progress = null;
          item.localFirst = false;
          item.status = data.status === 'too-large' ? 'too-large' : 'done';
          item.result = data;
          item.problem = null;
          // A standalone answer because the configured server was unreachable: shown now, and the server is
          // asked again later (with the failed items), so its verdict takes over once it is back.
          lastProblem = data.serverProblem || null;
          if (data.serverProblem) scheduleRetry();
          else retryDelay = RETRY_MIN_MS;
          for (const t of item.targets) applyBadge(t, item);
        })
        .catch((err) => {
          item.problem = err.problem || { type: 'no-reply', title: String(err) };
          if (item.problem.type === 'checking-off') {
            item.status = 'new';
            return;
          }
          item.status = 'failed';
          lastProblem = item.problem;
          scheduleRetry();
        })
        .finally(() => {
          inFlight -= 1;
          pump();
        });
    }
  }

  /** When the server is down or a download failed, try the failed items again later, backing off. */
  function scheduleRetry() {
    if (retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      for (const item of items.values()) {
        const standalone = item.status === 'done' && item.result && item.result.serverProblem;
        if ((item.status === 'failed' || standalone) && item.targets.size > 0) {
          item.status = 'queued';
          sendQueue.push(item);
        }
      }
      retryDelay = Math.min(RETRY_MAX_MS, retryDelay * 2);
      pump();
    }, retryDelay);
  }

  // ---- badges ------------------------------------------------------------------------------------------------------

  function labelKey(item) {
    if (item.status === 'stream') return { key: 'stream', label: 'unknown', refuted: false, show: true };
    if (item.status === 'too-large') return { key: 'not_checked', label: 'not_checked', refuted: false, show: true };
    if (item.status === 'checking' && item.progress && !item.localFirst) return { key: 'checking', label: 'checking', refuted: false, show: true };
    const b = S.badgeFor(item.result && item.result.response, config.showLabels);
    const key = b.refuted && (config.showLabels || []).includes('refuted') ? 'refuted' : b.label;
    if (item.frame && item.problem) return { key: 'frame_failed', label: 'unknown', refuted: false, show: true };
    if (item.frame) {
      // The user asked for this frame (or the stream played a while): always answer, "nothing found" included.
      return { key: key === 'unknown' ? 'frame_unknown' : key, label: b.label, refuted: b.refuted, show: true };
    }
    return { key, label: b.label, refuted: b.refuted, show: b.badge };
  }

  function applyBadge(target, item) {
    if (!active || !target.el.isConnected) return;
    const info = labelKey(item);
    if (!info.show) {
      removeBadge(target);
      return;
    }
    let badge = badges.get(target);
    if (!badge) {
      badge = B.create(target, toggleCard);
      badges.set(target, badge);
    }
    fillBadge(badge, item, info);
    const shown = visible.get(target.el) !== false;
    B.place(badge, target.el.getBoundingClientRect(), shown);
    labelsChanged();
  }

  function fillBadge(badge, item, info) {
    badge.item = item;
    badge.info = info;
    const text = info.key === 'checking'
      ? I.t('badge_checking', String(Math.round(item.progress.progress * 100)))
      : I.t('badge_' + info.key);
    badge.wrap.setAttribute('lang', I.lang());
    badge.wrap.dataset.src = item.url || ''; // inside the closed root: for DevTools (and tests), not the page
    badge.button.title = I.t('badge_title', text);
    badge.button.className = 'badge ' + info.key + (config.collapsed ? ' collapsed' : '');
    badge.button.setAttribute('aria-label', I.t('badge_title', text));
    badge.text.textContent = text;
    if (!badge.card.hidden) renderCard(badge);
  }

  function toggleCard(badge) {
    const open = badge.card.hidden;
    badge.card.hidden = !open;
    badge.button.setAttribute('aria-expanded', String(open));
    if (open) renderCard(badge);
    labelsChanged();
  }

  function renderCard(badge) {
    const item = badge.item;
    C.render(badge, {
      info: labelKey(item),
      collapsed: config.collapsed,
      actions: {
        openReport: () => M.request('open-report', { url: item.url, kind: item.kind }).catch(() => {}),
        checkFrame: () => FC.request(badge.target.el),
        setCollapsed,
        close: () => toggleCard(badge),
        sendReport: (category, text) => M.request('report-media', { url: item.url, kind: item.kind, category,
          ...(text ? { text } : {}) })
          .then((data) => {
            badge.report = { state: 'sent', id: data.id };
            labelsChanged();
            return data.id;
          }, (err) => {
            const p = err.problem || {};
            badge.report = { state: p.type === 'reporting-unavailable' ? 'unavailable' : 'error', id: null };
            labelsChanged();
            throw err;
          }),
      },
    });
  }

  function setCollapsed(value) {
    config.collapsed = value;
    for (const badge of badges.values()) if (badge.item) fillBadge(badge, badge.item, labelKey(badge.item));
    labelsChanged();
    M.request('set-collapsed', { collapsed: value }).catch(() => {});
  }

  function removeBadge(target) {
    const badge = badges.get(target);
    if (!badge) return;
    B.remove(badge);
    badges.delete(target);
    labelsChanged();
  }

  // Keep every shown badge on its media, once per frame at most.
  let layoutPending = false;
  function scheduleLayout() {
    if (layoutPending || badges.size === 0) return;
    layoutPending = true;
    requestAnimationFrame(layout);
  }

  function layout() {
    layoutPending = false;
    for (const [target, badge] of badges) {
      if (!target.el.isConnected) {
        untrack(target); // the badge disappears with its media
        continue;
      }
      if (visible.get(target.el) === false) continue;
      if (B.place(badge, target.el.getBoundingClientRect(), true)) labelsChanged();
    }
  }

  // ---- what this frame shows, for the service worker (toolbar count, popup, tests) -----------------------------

  let labelsTimer = null;
  function labelsChanged() {
    if (labelsTimer) return;
    labelsTimer = setTimeout(sendLabels, LABELS_DEBOUNCE_MS);
  }

  function sendLabels() {
    labelsTimer = null;
    const labels = [];
    for (const badge of badges.values()) {
      if (!badge.item || labels.length >= M.MAX_LABELS) continue;
      labels.push(describeLabel(badge));
    }
    M.request('labels-changed', { since: performance.timeOrigin, labels }).catch(() => {});
  }

  function describeLabel(badge) {
    const item = badge.item;
    const info = badge.info || labelKey(item);
    const fit = item.result && item.result.fit;
    return {
      key: info.key, label: info.label, refuted: info.refuted, url: item.url, kind: item.kind,
      role: badge.target.role, status: item.status === 'too-large' ? 'too-large'
        : info.key === 'checking' ? 'checking' : item.stream ? 'stream' : 'checked',
      text: badge.text.textContent, open: !badge.card.hidden, collapsed: config.collapsed === true,
      progress: info.key === 'checking' ? item.progress.progress : null, job: item.job === true,
      scope: item.frame ? 'frame' : 'file', frame: item.frame ? `${item.frame.width}x${item.frame.height}` : null,
      mismatches: fit && !fit.ok ? fit.mismatches : [], report: badge.report || null,
      // "standalone": the browser's own declared checks decided (no server, none reachable, or not yet answered)
      mode: item.result && item.result.response && item.result.response.mode === 'standalone' ? 'standalone' : 'server',
      rect: B.buttonRect(badge), anchor: { x: Math.round(badge.x), y: Math.round(badge.y) },
      frameUrl: location.href.split(/[?#]/)[0], // about:srcdoc for a srcdoc frame
    };
  }

  // ---- configuration, start and stop -------------------------------------------------------------------------------

  function start() {
    if (active) return;
    active = true;
    discovery.start();
  }

  function stop() {
    active = false;
    discovery.stop();
    io.disconnect();
    for (const target of Array.from(badges.keys())) removeBadge(target);
    items.clear();
    sendQueue.length = 0;
    targetKey = new WeakMap();
  }

  async function refreshConfig() {
    try {
      config = await M.request('get-config', {});
    } catch (err) {
      lastProblem = err.problem || null;
      return;
    }
    I.setTable(config.strings, config.language);
    if (config.autoCheck && config.siteEnabled) {
      if (!active) start();
      else for (const [target, badge] of badges) if (badge.item) applyBadge(target, badge.item);
    } else if (active) {
      stop();
    }
  }

  function pageStats() {
    const out = { checked: 0, labelled: 0, refuted: 0, tooLarge: 0, pending: 0, failed: 0, streams: 0, items: [] };
    for (const item of items.values()) {
      if (item.status === 'done' && !item.frame) {
        out.checked += 1;
        const info = labelKey(item);
        if (info.show) {
          out.labelled += 1;
          if (out.items.length < 20) {
            out.items.push({ url: item.url, kind: item.kind, label: info.label, refuted: info.refuted });
          }
        }
        if (info.refuted) out.refuted += 1;
      } else if (item.status === 'too-large') out.tooLarge += 1;
      else if (item.status === 'failed') out.failed += 1;
      else if (item.status === 'queued' || item.status === 'checking') out.pending += 1;
      else if (item.stream) out.streams += 1;
    }
    return {
      ...out, active, autoCheck: config ? config.autoCheck : null, siteEnabled: config ? config.siteEnabled : null,
      site: location.host, problem: lastProblem,
    };
  }

  api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    // Only the extension's own pages (the popup) may ask; web pages cannot reach this listener at all.
    const tier = sender && sender.id === api.runtime.id && String(sender.url || '').startsWith(EXT_ORIGIN)
      ? 'extension' : 'content';
    const problem = M.validate(msg, tier);
    if (problem) {
      sendResponse(M.fail(problem));
      return false;
    }
    if (msg.type === 'get-page-stats') sendResponse(M.ok(pageStats()));
    else if (msg.type === 'check-progress') sendResponse(M.ok(onProgress(msg.payload)));
    else if (msg.type === 'local-verdict') sendResponse(M.ok(onLocalVerdict(msg.payload)));
    else if (msg.type === 'get-frame-rect') {
      const rect = FC.rect();
      sendResponse(rect ? M.ok(rect) : M.fail(M.problem('no-video', 'No video to check in this frame')));
    } else if (msg.type === 'frame-result') sendResponse(M.ok(showFrameResult(msg.payload)));
    else sendResponse(M.fail(M.problem('not-handled', 'Not handled by the content script', msg.type)));
    return false;
  });

  /** A long check (a server job) reports progress: the badge shows it until the verdict arrives. */
  function onProgress({ url, progress, stage, status }) {
    const item = items.get(url);
    if (!item || item.status !== 'checking' || !active) return false;
    item.progress = { progress, stage: stage || '', status: status || '' };
    item.job = true;
    for (const t of item.targets) applyBadge(t, item);
    return true;
  }

  /**
   * The browser's own (standalone) verdict while the server still works: a declared `synthetic` is shown at once;
   * the server's answer to check-media replaces it.
   */
  function onLocalVerdict({ url, result }) {
    const item = items.get(url);
    const response = result && result.response;
    if (!item || item.status !== 'checking' || !active || !response || !response.verdict) return false;
    if (response.verdict.label !== 'synthetic') return false;
    item.result = result;
    item.localFirst = true;
    for (const t of item.targets) applyBadge(t, item);
    return true;
  }

  // ---- "Check this frame": the result (frame-check.js finds the video and its rectangle) ------------------------

  /** The verdict on one captured frame, shown on the video with a clear "only one frame" notice. */
  function showFrameResult({ result, problem }) {
    const video = FC.target();
    if (!video || !video.isConnected || !config) return false;
    const target = discovery.targetsOf(video).find((t) => t.role === 'media') || { el: video, role: 'media' };
    const previous = targetKey.get(target);
    if (previous && items.get(previous)) items.get(previous).targets.delete(target);
    const key = `frame:${(streams += 1)}`;
    const item = { url: video.currentSrc && M.isHttpUrl(video.currentSrc) ? video.currentSrc : null, kind: 'video',
      targets: new Set([target]), status: 'done', result: problem ? null : { response: result.response },
      problem: problem || null, frame: problem ? { width: 0, height: 0 } : result.frame };
    items.set(key, item);
    targetKey.set(target, key);
    visible.set(video, true);
    const wasActive = active;
    active = true; // show it even when automatic checking is off: the user asked for this frame
    applyBadge(target, item);
    active = wasActive;
    const badge = badges.get(target);
    if (badge && badge.card.hidden && !FC.wasAutomatic(video)) toggleCard(badge);
    return true;
  }

  api.storage.onChanged.addListener((changes, area) => {
    if ((area === 'sync' && (changes.settings || changes.sites)) || (area === 'local' && changes.collapsed)) {
      refreshConfig();
    }
  });

  // A video given a MediaSource or MediaStream by script changes no attribute: look again when it has data.
  document.addEventListener('loadedmetadata', (ev) => {
    const el = ev.target;
    if (active && el && el.localName === 'video' && visible.get(el)) for (const t of discovery.targetsOf(el)) consider(t);
  }, { capture: true, passive: true });
  window.addEventListener('scroll', scheduleLayout, { capture: true, passive: true });
  window.addEventListener('resize', scheduleLayout, { passive: true });
  // A frame that goes away (navigation, iframe removed) takes its labels with it.
  window.addEventListener('pagehide', () => {
    M.request('labels-changed', { since: performance.timeOrigin, labels: [] }).catch(() => {});
  });

  refreshConfig();
})();
