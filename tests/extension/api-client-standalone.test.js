// node --test: the API client's standalone paths (extension/background/api-client.js with `localCheck`), with the
// real local check (extension/standalone/check.js checkBytes on the c2pa-rs WebAssembly, node-engine.mjs) on a
// C2PA AI fixture; only the network is faked (fetch: the page's media and the server's answers, or none).
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createHash, webcrypto } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createApiClient } from '../../extension/background/api-client.js';
import { checkBytes } from '../../extension/standalone/check.js';
import { available, nodeEngine } from './node-engine.mjs';

const FIXTURE = fileURLToPath(new URL('../../../shared/fixtures/c2pa/adobe_firefly_2023_butterfly.jpg', import.meta.url));
const skip = !available ? 'needs `npm ci` (@contentauth/c2pa-wasm)' : !existsSync(FIXTURE) ? 'needs ../shared/fixtures' : false;
const bytes = skip ? new Uint8Array() : new Uint8Array(readFileSync(FIXTURE));
const SHA = createHash('sha256').update(bytes).digest('hex');
const SERVER = 'http://127.0.0.1:8787';
const MEDIA = 'https://news.example/butterfly.jpg';
// The server's verdict differs from the local one on purpose (e.g. a reviewer's refutation), to tell them apart.
const SERVER_VERDICT = { sha256: SHA, media_type: 'image/jpeg', checks: [], refutation: { status: 'refuted' },
  verdict: { label: 'synthetic', summary: 'From the server.', refuted: true, reasons: [] } };

/** A fake network: `routes` maps "METHOD url" to a function returning a Response; anything else fails to connect. */
function fakeFetch(routes) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    const key = `${init.method || 'GET'} ${url}`;
    calls.push(key);
    if (!routes[key]) throw new TypeError(`fetch failed: ${key}`);
    return routes[key](init);
  };
  return { fetch, calls };
}
const media = () => new Response(bytes, { status: 200, headers: { 'content-type': 'image/jpeg' } });

async function clientWith(net, serverUrl, extra = {}) {
  const engine = await nodeEngine();
  const local = [];
  const shown = [];
  const c = createApiClient({ getServerUrl: () => serverUrl, fetch: net.fetch, subtle: webcrypto.subtle,
    sleep: async () => {}, getApiKey: () => '', onLocal: (x) => shown.push(x),
    localCheck: (data, mime, sha256) => { local.push(sha256); return checkBytes(engine, data, mime, sha256); },
    ...extra });
  return { c, local, shown };
}

test('api_client_no_server_answers_locally_and_fetches_nothing_else', { skip }, async () => {
  const net = fakeFetch({ [`GET ${MEDIA}`]: media });
  const { c, local, shown } = await clientWith(net, '');
  const result = await c.check(MEDIA);
  assert.equal(result.status, 'checked');
  assert.equal(result.via, 'local');
  assert.equal(result.response.mode, 'standalone');
  assert.equal(result.response.verdict.label, 'synthetic');
  assert.equal(result.response.sha256, SHA);
  assert.deepEqual(result.response.checks.map((x) => x.check), ['c2pa_manifest', 'metadata_labels']);
  assert.equal(result.serverProblem, undefined);
  assert.deepEqual(net.calls, [`GET ${MEDIA}`]); // the page's media only: nothing leaves the browser
  assert.deepEqual(local, [SHA]);
  assert.deepEqual(shown, []); // no server to wait for: the answer itself is the local one
  // Cached like any answer: the same URL is not fetched or checked again.
  await c.check(MEDIA);
  assert.deepEqual(net.calls, [`GET ${MEDIA}`]);
});

test('api_client_server_unreachable_local_answer_not_cached_server_asked_again', { skip }, async () => {
  const net = fakeFetch({ [`GET ${MEDIA}`]: media }); // the server refuses every connection
  const { c, local } = await clientWith(net, SERVER);
  const first = await c.check(MEDIA);
  assert.equal(first.via, 'local');
  assert.equal(first.response.verdict.label, 'synthetic');
  assert.equal(first.serverProblem.type, 'server-unreachable');
  assert.equal(first.serverProblem.serverUrl, SERVER);
  const lookups = () => net.calls.filter((k) => k === `GET ${SERVER}/v1/verdicts/${SHA}`).length;
  assert.equal(lookups(), 1);
  await c.check(MEDIA); // not cached: the server is asked again
  assert.equal(lookups(), 2);
  assert.equal(net.calls.filter((k) => k === `GET ${MEDIA}`).length, 2);
  assert.deepEqual(local, [SHA]); // the same bytes are checked locally once (kept by hash, failures aside)
});

test('api_client_server_verdict_supersedes_local_which_is_shown_first', { skip }, async () => {
  let release;
  const localShown = new Promise((resolve) => { release = resolve; });
  const net = fakeFetch({
    [`GET ${MEDIA}`]: media,
    // The server answers only once the local verdict was offered: the local synthetic shows while the server works.
    [`GET ${SERVER}/v1/verdicts/${SHA}`]: async () => {
      await localShown;
      return new Response(JSON.stringify(SERVER_VERDICT), { status: 200, headers: { 'content-type': 'application/json' } });
    },
  });
  const shownLater = [];
  const { c } = await clientWith(net, SERVER, { onLocal: (x) => { shownLater.push(x); release(); } });
  const result = await c.check(MEDIA);
  assert.equal(result.via, 'hash');
  assert.deepEqual(result.response, SERVER_VERDICT); // the server's verdict, not the local one
  assert.equal(result.serverProblem, undefined);
  assert.equal(shownLater.length, 1);
  assert.equal(shownLater[0].url, MEDIA);
  assert.equal(shownLater[0].response.mode, 'standalone');
  assert.equal(shownLater[0].response.verdict.label, 'synthetic');
  await c.check(MEDIA); // the server's answer is cached
  assert.equal(net.calls.filter((k) => k.startsWith(`GET ${SERVER}`)).length, 1);
});
