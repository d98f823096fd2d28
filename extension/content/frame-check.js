/*
 * Content script (classic script), with discovery, badges, card and content: "Check this frame". A stream (MSE or
 * blob: video, a MediaStream) cannot be downloaded, so the service worker captures the visible tab and checks the
 * video's rectangle of it. This part says which video (the one right-clicked, the one whose badge was clicked, or the
 * largest in view), where it is in the tab's viewport (this frame's offset added, through same-origin parents), and
 * asks for a check on its own once a stream has played for AUTO_AFTER_S seconds. content.js shows the result.
 * Defines globalThis.VerityFrameCheck once.
 */
(function (root) {
  'use strict';
  if (root.VerityFrameCheck) return;
  const M = root.VerifyMessages;
  const AUTO_AFTER_S = 3; // a stream that has played this long gets its frame checked without being asked

  let chosen = null; // the <video> last right-clicked, or whose badge asked
  let checking = null; // the <video> whose frame is being checked (answered by rect())
  const automatic = new WeakSet(); // streams whose frame was checked on their own

  // Remember which video was right-clicked (the context menu names no element).
  document.addEventListener('contextmenu', (ev) => {
    const path = ev.composedPath ? ev.composedPath() : [ev.target];
    chosen = path.find((n) => n && n.localName === 'video') || null;
  }, { capture: true, passive: true });

  /** Ask the service worker to capture and check what `video` shows now (it answers with frame-result). */
  function request(video) {
    chosen = video;
    M.request('check-frame-here', {}).catch(() => {}); // the outcome (or its problem) comes as frame-result
  }

  /** Check a stream's frame once it has played AUTO_AFTER_S seconds while `shown()` (seeks do not count). */
  function watchStream(video, shown) {
    let played = 0;
    let last = video.currentTime;
    video.addEventListener('timeupdate', function onTime() {
      const t = video.currentTime;
      if (!video.paused && t > last && t - last < 1) played += t - last;
      last = t;
      if (played < AUTO_AFTER_S || automatic.has(video)) return;
      if (document.visibilityState !== 'visible' || !shown()) return; // only what a person can see is captured
      automatic.add(video);
      video.removeEventListener('timeupdate', onTime);
      request(video);
    });
  }

  /** This frame's offset in the top-level viewport (same-origin parents only; null when a parent is cross-origin). */
  function frameOffset() {
    let x = 0;
    let y = 0;
    let w = window;
    try {
      while (w !== w.top) {
        const frame = w.frameElement;
        if (!frame) return null;
        const r = frame.getBoundingClientRect();
        x += r.left + frame.clientLeft;
        y += r.top + frame.clientTop;
        w = w.parent;
      }
    } catch (_) {
      return null;
    }
    return { x, y, width: w.innerWidth, height: w.innerHeight };
  }

  /** The video's visible rectangle in CSS pixels of the tab's viewport (the service worker scales it to the capture). */
  function rect() {
    let video = chosen && chosen.isConnected ? chosen : null;
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
    const offset = frameOffset();
    if (!video || !offset) return null;
    checking = video;
    const r = video.getBoundingClientRect();
    const left = Math.max(0, r.left + offset.x);
    const top = Math.max(0, r.top + offset.y);
    const right = Math.min(r.right + offset.x, offset.x + innerWidth, offset.width);
    const bottom = Math.min(r.bottom + offset.y, offset.y + innerHeight, offset.height);
    return { x: left, y: top, width: right - left, height: bottom - top, viewportWidth: offset.width,
      viewportHeight: offset.height, dpr: devicePixelRatio || 1 };
  }

  root.VerityFrameCheck = Object.freeze({
    request, watchStream, rect,
    target: () => checking,
    wasAutomatic: (video) => automatic.has(video),
  });
})(globalThis);
