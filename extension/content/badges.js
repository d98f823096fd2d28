/*
 * Content script, part 2 (classic script): badges a page cannot hide, restyle, read or silently remove.
 *   - Each badge lives in a CLOSED shadow root, so page scripts and selectors cannot reach its text or buttons.
 *   - Its host is a popover shown in the top layer: above every z-index, outside the page's stacking, transforms,
 *     filters and overflow clipping.
 *   - The host's inline style declares every property that matters with !important. Inline !important declarations
 *     win over any author style sheet, @layer and !important rules included (element-attached styles come first in
 *     the cascade); transitions and animations are switched off so none can override them.
 *   - The host carries no verdict: no data-* attribute, no title, nothing a page could read or copy. The verdict is
 *     only inside the closed root and in the extension (toolbar count, popup).
 *   - A guard (MutationObserver on the host, 'toggle' on the popover) puts back a style or attribute the page changes,
 *     re-opens a popover the page closes, and re-attaches a host the page removes or moves.
 * Defines globalThis.VerityBadges once.
 */
(function (root) {
  'use strict';
  if (root.VerityBadges) return;

  const TAG = 'verity-badge';
  const AUDIO_BADGE_ROOM_PX = 200;
  const MAX_REPAIRS_PER_S = 50; // a page that fights forever does not get a busy loop: later repairs wait a second
  const hosts = new WeakSet();

  const CSS = `
    .wrap { position: absolute; left: 6px; top: 6px; font: 12px/1.3 system-ui, -apple-system, "Segoe UI", "Noto Sans",
      "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: #111; pointer-events: auto; }
    .badge { display: inline-flex; align-items: center; gap: 5px; max-width: 240px; padding: 3px 8px 3px 6px;
      border: 0; border-radius: 999px; background: rgba(20, 20, 24, .86); color: #fff; cursor: pointer;
      font: inherit; font-weight: 600; box-shadow: 0 1px 4px rgba(0,0,0,.35); white-space: nowrap; }
    .badge:focus-visible { outline: 2px solid #8ab4f8; outline-offset: 2px; }
    .dot { width: 9px; height: 9px; border-radius: 50%; flex: none; background: #9aa0a6; }
    .synthetic .dot, .refuted .dot, .frame_failed .dot { background: #ff5b5b; }
    .likely_synthetic .dot { background: #ffb300; }
    .provenance_invalid .dot { background: #ff8a3d; }
    .has_provenance .dot { background: #4caf50; }
    .not_checked .dot, .stream .dot { background: #9aa0a6; }
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
    .card .frame-only, .card .mismatch { padding: 6px 8px; border-radius: 6px; background: #fff4e5; color: #663c00;
      font-weight: 600; }
    .card form { display: grid; gap: 4px; margin-top: 8px; }
    .card select, .card textarea { font: inherit; width: 100%; box-sizing: border-box; }
    .card .report-status { margin: 6px 0 0; font-weight: 600; }
    .card .report-status.error { color: #a50e0e; }
  `;

  /** The host's whole inline style: fixed in the top layer at (x, y) of the viewport, or not displayed. */
  function hostStyle(x, y, shown) {
    const important = [
      'position: fixed', 'inset: auto', 'left: 0', 'top: 0', 'right: auto', 'bottom: auto',
      'margin: 0', 'padding: 0', 'border: 0', 'width: 0', 'height: 0', 'min-width: 0', 'min-height: 0',
      'max-width: none', 'max-height: none', 'overflow: visible', 'background: transparent', 'color-scheme: normal',
      `display: ${shown ? 'block' : 'none'}`, 'visibility: visible', 'opacity: 1', 'filter: none', 'clip-path: none',
      'mask: none', 'mix-blend-mode: normal', 'z-index: 2147483647', 'pointer-events: none', 'contain: none',
      'content-visibility: visible', 'transition: none', 'animation: none', 'zoom: 1', 'rotate: none', 'scale: none',
      'translate: none', `transform: translate(${Math.round(x)}px, ${Math.round(y)}px)`,
      // Inherited properties a page could push into the badge through its ancestors.
      'color: #111', 'font: 12px/1.3 sans-serif', 'direction: ltr', 'writing-mode: horizontal-tb',
      'letter-spacing: normal', 'word-spacing: normal', 'text-transform: none', 'text-shadow: none', 'cursor: auto',
      'text-align: left', 'white-space: normal', 'user-select: auto', 'outline: none', 'box-shadow: none',
    ];
    return important.map((d) => d + ' !important').join('; ') + ';';
  }

  function isOurs(node) {
    return hosts.has(node);
  }

  /** Make a badge for `target`: {host, button, text, card, wrap, ...}. `onClick` toggles its card. */
  function create(target, onClick) {
    const host = document.createElement(TAG);
    hosts.add(host);
    const shadow = host.attachShadow({ mode: 'closed' });
    const style = document.createElement('style');
    style.textContent = CSS;
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
    const badge = { target, host, wrap, button, text, card, item: null, x: 0, y: 0, shown: true, removed: false,
      repairs: 0, repairWindow: 0, repairTimer: null, guard: null };
    button.addEventListener('click', (ev) => {
      ev.stopPropagation();
      ev.preventDefault();
      onClick(badge);
    });
    host.addEventListener('toggle', () => repair(badge)); // the page closed the popover: open it again
    badge.guard = new MutationObserver(() => repair(badge));
    attach(badge);
    return badge;
  }

  /** Put the host in the document's top layer with the style it should have. */
  function attach(badge) {
    const host = badge.host;
    badge.guard.disconnect();
    for (const name of host.getAttributeNames()) {
      if (name !== 'popover' && name !== 'style') host.removeAttribute(name);
    }
    host.setAttribute('popover', 'manual');
    host.setAttribute('style', hostStyle(badge.x, badge.y, badge.shown));
    if (host.parentNode !== document.documentElement || host.nextSibling) document.documentElement.append(host);
    try {
      if (!host.matches(':popover-open')) host.showPopover();
    } catch (_) {
      // No popover support (or the page made it impossible): the !important fixed style still applies.
    }
    badge.guard.observe(host, { attributes: true });
  }

  /** The page touched a badge: undo it (rate-limited against a page that fights in a loop). */
  function repair(badge) {
    if (badge.removed || badge.repairTimer) return;
    const host = badge.host;
    const intact = host.parentNode === document.documentElement && host.getAttribute('popover') === 'manual' &&
      host.getAttribute('style') === hostStyle(badge.x, badge.y, badge.shown) &&
      host.getAttributeNames().length === 2 && safeMatches(host, ':popover-open');
    if (intact) return;
    const now = Date.now();
    if (now - badge.repairWindow > 1000) {
      badge.repairWindow = now;
      badge.repairs = 0;
    }
    badge.repairs += 1;
    if (badge.repairs > MAX_REPAIRS_PER_S) {
      badge.repairTimer = setTimeout(() => {
        badge.repairTimer = null;
        repair(badge);
      }, 1000);
      return;
    }
    attach(badge);
  }

  function safeMatches(el, selector) {
    try {
      return el.matches(selector);
    } catch (_) {
      return true;
    }
  }

  /** Put the badge at the media's top-left corner (audio: beside the player), in viewport pixels; true if it moved. */
  function place(badge, rect, shown) {
    let x = rect.left;
    let y = rect.top;
    const el = badge.target.el;
    if (el.localName === 'audio') {
      // An audio player is one row of controls: its badge sits beside it (or above it when there is no room),
      // never over the play button.
      if (rect.right + AUDIO_BADGE_ROOM_PX < window.innerWidth) {
        x = rect.right;
        y = rect.top + Math.max(0, (rect.height - 34) / 2);
      } else {
        y = Math.max(0, y - 30);
      }
    }
    if (badge.target.role === 'poster') y += 30; // below the video's own badge
    if (x === badge.x && y === badge.y && shown === badge.shown) return false;
    badge.x = x;
    badge.y = y;
    badge.shown = shown;
    badge.guard.disconnect();
    badge.host.setAttribute('style', hostStyle(x, y, shown));
    badge.guard.observe(badge.host, { attributes: true });
    return true;
  }

  function remove(badge) {
    badge.removed = true;
    badge.guard.disconnect();
    if (badge.repairTimer) clearTimeout(badge.repairTimer);
    badge.host.remove();
  }

  /** The host went missing from the page (removed by the page): put it back. */
  function restore(badge) {
    if (!badge.removed) repair(badge);
  }

  /** The button's rectangle in viewport pixels (for the popup and tests; the page cannot read it). */
  function buttonRect(badge) {
    const r = badge.button.getBoundingClientRect();
    return { x: Math.round(r.left), y: Math.round(r.top), width: Math.round(r.width), height: Math.round(r.height) };
  }

  root.VerityBadges = Object.freeze({ create, place, remove, restore, isOurs, buttonRect, hostStyle });
})(globalThis);
