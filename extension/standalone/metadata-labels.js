/*
 * Metadata AI labels, read in the browser: the server's metadata_labels check
 * (server/verify/checks/metadata_labels/) ported to a pure ES module, so standalone mode labels a file as the server
 * would. No DOM, no chrome.* APIs: it runs in a service worker, an offscreen document, a worker and under node >= 20.
 *
 *   const result = await readMetadataLabels(bytes, mime, { decodeAlpha });
 *
 * gives the server's CheckResult.to_json() shape, {check, outcome, summary, score, evidence, signal}, with the same
 * evidence keys (findings [{kind, field, value, ai, signal, ...}], xmp_source, png_text_keys, notes), plus two keys
 * the verdict rule (server/verify/verdict.py) would derive from this result alone: `label` ("synthetic",
 * "likely_synthetic" or "unknown") and `reason` ({check, signal, text} or null).
 *
 * The tables that give findings their meaning (AI source types, GB 45438 Labels, generator names, bounds, patterns,
 * signal strengths, verdict ranking) are not written here: labels-vocabulary.js is generated from the Python source
 * (buildtasks/labels_vocabulary.py), and a test fails when it is stale. tests/test_metadata_labels_parity.py runs this
 * module and the server check on the shared fixtures and compares them.
 *
 * Read here, as on the server: XMP (JPEG APP1, PNG iTXt/tEXt/zTXt `XML:com.adobe.xmp`, WebP `XMP ` chunk, TIFF tag
 * 700), EXIF Software / ImageDescription / UserComment (JPEG APP1, PNG eXIf, WebP EXIF, TIFF IFD0), PNG text chunks,
 * the JPEG COM segment. The declared type (`mime`) is never trusted: the format is sniffed from the bytes, as
 * server/verify/media.py does; `mime` only names the format when the bytes are not one we recognise.
 *
 * Differences from the server, on purpose or by necessity:
 * - `xmp_source` is always "raw" (the packet as found in the file): the server's first reader is exiv2, not
 *   available here. Its packet is the same text; only the name differs. `notes` carry this reader's own messages.
 * - JPEG Extended XMP (APP1 `http://ns.adobe.com/xmp/extension/`) is NOT read, because the server (exiv2 and
 *   Pillow) does not read it either: a label there would give a browser-only verdict. Add it to both together.
 * - HEIC/HEIF/AVIF and GIF metadata are not read (the server reads them through exiv2 / pillow-heif / Pillow):
 *   these give not_detected with a note saying so.
 * - Compressed PNG text (zTXt, compressed iTXt) is inflated with DecompressionStream("deflate"), capped at 1 MiB per
 *   chunk like Pillow's MAX_TEXT_CHUNK; where DecompressionStream is missing those chunks are skipped with a note.
 * - NovelAI stealth metadata (stealth_pngcomp in the alpha LSBs) needs decoded pixels. This module has no PNG or
 *   WebP decoder (writing one is out of scope): pass `options.decodeAlpha(bytes, format)` returning
 *   {alpha: Uint8Array (row-major), width, height} (e.g. from an OffscreenCanvas in an offscreen document) and the
 *   stealth reader runs exactly as the server's; without it, stealth metadata is not read and a note says so.
 * - Python's \w, \d and \b are Unicode-aware; the patterns are translated to Unicode property classes here. Python
 *   slices strings by code point, JS by UTF-16 unit: bounds on text agree except for astral characters.
 * Untrusted bytes: every read is bounds-checked, chunk and segment counts are capped, nothing throws; a file that
 * cannot be parsed gives outcome unsupported or not_detected, never a label.
 */

import VOCABULARY from './labels-vocabulary.js';

const V = VOCABULARY;
const L = V.limits;
const NS = V.namespaces;
const NS_XML = 'http://www.w3.org/XML/1998/namespace';
const MAX_TEXT_CHUNK = 1 << 20;        // Pillow's PngImagePlugin.MAX_TEXT_CHUNK (decompressed iTXt/zTXt)
const MAX_TEXT_MEMORY = 64 * MAX_TEXT_CHUNK;  // Pillow's MAX_TEXT_MEMORY (all PNG text)
const MAX_JPEG_SEGMENTS = 4096;
const MAX_RIFF_CHUNKS = 4096;
const MAX_IFD_ENTRIES = 4096;
const AI_SOURCE_TYPES_LOWER = new Set(V.ai_source_types.map((t) => t.toLowerCase()));
const XMP_WANTED = new Set(V.xmp_wanted.map(([ns, name]) => `${ns}\u0000${name}`));
const STRENGTH = V.signal_strength;

// --- Python-compatible helpers ---------------------------------------------------------------------------------

/** A Python `re` pattern as a JS RegExp: \w, \d and \b are Unicode-aware in Python's str patterns. */
function pyRegex({ source, flags }) {
  const W = '\\p{L}\\p{N}_';
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i += 1) {
    const c = source[i];
    if (c === '\\' && i + 1 < source.length) {
      const n = source[i + 1];
      i += 1;
      if (n === 'w') out += inClass ? W : `[${W}]`;
      else if (n === 'd') out += '\\p{Nd}';
      else if (n === 'b' && !inClass) out += `(?:(?<=[${W}])(?![${W}])|(?<![${W}])(?=[${W}]))`;
      else out += `\\${n}`;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return new RegExp(out, `${flags}u`);
}

const SD_PARAMS = pyRegex(V.patterns.sd_params);
const MJ_JOB = pyRegex(V.patterns.mj_job);
const MJ_VERSION = pyRegex(V.patterns.mj_version);
const XMP_START = pyRegex(V.patterns.xmp_start);
const XMP_END = new RegExp(pyRegex(V.patterns.xmp_end).source, 'gu');

/** The first `n` code points of `s` (Python slicing), fast when `s` is short. */
function cpSlice(s, n) {
  if (s.length <= n) return s;
  let units = 0;
  let count = 0;
  while (units < s.length && count < n) {
    const code = s.charCodeAt(units);
    units += code >= 0xd800 && code <= 0xdbff && units + 1 < s.length ? 2 : 1;
    count += 1;
  }
  return s.slice(0, units);
}

function cpLength(s) {
  let n = 0;
  for (let i = 0; i < s.length; i += 1) {
    const code = s.charCodeAt(i);
    if (!(code >= 0xdc00 && code <= 0xdfff && i > 0 && s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff)) n += 1;
  }
  return n;
}

function excerpt(text, limit = L.excerpt) {
  const cut = cpSlice(text, limit);
  return cut.length === text.length ? text : `${cut}…`;
}

/** Python's str.strip(chars): `chars` a string of single characters; without it, whitespace. */
function strip(s, chars) {
  if (chars === undefined) return s.trim();
  let a = 0;
  let b = s.length;
  while (a < b && chars.includes(s[a])) a += 1;
  while (b > a && chars.includes(s[b - 1])) b -= 1;
  return s.slice(a, b);
}

const NUL_WS = '\0 \t\r\n';

function latin1(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

const UTF8 = new TextDecoder('utf-8');
const UTF8_FATAL = new TextDecoder('utf-8', { fatal: true });

function utf8(bytes) { return UTF8.decode(bytes); }

function utf8Strict(bytes) {
  try { return UTF8_FATAL.decode(bytes); } catch { return null; }
}

function decodeWith(label, bytes) {
  try { return new TextDecoder(label).decode(bytes); } catch { return utf8(bytes); }
}

/** PNG tEXt is Latin-1 by spec, but generators write UTF-8 there: undo the mis-decoding (reading._demojibake). */
function demojibake(text) {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c > 0xff) return text;
    bytes[i] = c;
  }
  const decoded = utf8Strict(bytes);
  return decoded === null ? text : decoded;
}

