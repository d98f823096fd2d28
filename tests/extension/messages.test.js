// node --test: the one message schema (extension/shared/messages.js).
import test from 'node:test';
import assert from 'node:assert/strict';
import '../../extension/shared/messages.js';

const M = globalThis.VerifyMessages;
const env = (type, payload, requestId = 'r1') => ({ type, requestId, payload });

test('messages_make_envelope_has_type_request_id_payload', () => {
  const msg = M.make('check-media', { url: 'https://example.org/a.jpg', kind: 'image' });
  assert.equal(msg.type, 'check-media');
  assert.equal(typeof msg.requestId, 'string');
  assert.ok(msg.requestId.length > 0);
  assert.deepEqual(msg.payload, { url: 'https://example.org/a.jpg', kind: 'image' });
  assert.equal(M.validate(msg, 'content'), null);
});

test('messages_make_unknown_type_throws', () => {
  assert.throws(() => M.make('delete-everything', {}), TypeError);
});

test('messages_validate_unknown_type_rejected', () => {
  assert.equal(M.validate(env('nope', {}), 'content').type, 'unknown-type');
  assert.equal(M.validate(env('__proto__', {}), 'content').type, 'unknown-type');
  assert.equal(M.validate(null, 'content').type, 'invalid-message');
  assert.equal(M.validate([], 'content').type, 'invalid-message');
});

test('messages_validate_settings_from_content_script_forbidden', () => {
  const msg = env('set-settings', { settings: { serverUrl: 'https://evil.example' } });
  assert.equal(M.validate(msg, 'content').type, 'forbidden');
  assert.equal(M.validate(msg, 'extension'), null);
  for (const type of ['set-site-enabled', 'report-fake', 'verify-url', 'get-settings', 'get-server-status', 'list-reports']) {
    assert.equal(M.validate(env(type, {}), 'content').type, 'forbidden', type);
  }
});

test('messages_validate_check_media_untrusted_fields_checked', () => {
  const ok = env('check-media', { url: 'http://127.0.0.1:8000/x.png', kind: 'video' });
  assert.equal(M.validate(ok, 'content'), null);
  const bad = [
    { url: 'javascript:alert(1)', kind: 'image' },
    { url: 'file:///etc/passwd', kind: 'image' },
    { url: 'data:image/png;base64,AAAA', kind: 'image' },
    { url: 'https://example.org/' + 'a'.repeat(3000), kind: 'image' },
    { url: 'https://example.org/a.jpg', kind: 'pdf' },
    { url: 'https://example.org/a.jpg' },
    { url: 42, kind: 'image' },
    { url: 'https://example.org/a.jpg', kind: 'image', extra: true },
  ];
  for (const payload of bad) {
    const problem = M.validate(env('check-media', payload), 'content');
    assert.ok(problem, JSON.stringify(payload).slice(0, 80));
    assert.equal(problem.type, 'invalid-field');
  }
  assert.equal(M.validate(env('check-media', 'x'), 'content').type, 'invalid-message');
  assert.equal(M.validate({ type: 'check-media', payload: {} }, 'content').type, 'invalid-message');
});

test('messages_validate_settings_patch_values_checked', () => {
  const good = { serverUrl: 'https://verity.example:8443', autoCheck: false, showLabels: ['synthetic'], language: 'zh_CN' };
  assert.equal(M.validate(env('set-settings', { settings: good }), 'extension'), null);
  for (const settings of [
    { serverUrl: 'ftp://x' }, { autoCheck: 'yes' }, { showLabels: ['everything'] }, { language: 'fr' }, { admin: true },
    [], null,
  ]) {
    assert.ok(M.validate(env('set-settings', { settings }), 'extension'), JSON.stringify(settings));
  }
});

test('messages_validate_report_fake_requires_hash_and_category', () => {
  const payload = { sha256: 'a'.repeat(64), category: 'misleading_context', sourceUrl: 'https://example.org/a.jpg', text: 'old photo' };
  assert.equal(M.validate(env('report-fake', payload), 'extension'), null);
  const { text, ...noText } = payload;
  assert.equal(M.validate(env('report-fake', noText), 'extension'), null); // the text is optional
  assert.ok(M.validate(env('report-fake', { ...payload, sha256: 'A'.repeat(64) }), 'extension'));
  assert.ok(M.validate(env('report-fake', { ...payload, category: 'deepfake' }), 'extension'));
  assert.ok(M.validate(env('report-fake', { ...payload, text: 'x'.repeat(2001) }), 'extension'));
  assert.ok(M.validate(env('report-fake', { ...payload, reason: 'old field' }), 'extension'));
  assert.deepEqual([...M.REPORT_CATEGORIES], ['synthetic', 'misleading_context', 'manipulated', 'other']);
});

