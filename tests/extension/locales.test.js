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
