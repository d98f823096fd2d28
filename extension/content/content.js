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
    .synthetic .dot, .refuted .dot { background: #ff5b5b; }
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
  `;

  function labelKey(item) {
    if (item.status === 'too-large') return { key: 'not_checked', label: 'not_checked', refuted: false, show: true };
    const b = S.badgeFor(item.result && item.result.response, config.showLabels);
    const key = b.refuted && (config.showLabels || []).includes('refuted') ? 'refuted' : b.label;
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
    const text = I.t('badge_' + info.key);
    badge.host.setAttribute('data-verity-label', info.label);
    badge.host.setAttribute('data-verity-src', item.url);
    badge.host.setAttribute('data-verity-status', item.status === 'too-large' ? 'too-large' : 'checked');
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
    card.append(h('h2', '', I.t('badge_' + info.key)));
    card.append(h('p', 'muted', I.t('label_' + info.key)));
    if (response) {
      if (response.refutation) {
        const r = response.refutation;
        card.append(h('p', '', `${r.fact_checker}: ${r.rating}. ${r.claim}`));
      }
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
    const report = h('button', 'primary', I.t('cardFullReport'));
    report.type = 'button';
    report.addEventListener('click', (ev) => {
      ev.stopPropagation();
      M.request('open-report', { url: item.url, kind: item.kind }).catch(() => {});
    });
    const collapse = h('button', '', I.t(config.collapsed ? 'cardExpand' : 'cardCollapse'));
    collapse.type = 'button';
    collapse.addEventListener('click', (ev) => {
      ev.stopPropagation();
      setCollapsed(!config.collapsed);
    });
    const close = h('button', '', I.t('cardClose'));
    close.type = 'button';
    close.addEventListener('click', (ev) => {
      ev.stopPropagation();
      toggleCard(badge);
    });
    actions.append(report, collapse, close);
    card.append(actions);
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
    else sendResponse(M.fail(M.problem('not-handled', 'Not handled by the content script', msg.type)));
    return false;
  });

  api.storage.onChanged.addListener((changes, area) => {
    if ((area === 'sync' && (changes.settings || changes.sites)) || (area === 'local' && changes.collapsed)) {
      refreshConfig();
    }
  });

  window.addEventListener('scroll', scheduleLayout, { capture: true, passive: true });
  window.addEventListener('resize', scheduleLayout, { passive: true });

  refreshConfig();
})();