test('messages_validate_report_media_from_content_needs_url_and_category_only', () => {
  const ok = env('report-media', { url: 'https://example.org/a.jpg', category: 'synthetic', text: 'x' });
  assert.equal(M.validate(ok, 'content'), null);
  // the content script cannot name the hash: the service worker uses its own check of that URL
  const withHash = env('report-media', { url: 'https://example.org/a.jpg', category: 'synthetic', sha256: 'a'.repeat(64) });
  assert.equal(M.validate(withHash, 'content').type, 'invalid-field');
  for (const type of ['list-reports', 'check-frame', 'check-progress', 'frame-result', 'get-frame-rect']) {
    assert.equal(M.validate(env(type, {}), 'content').type, 'forbidden', type);
  }
});

test('messages_validate_check_progress_bounds_progress', () => {
  const msg = (progress) => env('check-progress', { url: 'https://example.org/v.mp4', progress, stage: 'decoding' });
  assert.equal(M.validate(msg(0.45), 'extension'), null);
  assert.ok(M.validate(msg(1.5), 'extension'));
  assert.ok(M.validate(msg('half'), 'extension'));
});

test('messages_unwrap_reply_ok_data_or_problem_error', () => {
  assert.deepEqual(M.unwrap(M.ok({ a: 1 })), { a: 1 });
  assert.throws(() => M.unwrap(M.fail({ type: 'x', title: 'X' })), (err) => err.problem.type === 'x');
  assert.throws(() => M.unwrap(undefined), (err) => err.problem.type === 'no-reply');
});

test('messages_default_settings_server_url_loopback_8787', () => {
  assert.equal(M.DEFAULT_SETTINGS.serverUrl, 'http://127.0.0.1:8787');
  assert.equal(M.DEFAULT_SETTINGS.autoCheck, true);
  assert.equal(M.validateSettingsPatch({ ...M.DEFAULT_SETTINGS }), null);
});

test('messages_check_media_fetch_mode_and_expected_size_validated', () => {
  const url = 'https://cdn.example/a.jpg';
  const ok = env('check-media', { url, kind: 'image', credentials: 'same-origin', expect: { width: 320, height: 214 } });
  assert.equal(M.validate(ok, 'content'), null);
  assert.equal(M.validate(env('check-media', { url, kind: 'image', credentials: 'cors' }), 'content').type, 'invalid-field');
  assert.equal(M.validate(env('check-media', { url, kind: 'image', expect: { width: -1 } }), 'content').type, 'invalid-field');
  assert.equal(M.validate(env('check-media', { url, kind: 'image', expect: { depth: 3 } }), 'content').type, 'invalid-field');
});

test('messages_labels_changed_from_content_tab_labels_extension_only', () => {
  const label = { key: 'synthetic', label: 'synthetic', url: 'https://cdn.example/a.jpg', kind: 'image' };
  assert.equal(M.validate(env('labels-changed', { since: 1.5, labels: [label, { ...label, url: null }] }), 'content'), null);
  assert.equal(M.validate(env('labels-changed', { since: 1, labels: [{ ...label, url: 'javascript:x' }] }), 'content').type,
    'invalid-field');
  assert.equal(M.validate(env('labels-changed', { since: 1, labels: Array(M.MAX_LABELS + 1).fill(label) }), 'content').type,
    'invalid-field');
  assert.equal(M.validate(env('labels-changed', { since: 1, labels: [{ ...label, text: 'x'.repeat(9000) }] }), 'content').type,
    'invalid-field');
  assert.equal(M.validate(env('get-tab-labels', { tabId: 3 }), 'content').type, 'forbidden');
  assert.equal(M.validate(env('get-tab-labels', { tabId: 3 }), 'extension'), null);
  assert.equal(M.validate(env('check-frame-here', {}), 'content'), null);
});

test('messages_full_source_urls_setting_boolean', () => {
  assert.equal(M.validateSettingsPatch({ fullSourceUrls: true }), null);
  assert.match(M.validateSettingsPatch({ fullSourceUrls: 'yes' }), /boolean/);
  assert.equal(M.DEFAULT_SETTINGS.fullSourceUrls, false);
});
