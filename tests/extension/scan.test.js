// node --test: scan heuristics (extension/shared/scan.js).
import test from 'node:test';
import assert from 'node:assert/strict';
import '../../extension/shared/messages.js';
import '../../extension/shared/scan.js';

const S = globalThis.VerityScan;
const BASE = 'https://news.example/articles/1.html';

test('scan_parse_srcset_descriptors_and_commas_in_urls', () => {
  assert.deepEqual(S.parseSrcset('a.jpg 1x, b.jpg 2x'), [{ url: 'a.jpg', descriptor: '1x' }, { url: 'b.jpg', descriptor: '2x' }]);
  assert.deepEqual(S.parseSrcset('img,with,commas.jpg 300w,other.jpg 600w'),
    [{ url: 'img,with,commas.jpg', descriptor: '300w' }, { url: 'other.jpg', descriptor: '600w' }]);
  assert.deepEqual(S.parseSrcset('  single.jpg  '), [{ url: 'single.jpg', descriptor: '' }]);
  assert.deepEqual(S.parseSrcset(''), []);
  assert.deepEqual(S.parseSrcset(undefined), []);
});

test('scan_best_srcset_url_largest_candidate', () => {
  assert.equal(S.bestSrcsetUrl('s.jpg 320w, l.jpg 1280w, m.jpg 640w'), 'l.jpg');
  assert.equal(S.bestSrcsetUrl('a.jpg, b.jpg 2x'), 'b.jpg');
});

test('scan_media_url_current_src_wins_then_src_then_srcset', () => {
  assert.equal(S.mediaUrl({ tag: 'img', currentSrc: 'https://cdn.example/c.jpg', src: 'x.jpg' }, BASE), 'https://cdn.example/c.jpg');
  assert.equal(S.mediaUrl({ tag: 'img', currentSrc: '', src: '../img/p.png' }, BASE), 'https://news.example/img/p.png');
  assert.equal(S.mediaUrl({ tag: 'img', src: '', srcset: 'a.jpg 1x, b.jpg 2x' }, BASE), 'https://news.example/articles/b.jpg');
  assert.equal(S.mediaUrl({ tag: 'img', src: 'p.jpg#frag' }, BASE), 'https://news.example/articles/p.jpg');
});

test('scan_media_url_video_audio_source_children', () => {
  const video = { tag: 'video', currentSrc: '', src: '', sources: [{ src: '/v/clip.mp4' }] };
  assert.equal(S.mediaUrl(video, BASE), 'https://news.example/v/clip.mp4');
  const audio = { tag: 'AUDIO', currentSrc: 'https://a.example/s.mp3', sources: [{ src: 'other.mp3' }] };
  assert.equal(S.mediaUrl(audio, BASE), 'https://a.example/s.mp3');
});

test('scan_media_url_non_http_schemes_not_checked', () => {
  for (const src of ['data:image/png;base64,AAAA', 'blob:https://x/1', 'javascript:alert(1)', '', '   ']) {
    assert.equal(S.mediaUrl({ tag: 'img', src }, BASE), null, src);
  }
  assert.equal(S.absoluteUrl('https://x.example/' + 'a'.repeat(3000), BASE), null);
});

test('scan_big_enough_skips_icons_under_100_keeps_audio', () => {
  assert.equal(S.bigEnough('image', 100, 100), true);
  assert.equal(S.bigEnough('image', 99, 400), false);
  assert.equal(S.bigEnough('image', 400, 40), false);
  assert.equal(S.bigEnough('video', 640, 360), true);
  assert.equal(S.bigEnough('audio', 300, 54), true);
  assert.equal(S.kindOf('IMG'), 'image');
  assert.equal(S.kindOf('svg'), null);
});

test('scan_badge_for_unknown_no_badge_unless_refuted', () => {
  const r = (label, refutation = null) => ({ verdict: { label }, refutation });
  assert.deepEqual(S.badgeFor(r('unknown')), { label: 'unknown', refuted: false, badge: false });
  assert.deepEqual(S.badgeFor(r('unknown', { claim: 'x' })), { label: 'unknown', refuted: true, badge: true });
  assert.equal(S.badgeFor(r('synthetic')).badge, true);
  assert.equal(S.badgeFor(r('has_provenance'), ['synthetic']).badge, false);
  assert.equal(S.badgeFor(r('unknown', { claim: 'x' }), ['synthetic']).badge, false);
  assert.equal(S.badgeFor(null).badge, false);
});

test('scan_badge_for_untrusted_provenance_shown_by_default_and_neutral', () => {
  const r = (label) => ({ verdict: { label }, refutation: null });
  assert.deepEqual(S.badgeFor(r('untrusted_provenance')), { label: 'untrusted_provenance', refuted: false, badge: true });
  const M = globalThis.VerifyMessages;
  assert.ok(M.SHOWABLE.includes('untrusted_provenance') && M.LABELS.includes('untrusted_provenance'));
});

