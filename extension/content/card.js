/*
 * Content script, part 3 (classic script): the card a badge opens. What was found and why, who vouches for a
 * label, a fact-checker's refutation, a notice when only one frame was checked or when the bytes checked do not fit
 * what the page shows, and the actions (full report, report as suspected fake, check this frame, minimise, close).
 * Server strings go in with textContent only, never innerHTML. Defines globalThis.VerityCard once.
 */
(function (root) {
  'use strict';
  if (root.VerityCard) return;
  const M = root.VerifyMessages;
  const S = root.VerityScan;
  const I = root.VerityI18n;

  function h(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // server strings: textContent only, never innerHTML
    return node;
  }

  /**
   * Fill `badge.card` for `badge.item`. `view`: {info (labelKey), collapsed, actions: {openReport, sendReport,
   * checkFrame, setCollapsed, close}}; `actions.sendReport(category, text)` resolves with the receipt's id.
   */
  function render(badge, view) {
    const item = badge.item;
    const info = view.info;
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
    const fit = item.result && item.result.fit;
    if (fit && !fit.ok) card.append(h('p', 'mismatch', I.t('cardMismatch', describeMismatch(fit.mismatches))));
    if (response) {
      if (response.refutation) card.append(refutationBlock(response.refutation));
      const declared = S.declaredOriginal(response);
      if (declared) card.append(declaredBlock(declared));
      const reasons = (response.verdict && response.verdict.reasons) || [];
      if (reasons.length) {
        card.append(h('p', '', I.t('cardReasons')));
        const ul = h('ul');
        for (const reason of reasons.slice(0, 4)) {
          const li = h('li', '', I.reason(reason));
          if (!I.english()) li.title = `${I.t('reportOriginalText')}: ${String(reason.text || '')}`;
          ul.append(li);
        }
        card.append(ul);
      }
      // Standalone: only the declared checks ran, in this browser (no server, or none reachable; or a local
      // answer shown while the server still works).
      if (response.mode === 'standalone') {
        card.append(h('p', 'muted', I.t(item.status === 'checking' ? 'cardLocalFirst' : 'cardStandalone')));
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
    if (item.stream) {
      button('cardCheckFrame', 'primary', view.actions.checkFrame);
    } else if (!item.frame) {
      button('cardFullReport', 'primary', view.actions.openReport);
      if (item.status === 'done') {
        button('cardReport', '', () => {
          badge.reportOpen = true;
          render(badge, view);
          const select = card.querySelector('select');
          if (select) select.focus();
        });
      }
    }
    button(view.collapsed ? 'cardExpand' : 'cardCollapse', '', () => view.actions.setCollapsed(!view.collapsed));
    button('cardClose', '', view.actions.close);
    card.append(actions);
    if (badge.reportOpen && !item.frame && !item.stream) card.append(reportForm(badge, view));
  }

  /** "type text/html (expected image/*); size 640x480 (the page shows 320x214)", in the user's language. */
  function describeMismatch(mismatches) {
    return mismatches.map((m) => I.t(m.field === 'type' ? 'mismatchType' : 'mismatchSize',
      [String(m.got), String(m.expected)])).join('; ');
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

  /** The declared original a copy matched: what declared it, who, when it was seen (textContent only). */
  function declaredBlock(d) {
    const box = h('div', 'refutation declared');
    box.append(h('p', '', I.t(d.kind === 'edited' ? 'cardDeclaredEdit' : 'cardDeclared')));
    const what = [d.by, d.sourceType].filter(Boolean).join(', ');
    if (what) box.append(h('p', '', `${I.t('reportDeclaredBy')}: ${what}`));
    const seen = d.seenAt ? d.seenAt.toISOString().slice(0, 10) : '';
    box.append(h('p', 'muted', `${I.t('reportDeclaredOriginal')}: ${d.sha256.slice(0, 16)}…${seen ? ', ' + seen : ''}`));
    return box;
  }

  /** "Report as suspected fake" in the card: a category and optional text, sent through the service worker. */
  function reportForm(badge, view) {
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
      view.actions.sendReport(select.value, text.value.trim())
        .then((id) => {
          status.className = 'report-status';
          status.textContent = I.t('cardReportSent', id);
        })
        .catch((err) => {
          const p = err.problem || {};
          status.className = 'report-status error';
          status.textContent = `${I.t(p.type === 'reporting-unavailable' ? 'reportUnavailable' : 'reportError')} ${p.title || ''}`.trim();
          send.disabled = false;
        });
    });
    return form;
  }

  root.VerityCard = Object.freeze({ render });
})(globalThis);
