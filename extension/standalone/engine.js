/*
 * Runs the standalone checks in the C2PA worker from a document (Chromium's offscreen document, Firefox's background
 * page): one worker, requests matched by id, a deadline per file, a worker that died is replaced on the next call.
 */

const DEADLINE_MS = 30000;

export function createEngine() {
  let worker = null;
  let next = 0;
  const pending = new Map(); // id -> {resolve, reject, timer}

  function failAll(message) {
    for (const { reject, timer } of pending.values()) {
      clearTimeout(timer);
      reject(new Error(message));
    }
    pending.clear();
  }

  function start() {
    worker = new Worker(new URL('./c2pa-worker.js', import.meta.url), { type: 'module' });
    worker.addEventListener('message', (event) => {
      const { id, response, error } = event.data || {};
      const waiting = pending.get(id);
      if (!waiting) return;
      pending.delete(id);
      clearTimeout(waiting.timer);
      if (error) waiting.reject(new Error(error));
      else waiting.resolve(response);
    });
    worker.addEventListener('error', (event) => {
      failAll(`The C2PA worker failed: ${event.message || 'error'}`);
      worker.terminate();
      worker = null;
    });
  }

  /** The standalone response for `bytes` (Uint8Array; handed over to the worker, so not usable afterwards). */
  function check(bytes, mime, sha256) {
    if (!worker) start();
    const id = (next += 1);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('The local check took too long'));
      }, DEADLINE_MS);
      pending.set(id, { resolve, reject, timer });
      const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      worker.postMessage({ id, data: buffer, mime: mime || '', sha256 }, [buffer]);
    });
  }

  return { check };
}

export function toBase64(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i += 0x8000) out += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(out);
}

export function fromBase64(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
  return bytes;
}