test('scan_label_source_signer_then_metadata_label', () => {
  const c2pa = { checks: [{ check: 'c2pa_manifest', outcome: 'detected', evidence: { signer: { issuer: 'Adobe Inc.' } } }] };
  assert.deepEqual(S.labelSource(c2pa), { kind: 'signer', text: 'Adobe Inc.' });
  const meta = { checks: [{ check: 'c2pa_manifest', outcome: 'not_detected', evidence: {} },
    { check: 'metadata_labels', outcome: 'detected', evidence: { source: 'IPTC DigitalSourceType' } }] };
  assert.deepEqual(S.labelSource(meta), { kind: 'label', text: 'IPTC DigitalSourceType' });
  assert.equal(S.labelSource({ checks: [] }), null);
});

test('scan_sliced_queue_yields_between_slices', () => {
  let clock = 0;
  const scheduled = [];
  const done = [];
  const q = S.createSlicedQueue((item) => { done.push(item); clock += 3; }, {
    sliceMs: 8, now: () => clock, schedule: (fn) => scheduled.push(fn),
  });
  for (let i = 0; i < 10; i += 1) q.push(i);
  assert.equal(scheduled.length, 1); // one pending slice, nothing run synchronously
  assert.equal(done.length, 0);
  while (scheduled.length) scheduled.shift()();
  assert.deepEqual(done, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(q.slices, 4); // 3 items (9 ms) per slice: never more than one slice's budget at a time
  assert.equal(q.size, 0);
});

test('scan_background_url_first_layer_and_quotes', () => {
  assert.equal(S.backgroundUrl('url("https://cdn.example/a.jpg"), url("b.jpg")', BASE), 'https://cdn.example/a.jpg');
  assert.equal(S.backgroundUrl("url('../x (1).png')", BASE), 'https://news.example/x%20(1).png');
  assert.equal(S.backgroundUrl('linear-gradient(red, blue), url(c.webp)', BASE), 'https://news.example/articles/c.webp');
  assert.equal(S.backgroundUrl('none', BASE), null);
  assert.equal(S.backgroundUrl('url("data:image/png;base64,AAAA")', BASE), null);
  assert.equal(S.backgroundUrl(undefined, BASE), null);
});

test('scan_background_url_image_set_picks_for_device_pixel_ratio', () => {
  const set = 'image-set(url("https://cdn.example/a2.jpg") 2x, url("https://cdn.example/a1.jpg") 1x)';
  assert.equal(S.backgroundUrl(set, BASE, 1), 'https://cdn.example/a1.jpg');
  assert.equal(S.backgroundUrl(set, BASE, 1.5), 'https://cdn.example/a2.jpg');
  assert.equal(S.backgroundUrl(set, BASE, 3), 'https://cdn.example/a2.jpg'); // none that high: the largest
  assert.equal(S.backgroundUrl('-webkit-image-set(url(l.jpg) 192dpi, url(s.jpg) 96dpi)', BASE, 1),
    'https://news.example/articles/s.jpg');
  assert.equal(S.backgroundUrl('image-set(url("t.avif") type("image/avif") 2x, url("t.jpg") 1x)', BASE, 2),
    'https://news.example/articles/t.avif');
  assert.equal(S.backgroundUrl('image-set(url("only.jpg"))', BASE, 2), 'https://news.example/articles/only.jpg');
});

test('scan_credentials_follow_crossorigin_attribute', () => {
  assert.equal(S.credentialsFor(null), 'include');
  assert.equal(S.credentialsFor(''), 'same-origin'); // an empty crossorigin attribute means anonymous
  assert.equal(S.credentialsFor('anonymous'), 'same-origin');
  assert.equal(S.credentialsFor('USE-CREDENTIALS'), 'include');
  assert.equal(S.kindOf('image'), 'image'); // <svg><image>
});

test('scan_declared_original_from_declared_match_evidence', () => {
  const copy = { checks: [{ check: 'declared_match', outcome: 'detected', signal: 'possibly_synthetic', evidence: {
    declared: { original_sha256: 'ab'.repeat(32), declaration: { check: 'c2pa_manifest', by: 'Adobe Inc.',
      digital_source_type: 'trainedAlgorithmicMedia' }, declaration_kind: 'generated', seen_at: 1764979200, origin: 'local' },
    match: { method: 'pdq+orb', similarity: 0.97, original_url: null } } }] };
  const d = S.declaredOriginal(copy);
  assert.equal(d.by, 'Adobe Inc.');
  assert.equal(d.sourceType, 'trainedAlgorithmicMedia');
  assert.equal(d.kind, 'generated');
  assert.equal(d.sha256, 'ab'.repeat(32));
  assert.equal(d.seenAt.toISOString().slice(0, 10), '2025-12-06');
  assert.equal(d.similarity, 0.97);
  // not a label source: the card shows the declared original on its own
  assert.equal(S.labelSource(copy), null);
  assert.equal(S.declaredOriginal({ checks: [{ check: 'declared_match', outcome: 'not_detected', evidence: {} }] }), null);
  const edit = structuredClone(copy);
  edit.checks[0].evidence.declared.declaration_kind = 'edited';
  assert.equal(S.declaredOriginal(edit).kind, 'edited');
});
