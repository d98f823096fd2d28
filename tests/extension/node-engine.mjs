// The standalone check's engine under node (for check.js checkBytes): the c2pa-rs WebAssembly the packages bundle
// (@contentauth/c2pa-wasm from node_modules, installed by `npm ci`) with the server's trust settings, as the C2PA
// worker sets it up in the browser. Used by the parity runner (standalone-read.mjs) and the api-client tests.
//
// The node-specific parts: c2pa-wasm reads a Blob with FileReaderSync, which browsers have in workers and node has
// nowhere, so a byte-array stand-in with the same members takes its place; and node has no image decoder, so the
// stealth-metadata alpha plane is given (decoded by the test with Pillow) instead of the worker's
// createImageBitmap + OffscreenCanvas decoder (check.js decodeAlphaWith).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

class BytesBlob {
  constructor(bytes) { this.bytes = bytes; }
  get size() { return this.bytes.length; }
  slice(start, end) { return new BytesBlob(this.bytes.subarray(start, end)); }
  async arrayBuffer() { return this.bytes.slice().buffer; }
}

const root = (p) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
const WASM = root('node_modules/@contentauth/c2pa-wasm/pkg/c2pa_bg.wasm');

/** Whether `npm ci` installed the engine (the tests that need it skip otherwise). */
export const available = existsSync(WASM);

let loaded = null;

/**
 * An engine for checkBytes; `alpha` ({path, width, height}: a raw alpha plane file) stands in for the pixel decoder.
 * @returns {Promise<import('../../extension/standalone/check.js').Engine>}
 */
export async function nodeEngine({ alpha } = {}) {
  if (!loaded) {
    globalThis.FileReaderSync ??= class { readAsArrayBuffer(blob) { return blob.bytes.slice().buffer; } };
    const { initSync, WasmReader } = await import('../../node_modules/@contentauth/c2pa-wasm/pkg/c2pa.js');
    initSync({ module: readFileSync(WASM) });
    // The trust settings the build copies into vendor/c2pa/ for the worker.
    loaded = { WasmReader, settings: readFileSync(root('server/verify/trust/c2pa_settings.json'), 'utf8') };
  }
  return {
    ...loaded,
    toBlob: (bytes) => new BytesBlob(bytes),
    decodeAlpha: alpha
      ? async () => ({ alpha: new Uint8Array(readFileSync(alpha.path)), width: alpha.width, height: alpha.height })
      : undefined,
  };
}
