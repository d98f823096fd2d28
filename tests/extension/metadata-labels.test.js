// node --test: the standalone metadata_labels reader (extension/standalone/metadata-labels.js) on untrusted bytes.
// Parity with the server is tests/verify/test_metadata_labels_parity.py; this checks robustness without Python.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readMetadataLabels, sniff } from '../../extension/standalone/metadata-labels.js';

const METADATA = new URL('../../../shared/fixtures/metadata/', import.meta.url);
const MAGICS = ['\xff\xd8\xff', '\x89PNG\r\n\x1a\n', 'RIFF\0\0\0\0WEBP', 'II*\x00', 'MM\x00*', 'GIF89a', 'RIFF\0\0\0\0WAVE', ''];

function rng(seed) {  // mulberry32: seeded, so a failure reproduces
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const bytesOf = (s) => Uint8Array.from(s, (c) => c.charCodeAt(0));

test('metadata_labels_garbage_after_every_magic_never_throws_no_label', async () => {
  const random = rng(16);
  for (const magic of MAGICS) {
    for (let i = 0; i < 60; i += 1) {
      const body = Uint8Array.from({ length: Math.floor(random() * 2048) }, () => Math.floor(random() * 256));
      const bytes = new Uint8Array([...bytesOf(magic), ...body]);
      const result = await readMetadataLabels(bytes, 'image/jpeg');
      assert.notEqual(result.outcome, 'error', result.summary);
      assert.equal(result.label, 'unknown');
      assert.equal(result.signal, null);
    }
  }
});

test('metadata_labels_empty_and_non_bytes_input', async () => {
  for (const input of [new Uint8Array(0), new ArrayBuffer(4), undefined, null]) {
    const result = await readMetadataLabels(input);
    assert.equal(result.outcome, 'unsupported');
    assert.equal(result.label, 'unknown');
  }
});

test('metadata_labels_audio_video_unsupported_like_the_server', async () => {
  assert.deepEqual(sniff(bytesOf('RIFF\0\0\0\0WAVEfmt ')), ['audio', 'wav']);
  const result = await readMetadataLabels(bytesOf('\0\0\0\x18ftypisom\0\0\0\0'));
  assert.equal(result.outcome, 'unsupported');
  assert.equal(result.summary, 'Metadata labels are read from images only, not video files.');
});

test('metadata_labels_truncated_and_flipped_fixtures_never_throw', { skip: !existsSync(METADATA) && 'no shared fixtures' }, async () => {
  const random = rng(45438);
  for (const name of ['sd_webui_parameters.png', 'made_iptc_dst_trained.jpg', 'comfyui_prompt_workflow.png',
    'doubao_gb45438_aigc_xmp.png', 'made_sd_webui_parameters_exif.jpg']) {
    const data = new Uint8Array(readFileSync(new URL(name, METADATA)));
    const whole = await readMetadataLabels(data);
    assert.equal(whole.label, 'synthetic', name);
    for (let i = 0; i < 40; i += 1) {
      const cut = data.slice(0, Math.floor(random() * data.length));
      for (let j = 0; j < 4; j += 1) cut[Math.floor(random() * cut.length)] = Math.floor(random() * 256);
      const result = await readMetadataLabels(cut);
      assert.notEqual(result.outcome, 'error', `${name}: ${result.summary}`);
      assert.ok(['synthetic', 'likely_synthetic', 'unknown'].includes(result.label));
    }
  }
});

test('metadata_labels_oversized_png_text_bounded', async () => {
  // A zTXt chunk that inflates past Pillow's 1 MiB MAX_TEXT_CHUNK is dropped with a note, not read.
  const { deflateSync, crc32 } = await import('node:zlib');
  const chunk = (type, data) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length);
    out.set(bytesOf(type), 4);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32 ? crc32(out.subarray(4, 8 + data.length)) : 0);
    return out;
  };
  const ihdr = new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
  const text = `Steps: 20, Sampler: Euler, CFG scale: 7${' '.repeat(2 << 20)}`;
  const ztxt = new Uint8Array([...bytesOf('parameters\0\0'), ...deflateSync(Buffer.from(text))]);
  const png = new Uint8Array([...bytesOf('\x89PNG\r\n\x1a\n'), ...chunk('IHDR', ihdr), ...chunk('zTXt', ztxt), ...chunk('IEND', new Uint8Array(0))]);
  const result = await readMetadataLabels(png);
  assert.equal(result.label, 'unknown');
  assert.ok(result.evidence.notes.some((n) => n.includes('too large')), result.evidence.notes.join('; '));
});
