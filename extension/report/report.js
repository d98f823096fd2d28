/*
 * The full evidence report (an extension page): the media, the verdict and its reasons, the refutation (with the
 * matched original side by side), every check with its outcome, summary, score and evidence, and the
 * "Report as suspected fake" entry. Every server string is set with textContent.
 */
(async function () {
  'use strict';
  const M = globalThis.VerifyMessages;
  const I = globalThis.VerityI18n;
  const S = globalThis.VerityScan;
  const $ = (id) => document.getElementById(id);

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else if (k.startsWith('data-')) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
    }
    return node;
  }

  const params = new URLSearchParams(location.search);
  const src = params.get('src') || '';
  const kind = M.KINDS.includes(params.get('kind')) ? params.get('kind') : 'image';
  const page = params.get('page') || '';

  const { settings } = await M.request('get-settings', {});
  await I.loadFor(settings.language).catch(() => {});
  I.localize(document);
  document.title = I.t('reportTitle');

  function mediaElement(url, mediaKind) {
    if (mediaKind === 'video') return h('video', { src: url, controls: true, preload: 'metadata' });
    if (mediaKind === 'audio') return h('audio', { src: url, controls: true, preload: 'metadata' });
    return h('img', { src: url, alt: '' });
  }

  function fail(text) {
    $('loading').hidden = true;
    $('error').hidden = false;
    $('error').textContent = text;
    document.body.dataset.state = 'error';
  }

  if (!M.isHttpUrl(src)) {
    fail(I.t('reportNoMedia'));
    return;
  }
  $('media').append(mediaElement(src, kind));
  $('source-url').textContent = src;
  $('page-url').textContent = page || '\u2014';

  /** Any JSON value as nested definition lists (evidence keys differ per check). */
  function renderValue(value, depth) {
    if (value === null || value === undefined) return h('span', {}, '\u2014');
    if (Array.isArray(value)) {
      if (value.length === 0) return h('span', {}, '[]');
      if (value.every((v) => v === null || typeof v !== 'object')) return h('span', {}, value.join(', '));
      if (depth > 4) return h('code', {}, JSON.stringify(value));
      return h('ol', {}, ...value.map((v) => h('li', {}, renderValue(v, depth + 1))));
    }
    if (typeof value === 'object') {
      if (depth > 4) return h('code', {}, JSON.stringify(value));
      const dl = h('dl', {});
      for (const [k, v] of Object.entries(value)) dl.append(h('dt', {}, k), h('dd', {}, renderValue(v, depth + 1)));
      return dl;
    }
    if (typeof value === 'number') return h('span', {}, Number.isInteger(value) ? value : value.toFixed(4));
    return h('span', {}, String(value));
  }

  function renderC2pa(ev) {
    const box = h('div', { class: 'c2pa', 'data-part': 'c2pa-chain' }, h('h3', {}, I.t('reportC2paChain')));
    const signer = ev.signer || {};
    box.append(h('dl', { class: 'meta' },
      h('dt', {}, I.t('cardSigner')), h('dd', {}, [signer.issuer, signer.common_name].filter(Boolean).join(' / ') || '\u2014'),
      h('dt', {}, 'claim_generator'), h('dd', {}, ev.claim_generator || '\u2014'),
      h('dt', {}, 'validation_state'), h('dd', {}, ev.validation_state || '\u2014'),
      h('dt', {}, 'signed'), h('dd', {}, signer.time || '\u2014')));
    const types = ev.digital_source_types || [];
    if (types.length) {
      box.append(h('h3', {}, I.t('reportActions')));
      const table = h('table', {}, h('tr', {}, h('th', {}, 'manifest'), h('th', {}, 'action'),
        h('th', {}, 'digitalSourceType'), h('th', {}, 'via')));
      for (const t of types) {
        table.append(h('tr', {}, h('td', {}, t.manifest || ''), h('td', {}, t.action || ''),
          h('td', {}, t.digitalSourceType || ''), h('td', {}, t.via || '')));
      }
      box.append(table);
    }
    return box;
  }

  function renderVerdict(response, info) {
    const v = response.verdict || {};
    const key = info.refuted ? 'refuted' : info.label;
    const box = h('div', { class: 'verdict ' + key, id: 'verdict-box', 'data-label': info.label,
      'data-refuted': String(info.refuted) },
    h('strong', {}, info.label === 'unknown' && !info.refuted ? I.t('label_unknown') : I.t('badge_' + key)),
    info.refuted ? h('p', {}, I.t('label_refuted')) : null,
    h('p', {}, I.t('label_' + info.label)),
    // The server's summary is English: other languages have the label's own explanation above.
    I.english() && v.summary && v.summary.replace(/\.$/, '') !== I.t('label_' + info.label) ? h('p', {}, v.summary) : null);
    const reasons = v.reasons || [];
    if (reasons.length) {
      box.append(h('ul', {}, ...reasons.map((r) => h('li', { 'data-reason': r.check }, I.reason(r), ' ',
        h('small', {}, `(${r.check})`)))));
    }
    const source = S.labelSource(response);
    if (source) box.append(h('p', {}, `${I.t(source.kind === 'signer' ? 'cardSigner' : 'cardLabelSource')}: ${source.text}`));
    // Standalone mode: only the declared checks ran, in this browser.
    if (response.mode === 'standalone') box.append(h('p', { id: 'standalone-note' }, I.t('cardStandalone')));
    $('verdict').replaceChildren(box);
    $('verdict-section').hidden = false;
  }

  function renderRefutation(r) {
    const dl = $('refutation');
    dl.replaceChildren(
      h('dt', {}, I.t('reportClaim')), h('dd', { id: 'refutation-claim' }, r.claim || ''),
      h('dt', {}, I.t('reportRating')), h('dd', {}, r.rating || ''),
      h('dt', {}, I.t('reportFactChecker')), h('dd', {}, r.fact_checker || ''),
      h('dt', {}, I.t('reportDate')), h('dd', {}, r.date || '\u2014'));
    if (r.explanation) dl.append(h('dt', {}, ''), h('dd', {}, r.explanation));
    if (r.review_url && M.isHttpUrl(r.review_url)) {
      dl.append(h('dt', {}, ''), h('dd', {}, h('a', { href: r.review_url, target: '_blank', rel: 'noopener noreferrer' },
        I.t('reportReview'))));
    }
    const match = r.match || {};
    dl.append(h('dt', {}, I.t('reportMatch')),
      h('dd', {}, `${match.method || ''} ${typeof match.similarity === 'number' ? match.similarity.toFixed(3) : ''}` +
        (match.transform ? ` (${match.transform})` : '')));
    if (match.original_url) {
      let url = null;
      try {
        url = new URL(match.original_url, settings.serverUrl + '/').href;
      } catch (_) { url = null; }
      if (url && M.isHttpUrl(url)) {
        $('original').replaceChildren(mediaElement(url, kind));
        $('original-media').hidden = false;
      }
    }
    const region = match.region;
    if (kind === 'image' && region && outline($('media'), region.query) && outline($('original'), region.original)) {
      dl.append(h('dt', {}, ''), h('dd', { id: 'match-region-note' }, I.t('reportMatchedRegion')));
    }
    $('refutation-section').hidden = false;
  }

  // The declared original beside the copy: the server keeps only its hashes and declaration, so the figure beside the
  // media names it (what declared it, its SHA-256, when it was seen) instead of showing it.
  function renderDeclared(d) {
    const dl = $('declared');
    dl.replaceChildren(
      h('dt', {}, I.t('reportDeclaredBy')), h('dd', { id: 'declared-by' }, [d.by, d.sourceType].filter(Boolean).join(', ') || d.check),
      h('dt', {}, I.t('reportDeclaredOriginal')), h('dd', { id: 'declared-sha256' }, d.sha256),
      h('dt', {}, I.t('reportDate')), h('dd', {}, d.seenAt ? d.seenAt.toISOString().slice(0, 10) : '\u2014'),
      h('dt', {}, I.t('reportMatch')), h('dd', {}, `${d.method} ${d.similarity === null ? '' : d.similarity.toFixed(3)}`));
    if (d.kind === 'edited') dl.append(h('dt', {}, ''), h('dd', {}, I.t('cardDeclaredEdit')));
    if ($('original-media').hidden) {
      $('original').replaceChildren(h('p', { id: 'declared-original-note' }, I.t(d.kind === 'edited' ? 'cardDeclaredEdit' : 'cardDeclared'),
        h('br', {}), `SHA-256 ${d.sha256}`));
      $('original-media').hidden = false;
    }
    $('declared-section').hidden = false;
  }

  // Outlines the matched part of a picture: `box` is [x0, y0, x1, y1] in shares of the picture's width and height
  // (the server's match.region), so the outline scales with the picture however it is displayed.
  function outline(container, box) {
    const img = container && container.querySelector('img');
    if (!img || !Array.isArray(box) || box.length !== 4 ||
        !box.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1) ||
        box[2] <= box[0] || box[3] <= box[1]) return false;
    const frame = h('div', { class: 'framed' });
    img.replaceWith(frame);
    const mark = h('div', { class: 'match-region', 'data-region': box.map((v) => v.toFixed(3)).join(',') });
    Object.assign(mark.style, { left: `${box[0] * 100}%`, top: `${box[1] * 100}%`,
      width: `${(box[2] - box[0]) * 100}%`, height: `${(box[3] - box[1]) * 100}%` });
    frame.append(img, mark);
    return true;
  }

  // Reverse image search by URL (the same engines and patterns as buildtasks/evidence_report.py REVERSE_SEARCH).
  const REVERSE_SEARCH = [
    ['Google Lens', 'https://lens.google.com/uploadbyurl?url='],
    ['Bing Visual Search', 'https://www.bing.com/images/search?view=detailv2&iss=sbi&q=imgurl:'],
    ['TinEye', 'https://tineye.com/search?url='],
    ['Yandex Images', 'https://yandex.com/images/search?rpt=imageview&url='],
  ];

  function renderReverseSearch(url) {
    const list = h('ul', { id: 'reverse-search' }, ...REVERSE_SEARCH.map(([name, prefix]) => h('li', {},
      h('a', { href: prefix + encodeURIComponent(url), target: '_blank', rel: 'noopener noreferrer' }, name))));
    const section = h('section', { id: 'reverse-search-section' }, h('h2', {}, I.t('reportReverseSearch')), list);
    $('verdict-section').after(section);
  }

  function renderChecks(checks) {
    const list = $('checks');
    list.replaceChildren();
    for (const c of checks) {
      const li = h('li', { 'data-check': c.check, 'data-outcome': c.outcome },
        h('h3', {}, I.checkName(c.check), h('span', { class: 'outcome ' + c.outcome }, I.t('outcome_' + c.outcome))),
        // The check's summary comes from the server in English; other languages see it marked as the original.
        I.english() ? h('p', {}, c.summary || '')
          : h('p', { class: 'original', lang: 'en' }, `${I.t('reportOriginalText')}: ${c.summary || ''}`));
      if (typeof c.score === 'number') li.append(h('p', {}, `${I.t('reportScore')}: ${c.score.toFixed(3)}`));
      const ev = c.evidence || {};
      if (c.check === 'c2pa_manifest' && (ev.signer || ev.validation_state)) li.append(renderC2pa(ev));
      if (Object.keys(ev).length) {
        const details = h('details', { class: 'evidence', open: c.outcome === 'detected' },
          h('summary', {}, I.t('reportEvidence')), renderValue(ev, 0));
        li.append(details);
      }
      list.append(li);
    }
    $('checks-section').hidden = false;
  }

  // Long audio/video is verified as a server job: the service worker relays its progress (0-1) until the verdict.
  M.extensionApi().runtime.onMessage.addListener((msg, sender) => {
    if (!msg || msg.type !== 'check-progress' || sender.id !== M.extensionApi().runtime.id) return false;
    if (M.validate(msg, 'extension') || msg.payload.url !== src || document.body.dataset.state !== 'loading') return false;
    const pct = Math.round(msg.payload.progress * 100);
    $('progress').value = msg.payload.progress;
    $('progress-text').textContent = I.t('reportProgress', String(pct));
    $('progress-row').hidden = false;
    document.body.dataset.progress = String(msg.payload.progress);
    document.body.dataset.job = 'true';
    return false;
  });

  let result;
  try {
    result = await M.request('verify-url', { url: src, kind, ...(M.isHttpUrl(page) ? { pageUrl: page } : {}) });
  } catch (err) {
    const p = err.problem || {};
    fail(`${I.t('reportFailed')} ${p.title || ''}${p.detail ? ': ' + p.detail : ''}`);
    return;
  }
  $('loading').hidden = true;
  $('progress-row').hidden = true;
  if (result.status === 'too-large') {
    fail(I.t('reportTooLarge', String(result.bytes)));
    document.body.dataset.state = 'too-large';
    return;
  }
  const response = result.response;
  const info = S.badgeFor(response, M.SHOWABLE);
  $('sha256').textContent = response.sha256;
  renderVerdict(response, info);
  if (response.refutation) renderRefutation(response.refutation);
  const declared = S.declaredOriginal(response);
  if (declared) renderDeclared(declared);
  renderChecks(response.checks || []);
  if (kind === 'image') renderReverseSearch(src);
  $('report-section').hidden = false;
  document.body.dataset.state = 'done';

  $('report-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const status = $('report-status');
    status.className = '';
    status.replaceChildren();
    delete status.dataset.result;
    const text = $('text').value.trim();
    $('report-button').disabled = true;
    try {
      const receipt = await M.request('report-fake', {
        sha256: response.sha256, category: $('category').value, sourceUrl: src, kind,
        ...(text ? { text } : {}), ...(M.isHttpUrl(page) ? { pageUrl: page } : {}),
      });
      status.className = 'sent';
      status.append(h('p', {}, I.t('reportSent')), h('dl', { class: 'meta' },
        h('dt', {}, I.t('reportSentId')), h('dd', { id: 'report-id' }, receipt.id),
        h('dt', {}, I.t('reportReceipt')), h('dd', { id: 'report-receipt' }, h('code', {}, receipt.receipt)),
        h('dt', {}, I.t('reportStatusLabel')), h('dd', { id: 'report-state', 'data-status': receipt.status },
          I.t('status_' + (['open', 'refuted', 'synthetic', 'dismissed'].includes(receipt.status) ? receipt.status : 'unknown')))));
      status.dataset.result = 'sent';
    } catch (err) {
      const p = err.problem || {};
      const unavailable = p.type === 'reporting-unavailable';
      status.className = unavailable ? 'unavailable' : 'error';
      status.dataset.result = unavailable ? 'unavailable' : 'error';
      const head = unavailable ? I.t('reportUnavailable') : I.t('reportError');
      status.textContent = `${head} (${[p.status, p.title].filter(Boolean).join(' ')}${p.detail ? ': ' + p.detail : ''})`;
      $('report-button').disabled = false;
    }
  });

  if (params.get('report') === '1') {
    // Opened from "Report as suspected fake" (context menu): go straight to the form.
    $('report-section').scrollIntoView({ block: 'center' });
    $('category').focus();
  }
})();
