// Runs the extension's standalone check under node, for the parity test (tests/test_standalone_parity.py): the very
// function the C2PA worker runs (extension/standalone/check.js checkBytes) on the engine the packages bundle
// (@contentauth/c2pa-wasm from node_modules, installed by `npm ci`) with the server's trust settings.
// Reads a JSON list from stdin, [{path, mime?, alpha?: {path, width, height}}]; writes one JSON line per file:
// {file, ms, response} with `response` the standalone response (verdict.js standaloneResponse).
//
// The node-specific parts, given to checkBytes as the worker gives its own:
// - c2pa-wasm reads a Blob with FileReaderSync, which browsers have in workers and node has nowhere: a byte-array
//   stand-in with the same members takes its place;
// - node has no image decoder: an `alpha` plane (row-major bytes, decoded by the test with Pillow) stands in for the
//   worker's createImageBitmap + OffscreenCanvas decoder (check.js decodeAlphaWith).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initSync, WasmReader } from '../../node_modules/@contentauth/c2pa-wasm/pkg/c2pa.js';
import { checkBytes } from '../../extension/standalone/check.js';

class BytesBlob {
  constructor(bytes) { this.bytes = bytes; }
  get size() { return this.bytes.length; }
  slice(start, end) { return new BytesBlob(this.bytes.subarray(start, end)); }
  async arrayBuffer() { return this.bytes.slice().buffer; }
}
globalThis.FileReaderSync = class { readAsArrayBuffer(blob) { return blob.bytes.slice().buffer; } };

const root = (p) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
initSync({ module: readFileSync(root('node_modules/@contentauth/c2pa-wasm/pkg/c2pa_bg.wasm')) });
// The trust settings the build copies into vendor/c2pa/ for the worker.
const settings = readFileSync(root('server/verify/trust/c2pa_settings.json'), 'utf8');

for (const item of JSON.parse(readFileSync(0, 'utf8'))) {
  const bytes = new Uint8Array(readFileSync(item.path));
  const plane = item.alpha;
  const engine = {
    WasmReader,
    settings,
    toBlob: (b) => new BytesBlob(b),
    decodeAlpha: plane
      ? async () => ({ alpha: new Uint8Array(readFileSync(plane.path)), width: plane.width, height: plane.height })
      : undefined,
  };
  const started = performance.now();
  const response = await checkBytes(engine, bytes, item.mime || '', null);
  process.stdout.write(JSON.stringify({ file: item.path, ms: performance.now() - started, response }) + '\n');
}
