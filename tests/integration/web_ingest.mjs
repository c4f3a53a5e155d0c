// SPDX-License-Identifier: MIT
// POST /api/v1/ingest on `kiln server --ingest`: uploads land with their
// labels and counts; bad and oversized bodies are refused with JSON errors.
// Usage: node web_ingest.mjs BASE_URL
import assert from 'node:assert/strict';

const [base] = process.argv.slice(2);
let passed = 0, failed = 0;
async function test(name, fn) {
  try { await fn(); passed++; console.log(`ok   ${name}`); } catch (e) { failed++; console.log(`FAIL ${name}: ${e.message}`); }
}
const post = (qs, body, type = 'text/x-folded') =>
  fetch(`${base}/api/v1/ingest${qs}`, { method: 'POST', body, headers: { 'Content-Type': type } });

await test('folded upload lands with its labels', async () => {
  const r = await post('?label=commit%3Dabc&label=branch%3Dmain&time=-1m', 'ci;main;bench_loop 40\nci;main;parse 2\n');
  assert.equal(r.status, 200);
  assert.equal((await r.json()).samples, 42);
  const r2 = await post('?label=commit%3Ddef', 'ci;main;bench_loop 10\n');
  assert.equal(r2.status, 200);
  const fb = await (await fetch(`${base}/api/v1/flamegraph?from=-10m&to=%2B1m&filter=commit%3Dabc`)).json();
  assert.equal(fb.total, 42);
  const top = await (await fetch(`${base}/api/v1/top?from=-10m&to=%2B1m&filter=branch%3Dmain`)).json();
  assert.deepEqual(top.functions.map((f) => [f.name, f.self]), [['bench_loop', 40], ['parse', 2], ['main', 0]]);
  const d = await (await fetch(`${base}/api/v1/diff?a_from=-10m&a_to=%2B1m&a_filter=commit%3Dabc&b_from=-10m&b_to=%2B1m&b_filter=commit%3Ddef`)).json();
  assert.deepEqual([d.total_a, d.total_b], [42, 10]);
});

await test('bad bodies and labels: 400', async () => {
  let r = await post('', 'main;x notanumber\n');
  assert.equal(r.status, 400);
  assert.equal(typeof (await r.json()).error, 'string');
  r = await post('?label=nokey', 'a;b 1\n');
  assert.equal(r.status, 400);
  r = await post('?time=whenever', 'a;b 1\n');
  assert.equal(r.status, 400);
});

await test('oversized body: 413', async () => {
  const r = await post('', new Uint8Array(65 << 20));
  assert.equal(r.status, 413);
  assert.match((await r.json()).error, /64 MiB/);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
