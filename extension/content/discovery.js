/*
 * Content script, part 1 (classic script): discovery. Finds what a person sees as a picture, video or sound on
 * the page, wherever the page put it, and says which URL each one shows and how the page fetched it:
 *   - <img> (srcset, <picture>), <video>, <audio> (src or <source>), <svg><image href>;
 *   - a video's poster image;
 *   - CSS background images, inline or from style sheets, image-set() included (the computed style says which);
 *   - all of that inside open shadow roots, nested ones too (each root gets its own MutationObserver);
 *   - iframes: the manifest runs these scripts in every frame (all_frames, match_about_blank), so each frame finds
 *     its own media and draws its own badges.
 * A "target" is one thing to label: {el, role} with role "media", "poster" or "background" (a <video> with a poster
 * has two). Discovery runs in time slices (VerityScan.createSlicedQueue) and never fetches anything.
 * Defines globalThis.VerityDiscovery once.
 */
(function (root) {
  'use strict';
  if (root.VerityDiscovery) return;
  const S = root.VerityScan;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const HTML_NS = 'http://www.w3.org/1999/xhtml';
  const SKIP = new Set(['script', 'style', 'link', 'meta', 'head', 'title', 'template', 'noscript', 'source', 'track',
    'br', 'wbr', 'option', 'param']);
  const WATCHED = ['src', 'srcset', 'poster', 'href', 'style', 'class'];
  // Custom elements that get their shadow root after the first scan (defined later) are looked at again then.
  const LATE_SHADOW_MS = [1000, 4000];

  /**
   * Start discovery. `hooks.found(el, targets)`: an element has targets (new or changed); `hooks.removed()`: nodes
   * left the page (badges may need to go); `hooks.isOurs(node)`: Verity's own badge hosts, never scanned;
   * `hooks.ourNodeRemoved(node)`: a page removed one of them.
   */
  function create(hooks) {
    const targets = new WeakMap(); // el -> [{el, role}] (stable objects: badges are keyed by them)
    const roots = new WeakSet(); // shadow roots already observed
    let lateHosts = [];
    let running = false;
    let timers = [];

    const queue = S.createSlicedQueue(inspect);
    const rechecks = new Set();
    const recheckQueue = S.createSlicedQueue((el) => {
      rechecks.delete(el);
      inspect(el);
    });

    const mutations = new MutationObserver((records) => {
      if (!running) return;
      let removed = false;
      for (const r of records) {
        if (r.type === 'childList') {
          for (const n of r.addedNodes) scanNode(n);
          for (const n of r.removedNodes) {
            if (hooks.isOurs(n)) hooks.ourNodeRemoved(n);
          }
          if (r.removedNodes.length) removed = true;
        } else if (r.type === 'attributes') {
          const el = r.target;
          if (hooks.isOurs(el)) continue;
          if (el.localName === 'source' && el.parentElement) {
            const parent = el.parentElement; // a <source> changed: its <video>/<audio>, or its <picture>'s <img>
            recheck(parent.localName === 'picture' ? parent.querySelector('img') : parent);
          } else {
            recheck(el);
          }
        }
      }
      if (removed) hooks.removed();
    });

    function observeRoot(node) {
      mutations.observe(node, { childList: true, subtree: true, attributes: true, attributeFilter: WATCHED });
    }

    function recheck(el) {
      if (!el || rechecks.has(el)) return;
      rechecks.add(el);
      recheckQueue.push(el);
    }

    /** Queue a subtree (light DOM; shadow roots are reached from their hosts in inspect()). */
    function scanNode(node) {
      if (!running || node.nodeType !== 1 || hooks.isOurs(node)) return;
      queue.push(node);
      if (node.firstElementChild) for (const el of node.querySelectorAll('*')) queue.push(el);
    }

    function scanShadow(shadow) {
      if (roots.has(shadow)) return;
      roots.add(shadow);
      observeRoot(shadow);
      for (const el of shadow.querySelectorAll('*')) queue.push(el);
    }

    function inspect(el) {
      if (!running || !el.isConnected || hooks.isOurs(el)) return;
      if (el.shadowRoot) scanShadow(el.shadowRoot);
      else if (el.localName.includes('-')) lateHosts.push(el);
      const roles = rolesOf(el);
      const before = targets.get(el);
      if (roles.length === 0 && !before) return;
      const kept = (before || []).filter((t) => roles.includes(t.role));
      for (const role of roles) if (!kept.some((t) => t.role === role)) kept.push({ el, role });
      targets.set(el, kept);
      hooks.found(el, kept);
    }

    function lookAgainAtLateHosts() {
      const hosts = lateHosts;
      lateHosts = [];
      for (const el of hosts) if (el.isConnected && el.shadowRoot) queue.push(el);
    }

    return {
      start() {
        if (running) return;
        running = true;
        observeRoot(document.documentElement);
        scanNode(document.documentElement);
        timers = LATE_SHADOW_MS.map((ms) => setTimeout(lookAgainAtLateHosts, ms));
      },
      stop() {
        running = false;
        mutations.disconnect();
        for (const t of timers) clearTimeout(t);
        lateHosts = [];
      },
      targetsOf: (el) => targets.get(el) || [],
    };
  }

  function isMediaTag(el) {
    const tag = el.localName;
    if (tag === 'img' || tag === 'video' || tag === 'audio') return el.namespaceURI === HTML_NS;
    return tag === 'image' && el.namespaceURI === SVG_NS;
  }

  /** Which targets an element has: "media" (what it plays or shows), "poster", "background". */
  function rolesOf(el) {
    const roles = [];
    if (isMediaTag(el)) roles.push('media');
    if (el.localName === 'video' && el.getAttribute('poster')) roles.push('poster');
    if (el.localName !== 'img' && el.namespaceURI === HTML_NS && !SKIP.has(el.localName)) {
      const bg = getComputedStyle(el).backgroundImage;
      if (bg && bg !== 'none' && bg.includes('url(')) roles.push('background');
    }
    return roles;
  }

  function svgHref(el) {
    return el.getAttribute('href') || el.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '';
  }

  /** A video fed by MediaSource, a MediaStream or a blob: URL: the extension cannot download what it shows. */
  function isStream(el) {
    if (el.localName !== 'video') return false;
    if (el.srcObject) return true;
    const src = el.currentSrc || el.getAttribute('src') || '';
    return src.startsWith('blob:') || src.startsWith('mediasource:');
  }

  /**
   * What a target shows: {kind, url, stream, credentials, expect} (url null when there is nothing to fetch: not
   * loaded yet, data:, or a stream). `expect` is the natural size the page shows, compared with the fetched bytes.
   */
  function describe(target) {
    const el = target.el;
    const base = el.baseURI || document.baseURI;
    const credentials = S.credentialsFor(el.getAttribute('crossorigin'));
    if (target.role === 'background') {
      const url = S.backgroundUrl(getComputedStyle(el).backgroundImage, base, root.devicePixelRatio || 1);
      return { kind: 'image', url, stream: false, credentials: 'include', expect: null };
    }
    if (target.role === 'poster') {
      return { kind: 'image', url: S.absoluteUrl(el.getAttribute('poster'), base), stream: false, credentials,
        expect: null };
    }
    if (el.localName === 'image') {
      return { kind: 'image', url: S.absoluteUrl(svgHref(el), base), stream: false, credentials, expect: null };
    }
    const kind = S.kindOf(el.localName);
    if (isStream(el)) return { kind, url: null, stream: true, credentials, expect: null };
    const sources = [];
    const container = el.parentElement && el.parentElement.localName === 'picture' ? el.parentElement : el;
    for (const s of container.querySelectorAll(':scope > source')) {
      sources.push({ src: s.getAttribute('src') || '', srcset: s.getAttribute('srcset') || '' });
    }
    const url = S.mediaUrl({
      tag: el.localName,
      currentSrc: el.currentSrc || '',
      src: el.getAttribute('src') || '',
      srcset: el.getAttribute('srcset') || '',
      // <picture> sources only count once the browser has chosen (currentSrc); <video>/<audio> sources always.
      sources: el.localName === 'img' ? [] : sources,
    }, base);
    const expect = kind === 'image' && el.complete && el.naturalWidth > 0
      ? { width: el.naturalWidth, height: el.naturalHeight } : null;
    return { kind, url, stream: false, credentials, expect };
  }

  root.VerityDiscovery = Object.freeze({ create, describe, isStream });
})(globalThis);
