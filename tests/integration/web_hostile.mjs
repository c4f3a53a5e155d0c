// SPDX-License-Identifier: MIT
// Hostile requests against a real `kiln server --ingest` (see
// web_hostile.sh): each gets a JSON error in bounded time and /healthz
// still answers. Usage: node web_hostile.mjs BASE_URL T0_SECONDS
import assert from 'node:assert/strict';

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
