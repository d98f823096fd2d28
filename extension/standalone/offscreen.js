/*
 * Chromium's offscreen document (reason WORKERS): a service worker cannot start a worker, this page can. It answers
 * only `local-check` from the extension's own service worker and ignores every other message (runtime messages reach
 * all extension pages).
 */
import { createEngine, fromBase64 } from './engine.js';

const M = globalThis.VerifyMessages;
const api = M.extensionApi();
const engine = createEngine();

api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  if (!msg || msg.type !== 'local-check') return false;
  if (!sender || sender.id !== api.runtime.id || sender.tab) return false;
  const problem = M.validate(msg, 'extension');
  if (problem) {
    sendResponse(M.fail(problem));
    return false;
  }
  const { data, mime, sha256 } = msg.payload;
  engine.check(fromBase64(data), mime || '', sha256)
    .then((response) => sendResponse(M.ok(response)),
      (err) => sendResponse(M.fail(M.problem('local-check-failed', 'The local check failed', String(err.message)))));
  return true;
});
