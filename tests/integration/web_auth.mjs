// SPDX-License-Identifier: MIT
// Bearer-token rules of `kiln server --auth-token-file`: every path needs
// the token (header, or the session cookie a browser gets from /?token=...,
// which holds a random id, never the token).
// Usage: node web_auth.mjs BASE_URL TOKEN
import assert from 'node:assert/strict';

const [base, token] = process.argv.slice(2);
let passed = 0, failed = 0;

async function test(name, fn) {
  try { await fn(); passed++; console.log(`ok   ${name}`); } catch (e) { failed++; console.log(`FAIL ${name}: ${e.message}`); }
}
const get = (p, h = {}) => fetch(base + p, { headers: h, redirect: 'manual' });

await test('no token: 401 everywhere', async () => {
  for (const p of ['/', '/assets/app.js', '/api/v1/labels', '/healthz', '/metrics', '/nope']) {
    const r = await get(p);
    assert.equal(r.status, 401, p);
    assert.equal(typeof (await r.json()).error, 'string');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
  }
});

await test('wrong tokens: 401', async () => {
  for (const t of ['x', token.slice(0, -1), token + 'x', token.toUpperCase() === token ? token.toLowerCase() : token.toUpperCase(), ''])
    assert.equal((await get('/api/v1/labels', { Authorization: `Bearer ${t}` })).status, 401, t);
  assert.equal((await get('/api/v1/labels', { Authorization: `Basic ${token}` })).status, 401);
  assert.equal((await get('/?token=wrong')).status, 401);
});

await test('right bearer token: 200', async () => {
  const r = await get('/api/v1/labels', { Authorization: `Bearer ${token}` });
  assert.equal(r.status, 200);
  assert.ok(Array.isArray((await r.json()).names));
  assert.equal((await get('/healthz', { Authorization: `bearer ${token}` })).status, 200);
});

await test('browser login: token traded for a random session cookie', async () => {
  const r = await get(`/?token=${encodeURIComponent(token)}`);
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), '/');
  const c = r.headers.get('set-cookie');
  assert.match(c, /^kiln_session=[0-9a-f]{32}; Max-Age=\d+; HttpOnly; SameSite=Strict; Path=\/$/);
  assert.ok(!c.includes(token), 'the cookie is not the token');
  const cookie = c.split(';')[0];
  assert.equal((await get('/', { Cookie: cookie })).status, 200);
  assert.equal((await get('/api/v1/labels', { Cookie: `other=1; ${cookie}` })).status, 200);
  assert.equal((await get('/api/v1/labels', { Cookie: 'kiln_session=nope' })).status, 401);
  assert.equal((await get('/api/v1/labels', { Cookie: `kiln_session=${'0'.repeat(32)}` })).status, 401);
  // The old cookie held the token itself: no longer honoured.
  assert.equal((await get('/api/v1/labels', { Cookie: `kiln_token=${token}` })).status, 401);
  // Two logins, two different sessions.
  const c2 = (await get(`/?token=${encodeURIComponent(token)}`)).headers.get('set-cookie');
  assert.notEqual(c2.split(';')[0], cookie);
});

await test('a cookie session cannot POST without a matching Origin', async () => {
  const cookie = (await get(`/?token=${encodeURIComponent(token)}`)).headers.get('set-cookie').split(';')[0];
  const post = (h) => fetch(`${base}/api/v1/ingest`, { method: 'POST', body: 'a;b 1\n', headers: { Cookie: cookie, 'Content-Type': 'text/x-folded', ...h } });
  let r = await post({});
  assert.equal(r.status, 403);
  assert.match((await r.json()).error, /Origin/);
  r = await post({ Origin: 'http://127.0.0.1:1' });
  assert.equal(r.status, 403);
  // Same origin passes the check (then 404: this server has no --ingest).
  r = await post({ Origin: base });
  assert.equal(r.status, 404);
  // A bearer client needs no Origin.
  r = await fetch(`${base}/api/v1/ingest`, { method: 'POST', body: 'a;b 1\n', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/x-folded' } });
  assert.equal(r.status, 404);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
