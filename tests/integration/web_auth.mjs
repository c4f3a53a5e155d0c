// SPDX-License-Identifier: MIT
// Bearer-token rules of `kiln server --auth-token-file`: every path needs
// the token (header or the cookie a browser gets from /?token=...).
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

await test('browser login: token traded for a cookie', async () => {
  const r = await get(`/?token=${encodeURIComponent(token)}`);
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), '/');
  const c = r.headers.get('set-cookie');
  assert.match(c, /^kiln_token=[^;]+; HttpOnly; SameSite=Strict/);
  const cookie = c.split(';')[0];
  assert.equal((await get('/', { Cookie: cookie })).status, 200);
  assert.equal((await get('/api/v1/labels', { Cookie: `other=1; ${cookie}` })).status, 200);
  assert.equal((await get('/api/v1/labels', { Cookie: 'kiln_token=nope' })).status, 401);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
