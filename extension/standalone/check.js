/*
 * Bytes -> the standalone response: THE one path from a file's bytes to what standalone mode answers (the
 * c2pa_manifest and metadata_labels results ranked by verdict.js into the server's response shape). The C2PA worker
 * (c2pa-worker.js) runs it in the browser; the parity runner (tests/extension/standalone-read.mjs) runs it under node,
 * so the parity test exercises what ships. What differs between the two is given, never re-implemented here:
 *   - `WasmReader` and `settings`: the c2pa-rs WebAssembly reader class (initialised) and the server's trust settings;
 *   - `toBlob(bytes, type)`: a Blob for the reader (a browser Blob; a byte-array stand-in under node);
 *   - `decodeAlpha(bytes, format)`: the alpha plane for NovelAI stealth metadata (see metadata-labels.js), from the
 *     browser's image decoder (`decodeAlphaWith` below) or, in the test, from Pillow.
 */
import { c2paResult, sniffFormat } from './c2pa-read.js';
import { readMetadataLabels } from './metadata-labels.js';
import { standaloneResponse } from './verdict.js';

// The server decodes no image over Limits.max_pixels (server/verify/types.py) before reading stealth metadata; the
// browser decoder is bounded the same way, from the header, before any pixel is decoded.
export const MAX_PIXELS = 80_000_000;

/**
 * @typedef {object} Engine
 * @property {{fromBlob: Function}} WasmReader the initialised c2pa-wasm reader class
 * @property {string} settings the trust settings (JSON text), passed with every reader as the server does
 * @property {(bytes: Uint8Array, type: string) => Blob} toBlob
 * @property {(bytes: Uint8Array, format: string) => Promise<{alpha: Uint8Array, width: number, height: number}|null>} [decodeAlpha]
 */

/** The c2pa_manifest result of `bytes` (an unreadable container is a result too, never a thrown error). */
export async function readC2pa(engine, bytes, mime) {
  const format = sniffFormat(bytes, mime);
  if (!format) return c2paResult({ error: 'UnsupportedType', format: 'unknown' });
  let reader = null;
  try {
    reader = await engine.WasmReader.fromBlob(format, engine.toBlob(bytes, format), engine.settings);
    return c2paResult({ store: JSON.parse(reader.json()) });
  } catch (err) {
    return c2paResult({ error: String((err && err.message) || err), format });
  } finally {
    if (reader) reader.free();
  }
}

/** The metadata_labels result in the server's CheckResult.to_json shape (the module's label/reason keys dropped). */
export async function readLabels(engine, bytes, mime) {
  const { check, outcome, summary, score, evidence, signal } = await readMetadataLabels(bytes, mime,
    { decodeAlpha: engine.decodeAlpha });
  return { check, outcome, summary, score, evidence, signal };
}

/** The standalone response for `bytes` (verdict.js standaloneResponse): both declared checks, ranked. */
export async function checkBytes(engine, bytes, mime, sha256) {
  const [c2pa, labels] = await Promise.all([readC2pa(engine, bytes, mime), readLabels(engine, bytes, mime)]);
  return standaloneResponse(sha256, mime, [c2pa, labels]);
}

/** Width and height from a PNG's IHDR or a WebP's VP8X / VP8L / VP8 header, or null: read before decoding. */
export function imageSize(bytes, format) {
  const b = bytes;
  const u32be = (i) => ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
  const u24le = (i) => b[i] | (b[i + 1] << 8) | (b[i + 2] << 16);
  if (format === 'png' && b.length >= 24) return { width: u32be(16), height: u32be(20) };
  if (format === 'webp' && b.length >= 30) {
    const cid = String.fromCharCode(b[12], b[13], b[14], b[15]);
    if (cid === 'VP8X') return { width: u24le(24) + 1, height: u24le(27) + 1 };
    if (cid === 'VP8L' && b[20] === 0x2f) {
      const bits = b[21] | (b[22] << 8) | (b[23] << 16) | (b[24] << 24);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (cid === 'VP8 ') return { width: (b[26] | (b[27] << 8)) & 0x3fff, height: (b[28] | (b[29] << 8)) & 0x3fff };
  }
  return null;
}

/**
 * A `decodeAlpha` for metadata-labels.js from a browser's own decoder (a worker's createImageBitmap and
 * OffscreenCanvas): the alpha channel exactly as stored (no premultiplication, no colour conversion), or a thrown
 * error the reader turns into a note (too many pixels, undecodable). Bounded by MAX_PIXELS from the header.
 */
export function decodeAlphaWith({ createImageBitmap: decode, OffscreenCanvas: Canvas, maxPixels = MAX_PIXELS }) {
  return async (bytes, format) => {
    const size = imageSize(bytes, format);
    if (!size) throw new Error('cannot read the image size');
    if (size.width * size.height > maxPixels) {
      throw new Error(`image is ${size.width}x${size.height} pixels; the limit is ${maxPixels} pixels`);
    }
    const bitmap = await decode(new Blob([bytes], { type: `image/${format}` }),
      { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
    try {
      const { width, height } = bitmap;
      if (width * height > maxPixels) throw new Error(`image is ${width}x${height} pixels; the limit is ${maxPixels} pixels`);
      const context = new Canvas(width, height).getContext('2d', { willReadFrequently: true });
      context.drawImage(bitmap, 0, 0);
      const rgba = context.getImageData(0, 0, width, height).data;
      const alpha = new Uint8Array(width * height);
      for (let i = 0, j = 3; i < alpha.length; i += 1, j += 4) alpha[i] = rgba[j];
      return { alpha, width, height };
    } finally {
      bitmap.close();
    }
  };
}
