/*
 * The background's door to the standalone checks: `localCheck(bytes, mime, sha256)` -> the standalone response.
 * Firefox (a background page, which may start workers) runs the worker itself; Chromium's service worker cannot start
 * one, so it keeps an offscreen document (reason WORKERS) that does, and sends it the bytes (base64: runtime messages
 * are JSON there). Either way the bytes stay in this browser.
 */
import '../shared/messages.js';
import { createEngine, toBase64 } from './engine.js';

const M = globalThis.VerifyMessages;
const OFFSCREEN = 'standalone/offscreen.html';

export function createLocalChecker() {
  const api = M.extensionApi();
  if (typeof Worker === 'function' && typeof document !== 'undefined') {
    const engine = createEngine();
    return (bytes, mime, sha256) => engine.check(bytes.slice(), mime, sha256);
  }
  let opening = null;
  async function ensureOffscreen() {
    const url = api.runtime.getURL(OFFSCREEN);
    const open = await api.runtime.getContexts({ contextTypes: ['OFFSCREEN_DOCUMENT'], documentUrls: [url] });
    if (open.length) return;
    if (!opening) {
      opening = api.offscreen.createDocument({ url: OFFSCREEN, reasons: ['WORKERS'],
        justification: 'Reads C2PA Content Credentials in a worker (standalone mode: no server needed).' })
        .catch((err) => {
          if (!/single offscreen|already/i.test(String(err && err.message))) throw err;
        })
        .finally(() => { opening = null; });
    }
    await opening;
  }
  return async (bytes, mime, sha256) => {
    await ensureOffscreen();
    const reply = await api.runtime.sendMessage(M.make('local-check', { data: toBase64(bytes), mime: String(mime || '').slice(0, 64), sha256 }));
    return M.unwrap(reply);
  };
}
