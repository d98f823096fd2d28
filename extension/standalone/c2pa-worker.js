/*
 * The standalone checks' worker (a dedicated module worker: off every main thread). Loads the c2pa-rs WebAssembly
 * (vendor/c2pa/, bundled by buildtasks/extension.py from @contentauth/c2pa-wasm) with the trust settings the server
 * ships, then answers {id, data: ArrayBuffer, mime, sha256} with {id, response} (the standalone response, verdict.js)
 * or {id, error}. Nothing here touches the network except the extension's own files.
 */
import init, { WasmReader } from '../vendor/c2pa/c2pa.js';
import { c2paResult, sniffFormat } from './c2pa-read.js';
import { readMetadataLabels } from './metadata-labels.js';
import { asCheckResult, standaloneResponse } from './verdict.js';

// The trust settings go with each reader (a c2pa-rs Context), as the server passes them (c2pa.Context(settings)).
let settings = null;
const ready = (async () => {
  await init({ module_or_path: new URL('../vendor/c2pa/c2pa_bg.wasm', import.meta.url) });
  settings = await (await fetch(new URL('../vendor/c2pa/c2pa_settings.json', import.meta.url))).text();
})();

/** The c2pa_manifest result of `bytes` (an unreadable container is a result too, never a thrown error). */
export async function readC2pa(bytes, mime) {
  const format = sniffFormat(bytes, mime);
  if (!format) return c2paResult({ error: 'UnsupportedType', format: 'unknown' });
  let reader = null;
  try {
    reader = await WasmReader.fromBlob(format, new Blob([bytes], { type: format }), settings);
    return c2paResult({ store: JSON.parse(reader.json()) });
  } catch (err) {
    return c2paResult({ error: String((err && err.message) || err), format });
  } finally {
    if (reader) reader.free();
  }
}

self.addEventListener('message', async (event) => {
  const { id, data, mime, sha256 } = event.data || {};
  try {
    await ready;
    const bytes = new Uint8Array(data);
    const c2pa = await readC2pa(bytes, mime);
    let labels;
    try {
      labels = asCheckResult(readMetadataLabels(bytes, mime));
    } catch (err) {
      labels = { check: 'metadata_labels', outcome: 'error', summary: String(err).slice(0, 300), score: null,
        evidence: {}, signal: null };
    }
    self.postMessage({ id, response: standaloneResponse(sha256, mime, [c2pa, labels]) });
  } catch (err) {
    self.postMessage({ id, error: String((err && err.message) || err).slice(0, 300) });
  }
});
