// node --test: the hash-first API client (extension/background/api-client.js) against a fake fetch.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, webcrypto } from 'node:crypto';
import { createApiClient, createLimiter, fitOf, privateUrl, IMAGE_ACCEPT } from '../../extension/background/api-client.js';

const SERVER = 'http://127.0.0.1:8787';
const bytes = new TextEncoder().encode('some media bytes');
const SHA = createHash('sha256').update(bytes).digest('hex');
const VERDICT = { sha256: SHA, media_type: 'image/jpeg', verdict: { label: 'synthetic', summary: 's', reasons: [] }, checks: [], refutation: null };

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers } });
}

/** A fake network: `routes` maps "METHOD url" to a function returning a Response; every call is recorded. */
function fakeFetch(routes) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    const key = `${init.method || 'GET'} ${url}`;
    calls.push({ key, init });
    const route = routes[key];
    if (!route) throw new TypeError('fetch failed: ' + key);
    return route(init, calls.filter((c) => c.key === key).length);
  };
  return { fetch, calls };
}

function client(fetch, extra = {}) {
  const sleeps = [];
  const c = createApiClient({ getServerUrl: () => SERVER + '/', fetch, subtle: webcrypto.subtle,
    sleep: async (ms) => { sleeps.push(ms); }, ...extra });
  return { c, sleeps };
}

const MEDIA = 'https://news.example/a.jpg';
const mediaRoute = () => new Response(bytes, { status: 200, headers: { 'content-type': 'image/jpeg' } });

