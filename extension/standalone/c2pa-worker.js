/*
 * The standalone checks' worker (a dedicated module worker: off every main thread). Loads the c2pa-rs WebAssembly
 * (vendor/c2pa/, bundled by buildtasks/extension.py from @contentauth/c2pa-wasm) with the trust settings the server
 * ships, then answers {id, data: ArrayBuffer, mime, sha256} with {id, response} (the standalone response: check.js
 * checkBytes, the same function the parity test runs) or {id, error}. Nothing here touches the network except the
 * extension's own files.
 */
import init, { WasmReader } from '../vendor/c2pa/c2pa.js';
import { checkBytes, decodeAlphaWith } from './check.js';

const ready = (async () => {
  await init({ module_or_path: new URL('../vendor/c2pa/c2pa_bg.wasm', import.meta.url) });
  const settings = await (await fetch(new URL('../vendor/c2pa/c2pa_settings.json', import.meta.url))).text();
  return {
    WasmReader,
    settings,
    toBlob: (bytes, type) => new Blob([bytes], { type }),
    // NovelAI stealth metadata: the browser's own decoder, in this worker (createImageBitmap + OffscreenCanvas).
    decodeAlpha: typeof OffscreenCanvas === 'function' && typeof createImageBitmap === 'function'
      ? decodeAlphaWith({ createImageBitmap: (...a) => createImageBitmap(...a), OffscreenCanvas })
      : undefined,
  };
})();

self.addEventListener('message', async (event) => {
  const { id, data, mime, sha256 } = event.data || {};
  try {
    const engine = await ready;
    self.postMessage({ id, response: await checkBytes(engine, new Uint8Array(data), mime, sha256) });
  } catch (err) {
    self.postMessage({ id, error: String((err && err.message) || err).slice(0, 300) });
  }
});
