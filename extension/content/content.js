/*
 * Content script (classic): finds media on the page, asks the service worker about the visible ones, and shows
 * Verity's badges in place. It never talks to the API itself and never blocks the page: discovery runs in short
 * time slices, checks are sent a few at a time, and badge positions are updated once per animation frame.
 */
(function () {
  'use strict';
  if (globalThis.__verityContent) return;
  globalThis.__verityContent = true;

  const M = globalThis.VerifyMessages;
  const S = globalThis.VerityScan;
  const I = globalThis.VerityI18n;
  const api = M.extensionApi();
  const EXT_ORIGIN = api.runtime.getURL('');

  const MAX_IN_FLIGHT = 4;
  const RETRY_MIN_MS = 5000;
  const RETRY_MAX_MS = 5 * 60 * 1000;
  const AUDIO_BADGE_ROOM_PX = 200;

  let config = null;
  let active = false;
  const items = new Map(); // url -> {url, kind, elements: Set, status, result, problem}
  let observed = new WeakSet();
  let elementUrl = new WeakMap(); // element -> url it was tracked under
  const visible = new WeakMap(); // element -> intersecting?
  const waitingForLoad = new WeakSet();
  const badges = new Map(); // element -> badge record
  const sendQueue = [];
  let inFlight = 0;
  let retryDelay = RETRY_MIN_MS;
  let retryTimer = null;
  let lastProblem = null;
  let contextTarget = null; // the <video> last right-clicked ("Check this frame")
  let frameTarget = null; // the <video> whose frame is being checked

  // ---- discovery ------------------------------------------------------------------------------------------------

  const io = new IntersectionObserver(onIntersect, { threshold: 0 });
  const discovery = S.createSlicedQueue((el) => {
    if (!active || observed.has(el)) return;
    observed.add(el);
    io.observe(el);
  });
  const attributeChanges = S.createSlicedQueue((el) => {
    if (active && visible.get(el)) consider(el);
  });

  function scanNode(node) {
    if (node.nodeType !== 1) return;
    const tag = node.localName;
    if (tag === 'img' || tag === 'video' || tag === 'audio') discovery.push(node);
    else if (tag === 'source' && node.parentElement) scanNode(node.parentElement);
    if (node.firstElementChild) {
      for (const el of node.querySelectorAll('img,video,audio')) discovery.push(el);
    }
  }

  const mutations = new MutationObserver((records) => {
    let removed = false;
    for (const r of records) {
      if (r.type === 'childList') {
        for (const n of r.addedNodes) scanNode(n);
        if (r.removedNodes.length) removed = true;
      } else if (r.type === 'attributes') {
        const el = r.target;
        if (observed.has(el)) attributeChanges.push(el);
        else if (el.localName === 'source' && el.parentElement && observed.has(el.parentElement)) {
          attributeChanges.push(el.parentElement);
        }
      }
    }
    if (removed) scheduleLayout();
  });

  function describe(el) {
    const sources = [];
    const container = el.parentElement && el.parentElement.localName === 'picture' ? el.parentElement : el;
    for (const s of container.querySelectorAll(':scope > source')) {
      sources.push({ src: s.getAttribute('src') || '', srcset: s.getAttribute('srcset') || '' });
    }
    return {
      tag: el.localName,
      currentSrc: el.currentSrc || '',
      src: el.getAttribute('src') || '',
      srcset: el.getAttribute('srcset') || '',
      // <picture> sources only count once the browser has chosen (currentSrc); <video>/<audio> sources always.
      sources: el.localName === 'img' ? [] : sources,
    };
  }

  function onIntersect(entries) {
    for (const entry of entries) {
      const el = entry.target;
      visible.set(el, entry.isIntersecting);
      if (entry.isIntersecting) consider(el, entry.boundingClientRect);
      const badge = badges.get(el);
      if (badge) {
        badge.host.style.display = entry.isIntersecting ? 'block' : 'none';
        if (entry.isIntersecting) place(el, badge, window.scrollX, window.scrollY);
      }
    }
    scheduleLayout();
  }

  /** Decide whether a visible element is checked, and under which URL. */
  function consider(el, rect) {
    const kind = S.kindOf(el.localName);
    const box = rect || el.getBoundingClientRect();
    const url = S.mediaUrl(describe(el), document.baseURI);
    const notReady = kind === 'image' && (!el.complete || el.naturalWidth === 0);
    if ((!url || !S.bigEnough(kind, box.width, box.height)) && notReady && !waitingForLoad.has(el)) {
      // Lazy images often have no size and no URL until they load: look again then.
      waitingForLoad.add(el);
      el.addEventListener('load', () => {
        waitingForLoad.delete(el);
        if (visible.get(el)) consider(el);
      }, { once: true });
      return;
    }
    if (!url || !S.bigEnough(kind, box.width, box.height)) return;
    const previous = elementUrl.get(el);
    if (previous === url) return;
    if (previous) untrack(el, previous);
    track(el, url, kind);
  }

  function track(el, url, kind) {
    elementUrl.set(el, url);
    let item = items.get(url);
    if (!item) {
      item = { url, kind, elements: new Set(), status: 'new', result: null, problem: null };
      items.set(url, item);
    }
    item.elements.add(el);
    if (item.status === 'new') {
      item.status = 'queued';
      sendQueue.push(item);
      pump();
    } else if (item.status === 'done' || item.status === 'too-large') {
      applyBadge(el, item);
    }
  }

  function untrack(el, url) {
    const item = items.get(url);
    if (item) item.elements.delete(el);
    removeBadge(el);
  }

  // ---- checks (through the service worker) ------------------------------------------------------------------------

  function pump() {
    while (active && inFlight < MAX_IN_FLIGHT && sendQueue.length > 0) {
      const item = sendQueue.shift();
      if (item.status !== 'queued') continue;
      item.status = 'checking';
      inFlight += 1;
      M.request('check-media', { url: item.url, kind: item.kind })
        .then((data) => {
          item.progress = null;
          item.status = data.status === 'too-large' ? 'too-large' : 'done';
          item.result = data;
          item.problem = null;
          lastProblem = null;
          retryDelay = RETRY_MIN_MS;
          for (const el of item.elements) applyBadge(el, item);
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
        if (item.status === 'failed' && item.elements.size > 0) {
          item.status = 'queued';
          sendQueue.push(item);
        }
      }
      retryDelay = Math.min(RETRY_MAX_MS, retryDelay * 2);
      pump();
    }, retryDelay);
  }

  // ---- badges ------------------------------------------------------------------------------------------------------

  const BADGE_CSS = `
    :host { all: initial; }
    .wrap { position: absolute; left: 6px; top: 6px; font: 12px/1.3 system-ui, -apple-system, "Segoe UI", "Noto Sans",
      "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: #111; }
    .badge { display: inline-flex; align-items: center; gap: 5px; max-width: 240px; padding: 3px 8px 3px 6px;
      border: 0; border-radius: 999px; background: rgba(20, 20, 24, .86); color: #fff; cursor: pointer;
      font: inherit; font-weight: 600; box-shadow: 0 1px 4px rgba(0,0,0,.35); white-space: nowrap; }
    .badge:focus-visible { outline: 2px solid #8ab4f8; outline-offset: 2px; }
    .dot { width: 9px; height: 9px; border-radius: 50%; flex: none; background: #9aa0a6; }
    .synthetic .dot, .refuted .dot, .frame_failed .dot { background: #ff5b5b; }
    .likely_synthetic .dot { background: #ffb300; }
    .provenance_invalid .dot { background: #ff8a3d; }
    .has_provenance .dot { background: #4caf50; }
    .not_checked .dot { background: #9aa0a6; }
    .collapsed .text { display: none; }
    .collapsed.badge { padding: 4px; }
    .card { margin-top: 6px; width: 280px; padding: 10px 12px; border-radius: 10px; background: #fff; color: #111;
      box-shadow: 0 4px 18px rgba(0,0,0,.35); font-weight: 400; }
    .card[hidden] { display: none; }
    .card h2 { margin: 0 0 4px; font-size: 13px; }
    .card p { margin: 4px 0; }
    .card ul { margin: 4px 0; padding-left: 18px; }
    .card .muted { color: #555; }
    .card .actions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }
    .card button { font: inherit; padding: 4px 8px; border-radius: 6px; border: 1px solid #bbb; background: #f5f5f5;
      color: #111; cursor: pointer; }
    .card button.primary { background: #1a73e8; border-color: #1a73e8; color: #fff; }
    .checking .dot { background: #8ab4f8; }
    .card .frame-only { padding: 6px 8px; border-radius: 6px; background: #fff4e5; color: #663c00; font-weight: 600; }
    .card form { display: grid; gap: 4px; margin-top: 8px; }
    .card select, .card textarea { font: inherit; width: 100%; box-sizing: border-box; }
    .card .report-status { margin: 6px 0 0; font-weight: 600; }
    .card .report-status.error { color: #a50e0e; }
  `;

  function labelKey(item) {
    if (item.status === 'too-large') return { key: 'not_checked', label: 'not_checked', refuted: false, show: true };
    if (item.status === 'checking' && item.progress) return { key: 'checking', label: 'checking', refuted: false, show: true };
    const b = S.badgeFor(item.result && item.result.response, config.showLabels);
    const key = b.refuted && (config.showLabels || []).includes('refuted') ? 'refuted' : b.label;
    if (item.frame && item.problem) return { key: 'frame_failed', label: 'unknown', refuted: false, show: true };
    if (item.frame) {
      // The user asked for this frame: always answer, "nothing found" included.
      return { key: key === 'unknown' ? 'frame_unknown' : key, label: b.label, refuted: b.refuted, show: true };
    }
    return { key, label: b.label, refuted: b.refuted, show: b.badge };
  }

  function applyBadge(el, item) {
    if (!active || !el.isConnected) return;
    const info = labelKey(item);
    if (!info.show) {
      removeBadge(el);
      return;
    }
    let badge = badges.get(el);
    if (!badge) {
      badge = createBadge(el);
      badges.set(el, badge);
    }
    fillBadge(badge, item, info);
    badge.host.style.display = visible.get(el) === false ? 'none' : 'block';
    if (badge.host.style.display !== 'none') place(el, badge, window.scrollX, window.scrollY);
  }

  function createBadge(el) {
    const host = document.createElement('div');
    host.setAttribute('style', 'all: initial; position: absolute; left: 0; top: 0; width: 0; height: 0; ' +
      'overflow: visible; z-index: 2147483646; display: block; pointer-events: auto;');
    const shadow = host.attachShadow({ mode: 'closed' });
    const style = document.createElement('style');
    style.textContent = BADGE_CSS;
    const wrap = document.createElement('div');
    wrap.className = 'wrap';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'badge';
    button.setAttribute('aria-expanded', 'false');
    const dot = document.createElement('span');
    dot.className = 'dot';
    const text = document.createElement('span');
    text.className = 'text';
    button.append(dot, text);
    const card = document.createElement('div');
    card.className = 'card';
    card.hidden = true;
    card.setAttribute('role', 'dialog');
    wrap.append(button, card);
    shadow.append(style, wrap);
    const badge = { el, host, button, text, card, item: null };
    button.addEventListener('click', (ev) => {
      ev.stopPropagation();
      ev.preventDefault();
      toggleCard(badge);
    });
    document.documentElement.appendChild(host);
    return badge;
  }

  function fillBadge(badge, item, info) {
    badge.item = item;
    const text = info.key === 'checking'
      ? I.t('badge_checking', String(Math.round(item.progress.progress * 100)))
      : I.t('badge_' + info.key);
    badge.host.setAttribute('data-verity-label', info.label);
    badge.host.setAttribute('data-verity-src', item.url);
    badge.host.setAttribute('data-verity-status',
      item.status === 'too-large' ? 'too-large' : info.key === 'checking' ? 'checking' : 'checked');
    if (info.key === 'checking') badge.host.setAttribute('data-verity-progress', String(item.progress.progress));
    else badge.host.removeAttribute('data-verity-progress');
    if (item.job) badge.host.setAttribute('data-verity-job', 'true'); // verified as a server job (long media)
    if (item.frame) {
      badge.host.setAttribute('data-verity-scope', 'frame');
      badge.host.setAttribute('data-verity-frame', `${item.frame.width}x${item.frame.height}`);
    } else {
      badge.host.removeAttribute('data-verity-scope');
      badge.host.removeAttribute('data-verity-frame');
    }
    if (info.refuted) badge.host.setAttribute('data-verity-refuted', 'true');
    else badge.host.removeAttribute('data-verity-refuted');
    badge.host.setAttribute('data-verity-collapsed', config.collapsed ? 'true' : 'false');
    badge.host.setAttribute('lang', I.lang());
    badge.host.title = I.t('badge_title', text);
    badge.button.className = 'badge ' + info.key + (config.collapsed ? ' collapsed' : '');
    badge.button.setAttribute('aria-label', I.t('badge_title', text));
    badge.text.textContent = text;
    if (!badge.card.hidden) renderCard(badge);
  }

  function toggleCard(badge) {
    const open = badge.card.hidden;
    badge.card.hidden = !open;
    badge.button.setAttribute('aria-expanded', String(open));
    badge.host.setAttribute('data-verity-open', String(open));
    if (open) renderCard(badge);
  }

  function h(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // server strings: textContent only, never innerHTML
    return node;
  }

  function renderCard(badge) {
    const item = badge.item;
    const info = labelKey(item);
    const response = item.result && item.result.response;
    const card = badge.card;
    card.replaceChildren();
    card.append(h('h2', '', info.key === 'checking' ? badge.text.textContent : I.t('badge_' + info.key)));
    if (item.frame) card.append(h('p', 'frame-only', I.t('frameOnly')));
    if (info.key === 'frame_failed') {
      card.append(h('p', '', [item.problem.title, item.problem.detail].filter(Boolean).map(String).join(': ')));
    } else if (info.key !== 'checking' && info.key !== 'frame_unknown') {
      card.append(h('p', 'muted', I.t('label_' + info.key)));
    }
    if (response) {
      if (response.refutation) card.append(refutationBlock(response.refutation));
      const reasons = (response.verdict && response.verdict.reasons) || [];
      if (reasons.length) {
        card.append(h('p', '', I.t('cardReasons')));
        const ul = h('ul');
        for (const reason of reasons.slice(0, 4)) ul.append(h('li', '', String(reason.text)));
        card.append(ul);
      }
      const source = S.labelSource(response);
      if (source) {
        card.append(h('p', 'muted', `${I.t(source.kind === 'signer' ? 'cardSigner' : 'cardLabelSource')}: ${source.text}`));
      }
    }
    const actions = h('div', 'actions');
    const button = (key, className, onClick) => {
      const b = h('button', className, I.t(key));
      b.type = 'button';
      b.addEventListener('click', (ev) => {
        ev.stopPropagation();
        onClick();
      });
      actions.append(b);
      return b;
    };
    if (!item.frame) {
      button('cardFullReport', 'primary', () => {
        M.request('open-report', { url: item.url, kind: item.kind }).catch(() => {});
      });
      if (item.status === 'done') button('cardReport', '', () => showReportForm(badge));
    }
    button(config.collapsed ? 'cardExpand' : 'cardCollapse', '', () => setCollapsed(!config.collapsed));
    button('cardClose', '', () => toggleCard(badge));
    card.append(actions);
    if (badge.reportOpen && !item.frame) card.append(reportForm(badge));
  }

  /** The fact-check in the card: claim, rating, who and when, and a link to their article (textContent only). */
  function refutationBlock(r) {
    const box = h('div', 'refutation');
    box.append(h('p', '', `${I.t('reportClaim')}: ${String(r.claim || '')}`));
    box.append(h('p', '', `${I.t('reportRating')}: ${String(r.rating || '')}`));
    box.append(h('p', 'muted', `${String(r.fact_checker || '')}${r.date ? ', ' + String(r.date) : ''}`));
    if (r.review_url && M.isHttpUrl(r.review_url)) {
      const a = h('a', '', I.t('reportReview'));
      a.href = r.review_url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      const p = h('p');
      p.append(a);
      box.append(p);
    }
    return box;
  }

  function showReportForm(badge) {
    badge.reportOpen = true;
    renderCard(badge);
    const select = badge.card.querySelector('select');
    if (select) select.focus();
  }

  /** "Report as suspected fake" in the card: a category and optional text, sent through the service worker. */
  function reportForm(badge) {
    const item = badge.item;
    const form = h('form');
    const select = h('select');
    select.setAttribute('aria-label', I.t('reportCategory'));
    for (const category of M.REPORT_CATEGORIES) {
      const option = h('option', '', I.t('category_' + category));
      option.value = category;
      select.append(option);
    }
    const text = h('textarea');
    text.rows = 2;
    text.maxLength = M.MAX_TEXT;
    text.placeholder = I.t('reportText');
    text.setAttribute('aria-label', I.t('reportText'));
    const send = h('button', 'primary', I.t('reportSend'));
    send.type = 'submit';
    const status = h('p', 'report-status');
    status.setAttribute('role', 'status');
    form.append(select, text, send, status);
    form.addEventListener('click', (ev) => ev.stopPropagation());
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      ev.stopPropagation();
      send.disabled = true;
      const value = text.value.trim();
      M.request('report-media', { url: item.url, kind: item.kind, category: select.value,
        ...(value ? { text: value } : {}) })
        .then((data) => {
          status.className = 'report-status';
          status.textContent = I.t('cardReportSent', data.id);
          badge.host.setAttribute('data-verity-report', 'sent');
          badge.host.setAttribute('data-verity-report-id', data.id);
        })
        .catch((err) => {
          const p = err.problem || {};
          const unavailable = p.type === 'reporting-unavailable';
          status.className = 'report-status error';
          status.textContent = `${I.t(unavailable ? 'reportUnavailable' : 'reportError')} ${p.title || ''}`.trim();
          badge.host.setAttribute('data-verity-report', unavailable ? 'unavailable' : 'error');
          send.disabled = false;
        });
    });
    return form;
  }

  function setCollapsed(value) {
    config.collapsed = value;
    for (const badge of badges.values()) {
      if (badge.item) fillBadge(badge, badge.item, labelKey(badge.item));
    }
    M.request('set-collapsed', { collapsed: value }).catch(() => {});
  }

  function removeBadge(el) {
    const badge = badges.get(el);
    if (!badge) return;
    badge.host.remove();
    badges.delete(el);
  }

  // Position every shown badge at its media's top-left corner, once per frame at most.
  let layoutPending = false;
  function scheduleLayout() {
    if (layoutPending || badges.size === 0) return;
    layoutPending = true;
    requestAnimationFrame(layout);
  }

  function layout() {
    layoutPending = false;
    const sx = window.scrollX;
    const sy = window.scrollY;
    for (const [media, badge] of badges) {
      if (!media.isConnected) {
        removeBadge(media); // the badge disappears with its media
        continue;
      }
      if (badge.host.style.display === 'none') continue;
      place(media, badge, sx, sy);
    }
  }

  function place(media, badge, sx, sy) {
    const r = media.getBoundingClientRect();
    let x = r.left + sx;
    let y = r.top + sy;
    if (media.localName === 'audio') {
      // An audio player is one row of controls: its badge sits beside it (or above it when there is no room),
      // never over the play button.
      if (r.right + AUDIO_BADGE_ROOM_PX < window.innerWidth) {
        x = r.right + sx;
        y = r.top + sy + Math.max(0, (r.height - 34) / 2);
      } else {
        y = Math.max(0, y - 30);
      }
    }
    badge.host.style.transform = `translate(${Math.round(x)}px, ${Math.round(y)}px)`;
  }

  // ---- configuration, start and stop -------------------------------------------------------------------------------

  function start() {
    if (active) return;
    active = true;
    mutations.observe(document.documentElement, {
      childList: true, subtree: true, attributes: true, attributeFilter: ['src', 'srcset'],
    });
    scanNode(document.documentElement);
  }

  function stop() {
    active = false;
    mutations.disconnect();
    io.disconnect();
    for (const el of Array.from(badges.keys())) removeBadge(el);
    items.clear();
    sendQueue.length = 0;
    observed = new WeakSet();
    elementUrl = new WeakMap();
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
      else for (const [media, badge] of badges) if (badge.item) applyBadge(media, badge.item);
    } else if (active) {
      stop();
    }
  }

  function pageStats() {
    const out = { checked: 0, labelled: 0, refuted: 0, tooLarge: 0, pending: 0, failed: 0, items: [] };
    for (const item of items.values()) {
      if (item.status === 'done') {
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
    else if (msg.type === 'get-frame-rect') {
      const rect = frameRect();
      sendResponse(rect ? M.ok(rect) : M.fail(M.problem('no-video', 'No video to check on this page')));
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
    for (const el of item.elements) applyBadge(el, item);
    return true;
  }

  // "Check this frame": remember which video was right-clicked (the context menu names no element).
  document.addEventListener('contextmenu', (ev) => {
    const path = ev.composedPath ? ev.composedPath() : [ev.target];
    contextTarget = path.find((n) => n && n.localName === 'video') || null;
  }, { capture: true, passive: true });

  /** The video's visible rectangle in CSS pixels of the viewport (the service worker scales it to the capture). */
  function frameRect() {
    let video = contextTarget && contextTarget.isConnected ? contextTarget : null;
    if (!video) {
      // Without a right-click (e.g. a keyboard-opened menu): the largest video in view.
      let best = 0;
      for (const v of document.querySelectorAll('video')) {
        const r = v.getBoundingClientRect();
        const w = Math.max(0, Math.min(r.right, innerWidth) - Math.max(r.left, 0));
        const hgt = Math.max(0, Math.min(r.bottom, innerHeight) - Math.max(r.top, 0));
        if (w * hgt > best) {
          best = w * hgt;
          video = v;
        }
      }
    }
    if (!video) return null;
    frameTarget = video;
    const r = video.getBoundingClientRect();
    const x = Math.max(0, r.left);
    const y = Math.max(0, r.top);
    return { x, y, width: Math.min(r.right, innerWidth) - x, height: Math.min(r.bottom, innerHeight) - y,
      viewportWidth: innerWidth, viewportHeight: innerHeight, dpr: devicePixelRatio || 1 };
  }

  /** The verdict on one captured frame, shown on the video with a clear "only one frame" notice. */
  function showFrameResult({ result, problem }) {
    const video = frameTarget;
    if (!video || !video.isConnected || !config) return false;
    const item = { url: video.currentSrc || video.src || location.href, kind: 'video', elements: new Set([video]),
      status: 'done', result: problem ? null : { response: result.response }, problem: problem || null,
      frame: problem ? { width: 0, height: 0 } : result.frame };
    visible.set(video, true);
    const wasActive = active;
    active = true; // show it even when automatic checking is off: the user asked for this frame
    applyBadge(video, item);
    active = wasActive;
    const badge = badges.get(video);
    if (badge && badge.card.hidden) toggleCard(badge);
    return true;
  }

  api.storage.onChanged.addListener((changes, area) => {
    if ((area === 'sync' && (changes.settings || changes.sites)) || (area === 'local' && changes.collapsed)) {
      refreshConfig();
    }
  });

  window.addEventListener('scroll', scheduleLayout, { capture: true, passive: true });
  window.addEventListener('resize', scheduleLayout, { passive: true });

  refreshConfig();
})();