test('api_client_known_hash_answered_without_upload', async () => {
  const net = fakeFetch({ [`GET ${MEDIA}`]: mediaRoute, [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(200, VERDICT) });
  const { c } = client(net.fetch);
  const result = await c.check(MEDIA, { pageUrl: 'https://news.example/' });
  assert.equal(result.status, 'checked');
  assert.equal(result.via, 'hash');
  assert.equal(result.sha256, SHA);
  assert.equal(result.response.verdict.label, 'synthetic');
  assert.ok(!net.calls.some((x) => x.key.startsWith('POST')));
});

test('api_client_unknown_hash_uploads_multipart_file_and_urls', async () => {
  const net = fakeFetch({
    [`GET ${MEDIA}`]: mediaRoute,
    [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(404, { type: 'verdict-not-found', title: 'No verdict', status: 404 }),
    [`POST ${SERVER}/v1/verify`]: () => json(200, VERDICT),
  });
  const { c } = client(net.fetch);
  const result = await c.check(MEDIA, { pageUrl: 'https://news.example/page' });
  assert.equal(result.via, 'upload');
  const post = net.calls.find((x) => x.key.startsWith('POST'));
  const form = post.init.body;
  assert.ok(form instanceof FormData);
  const file = form.get('file');
  assert.deepEqual(new Uint8Array(await file.arrayBuffer()), bytes);
  assert.equal(form.get('source_url'), MEDIA);
  assert.equal(form.get('page_url'), 'https://news.example/page');
  assert.equal(post.init.credentials, 'omit');
});

test('api_client_same_url_cached_for_session', async () => {
  const net = fakeFetch({ [`GET ${MEDIA}`]: mediaRoute, [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(200, VERDICT) });
  const { c } = client(net.fetch);
  const [a, b] = await Promise.all([c.check(MEDIA), c.check(MEDIA)]);
  await c.check(MEDIA);
  assert.deepEqual(a, b);
  assert.equal(net.calls.filter((x) => x.key === `GET ${MEDIA}`).length, 1);
  c.clearCache();
  await c.check(MEDIA);
  assert.equal(net.calls.filter((x) => x.key === `GET ${MEDIA}`).length, 2);
});

test('api_client_cached_result_expires_after_ttl', async () => {
  const net = fakeFetch({ [`GET ${MEDIA}`]: mediaRoute, [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(200, VERDICT) });
  let clock = 0;
  const { c } = client(net.fetch, { now: () => clock, cacheTtlMs: 1000 });
  await c.check(MEDIA);
  clock = 999;
  await c.check(MEDIA);
  assert.equal(net.calls.filter((x) => x.key === `GET ${MEDIA}`).length, 1);
  clock = 1000;
  await c.check(MEDIA);
  assert.equal(net.calls.filter((x) => x.key === `GET ${MEDIA}`).length, 2);
  c.forget(MEDIA);
  await c.check(MEDIA);
  assert.equal(net.calls.filter((x) => x.key === `GET ${MEDIA}`).length, 3);
});

test('api_client_429_503_retried_with_backoff_then_succeeds', async () => {
  const net = fakeFetch({
    [`GET ${MEDIA}`]: mediaRoute,
    [`GET ${SERVER}/v1/verdicts/${SHA}`]: (init, n) => (n === 1 ? json(429, { title: 'Too many' }, { 'retry-after': '2' })
      : n === 2 ? json(503, { title: 'Busy' }) : json(200, VERDICT)),
  });
  const { c, sleeps } = client(net.fetch, { baseDelayMs: 100 });
  const result = await c.check(MEDIA);
  assert.equal(result.via, 'hash');
  assert.deepEqual(sleeps, [2000, 200]); // Retry-After honoured, then exponential backoff
});

test('api_client_retries_exhausted_problem_returned_not_cached', async () => {
  const net = fakeFetch({
    [`GET ${MEDIA}`]: mediaRoute,
    [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(503, { type: 'overloaded', title: 'Busy', status: 503 }),
  });
  const { c, sleeps } = client(net.fetch, { retries: 2 });
  await assert.rejects(c.check(MEDIA), (err) => err.problem.status === 503 && err.problem.type === 'overloaded');
  assert.equal(sleeps.length, 2);
  assert.equal(c.cacheSize, 0);
});

test('api_client_server_down_problem_names_server_url', async () => {
  const net = fakeFetch({ [`GET ${MEDIA}`]: mediaRoute });
  const { c } = client(net.fetch);
  await assert.rejects(c.check(MEDIA), (err) => err.problem.type === 'server-unreachable' && err.problem.detail === SERVER);
  await assert.rejects(c.health(), (err) => err.problem.serverUrl === SERVER);
});

test('api_client_over_size_cap_too_large_without_hashing', async () => {
  const big = new Uint8Array(2048);
  const net = fakeFetch({
    [`GET ${MEDIA}`]: () => new Response(big, { status: 200, headers: { 'content-length': '2048' } }),
    'GET https://news.example/stream.mp4': () => new Response(new ReadableStream({
      start(ctrl) { for (let i = 0; i < 4; i += 1) ctrl.enqueue(new Uint8Array(600)); ctrl.close(); },
    })),
  });
  const { c } = client(net.fetch, { maxBytes: 1024 });
  assert.deepEqual(await c.check(MEDIA), { status: 'too-large', bytes: 2048, limit: 1024 });
  const streamed = await c.check('https://news.example/stream.mp4');
  assert.equal(streamed.status, 'too-large');
  assert.ok(!net.calls.some((x) => x.key.includes('/v1/')));
});

test('api_client_media_download_failure_problem', async () => {
  const net = fakeFetch({ [`GET ${MEDIA}`]: () => new Response('no', { status: 403 }) });
  const { c } = client(net.fetch);
  await assert.rejects(c.check(MEDIA), (err) => err.problem.type === 'media-unavailable' && err.problem.status === 403);
});

test('api_client_report_missing_endpoint_reporting_unavailable', async () => {
  const net = fakeFetch({
    [`POST ${SERVER}/v1/reports`]: () => json(404, { type: 'about:blank', title: 'Not Found', status: 404 }),
  });
  const { c } = client(net.fetch);
  await assert.rejects(c.report({ sha256: SHA, category: 'synthetic', sourceUrl: MEDIA, pageUrl: null }),
    (err) => err.problem.type === 'reporting-unavailable' && err.problem.status === 404 && err.problem.title === 'Not Found');
});

test('api_client_report_media_unreadable_posts_server_fields_as_json', async () => {
  const receipt = { id: '0123456789abcdef0123', receipt: 'secret', status: 'open', status_url: '/v1/reports/0123456789abcdef0123', sha256: SHA, category: 'manipulated' };
  const net = fakeFetch({ [`POST ${SERVER}/v1/reports`]: () => json(201, receipt) });
  const { c } = client(net.fetch);
  const got = await c.report({ sha256: SHA, category: 'manipulated', text: 'edited', sourceUrl: MEDIA, pageUrl: 'https://news.example/' });
  assert.deepEqual(got, receipt);
  const post = net.calls.find((call) => call.key === `POST ${SERVER}/v1/reports`);
  assert.equal(post.init.headers['Content-Type'], 'application/json');
  assert.deepEqual(JSON.parse(post.init.body), { sha256: SHA, category: 'manipulated', text: 'edited', source_url: MEDIA, page_url: 'https://news.example/' });
});

test('api_client_report_attaches_checked_bytes_as_multipart', async () => {
  const receipt = { id: '0123456789abcdef0123', receipt: 'secret', status: 'open', sha256: SHA, category: 'synthetic' };
  const net = fakeFetch({ [`GET ${MEDIA}`]: mediaRoute, [`POST ${SERVER}/v1/reports`]: () => json(201, receipt) });
  const { c } = client(net.fetch);
  const got = await c.report({ sha256: SHA, category: 'synthetic', sourceUrl: MEDIA, pageUrl: 'https://news.example/' });
  assert.deepEqual(got, receipt);
  const post = net.calls.find((call) => call.key === `POST ${SERVER}/v1/reports`);
  assert.ok(post.init.body instanceof FormData);
  assert.equal(post.init.body.get('sha256'), SHA);
  assert.equal(post.init.body.get('category'), 'synthetic');
  assert.equal(post.init.body.get('page_url'), 'https://news.example/');
  assert.deepEqual(new Uint8Array(await post.init.body.get('file').arrayBuffer()), new Uint8Array(bytes));
});

test('api_client_report_bytes_changed_since_check_sends_hash_only', async () => {
  const other = () => new Response(new Uint8Array([1, 2, 3]), { status: 200, headers: { 'content-type': 'image/jpeg' } });
  const net = fakeFetch({ [`GET ${MEDIA}`]: other, [`POST ${SERVER}/v1/reports`]: () => json(201, { id: 'x' }) });
  const { c } = client(net.fetch);
  await c.report({ sha256: SHA, category: 'other', sourceUrl: MEDIA });
  const post = net.calls.find((call) => call.key === `POST ${SERVER}/v1/reports`);
  assert.deepEqual(JSON.parse(post.init.body), { sha256: SHA, category: 'other', source_url: MEDIA });
});

test('api_client_report_status_receipt_in_header_not_url', async () => {
  const id = '0123456789abcdef0123';
  const net = fakeFetch({ [`GET ${SERVER}/v1/reports/${id}`]: () => json(200, { id, status: 'refuted' }) });
  const { c } = client(net.fetch);
  assert.equal((await c.reportStatus(id, 'a/b')).status, 'refuted');
  assert.equal(net.calls[0].init.headers['X-Verity-Receipt'], 'a/b');
  assert.ok(!net.calls[0].key.includes('receipt'));
  await assert.rejects(c.reportStatus('../v1/checks', 'x'), (err) => err.problem.type === 'invalid-report-id');
});

test('api_client_verify_202_job_polled_with_progress_until_result', async () => {
  const job = (status, progress, extra = {}) => ({ id: 'a'.repeat(32), status, stage: status, progress, sha256: SHA,
    media_type: 'video/mp4', created: 0, updated: 0, url: `/v1/jobs/${'a'.repeat(32)}`, ...extra });
  const polls = [job('running', 0.4), job('running', 0.9), job('done', 1, { result: VERDICT })];
  const net = fakeFetch({
    [`GET ${MEDIA}`]: mediaRoute,
    [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(404, { type: 'verdict-not-found', title: 'No verdict', status: 404 }),
    [`POST ${SERVER}/v1/verify`]: () => json(202, job('queued', 0), { location: `/v1/jobs/${'a'.repeat(32)}` }),
    [`GET ${SERVER}/v1/jobs/${'a'.repeat(32)}`]: (init, n) => json(200, polls[n - 1]),
  });
  const seen = [];
  const { c, sleeps } = client(net.fetch, { onProgress: (p) => seen.push([p.url, p.progress, p.status]) });
  const result = await c.check(MEDIA);
  assert.equal(result.via, 'upload');
  assert.equal(result.response.verdict.label, 'synthetic');
  assert.deepEqual(seen, [[MEDIA, 0, 'queued'], [MEDIA, 0.4, 'running'], [MEDIA, 0.9, 'running'], [MEDIA, 1, 'done']]);
  assert.equal(sleeps.length, 3);
  assert.ok(sleeps[2] > sleeps[0]); // polling slows down
});

test('api_client_verify_202_failed_job_problem', async () => {
  const id = 'b'.repeat(32);
  const net = fakeFetch({
    [`GET ${MEDIA}`]: mediaRoute,
    [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(404, { title: 'No verdict', status: 404 }),
    [`POST ${SERVER}/v1/verify`]: () => json(202, { id, status: 'queued', progress: 0, url: `/v1/jobs/${id}` }),
    [`GET ${SERVER}/v1/jobs/${id}`]: () => json(200, { id, status: 'failed', progress: 0.2,
      problem: { type: 'https://verity.example/problems/decode-limit', title: 'Too long', status: 413 } }),
  });
  const { c } = client(net.fetch);
  await assert.rejects(c.check(MEDIA), (err) => err.problem.title === 'Too long' && err.problem.status === 413);
});

test('api_client_verify_202_foreign_job_url_refused', async () => {
  const net = fakeFetch({
    [`GET ${MEDIA}`]: mediaRoute,
    [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(404, { title: 'No verdict', status: 404 }),
    [`POST ${SERVER}/v1/verify`]: () => json(202, { status: 'queued', progress: 0, url: 'https://evil.example/v1/jobs/x' }),
  });
  const { c } = client(net.fetch);
  await assert.rejects(c.check(MEDIA), (err) => err.problem.type === 'invalid-job');
  assert.ok(!net.calls.some((x) => x.key.includes('evil.example')));
});

test('api_client_limiter_bounds_concurrency', async () => {
  const limiter = createLimiter(2);
  let active = 0;
  let peak = 0;
  const task = async () => {
    active += 1;
    peak = Math.max(peak, active);
    await new Promise((r) => setImmediate(r));
    active -= 1;
  };
  await Promise.all(Array.from({ length: 7 }, () => limiter.run(task)));
  assert.equal(peak, 2);
});

test('api_client_key_sent_to_api_never_to_media_and_health_reports_it', async () => {
  const net = fakeFetch({
    [`GET ${MEDIA}`]: mediaRoute,
    [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(200, VERDICT),
    [`GET ${SERVER}/v1/health`]: () => json(200, { status: 'ok' }),
    [`GET ${SERVER}/v1/keys/me`]: (init) => (init.headers['X-Verity-Key'] === 'vk_good'
      ? json(200, { key: 'ana', required: true })
      : json(401, { type: 'https://verity.invalid/problems/api-key-invalid', title: 'Invalid API key', status: 401 })),
  });
  let key = 'vk_good';
  const { c } = client(net.fetch, { getApiKey: () => key });
  await c.check(MEDIA);
  const byKey = Object.fromEntries(net.calls.map((x) => [x.key, x.init.headers || {}]));
  assert.equal(byKey[`GET ${SERVER}/v1/verdicts/${SHA}`]['X-Verity-Key'], 'vk_good');
  assert.equal(byKey[`GET ${MEDIA}`]['X-Verity-Key'], undefined);
  assert.deepEqual((await c.health()).key, { ok: true, name: 'ana', required: true });
  key = 'vk_revoked';
  const refused = (await c.health()).key;
  assert.equal(refused.ok, false);
  assert.equal(refused.problem.status, 401);
});

test('api_client_private_url_origin_and_path_only', () => {
  assert.equal(privateUrl('https://news.example/a/b.html?token=1&x=2#access_token=abc'), 'https://news.example/a/b.html');
  assert.equal(privateUrl('https://cdn.example/i.jpg?sig=1#f', true), 'https://cdn.example/i.jpg?sig=1');
  assert.equal(privateUrl('https://u:p@cdn.example:8443/i.jpg'), 'https://cdn.example:8443/i.jpg');
  assert.equal(privateUrl('blob:https://x.example/1'), null);
  assert.equal(privateUrl(null), null);
});

test('api_client_upload_sends_no_query_or_fragment_unless_chosen_for_media', async () => {
  const secretMedia = MEDIA + '?sig=SECRET';
  for (const keep of [false, true]) {
    const net = fakeFetch({ [`GET ${secretMedia}`]: mediaRoute, [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(404, {}),
      [`POST ${SERVER}/v1/verify`]: () => json(200, VERDICT) });
    const { c } = client(net.fetch, { keepSourceQuery: () => keep });
    await c.check(secretMedia, { pageUrl: 'https://news.example/p?session=SECRET#access_token=SECRET' });
    const form = net.calls.find((x) => x.key === `POST ${SERVER}/v1/verify`).init.body;
    assert.equal(form.get('page_url'), 'https://news.example/p');
    assert.equal(form.get('source_url'), keep ? secretMedia : MEDIA);
  }
});

test('api_client_fetches_media_like_the_page_credentials_accept_cache', async () => {
  const net = fakeFetch({ [`GET ${MEDIA}`]: mediaRoute, [`GET ${SERVER}/v1/verdicts/${SHA}`]: () => json(200, VERDICT) });
  const { c } = client(net.fetch, { imageSize: async () => ({ width: 640, height: 428 }) });
  const r = await c.check(MEDIA, { credentials: 'same-origin', kind: 'image', expect: { width: 320, height: 214 } });
  const media = net.calls.find((x) => x.key === `GET ${MEDIA}`).init;
  assert.equal(media.credentials, 'same-origin');
  assert.equal(media.cache, 'force-cache');
  assert.equal(media.headers.Accept, IMAGE_ACCEPT);
  assert.equal(r.fit.ok, true); // twice the shown size, same aspect: a 2x srcset candidate
  const other = await c.check(MEDIA, { credentials: 'same-origin', kind: 'image', expect: { width: 300, height: 300 } });
  assert.deepEqual(other.fit.mismatches, [{ field: 'size', expected: '300x300', got: '640x428' }]);
  assert.equal(net.calls.filter((x) => x.key === `GET ${MEDIA}`).length, 1); // same URL and mode: cached
});

test('api_client_fit_type_and_size_mismatches', () => {
  assert.deepEqual(fitOf('image', { mediaType: 'text/html; charset=utf-8' }, null).mismatches,
    [{ field: 'type', expected: 'image/*', got: 'text/html' }]);
  assert.equal(fitOf('image', { mediaType: 'image/webp', width: 100, height: 50 }, { width: 100, height: 50 }).ok, true);
  assert.equal(fitOf('image', { mediaType: 'image/jpeg', width: 90, height: 50 }, { width: 100, height: 50 }).ok, false);
  assert.equal(fitOf('video', { mediaType: 'video/mp4' }, null).ok, true);
  assert.equal(fitOf('video', { mediaType: 'text/html' }, null).ok, false);
  assert.equal(fitOf('image', { mediaType: '' }, { width: 1, height: 1 }).ok, true); // unknown: no claim
});
