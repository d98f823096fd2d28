// node --test: every verdict label the extension can show has its badge and explanation text in both locales.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import '../../extension/shared/messages.js';

const M = globalThis.VerifyMessages;
const load = (lang) => JSON.parse(readFileSync(new URL(`../../extension/_locales/${lang}/messages.json`, import.meta.url), 'utf8'));
const LOCALES = { en: load('en'), zh_CN: load('zh_CN') };

test('locales_every_label_has_badge_and_explanation_in_en_and_zh_cn', () => {
  const labels = [...M.LABELS.filter((l) => l !== 'unknown'), 'refuted', 'not_checked'];
  for (const [lang, table] of Object.entries(LOCALES)) {
    for (const label of labels) {
      for (const key of [`badge_${label}`, `label_${label}`]) {
        assert.ok(table[key] && table[key].message.trim().length > 0, `${lang}: ${key}`);
      }
    }
    assert.ok(table.label_unknown.message.trim(), `${lang}: label_unknown`);
  }
});

test('locales_likely_synthetic_softer_than_synthetic', () => {
  assert.equal(LOCALES.en.badge_likely_synthetic.message, 'Possibly AI-generated');
  assert.equal(LOCALES.en.badge_synthetic.message, 'AI-generated');
  assert.match(LOCALES.zh_CN.badge_likely_synthetic.message, /^可能由\s?AI\s?生成$/);
  for (const table of Object.values(LOCALES)) {
    assert.notEqual(table.badge_likely_synthetic.message, table.badge_synthetic.message);
    assert.notEqual(table.label_likely_synthetic.message, table.label_synthetic.message);
  }
});

test('locales_report_categories_and_statuses_named_in_both', () => {
  for (const [lang, table] of Object.entries(LOCALES)) {
    for (const c of M.REPORT_CATEGORIES) assert.ok(table[`category_${c}`], `${lang}: category_${c}`);
    for (const s of ['open', 'refuted', 'synthetic', 'dismissed', 'unknown']) assert.ok(table[`status_${s}`], `${lang}: status_${s}`);
  }
});

test('locales_every_server_check_and_signal_named_in_both', () => {
  // The API's codes: the check descriptors (server/verify/registry.py) and the Signal enum, plus the reasons
  // that are not signals: a refutation match and a damaged file.
  const registry = readFileSync(new URL('../../server/verify/registry.py', import.meta.url), 'utf8');
  const checks = [...registry.matchAll(/CheckDescriptor\.of\(([a-z0-9_]+),/g)].map((m) => m[1]);
  const types = readFileSync(new URL('../../server/verify/types.py', import.meta.url), 'utf8');
  const signals = [...types.slice(types.indexOf('class Signal')).matchAll(/^    [A-Z_]+ = "([a-z_]+)"$/gm)].map((m) => m[1]);
  assert.ok(checks.length >= 10 && signals.length >= 4, `${checks} ${signals}`);
  for (const lang of ['en', 'zh_CN']) {
    const table = load(lang);
    for (const c of checks) assert.ok(table['check_' + c], `${lang} check_${c}`);
    for (const s of [...signals, 'refuted', 'damaged']) assert.ok(table['signal_' + s], `${lang} signal_${s}`);
  }
});

test('locales_reason_rendered_from_codes_outside_english', async () => {
  await import('../../extension/shared/i18n.js');
  const I = globalThis.VerityI18n;
  const reason = { check: 'c2pa_manifest', signal: 'declared_synthetic', text: 'C2PA digitalSourceType trainedAlgorithmicMedia' };
  I.setTable(load('zh_CN'), 'zh_CN');
  assert.equal(I.reason(reason), 'C2PA 内容凭证: 声明为 AI 生成或 AI 编辑');
  assert.equal(I.checkName('watermark'), '隐式水印');
  assert.equal(I.reason({ ...reason, check: 'new_check' }), reason.text); // unknown code: the server's words
  I.setTable(load('en'), 'en');
  assert.equal(I.reason(reason), reason.text); // English: the server's own, more specific, text
  I.setTable(null);
});
