/*
 * Pure scan heuristics used by the content script (and tested with node --test): which URL a media element shows,
 * which elements are worth checking, which verdicts get a badge, and a time-sliced work queue that never holds the
 * main thread for long. No DOM access beyond the plain properties passed in. Defines globalThis.VerityScan once.
 */
(function (root) {
  'use strict';
  if (root.VerityScan) return;

  const MIN_SIDE = 100; // icons and tiny images (under 100x100 rendered) are skipped
  const SLICE_MS = 8; // one slice of queued work stays well under the 50 ms long-task line

  /** Parse a srcset attribute into [{url, descriptor}] (the HTML spec's tokenizer, without its error cases). */
  function parseSrcset(srcset) {
    if (typeof srcset !== 'string') return [];
    const out = [];
    let i = 0;
    const n = srcset.length;
    const isSpace = (ch) => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f';
    while (i < n) {
      while (i < n && (isSpace(srcset[i]) || srcset[i] === ',')) i += 1;
      if (i >= n) break;
      let j = i;
      while (j < n && !isSpace(srcset[j])) j += 1;
      let url = srcset.slice(i, j);
      i = j;
      let descriptor = '';
      if (url.endsWith(',')) {
        url = url.replace(/,+$/, '');
      } else {
        let depth = 0;
        let k = i;
        while (k < n && (depth > 0 || srcset[k] !== ',')) {
          if (srcset[k] === '(') depth += 1;
          else if (srcset[k] === ')' && depth > 0) depth -= 1;
          k += 1;
        }
        descriptor = srcset.slice(i, k).trim();
        i = k + 1;
      }
      if (url) out.push({ url, descriptor });
    }
    return out;
  }

  /** The largest candidate of a srcset (by w or x descriptor), or the first. */
  function bestSrcsetUrl(srcset) {
    const candidates = parseSrcset(srcset);
    if (candidates.length === 0) return '';
    let best = candidates[0];
    let bestValue = -1;
    for (const c of candidates) {
      const m = /^(\d+(?:\.\d+)?)([wx])$/.exec(c.descriptor);
      const value = m ? parseFloat(m[1]) * (m[2] === 'x' ? 1000 : 1) : 0;
      if (value > bestValue) {
        best = c;
        bestValue = value;
      }
    }
    return best.url;
  }

  /** An absolute http(s) URL, or null (data:, blob:, javascript: and unparsable URLs are not checked). */
  function absoluteUrl(url, base) {
    if (typeof url !== 'string' || url.trim() === '') return null;
    try {
      const u = new URL(url.trim(), base);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
      u.hash = '';
      const s = u.href;
      return s.length <= 2048 ? s : null;
    } catch (_) {
      return null;
    }
  }

  /**
   * The URL a media element shows. `el` is a plain description: {tag, currentSrc, src, srcset, sources: [{src, srcset}]}.
   * The browser's choice (currentSrc, which covers srcset and <picture>) wins; before it is known the src attribute,
   * then the largest srcset candidate, then the first <source>.
   */
  function mediaUrl(el, base) {
    const tag = String(el.tag || '').toLowerCase();
    const candidates = [el.currentSrc, el.src];
    if (tag === 'img') candidates.push(bestSrcsetUrl(el.srcset));
    for (const s of el.sources || []) candidates.push(s.src, bestSrcsetUrl(s.srcset));
    for (const c of candidates) {
      const abs = absoluteUrl(c, base);
      if (abs) return abs;
    }
    return null;
  }

  /** The resolution of an image-set() candidate's descriptor text in dppx (1 when it names none). */
  function resolutionOf(descriptor) {
    const m = /(?:^|\s)([0-9]*\.?[0-9]+)(x|dppx|dpi|dpcm)(?=\s|$)/.exec(descriptor || '');
    if (!m) return 1;
    const n = parseFloat(m[1]);
    return m[2] === 'dpi' ? n / 96 : m[2] === 'dpcm' ? (n * 2.54) / 96 : n;
  }

  /** [{url, rest}] for each url(...) in `text`, `rest` being what follows it up to the next top-level comma. */
  function urlTokens(text) {
    const out = [];
    const re = /url\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([^)\s]*))\s*\)/g;
    let m;
    while ((m = re.exec(text)) !== null) {
      const url = (m[1] !== undefined ? m[1] : m[2] !== undefined ? m[2] : m[3]).replace(/\\(.)/g, '$1');
      let depth = 0;
      let k = re.lastIndex;
      while (k < text.length && (depth > 0 || (text[k] !== ',' && text[k] !== ')'))) {
        if (text[k] === '(') depth += 1;
        else if (text[k] === ')') depth -= 1;
        k += 1;
      }
      out.push({ url, rest: text.slice(re.lastIndex, k) });
    }
    return out;
  }

  /**
   * The image a computed `background-image` shows, as an absolute http(s) URL, or null. Several layers: the first
   * (topmost) image. image-set(): the candidate the browser picks for `dpr` (the smallest resolution >= dpr, else
   * the largest), the way a browser does it without knowing the network.
   */
  function backgroundUrl(value, base, dpr) {
    if (typeof value !== 'string' || !value.includes('url(')) return null;
    const setAt = value.search(/(?:-webkit-)?image-set\(/);
    const firstUrl = value.indexOf('url(');
    if (setAt === -1 || firstUrl < setAt) {
      const first = urlTokens(value)[0];
      return first ? absoluteUrl(first.url, base) : null;
    }
    let depth = 0;
    let end = value.indexOf('(', setAt);
    for (; end < value.length; end += 1) {
      if (value[end] === '(') depth += 1;
      else if (value[end] === ')' && --depth === 0) break;
    }
    const candidates = urlTokens(value.slice(value.indexOf('(', setAt) + 1, end))
      .map((c) => ({ url: c.url, res: resolutionOf(c.rest) }))
      .sort((a, b) => a.res - b.res);
    if (candidates.length === 0) return null;
    const want = dpr > 0 ? dpr : 1;
    const pick = candidates.find((c) => c.res >= want) || candidates[candidates.length - 1];
    return absoluteUrl(pick.url, base);
  }

  /**
   * The fetch credentials mode of a media element, from its `crossorigin` attribute (HTML's CORS settings
   * attribute): absent = the no-cors request a page makes, which carries cookies ("include"); "use-credentials" =
   * "include"; "anonymous" or any other value = "same-origin".
   */
  function credentialsFor(crossorigin) {
    if (crossorigin === null || crossorigin === undefined) return 'include';
    return String(crossorigin).toLowerCase() === 'use-credentials' ? 'include' : 'same-origin';
  }

  function kindOf(tag) {
    const t = String(tag || '').toLowerCase();
    return t === 'img' || t === 'image' ? 'image' : t === 'video' ? 'video' : t === 'audio' ? 'audio' : null;
  }

  /** Rendered size rule: images and videos under 100x100 are icons or decorations; audio has no picture to size. */
  function bigEnough(kind, width, height) {
    if (kind === 'audio') return true;
    return width >= MIN_SIDE && height >= MIN_SIDE;
  }

  /** What a verify response means for the page: {label, refuted, badge} (badge: whether to show anything). */
  function badgeFor(response, showLabels) {
    if (!response || !response.verdict) return { label: 'unknown', refuted: false, badge: false };
    const label = String(response.verdict.label || 'unknown');
    const refuted = response.refutation !== null && response.refutation !== undefined;
    const shown = showLabels || ['synthetic', 'likely_synthetic', 'provenance_invalid', 'has_provenance', 'untrusted_provenance', 'refuted'];
    const badge = (refuted && shown.includes('refuted')) || (label !== 'unknown' && shown.includes(label));
    return { label, refuted, badge };
  }

  /** Who vouches for the label: the C2PA signer, or the metadata label's source, from the checks' evidence. */
  function labelSource(response) {
    const checks = (response && response.checks) || [];
    for (const c of checks) {
      const ev = c.evidence || {};
      if (c.check === 'c2pa_manifest' && ev.signer && (ev.signer.issuer || ev.signer.common_name)) {
        return { kind: 'signer', text: String(ev.signer.issuer || ev.signer.common_name) };
      }
    }
    for (const c of checks) {
      const ev = c.evidence || {};
      // debunked_match and clip_match are no label: the refutation is shown on its own (claim, rating, who, when);
      // declared_match is the original's declaration, shown on its own too (declaredOriginal).
      if (c.outcome === 'detected' && !['c2pa_manifest', 'debunked_match', 'clip_match', 'declared_match'].includes(c.check)) {
        const src = ev.source || ev.label_source || ev.generator || ev.field || ev.standard;
        if (src) return { kind: 'label', text: String(typeof src === 'object' ? JSON.stringify(src) : src) };
        return { kind: 'label', text: c.check };
      }
    }
    return null;
  }

  /**
   * The declared original a copy matched (declared_match, issue 15), or null: {sha256, by, sourceType, check, kind
   * ("generated" | "edited": an AI edit is shown as a note, it gives no label), seenAt (Date or null), origin,
   * method, similarity}. Only hashes of the original are kept on the server, so there is no picture to show.
   */
  function declaredOriginal(response) {
    const checks = (response && response.checks) || [];
    const c = checks.find((x) => x.check === 'declared_match' && x.outcome === 'detected');
    const d = c && c.evidence && c.evidence.declared;
    if (!d || typeof d !== 'object') return null;
    const decl = (d.declaration && typeof d.declaration === 'object') ? d.declaration : {};
    const match = (c.evidence.match && typeof c.evidence.match === 'object') ? c.evidence.match : {};
    const str = (v) => (v === null || v === undefined ? '' : String(v));
    return {
      sha256: str(d.original_sha256), by: str(decl.by), sourceType: str(decl.digital_source_type), check: str(decl.check),
      kind: d.declaration_kind === 'edited' ? 'edited' : 'generated',
      seenAt: typeof d.seen_at === 'number' && Number.isFinite(d.seen_at) ? new Date(d.seen_at * 1000) : null,
      origin: str(d.origin), method: str(match.method),
      similarity: typeof match.similarity === 'number' ? match.similarity : null,
    };
  }

  /**
   * A queue that runs `work(item)` in slices of at most `sliceMs` of wall time, yielding to the page between
   * slices with `schedule` (setTimeout by default). `now` and `schedule` are injectable for tests.
   */
  function createSlicedQueue(work, options) {
    const opts = options || {};
    const sliceMs = opts.sliceMs || SLICE_MS;
    const now = opts.now || (() => (root.performance ? root.performance.now() : Date.now()));
    const schedule = opts.schedule || ((fn) => setTimeout(fn, 0));
    const items = [];
    let scheduled = false;
    let slices = 0;

    function run() {
      scheduled = false;
      slices += 1;
      const start = now();
      while (items.length > 0) {
        work(items.shift());
        if (now() - start >= sliceMs) break;
      }
      if (items.length > 0) kick();
    }

    function kick() {
      if (!scheduled) {
        scheduled = true;
        schedule(run);
      }
    }

    return {
      push(item) {
        items.push(item);
        kick();
      },
      get size() {
        return items.length;
      },
      get slices() {
        return slices;
      },
    };
  }

  root.VerityScan = Object.freeze({
    MIN_SIDE, SLICE_MS, parseSrcset, bestSrcsetUrl, absoluteUrl, mediaUrl, backgroundUrl, credentialsFor, kindOf, bigEnough, badgeFor, labelSource, declaredOriginal,
    createSlicedQueue,
  });
})(globalThis);
