// SPDX-License-Identifier: MIT
// Hostile requests against a real `kiln server --ingest` (see
// web_hostile.sh): each gets a JSON error in bounded time and /healthz
// still answers. Usage: node web_hostile.mjs BASE_URL T0_SECONDS
import assert from 'node:assert/strict';
import http from 'node:http';

const [base, t0s] = process.argv.slice(2);
const T0 = Number(t0s);
const R = `from=${T0}&to=${T0 + 180}`;
let passed = 0, failed = 0;

async function test(name, fn) {
  try { await fn(); passed++; console.log(`ok   ${name}`); } catch (e) { failed++; console.log(`FAIL ${name}: ${e.message}`); }
}

// A request with a deadline: returns {status, json, ms}.
async function req(path, opts = {}, deadlineMs = 10000) {
  const t = Date.now();
  const r = await fetch(base + path, { ...opts, signal: AbortSignal.timeout(deadlineMs) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json, ms: Date.now() - t };
}

async function healthy() {
  const r = await req('/healthz', {}, 1000);
  assert.equal(r.status, 200, 'healthz');
}

function jsonError(r, statuses) {
  assert.ok(statuses.includes(r.status), `status ${r.status}: ${r.text.slice(0, 200)}`);
  assert.ok(r.json && typeof r.json.error === 'string' && r.json.error.length, `JSON error body: ${r.text.slice(0, 200)}`);
}

// A raw request with any headers (fetch will not send a forged Host).
function raw(method, path, headers, body = null) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const rq = http.request({ host: u.hostname, port: u.port, method, path, headers, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    rq.on('error', reject);
    rq.on('timeout', () => rq.destroy(new Error('timeout')));
    if (body) rq.write(body);
    rq.end();
  });
}

await test('DNS rebinding: a foreign Host name is refused', async () => {
  for (const host of ['evil.example', `evil.example:${new URL(base).port}`, `127.0.0.1.nip.io:${new URL(base).port}`, `localhost:1`, '127.0.0.1:1']) {
    const r = await raw('GET', '/api/v1/labels', { Host: host });
    jsonError(r, [421]);
  }
  for (const host of [`localhost:${new URL(base).port}`, `LOCALHOST:${new URL(base).port}`, `127.0.0.1:${new URL(base).port}`, `[::1]:${new URL(base).port}`]) {
    const r = await raw('GET', '/api/v1/labels', { Host: host });
    assert.equal(r.status, 200, host);
  }
});

await test('security headers on every answer', async () => {
  for (const p of ['/', '/assets/app.js', '/api/v1/labels', '/nope']) {
    const r = await req(p);
    const csp = r.headers.get('content-security-policy') || '';
    assert.match(csp, /script-src 'self'/, p);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/, p);
    assert.match(csp, /frame-ancestors 'none'/, p);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff', p);
  }
});

await test('writes from a web page are refused', async () => {
  const port = new URL(base).port;
  const body = 'planted;by_a_page 1\n';
  // Another origin (another port of the same host counts).
  for (const origin of ['http://evil.example', `http://127.0.0.1:${Number(port) + 1}`, 'null']) {
    const r = await raw('POST', '/api/v1/ingest', { Origin: origin, 'Content-Type': 'text/x-folded', 'Content-Length': body.length }, body);
    jsonError(r, [403]);
  }
  // Simple content types need no preflight: refused even without Origin.
  for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', null]) {
    const h = { 'Content-Length': body.length };
    if (type) h['Content-Type'] = type;
    const r = await raw('POST', '/api/v1/ingest', h, body);
    jsonError(r, [403]);
  }
  const r = await raw('POST', '/api/v1/ingest', { 'Sec-Fetch-Site': 'cross-site', 'Content-Type': 'text/x-folded', 'Content-Length': body.length }, body);
  jsonError(r, [403]);
  const top = await req(`/api/v1/top?from=-1h&to=%2B1h&match=by_a_page`);
  assert.equal(top.status, 200);
  assert.equal(top.json.total, 0, 'nothing was planted');
  // The same origin may.
  const ok = await raw('POST', '/api/v1/ingest', { Origin: base, Host: new URL(base).host, 'Content-Type': 'text/x-folded', 'Content-Length': body.length }, body);
  assert.equal(ok.status, 200, ok.text);
});

// A frame name of 5000 'A's: catastrophic for a backtracking (A+)+B.
const longName = 'A'.repeat(5000);
await test('plant a long frame name', async () => {
  const r = await req('/api/v1/ingest?time=' + (T0 + 60), {
    method: 'POST', body: `evil;${longName} 1\n`,
    headers: { 'Content-Type': 'text/x-folded' },
  });
  assert.equal(r.status, 200, r.text);
});

for (const [name, pat] of [
  ['nested repeat (glibc regcomp overflowed its stack)', '(.*){1,300}'],
  ['huge counted repeat (50 s in glibc)', 'x{1,32767}'],
  ['deeply nested groups', '('.repeat(200) + 'a' + ')'.repeat(200)],
  ['group repeated to a huge compiled size', '(abc|def){1,65535}'],
]) {
  for (const ep of ['flamegraph', 'top']) {
    await test(`${ep}: ${name}`, async () => {
      const r = await req(`/api/v1/${ep}?${R}&match=${encodeURIComponent(pat)}`, {}, 5000);
      if (r.status !== 200) jsonError(r, [400, 503]);
      assert.ok(r.ms < 4000, `took ${r.ms} ms`);
      await healthy();
    });
  }
}

await test('catastrophic backtracking on a long name: refused fast', async () => {
  const from = T0, to = T0 + 180;
  const r = await req(`/api/v1/flamegraph?from=${from}&to=${to}&match=${encodeURIComponent('(A+)+[0-9]')}`, {}, 5000);
  jsonError(r, [400, 503]);
  assert.match(r.json.error, /match/);
  assert.ok(r.ms < 4000, `took ${r.ms} ms`);
  await healthy();
});

await test('pattern longer than 512 bytes: 400', async () => {
  const r = await req(`/api/v1/top?${R}&match=${'a'.repeat(600)}`);
  jsonError(r, [400]);
  assert.match(r.json.error, /longer than 512/);
});

await test('an ordinary pattern still matches', async () => {
  const r = await req(`/api/v1/top?from=${T0}&to=${T0 + 180}&match=${encodeURIComponent('^A{10,}$')}`);
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.functions.some((f) => f.name === longName), 'long name found');
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
