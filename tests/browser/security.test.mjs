// SPDX-License-Identifier: MIT
// What a web page can do to a kiln server, tried in real headless Chromium:
// a page from another origin (another port of the same host, and another
// site) posts to the ingest endpoint; a DNS-rebinding name for 127.0.0.1
// loads the UI; the login cookie is inspected; a shared link with a
// catastrophic search pattern is opened. Started by browser_security.sh.
// Usage: node security.test.mjs KILN_URL TOKEN
import assert from 'node:assert/strict';
import http from 'node:http';
import { launch } from './browser.mjs';

const [base, token] = process.argv.slice(2);
const kilnPort = Number(new URL(base).port);
let passed = 0, failed = 0;

async function test(name, fn) {
  try { await fn(); passed++; console.log(`ok   ${name}`); } catch (e) { failed++; console.log(`FAIL ${name}: ${e.stack || e.message}`); }
}

// The attacker's page: tries every way a page can POST without a preflight
// (no-cors fetch with simple types, a form) plus a credentialed CORS fetch,
// and reports what it could see.
const evilPage = `<!doctype html><html><body>
<form id="f" method="POST" enctype="text/plain" target="sink" action="${base}/api/v1/ingest?label=by%3Dform"><input name="planted;by_form 1&#10;x" value="1"></form>
<iframe name="sink"></iframe>
<script src="/evil.js"></script></body></html>`;
const evilJs = `
(async () => {
  const out = {};
  const tries = {
    nocors_text: () => fetch('${base}/api/v1/ingest', { method: 'POST', mode: 'no-cors', credentials: 'include', body: 'planted;by_nocors 1\\n', headers: { 'Content-Type': 'text/plain' } }),
    nocors_blob: () => fetch('${base}/api/v1/ingest', { method: 'POST', mode: 'no-cors', credentials: 'include', body: new Blob(['planted;by_blob 1\\n']) }),
    cors_folded: () => fetch('${base}/api/v1/ingest', { method: 'POST', credentials: 'include', body: 'planted;by_cors 1\\n', headers: { 'Content-Type': 'text/x-folded' } }),
    read_labels: () => fetch('${base}/api/v1/labels', { credentials: 'include' }).then((r) => r.text()),
  };
  for (const [k, f] of Object.entries(tries)) {
    try { const r = await f(); out[k] = typeof r === 'string' ? 'read:' + r.slice(0, 40) : 'sent:' + r.type + ':' + r.status; } catch (e) { out[k] = 'error'; }
  }
  document.getElementById('f').submit();
  await new Promise((r) => setTimeout(r, 500));
  document.title = 'done';
  window.result = out;
})();`;
const evil = http.createServer((req, res) => {
  if (req.url === '/evil.js') { res.writeHead(200, { 'Content-Type': 'text/javascript' }); res.end(evilJs); return; }
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end(evilPage);
});
await new Promise((r) => evil.listen(0, '127.0.0.1', r));
const evilPort = evil.address().port;

// evil.test resolves to 127.0.0.1 in this browser: a rebinding attack's
// end state, where the attacker's name points at the loopback server.
const { browser, page } = await launch({ args: ['--host-resolver-rules=MAP evil.test 127.0.0.1, MAP other-site.test 127.0.0.1'] });

async function planted() {
  const r = await fetch(`${base}/api/v1/top?from=-1h&to=%2B1h&match=by_&limit=50`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  return (await r.json()).functions.map((f) => f.name);
}

await test('the login cookie is a random session id, not the token', async () => {
  await page.goto(`${base}/?token=${encodeURIComponent(token)}`);
  await page.waitForFunction(() => document.body.dataset.loaded === '1', null, { timeout: 15000 });
  const cookies = await browser.cookies(base);
  const c = cookies.find((x) => x.name === 'kiln_session');
  assert.ok(c, `cookies: ${JSON.stringify(cookies)}`);
  assert.notEqual(c.value, token);
  assert.ok(!c.value.includes(token) && !token.includes(c.value));
  assert.match(c.value, /^[0-9a-f]{32}$/);
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, 'Strict');
  assert.equal(c.path, '/');
  assert.ok(c.expires > Date.now() / 1000 && c.expires < Date.now() / 1000 + 2 * 86400, 'expires');
  assert.ok(!cookies.some((x) => x.value.includes(token)), 'no cookie holds the token');
});

for (const [label, origin] of [['another port of the same host', `http://127.0.0.1:${evilPort}`],
  ['another site', `http://other-site.test:${evilPort}`]]) {
  await test(`a page from ${label} cannot plant data or read`, async () => {
    await page.goto(`${origin}/`);
    await page.waitForFunction(() => document.title === 'done', null, { timeout: 15000 });
    const res = await page.evaluate(() => window.result);
    assert.equal(res.cors_folded, 'error', 'the preflighted POST must fail');
    assert.equal(res.read_labels, 'error', 'reading must fail');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await planted(), [], JSON.stringify(res));
  });
}

await test('a rebinding-style Host gets no UI and no data', async () => {
  const r = await page.goto(`http://evil.test:${kilnPort}/`);
  assert.equal(r.status(), 421);
  assert.equal(await page.evaluate(() => !!document.getElementById('flame')), false);
  const api = await page.goto(`http://evil.test:${kilnPort}/api/v1/labels`);
  assert.equal(api.status(), 421);
  assert.doesNotMatch(await page.content(), /"names"/);
});

await test('a shared link with a catastrophic search does not hang the tab', async () => {
  await page.goto(`${base}/?q=${encodeURIComponent('(A+)+B')}`);
  await page.waitForFunction(() => document.body.dataset.loaded === '1', null, { timeout: 15000 });
  const t = Date.now();
  await page.waitForFunction(() => /bad regex/.test(document.getElementById('matched').textContent), null, { timeout: 5000 });
  assert.ok(Date.now() - t < 5000);
  assert.equal(await page.evaluate(() => 1 + 1), 2, 'the page still runs script');
});

// The same origin still works: the UI's own requests are not refused.
await test('the UI itself still works', async () => {
  await page.goto(`${base}/`);
  await page.waitForFunction(() => document.body.dataset.loaded === '1', null, { timeout: 15000 });
  const ok = await page.evaluate(async () => (await fetch('/api/v1/ingest?time=now', { method: 'POST', body: 'same;origin_ok 1\n', headers: { 'Content-Type': 'text/x-folded' } })).status);
  assert.equal(ok, 200);
});

await browser.close();
evil.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