function isPlainObject(v) { return v !== null && typeof v === 'object' && !Array.isArray(v); }

/** A JSON object from untrusted text, or null (reading._json_obj). */
function jsonObj(text) {
  if (isPlainObject(text)) return text;
  if (typeof text !== 'string' || cpLength(text) > L.max_json_chars || !text.trimStart().startsWith('{')) return null;
  try {
    const value = JSON.parse(text);
    return isPlainObject(value) ? value : null;
  } catch {
    return null;
  }
}

/** Python's str() of a JSON value, for the values the server puts into evidence. */
function pyStr(v, nested = false) {
  if (typeof v === 'string') return nested ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : v;
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map((x) => pyStr(x, true)).join(', ')}]`;
  return `{${Object.entries(v).map(([k, x]) => `${pyStr(k, true)}: ${pyStr(x, true)}`).join(', ')}}`;
}

function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }

function note(meta, where, message) {
  meta.notes.push(excerpt(`${where}: ${message}`.trim(), 200));
}

// --- sniffing (server/verify/media.py sniff) ---------------------------------------------------------------------

const FTYP_BRANDS = {
  heic: ['image', 'heic'], heix: ['image', 'heic'], mif1: ['image', 'heif'], msf1: ['image', 'heif'],
  avif: ['image', 'avif'], avis: ['image', 'avif'], 'M4A ': ['audio', 'm4a'], 'M4B ': ['audio', 'm4a'],
  'qt  ': ['video', 'mov'],
};

function ascii(bytes, start, end) { return latin1(bytes.subarray(start, end)); }

function startsWith(bytes, prefix, at = 0) {
  if (bytes.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i += 1) if (bytes[at + i] !== prefix.charCodeAt(i)) return false;
  return true;
}

/** [kind, format] from the leading bytes, or null: the same table as the server's sniff. */
export function sniff(bytes) {
  const h = bytes;
  if (startsWith(h, '\xff\xd8\xff')) return ['image', 'jpeg'];
  if (startsWith(h, '\x89PNG\r\n\x1a\n')) return ['image', 'png'];
  if (startsWith(h, 'GIF87a') || startsWith(h, 'GIF89a')) return ['image', 'gif'];
  if (startsWith(h, 'RIFF') && startsWith(h, 'WEBP', 8)) return ['image', 'webp'];
  if (startsWith(h, 'RIFF') && startsWith(h, 'WAVE', 8)) return ['audio', 'wav'];
  if (startsWith(h, 'RIFF') && startsWith(h, 'AVI ', 8)) return ['video', 'avi'];
  if (startsWith(h, 'II*\x00') || startsWith(h, 'MM\x00*')) return ['image', 'tiff'];
  if (startsWith(h, 'BM') && h.length > 26) return ['image', 'bmp'];
  if (startsWith(h, 'ftyp', 4)) return FTYP_BRANDS[ascii(h, 8, 12)] || ['video', 'mp4'];
  if (startsWith(h, '\x1aE\xdf\xa3')) return ascii(h, 0, 64).includes('webm') ? ['video', 'webm'] : ['video', 'mkv'];
  if (startsWith(h, 'ID3') || (h.length > 1 && h[0] === 0xff && (h[1] & 0xe0) === 0xe0 && (h[1] & 0x06))) {
    return ['audio', 'mp3'];
  }
  if (startsWith(h, 'fLaC')) return ['audio', 'flac'];
  if (startsWith(h, 'OggS')) return ['audio', 'ogg'];
  return null;
}

// --- reading -------------------------------------------------------------------------------------------------------

function newMeta() {
  return { xmp: [], exif: {}, text: new Map(), comment: '', mode: null, readable: false, notes: [], rawXmp: [],
    rawExif: null, textMemory: 0 };
}

const u16 = (b, o, le) => (le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1]);
const u32 = (b, o, le) => (le ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000
  : b[o] * 0x1000000 + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]));

const TIFF_TYPE_SIZE = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };

/** The entries of one IFD: Map tag -> {type, count, bytes}; null when the IFD lies outside the buffer. */
function readIfd(tiff, offset, le) {
  if (offset < 8 || offset + 2 > tiff.length) return null;
  const n = Math.min(u16(tiff, offset, le), MAX_IFD_ENTRIES);
  const entries = new Map();
  for (let i = 0; i < n; i += 1) {
    const at = offset + 2 + 12 * i;
    if (at + 12 > tiff.length) break;
    const tag = u16(tiff, at, le);
    const type = u16(tiff, at + 2, le);
    const count = u32(tiff, at + 4, le);
    const size = (TIFF_TYPE_SIZE[type] || 0) * count;
    if (!TIFF_TYPE_SIZE[type] || size > tiff.length) continue;
    const start = size <= 4 ? at + 8 : u32(tiff, at + 8, le);
    if (start + size > tiff.length) continue;
    if (!entries.has(tag)) entries.set(tag, { type, count, bytes: tiff.subarray(start, start + size) });
  }
  return { entries, next: offset + 2 + 12 * n + 4 <= tiff.length ? u32(tiff, offset + 2 + 12 * n, le) : 0 };
}

/** A TIFF string value as Pillow gives it: ASCII -> Latin-1 text without its trailing NUL, BYTE/UNDEFINED -> bytes. */
function tiffString(entry) {
  if (!entry) return null;
  if (entry.type === 2) {
    const b = entry.bytes[entry.bytes.length - 1] === 0 ? entry.bytes.subarray(0, -1) : entry.bytes;
    return latin1(b);
  }
  if (entry.type === 1 || entry.type === 7) return entry.count === 1 && entry.type === 1 ? null : entry.bytes;
  return null;
}

/** EXIF UserComment: an 8-byte character code, then the text (EXIF 2.32, 4.6.5) (reading._decode_user_comment). */
function decodeUserComment(raw) {
  const head = latin1(raw.subarray(0, 8));
  const body = raw.subarray(8, 8 + 2 * L.max_text_chars);
  let text;
  if (head === 'UNICODE\0') {
    if ((body[0] === 0xfe && body[1] === 0xff) || (body[0] === 0xff && body[1] === 0xfe)) {
      text = decodeWith(body[0] === 0xfe ? 'utf-16be' : 'utf-16le', body.subarray(2));
    } else {
      const be = decodeWith('utf-16be', body);
      const le = decodeWith('utf-16le', body);
      const asciiCount = (s) => { let n = 0; for (const c of s) if (c < '\x80') n += 1; return n; };
      text = asciiCount(be) >= asciiCount(le) ? be : le;
    }
  } else if (head === 'JIS\0\0\0\0\0') {
    text = decodeWith('shift_jis', body);
  } else if (head === 'ASCII\0\0\0' || head === '\0\0\0\0\0\0\0\0') {
    text = utf8(body);
  } else {
    text = utf8(raw.subarray(0, 2 * L.max_text_chars));
  }
  return strip(text, NUL_WS);
}

/** Software, ImageDescription, UserComment from a TIFF/EXIF block (reading._exif_from_pillow). */
function exifFields(data) {
  let raw = data;
  for (let i = 0; i < 2 && startsWith(raw, 'Exif\0\0'); i += 1) raw = raw.subarray(6);
  const out = {};
  if (raw.length < 8) return out;
  const le = startsWith(raw, 'II');
  if (!le && !startsWith(raw, 'MM')) throw new Error('not a TIFF header');
  const ifd0 = readIfd(raw, u32(raw, 4, le), le);
  if (!ifd0) return out;
  for (const [tag, name] of [[0x0131, 'Software'], [0x010e, 'ImageDescription']]) {
    let value = tiffString(ifd0.entries.get(tag));
    if (value instanceof Uint8Array) value = utf8(value);
    if (typeof value === 'string' && strip(value, '\0 ')) out[name] = strip(demojibake(value), NUL_WS);
  }
  const exifPointer = ifd0.entries.get(0x8769);
  if (exifPointer && (exifPointer.type === 4 || exifPointer.type === 13) && exifPointer.count >= 1) {
    const sub = readIfd(raw, u32(exifPointer.bytes, 0, le), le);
    const entry = sub && sub.entries.get(0x9286);
    let comment = entry ? (entry.type === 2 ? tiffString(entry) : entry.type === 7 || entry.type === 1 ? entry.bytes : null) : null;
    if (typeof comment === 'string') comment = Uint8Array.from(comment, (c) => c.charCodeAt(0));
    if (comment instanceof Uint8Array && strip(latin1(comment.subarray(0, 4096)), '\0 ').length + Math.max(0, comment.length - 4096) > 0) {
      out.UserComment = decodeUserComment(comment);
    }
  }
  return out;
}

function readJpeg(bytes, meta) {
  let pos = 2;
  let exif = null;
  let xmp = null;
  for (let n = 0; n < MAX_JPEG_SEGMENTS && pos + 4 <= bytes.length; n += 1) {
    if (bytes[pos] !== 0xff) { note(meta, 'JPEG', `no marker at byte ${pos}`); break; }
    let marker = bytes[pos + 1];
    while (marker === 0xff && pos + 2 < bytes.length) { pos += 1; marker = bytes[pos + 1]; }
    if (marker === 0xd9 || marker === 0xda) break;  // EOI, start of scan: metadata comes before the image data
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { pos += 2; continue; }
    const length = u16(bytes, pos + 2, false);
    if (length < 2 || pos + 2 + length > bytes.length) { note(meta, 'JPEG', 'segment runs past the end of the file'); break; }
    const s = bytes.subarray(pos + 4, pos + 2 + length);
    meta.readable = true;
    if (marker === 0xe1 && startsWith(s, 'Exif\0\0')) {
      exif = exif ? concat(exif, s.subarray(6)) : s;
    } else if (marker === 0xe1 && startsWith(s, 'http://ns.adobe.com/xap/1.0/\0')) {
      xmp = s.subarray(s.indexOf(0) + 1);  // Pillow keeps the last standard XMP packet
    } else if (marker === 0xfe) {
      meta.comment = utf8(s);
    }
    pos += 2 + length;
  }
  if (xmp) meta.rawXmp.push(xmp);
  meta.rawExif = exif;
}

function concat(a, b) {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Inflate a zlib stream, at most `cap` bytes out; null where the stream is corrupt (Pillow: zlib.error). */
async function inflate(data, cap, format = 'deflate') {
  if (typeof DecompressionStream !== 'function') throw new Error('DecompressionStream is not available');
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream(format));
  const reader = stream.getReader();
  const parts = [];
  let total = 0;
  let over = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.length > cap) {
        parts.push(value.subarray(0, cap - total));
        total = cap;
        over = true;
        break;
      }
      parts.push(value);
      total += value.length;
    }
  } catch (err) {
    if (total === 0) return { data: null, over: false, error: String(err && err.message || err) };
  } finally {
    reader.cancel().catch(() => {});
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return { data: out, over, error: null };
}

function splitNul(bytes, from = 0) {
  const i = bytes.indexOf(0, from);
  return i < 0 ? null : i;
}

function setText(meta, key, value) {
  meta.textMemory += value.length;
  if (meta.textMemory > MAX_TEXT_MEMORY) throw new Error('too much memory used in text chunks');
  meta.text.set(excerpt(key, 80), demojibake(cpSlice(value, L.max_json_chars + 1)));
}

/** PNG text chunks, eXIf and iTXt XMP, wherever they sit (reading._png_chunks, Pillow's chunk decoders). */
async function readPng(bytes, meta) {
  let pos = 8;
  let firstXmp = null;  // what Pillow's Image.open sees (chunks before IDAT)
  let lastXmp = null;
  let exif = null;
  let seenIdat = false;
  let chunks = 0;
  for (; chunks < L.max_png_chunks; chunks += 1) {
    if (pos + 8 > bytes.length) break;
    const length = u32(bytes, pos, false);
    const cid = ascii(bytes, pos + 4, pos + 8);
    const start = pos + 8;
    if (!/^[A-Za-z]{4}$/.test(cid)) break;
    if (chunks === 0) {
      if (cid !== 'IHDR') break;
      if (length >= 13 && start + 13 <= bytes.length) {
        meta.readable = true;
        const colorType = bytes[start + 9];
        meta.mode = { 0: 'L', 2: 'RGB', 3: 'P', 4: 'LA', 6: 'RGBA' }[colorType] || null;
        if (bytes[start + 8] === 1 && colorType === 0) meta.mode = '1';
        if (bytes[start + 8] === 16 && colorType === 0) meta.mode = 'I;16';
      }
    }
    if (cid === 'IEND' || start + length > bytes.length) break;
    if (cid === 'IDAT') seenIdat = true;
    const s = bytes.subarray(start, start + length);
    try {
      if (cid === 'tEXt') {
        const i = splitNul(s);
        const k = i === null ? s : s.subarray(0, i);
        const v = i === null ? new Uint8Array(0) : s.subarray(i + 1);
        if (k.length) {
          if (latin1(k) === 'exif') exif = v;
          setText(meta, latin1(k), latin1(v));
        }
      } else if (cid === 'zTXt') {
        const i = splitNul(s);
        const k = i === null ? s : s.subarray(0, i);
        let v = i === null ? new Uint8Array(0) : s.subarray(i + 1);
        if (v.length && v[0] !== 0) throw new Error(`unknown compression method ${v[0]} in zTXt chunk`);
        const inflated = await inflate(v.subarray(1), MAX_TEXT_CHUNK + 1);
        if (inflated.over) throw new Error('decompressed data too large');
        v = inflated.data || new Uint8Array(0);
        if (k.length) setText(meta, latin1(k), latin1(v));
      } else if (cid === 'iTXt') {
        const i = splitNul(s);
        if (i !== null && s.length - (i + 1) >= 2) {
          const k = s.subarray(0, i);
          const cf = s[i + 1];
          const cm = s[i + 2];
          const j = splitNul(s, i + 3);
          const l = j === null ? null : splitNul(s, j + 1);
          if (l !== null) {
            const lang = s.subarray(i + 3, j);
            const tk = s.subarray(j + 1, l);
            let v = s.subarray(l + 1);
            let ok = true;
            if (cf !== 0) {
              if (cm !== 0) ok = false;
              else {
                const inflated = await inflate(v, MAX_TEXT_CHUNK + 1);
                if (inflated.over) throw new Error('decompressed data too large');
                if (inflated.data === null) ok = false;
                else v = inflated.data;
              }
            }
            if (ok) {
              const key = latin1(k);
              if (key === 'XML:com.adobe.xmp') {
                lastXmp = v;
                if (!seenIdat) firstXmp = v;
              }
              const strings = [utf8Strict(lang), utf8Strict(tk), utf8Strict(v)];
              if (!strings.includes(null)) setText(meta, key, strings[2]);
            }
          }
        }
      } else if (cid === 'eXIf') {
        exif = concat(new TextEncoder().encode('Exif\0\0'), s);
      }
    } catch (err) {
      note(meta, `PNG ${cid} chunk`, String(err && err.message || err));
    }
    pos = start + length + 4;
  }
  if (chunks >= L.max_png_chunks) meta.notes.push(`PNG: stopped after ${L.max_png_chunks} chunks`);
  if (firstXmp) meta.rawXmp.push(firstXmp);
  if (lastXmp) meta.rawXmp.push(lastXmp);
  if (meta.text.has('XML:com.adobe.xmp')) meta.rawXmp.push(meta.text.get('XML:com.adobe.xmp'));
  meta.rawExif = exif;
  meta.readable = meta.readable || meta.text.size > 0 || Boolean(lastXmp) || Boolean(exif);
}

function readWebp(bytes, meta) {
  let pos = 12;
  const end = Math.min(bytes.length, 8 + u32(bytes, 4, true));
  for (let n = 0; n < MAX_RIFF_CHUNKS && pos + 8 <= end; n += 1) {
    const cid = ascii(bytes, pos, pos + 4);
    const size = u32(bytes, pos + 4, true);
    if (pos + 8 + size > bytes.length) { note(meta, 'WebP', `chunk ${cid} runs past the end of the file`); break; }
    const data = bytes.subarray(pos + 8, pos + 8 + size);
    if (n === 0 && ['VP8 ', 'VP8L', 'VP8X'].includes(cid)) meta.readable = true;
    if (cid === 'VP8X' && size >= 1) meta.mode = data[0] & 0x10 ? 'RGBA' : 'RGB';
    else if (cid === 'VP8L' && n === 0 && size >= 5) meta.mode = data[4] & 0x10 ? 'RGBA' : 'RGB';
    else if (cid === 'VP8 ' && n === 0) meta.mode = 'RGB';
    if (cid === 'EXIF' && !meta.rawExif) meta.rawExif = data;
    if (cid === 'XMP ' && !meta.rawXmp.length) meta.rawXmp.push(data);
    pos += 8 + size + (size & 1);
  }
}

function readTiff(bytes, meta) {
  const le = bytes[0] === 0x49;
  const ifd0 = readIfd(bytes, u32(bytes, 4, le), le);
  if (!ifd0) return;
  meta.readable = true;
  meta.rawExif = bytes;
  const xmp = ifd0.entries.get(700);
  if (xmp && (xmp.type === 1 || xmp.type === 7)) meta.rawXmp.push(xmp.bytes);
}

async function readMetadata(bytes, format) {
  const meta = newMeta();
  if (format === 'jpeg') readJpeg(bytes, meta);
  else if (format === 'png') await readPng(bytes, meta);
  else if (format === 'webp') readWebp(bytes, meta);
  else if (format === 'tiff') readTiff(bytes, meta);
  else {
    meta.readable = true;
    meta.notes.push(`the browser reader does not read ${format} metadata`);
  }
  if (meta.rawExif) {
    try {
      Object.assign(meta.exif, exifFields(meta.rawExif));
    } catch (err) {
      note(meta, 'EXIF', String(err && err.message || err));
    }
  }
  const seen = new Set();
  for (const packet of meta.rawXmp) {
    const text = typeof packet === 'string' ? packet : utf8(packet);
    if (text.trim() && !seen.has(text)) {
      seen.add(text);
      meta.xmp.push(['raw', text]);
    }
  }
  return meta;
}

// --- XMP: a small namespace-aware XML parser (ElementTree's view: tag, attributes, leading text, children) --------

class XmlError extends Error {}

const ENTITIES = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
const BAD_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;

function decodeEntities(s) {
  if (BAD_CHARS.test(s)) throw new XmlError('not well-formed (invalid token)');
  if (s.includes('<')) throw new XmlError('not well-formed (invalid token)');
  return s.replace(/&([^;&\s]*);?/g, (m, name) => {
    if (!m.endsWith(';')) throw new XmlError('not well-formed (invalid token)');
    if (has(ENTITIES, name)) return ENTITIES[name];
    const num = /^#x([0-9a-fA-F]+)$/.exec(name) || /^#([0-9]+)$/.exec(name);
    if (num) {
      const code = parseInt(num[1], name[1] === 'x' ? 16 : 10);
      if (code > 0x10ffff || code === 0 || (code >= 0xd800 && code <= 0xdfff)) throw new XmlError('reference to invalid character number');
      return String.fromCodePoint(code);
    }
    throw new XmlError(`undefined entity &${name};`);
  });
}

const NAME = /^[^\s<>/=!?"']+$/u;

/** Parse `text` into {ns, local, attrs: [[ns, local, value]], text, children}; throws XmlError like expat would. */
function parseXml(src) {
  const text = src.replace(/\r\n?/g, '\n');
  const stack = [];
  let root = null;
  let pos = 0;
  const resolve = (qname, scopes, isAttr) => {
    const colon = qname.indexOf(':');
    if (colon < 0) return [isAttr ? '' : (lookup(scopes, '') || ''), qname];
    const prefix = qname.slice(0, colon);
    const local = qname.slice(colon + 1);
    if (!local || local.includes(':')) throw new XmlError(`not well-formed (invalid token): ${qname}`);
    const ns = prefix === 'xml' ? NS_XML : lookup(scopes, prefix);
    if (ns === undefined || ns === '') throw new XmlError(`unbound prefix: ${prefix}`);
    return [ns, local];
  };
  const lookup = (scopes, prefix) => {
    for (let i = scopes.length - 1; i >= 0; i -= 1) if (has(scopes[i], prefix)) return scopes[i][prefix];
    return undefined;
  };
  const scopes = [];
  const appendText = (s) => {
    const top = stack[stack.length - 1];
    if (top && top.children.length === 0) top.text += s;
    else if (!top && s.trim()) throw new XmlError('junk outside the document element');
  };
  while (pos < text.length) {
    const lt = text.indexOf('<', pos);
    if (lt < 0) { appendText(decodeEntities(text.slice(pos))); break; }
    if (lt > pos) appendText(decodeEntities(text.slice(pos, lt)));
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      if (end < 0) throw new XmlError('unclosed comment');
      pos = end + 3;
      continue;
    }
    if (text.startsWith('<![CDATA[', lt)) {
      const end = text.indexOf(']]>', lt + 9);
      if (end < 0 || !stack.length) throw new XmlError('unclosed CDATA section');
      appendText(text.slice(lt + 9, end));
      pos = end + 3;
      continue;
    }
    if (text.startsWith('<!', lt) || text.startsWith('<?', lt)) throw new XmlError('not well-formed (invalid token)');
    if (text[lt + 1] === '/') {
      const end = text.indexOf('>', lt);
      if (end < 0) throw new XmlError('unclosed end tag');
      const qname = text.slice(lt + 2, end).trim();
      const top = stack.pop();
      if (!top || top.qname !== qname) throw new XmlError('mismatched tag');
      scopes.pop();
      pos = end + 1;
      continue;
    }
    // start tag: name, attributes, then > or />
    const m = /^<([^\s/>]+)/.exec(text.slice(lt, lt + 1024));
    if (!m || !NAME.test(m[1])) throw new XmlError('not well-formed (invalid token)');
    if (root && !stack.length) throw new XmlError('junk after document element');
    const qname = m[1];
    let p = lt + m[0].length;
    const rawAttrs = [];
    const scope = {};
    let selfClosing = false;
    for (;;) {
      const ws = /^\s*/.exec(text.slice(p, p + 4096))[0].length;
      p += ws;
      if (text[p] === '>') { p += 1; break; }
      if (text.startsWith('/>', p)) { p += 2; selfClosing = true; break; }
      if (!ws) throw new XmlError('not well-formed (invalid token)');
      const am = /^([^\s=<>/"']+)\s*=\s*(["'])/.exec(text.slice(p, p + 1024));
      if (!am) throw new XmlError('not well-formed (invalid token)');
      const close = text.indexOf(am[2], p + am[0].length);
      if (close < 0) throw new XmlError('unclosed attribute value');
      const value = decodeEntities(text.slice(p + am[0].length, close).replace(/[\t\n]/g, ' '));
      const name = am[1];
      if (rawAttrs.some(([n]) => n === name)) throw new XmlError('duplicate attribute');
      if (name === 'xmlns') scope[''] = value;
      else if (name.startsWith('xmlns:')) scope[name.slice(6)] = value;
      else rawAttrs.push([name, value]);
      p = close + 1;
    }
    scopes.push(scope);
    const [ns, local] = resolve(qname, scopes, false);
    const attrs = rawAttrs.map(([name, value]) => [...resolve(name, scopes, true), value]);
    const seenExpanded = new Set();
    for (const [ans, alocal] of attrs) {
      const key = `${ans}\u0000${alocal}`;
      if (seenExpanded.has(key)) throw new XmlError('duplicate attribute');
      seenExpanded.add(key);
    }
    const elem = { qname, ns, local, attrs, text: '', children: [] };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(elem);
    else root = elem;
    if (selfClosing) scopes.pop();
    else stack.push(elem);
    pos = p;
  }
  if (stack.length || !root) throw new XmlError('no element found');
  return root;
}

/** Document order, the element itself first (ElementTree's iter()), stopping after `limit` elements. */
function* iterElements(elem) {
  const todo = [elem];
  while (todo.length) {
    const e = todo.pop();
    yield e;
    for (let i = e.children.length - 1; i >= 0; i -= 1) todo.push(e.children[i]);
  }
}

/** Drop every `<?...?>` (xmp._strip_processing_instructions). */
function stripProcessingInstructions(text) {
  const parts = [];
  let pos = 0;
  for (;;) {
    const start = text.indexOf('<?', pos);
    if (start < 0) break;
    const end = text.indexOf('?>', start + 2);
    if (end < 0) break;
    parts.push(text.slice(pos, start));
    pos = end + 2;
  }
  parts.push(text.slice(pos));
  return parts.join('');
}

function parseXmp(packet) {
  if (cpLength(packet) > L.max_xmp_chars || packet.includes('<!DOCTYPE') || packet.includes('<!ENTITY')) return null;
  const text = stripProcessingInstructions(packet);
  const start = XMP_START.exec(text);
  let last = null;
  XMP_END.lastIndex = 0;
  for (let m = XMP_END.exec(text); m; m = XMP_END.exec(text)) last = m;
  if (!start || !last) return null;
  try {
    return parseXml(text.slice(start.index, last.index + last[0].length));
  } catch (err) {
    if (err instanceof XmlError || err instanceof RangeError) return null;
    throw err;
  }
}

function attr(elem, ns, local) {
  const hit = elem.attrs.find(([a, b]) => a === ns && b === local);
  return hit ? hit[2] : undefined;
}

/** Simple value, rdf:resource, the first rdf:li with text, or a struct as an object (xmp._element_value). */
function elementValue(elem) {
  const text = elem.text.trim();
  if (text) return text;
  const resource = attr(elem, NS.rdf, 'resource');
  if (resource) return resource;
  const near = [];
  const it = iterElements(elem);
  it.next();
  for (const e of it) {
    if (near.length >= L.max_xmp_descendants - 1) break;
    near.push(e);
  }
  for (const child of near) if (child.ns === NS.rdf && child.local === 'li' && child.text.trim()) return child.text.trim();
  const fields = {};
  let any = false;
  for (const [ans, alocal, value] of elem.attrs) {  // exiv2 writes a struct as attributes of the property element
    if (ans !== '' && ans !== NS.rdf && ans !== NS_XML) { fields[alocal] = value; any = true; }
  }
  for (const child of near) {
    if (child.ns !== '' && child.ns !== NS.rdf) {
      fields[child.local] = child.text.trim();
      any = true;
    } else if (child.ns === NS.rdf && child.local === 'Description') {
      for (const [ans, alocal, value] of child.attrs) {
        if (ans !== '' && ans !== NS.rdf) { fields[alocal] = value; any = true; }
      }
    }
  }
  return any ? fields : '';
}

function xmpProperties(root) {
  const props = [];
  for (const elem of iterElements(root)) {
    for (const [ns, local, value] of elem.attrs) {
      if (XMP_WANTED.has(`${ns}\u0000${local.toLowerCase()}`)) props.push([ns, local, value]);
    }
    if (XMP_WANTED.has(`${elem.ns}\u0000${elem.local.toLowerCase()}`)) props.push([elem.ns, elem.local, elementValue(elem)]);
    if (props.length >= L.max_xmp_properties) break;
  }
  return props;
}

// --- findings ----------------------------------------------------------------------------------------------------

function sourceTypeName(uri) {
  const s = strip(pyStr(uri)).replace(/\/+$/, '');
  return s.slice(s.lastIndexOf('/') + 1);
}

function gb45438(value, kind, fieldName) {
  let data = jsonObj(value);
  if (data !== null && (isPlainObject(data.AIGC) || typeof data.AIGC === 'string') && has(data, 'AIGC')) {
    const inner = jsonObj(data.AIGC);
    if (inner && Object.keys(inner).length) data = inner;
  }
  if (data === null) {
    return { kind, field: fieldName, value: excerpt(pyStr(value)), label_value: null, ai: false, signal: null,
      note: 'the AIGC value is not a JSON object' };
  }
  const label = has(data, 'Label') ? pyStr(data.Label).trim() : '';
  const entry = has(V.gb45438_labels, label) ? V.gb45438_labels[label] : null;
  const fields = {};
  for (const k of V.gb45438_fields) if (has(data, k)) fields[k] = excerpt(pyStr(data[k]));
  return { kind, field: fieldName, value: fields, label_value: label, ai: entry !== null, signal: entry ? entry.signal : null };
}

function gb45438InText(fieldName, text) {
  if (!cpSlice(text, L.max_text_chars).includes('"AIGC"')) return [];
  const data = jsonObj(text.trim());
  if (data === null || !has(data, 'AIGC') || !(isPlainObject(data.AIGC) || typeof data.AIGC === 'string')) return [];
  return [gb45438(data.AIGC, 'gb45438_aigc_text', fieldName)];
}

function textTraces(fieldName, fullText, sdKind = 'sd_webui_parameters', mjKind = 'midjourney_description') {
  const text = cpSlice(fullText, L.max_text_chars);
  const findings = [];
  if (text.includes('Steps: ') && SD_PARAMS.test(text)) {
    findings.push({ kind: sdKind, field: fieldName, value: excerpt(text), ai: true, signal: 'declared_synthetic' });
  }
  if (text.includes('Job ID') && MJ_JOB.test(text) && MJ_VERSION.test(text)) {
    findings.push({ kind: mjKind, field: fieldName, value: excerpt(text), ai: true, signal: 'declared_synthetic' });
  }
  return findings;
}

function software(fieldName, value) {
  const key = value.trim().toLowerCase();
  if (!has(V.generator_software, key)) return [];
  return [{ kind: 'generator_software', field: fieldName, value: excerpt(value.trim()), generator: V.generator_software[key],
    ai: true, signal: 'declared_synthetic' }];
}

function comfyui(text) {
  let classTypes = [];
  const present = [];
  const prompt = jsonObj(text.get('prompt'));
  if (prompt !== null) {
    const nodes = Object.values(prompt).filter((n) => isPlainObject(n) && typeof n.class_type === 'string').map((n) => n.class_type);
    if (nodes.length) { present.push('prompt'); classTypes = nodes; }
  }
  const workflow = jsonObj(text.get('workflow'));
  if (workflow !== null && Array.isArray(workflow.nodes)) {
    const nodes = workflow.nodes.filter((n) => isPlainObject(n) && typeof n.type === 'string').map((n) => n.type);
    if (nodes.length) { present.push('workflow'); if (!classTypes.length) classTypes = nodes; }
  }
  if (!present.length) return [];
  const sorted = (xs) => [...new Set(xs)].sort(cmpCodePoints);
  const value = { nodes: classTypes.length, class_types: sorted(classTypes).slice(0, 25),
    sampler_nodes: sorted(classTypes.filter((c) => c.toLowerCase().includes('sampler'))).slice(0, 10) };
  return [{ kind: 'comfyui_prompt_workflow_png', field: `PNG:${present.join('+')}`, value, ai: true, signal: 'declared_synthetic' }];
}

function cmpCodePoints(a, b) {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i += 1) {
    if (x[i] !== y[i]) return x[i].codePointAt(0) - y[i].codePointAt(0);
  }
  return x.length - y.length;
}

function getStr(data, k) { return data instanceof Map ? data.get(k) : (has(data, k) ? data[k] : undefined); }

function novelaiFields(data) {
  const out = {};
  for (const k of ['Software', 'Source', 'Title']) {
    const v = getStr(data, k);
    if (typeof v === 'string') out[k] = excerpt(v);
  }
  return out;
}

function isNovelai(data) {
  const sw = getStr(data, 'Software');
  const title = getStr(data, 'Title');
  return (sw === undefined ? '' : pyStr(sw)).trim() === 'NovelAI'
    || (title === undefined ? '' : pyStr(title)).trim() === 'NovelAI generated image';
}

function textChunkFindings(meta) {
  const { text } = meta;
  const findings = comfyui(text);
  if (isNovelai(text)) {
    findings.push({ kind: 'novelai_png_text', field: 'PNG:Software/Title', value: novelaiFields(text), ai: true,
      signal: 'declared_synthetic' });
  } else if (text.has('Software')) {
    findings.push(...software('PNG:Software', text.get('Software')));
  }
  for (const [key, value] of text) {
    if (key === 'prompt' || key === 'workflow' || key === 'XML:com.adobe.xmp' || key.startsWith('Raw profile type')) continue;
    const where = `PNG:${key}`;
    if (key.toLowerCase() === 'aigc') {
      findings.push(gb45438(value, 'gb45438_aigc_text', where));
      continue;
    }
    findings.push(...gb45438InText(where, value));
    const sdKind = key === 'parameters' ? 'sd_webui_parameters_png' : 'sd_webui_parameters';
    findings.push(...textTraces(where, value, sdKind, 'midjourney_png_description'));
  }
  if (meta.comment) findings.push(...textTraces('JPEG:Comment', meta.comment));
  return findings;
}

function exifFindings(meta) {
  const findings = [];
  if (has(meta.exif, 'Software')) findings.push(...software('EXIF:Software', meta.exif.Software));
  for (const name of ['UserComment', 'ImageDescription']) {
    const value = meta.exif[name];
    if (value) {
      findings.push(...gb45438InText(`EXIF:${name}`, value));
      findings.push(...textTraces(`EXIF:${name}`, value,
        name === 'UserComment' ? 'sd_webui_parameters_exif_usercomment' : 'sd_webui_parameters'));
    }
  }
  return findings;
}

function xmpFindings(meta) {
  const findings = [];
  for (const [source, packet] of meta.xmp) {
    const root = parseXmp(packet);
    if (root === null) {
      meta.notes.push(`XMP (${source}): the packet could not be parsed`);
      continue;
    }
    for (const [ns, local, value] of xmpProperties(root)) {
      if (ns === NS.iptc_ext && typeof value === 'string' && value) {
        const name = excerpt(sourceTypeName(value), 100);
        const ai = AI_SOURCE_TYPES_LOWER.has(name.toLowerCase());
        findings.push({ kind: 'iptc_digital_source_type', field: `XMP-iptcExt:${local}`, value: excerpt(value),
          source_type: name, ai, signal: ai ? 'declared_synthetic' : null });
      } else if (ns === NS.tc260) {
        findings.push(gb45438(value, 'gb45438_aigc_xmp', 'XMP-TC260:AIGC'));
      } else if (ns === NS.photoshop && typeof value === 'string' && value.trim().toLowerCase() === V.google_ai_credit) {
        findings.push({ kind: 'google_ai_credit', field: 'XMP-photoshop:Credit', value: value.trim(), ai: true,
          signal: 'declared_synthetic' });
      } else if (ns === NS.dc && typeof value === 'string') {
        findings.push(...textTraces('XMP-dc:Description', value));
      } else if (ns === NS.xmp && typeof value === 'string') {
        findings.push(...software('XMP-xmp:CreatorTool', value));
      }
    }
  }
  return findings;
}

// --- NovelAI stealth metadata (stealth.py), on an alpha plane the caller decodes ----------------------------------

function lsbBytes(alpha, width, height, startBit, nBytes) {
  const out = new Uint8Array(nBytes);
  for (let k = 0; k < nBytes * 8; k += 1) {
    const i = startBit + k;
    const x = Math.floor(i / height);
    const y = i % height;
    const bit = x < width ? alpha[y * width + x] & 1 : 0;
    out[k >> 3] |= bit << (7 - (k & 7));
  }
  return out;
}

/** Findings from an alpha plane (row-major, width x height), as stealth._stealth_findings gives them. */
export async function stealthFindings(alpha, width, height, format) {
  const capacity = Math.floor((width * height) / 8);
  const magic = V.stealth_magic;
  const header = magic.length + 4;
  if (capacity < header || latin1(lsbBytes(alpha, width, height, 0, magic.length)) !== magic) return [];
  const n = lsbBytes(alpha, width, height, 8 * magic.length, 4);
  const nBits = u32(n, 0, false);
  const nBytes = Math.floor(nBits / 8);
  const finding = { kind: 'stealth_pnginfo_alpha', field: `${format.toUpperCase()}:alpha-LSB (stealth_pngcomp)`, value: null,
    ai: true, signal: 'declared_synthetic' };
  if (!(nBytes > 0 && nBytes <= Math.min(L.max_stealth_bytes, capacity - header))) {
    finding.note = `declared payload of ${nBits} bits is out of bounds`;
    return [finding];
  }
  const payload = lsbBytes(alpha, width, height, 8 * header, nBytes);
  let inflated;
  try {
    inflated = await inflate(payload, L.max_stealth_json, 'gzip');
  } catch (err) {
    inflated = { data: null, error: String(err && err.message || err) };
  }
  if (inflated.data === null) {
    finding.note = `payload is not gzip: ${inflated.error}`;
    return [finding];
  }
  const text = utf8(inflated.data);
  const data = jsonObj(text);
  if (data !== null && (isNovelai(data) || has(data, 'Comment'))) Object.assign(finding, { kind: 'novelai_stealth_pnginfo_alpha', value: novelaiFields(data) });
  else finding.value = excerpt(text);
  return [finding];
}

async function readStealth(bytes, format, meta, decodeAlpha) {
  if (!['png', 'webp'].includes(format) || !['RGBA', 'LA'].includes(meta.mode)) return [];
  if (typeof decodeAlpha !== 'function') {
    meta.notes.push('stealth alpha: not read (no pixel decoder given to the browser reader)');
    return [];
  }
  let plane;
  try {
    plane = await decodeAlpha(bytes, format);
  } catch (err) {
    note(meta, 'stealth alpha', String(err && err.message || err));
    return [];
  }
  if (!plane || !(plane.alpha instanceof Uint8Array) || plane.alpha.length < plane.width * plane.height) return [];
  return stealthFindings(plane.alpha, plane.width, plane.height, format);
}

// --- verdict -----------------------------------------------------------------------------------------------------

function strength(f) { return f.signal ? STRENGTH[f.signal] || 0 : 0; }

function describe(f) {
  const { kind, field: where } = f;
  if (kind === 'iptc_digital_source_type') {
    return `XMP IPTC DigitalSourceType declares ${f.source_type}${f.ai ? '' : ' (not an AI source type)'}.`;
  }
  if (kind.startsWith('gb45438')) {
    const label = f.label_value;
    if (label !== null && has(V.gb45438_labels, label)) {
      const producer = isPlainObject(f.value) ? f.value.ContentProducer : undefined;
      const by = producer ? ` (producer ${producer})` : '';
      return `GB 45438-2025 label ${where} declares Label ${label}: ${V.gb45438_labels[label].meaning}${by}.`;
    }
    return `GB 45438-2025 label ${where} is present but its Label (${label || 'unreadable'}) is not 1, 2 or 3.`;
  }
  if (kind.startsWith('sd_webui_parameters')) return `Stable Diffusion WebUI generation parameters in ${where}.`;
  if (kind === 'comfyui_prompt_workflow_png') return `ComfyUI generation graph in ${where}.`;
  if (kind === 'novelai_png_text') return 'NovelAI generation metadata in the PNG text chunks.';
  if (kind === 'novelai_stealth_pnginfo_alpha') return 'NovelAI generation metadata hidden in the alpha channel (stealth_pngcomp).';
  if (kind === 'stealth_pnginfo_alpha') return 'Generation metadata hidden in the alpha channel (stealth_pngcomp).';
  if (kind.startsWith('midjourney')) return `Midjourney job description (Job ID and version parameter) in ${where}.`;
  if (kind === 'google_ai_credit') return `${where} says "${f.value}".`;
  if (kind === 'generator_software') return `${where} names the AI generator ${f.generator}.`;
  return `${kind} in ${where}.`;
}

function result(outcome, summary, signal = null, evidence = {}) {
  const rank = signal && outcome === 'detected' ? V.verdict_rank.find((r) => r.signal === signal) : null;
  return {
    check: V.check, outcome, summary, score: null, evidence, signal,
    label: rank ? rank.label : 'unknown',
    reason: rank ? { check: V.check, signal, text: summary } : null,
  };
}

/**
 * Read AI labels and generator traces from the metadata of `bytes`; never throws on bad input.
 * @param {Uint8Array} bytes the file
 * @param {string} [mime] the declared type: not trusted, only named when the bytes are not a format we recognise
 * @param {{decodeAlpha?: (bytes: Uint8Array, format: string) => Promise<{alpha: Uint8Array, width: number, height: number}|null>}} [options]
 */
export async function readMetadataLabels(bytes, mime, options = {}) {
  try {
    return await readMetadataLabelsUnsafe(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes || []), mime, options);
  } catch (err) {
    // A bug of ours, not of the file: report it as the server reports a failing check, never as a label.
    return result('error', `The metadata could not be read: ${excerpt(String(err && err.message || err), 200)}`);
  }
}

async function readMetadataLabelsUnsafe(bytes, mime, options) {
  const sniffed = bytes.length ? sniff(bytes) : null;
  if (!sniffed) {
    return result('unsupported', `The bytes are not an image format Verity reads${mime ? ` (declared ${excerpt(String(mime), 80)})` : ''}.`);
  }
  const [kind, format] = sniffed;
  if (kind !== 'image') return result('unsupported', `Metadata labels are read from images only, not ${kind} files.`);
  const meta = await readMetadata(bytes, format);
  if (!meta.readable) {
    return result('unsupported', `The metadata of this ${format} file could not be read.`, null, { findings: [], notes: meta.notes });
  }
  const findings = [...xmpFindings(meta), ...exifFindings(meta), ...textChunkFindings(meta),
    ...await readStealth(bytes, format, meta, options.decodeAlpha)];
  const evidence = {
    findings,
    xmp_source: meta.xmp.length ? meta.xmp[0][0] : null,
    png_text_keys: format === 'png' ? [...meta.text.keys()].sort(cmpCodePoints).slice(0, 50) : [],
    notes: meta.notes,
  };
  if (!findings.length) return result('not_detected', 'No AI label or generator trace in the metadata.', null, evidence);
  const ranked = findings.map((f, i) => [f, i]).sort((a, b) => strength(b[0]) - strength(a[0]) || a[1] - b[1]).map(([f]) => f);
  const top = ranked[0];
  let summary = describe(top);
  const others = ranked.slice(1).filter((f) => f.ai).length;
  if (others) summary += ` ${others} more AI trace${others > 1 ? 's' : ''} in the metadata.`;
  return result('detected', summary, top.signal || null, evidence);
}
