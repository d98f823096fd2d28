// Runs the extension's standalone C2PA reading under node, on the very engine the packages bundle
// (@contentauth/c2pa-wasm from node_modules, installed by `npm ci`) with the server's trust settings, for the parity
// test (tests/e2e/test_standalone_parity.py). Usage: node standalone-read.mjs FILE... -> one JSON line per file:
// {file, ms, result, verdict} with `result` the c2pa_manifest CheckResult (extension/standalone/c2pa-read.js).
//
// The only node-specific part: c2pa-wasm reads a Blob with FileReaderSync, which browsers have in workers (where the
// extension runs it) and node has nowhere; a byte-array stand-in with the same three members takes its place.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initSync, WasmReader } from '../../node_modules/@contentauth/c2pa-wasm/pkg/c2pa.js';
import { c2paResult, sniffFormat } from '../../extension/standalone/c2pa-read.js';
import { decide } from '../../extension/standalone/verdict.js';

class BytesBlob {
  constructor(bytes) { this.bytes = bytes; }
  get size() { return this.bytes.length; }
  slice(start, end) { return new BytesBlob(this.bytes.subarray(start, end)); }
  async arrayBuffer() { return this.bytes.slice().buffer; }
}
globalThis.FileReaderSync = class { readAsArrayBuffer(blob) { return blob.bytes.slice().buffer; } };

const root = (p) => fileURLToPath(new URL(`../../${p}`, import.meta.url));
initSync({ module: readFileSync(root('node_modules/@contentauth/c2pa-wasm/pkg/c2pa_bg.wasm')) });
// The trust settings go with each reader (the c2pa-rs Context), as c2pa-worker.js passes them.
const SETTINGS = readFileSync(root('server/verify/trust/c2pa_settings.json'), 'utf8');

for (const file of process.argv.slice(2)) {
  const bytes = new Uint8Array(readFileSync(file));
  const started = performance.now();
  const format = sniffFormat(bytes, '');
  let result;
  let reader = null;
  try {
    reader = await WasmReader.fromBlob(format || 'application/octet-stream', new BytesBlob(bytes), SETTINGS);
    result = c2paResult({ store: JSON.parse(reader.json()) });
  } catch (err) {
    result = c2paResult({ error: String((err && err.message) || err), format });
  } finally {
    if (reader) reader.free();
  }
  process.stdout.write(JSON.stringify({ file, ms: performance.now() - started, result, verdict: decide([result]) }) + '\n');
}
