// SPDX-License-Identifier: MIT
// Drives a real `kiln server` over HTTP (started by web_api.sh on an
// ephemeral loopback port, serving the store web_datagen wrote with known
// counts) and checks every endpoint's numbers and every bad request.
// Usage: node web_api.mjs BASE_URL T0_SECONDS
import assert from 'node:assert/strict';
import { walkLevels } from './flame_levels.mjs';

const [base, t0s] = process.argv.slice(2);
const T0 = Number(t0s);
const R = `from=${T0}&to=${T0 + 180}`;
let passed = 0, failed = 0;

async function get(path, opts) {
  const r = await fetch(base + path, opts);
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

async function ok(path) {
  const r = await get(path);
  assert.equal(r.status, 200, `${path}: ${r.text}`);
  return r.json;
}

async function bad(path, status = 400, re = null) {
  const r = await get(path);
  assert.equal(r.status, status, `${path} gave ${r.status}: ${r.text.slice(0, 200)}`);
  assert.ok(r.json && typeof r.json.error === 'string' && r.json.error.length, `${path}: JSON error body`);
  if (re) assert.match(r.json.error, re, path);
  return r.json;
}

async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.message}`);
  }
}

// Decodes the flamegraph levels into {"a;b;c": {total, self, kind}}.
function paths(fb, diff = false) {
  const out = {};
  walkLevels(fb, diff, (i) => fb.names[i], (path, arr, o, stride) => {
    out[path] = diff
      ? { a: arr[o + 1], sa: arr[o + 2], b: arr[o + 3], sb: arr[o + 4], kind: fb.kinds[arr[o + stride - 1]] }
      : { total: arr[o + 1], self: arr[o + 2], kind: fb.kinds[arr[o + stride - 1]] };
  });
  return out;
}

await test('labels lists the keys written', async () => {
  const j = await ok('/api/v1/labels');
  for (const k of ['comm', 'host', 'pid']) assert.ok(j.names.includes(k), k);
});

await test('label values from the store', async () => {
  assert.deepEqual((await ok('/api/v1/labels/comm/values')).values, ['app', 'db']);
  assert.deepEqual((await ok('/api/v1/labels/host/values')).values, ['h1', 'h2']);
  assert.deepEqual((await ok('/api/v1/label_values?name=pid')).values, ['100', '200', '300']);
  assert.deepEqual((await ok(`/api/v1/labels/comm/values?from=${T0 + 100}&to=${T0 + 180}`)).values, ['app']);
});

await test('timeline counts per minute', async () => {
  const j = await ok(`/api/v1/timeline?${R}&step=60s`);
  assert.equal(j.step_ms, 60000);
  assert.equal(j.series.length, 1);
  assert.deepEqual(j.series[0].points, [[T0 * 1000, 95], [(T0 + 60) * 1000, 5], [(T0 + 120) * 1000, 7]]);
});

await test('timeline grouped by comm', async () => {
  const j = await ok(`/api/v1/timeline?${R}&step=1m&group_by=comm`);
  const by = Object.fromEntries(j.series.map((s) => [s.group, s]));
  assert.equal(by.app.total, 87);
  assert.equal(by.db.total, 20);
  assert.deepEqual(by.app.points, [[T0 * 1000, 80], [(T0 + 120) * 1000, 7]]);
  assert.deepEqual(by.db.points, [[T0 * 1000, 15], [(T0 + 60) * 1000, 5]]);
});

await test('timeline with a filter', async () => {
  const j = await ok(`/api/v1/timeline?${R}&step=60s&filter=host%3Dh2`);
  assert.deepEqual(j.series[0].points, [[(T0 + 120) * 1000, 7]]);
});

await test('heat map: 20 ms slots within each second', async () => {
  const j = await ok(`/api/v1/heatmap?${R}`);
  assert.equal(j.slots, 50);
  assert.equal(j.slot_ms, 20);
  const col = Object.fromEntries(j.columns.map((c) => [c[0], c.slice(1)]));
  const s0 = col[T0 * 1000];
  assert.equal(s0[0], 50);
  assert.equal(s0[25], 15);
  assert.equal(s0.reduce((a, b) => a + b, 0), 65);
  assert.equal(col[(T0 + 1) * 1000][1], 10);
  assert.equal(col[(T0 + 2) * 1000][2], 20);
  assert.equal(col[(T0 + 60) * 1000][0], 5);
  assert.equal(col[(T0 + 120) * 1000][0], 7);
  assert.equal(j.columns.length, 5);
});

await test('flame graph: every node count', async () => {
  const j = await ok(`/api/v1/flamegraph?${R}`);
  assert.equal(j.total, 107);
  assert.equal(j.truncated, null);
  const p = paths(j);
  assert.equal(p.total.total, 107);
  assert.deepEqual(p.app, { total: 87, self: 0, kind: 'p' });
  assert.deepEqual(p.db, { total: 20, self: 0, kind: 'p' });
  assert.deepEqual(p['app;main;work;compute'], { total: 67, self: 67, kind: 'u' });
  assert.deepEqual(p['app;main;work;sys_read'], { total: 20, self: 20, kind: 'k' });
  assert.deepEqual(p['db;main;idle'], { total: 15, self: 15, kind: 'u' });
  assert.deepEqual(p['db;main;helper'], { total: 5, self: 0, kind: 'i' });
  assert.deepEqual(p['db;main;helper;compute'], { total: 5, self: 5, kind: 'u' });
  assert.equal(j.files[j.names.indexOf('compute')], 'src/compute.c:30');
  assert.equal(Object.keys(p).length, j.nodes);
});

await test('flame graph filters: same key ORs, keys AND', async () => {
  assert.equal((await ok(`/api/v1/flamegraph?${R}&filter=comm%3Ddb`)).total, 20);
  assert.equal((await ok(`/api/v1/flamegraph?${R}&filter=host%3Dh2`)).total, 7);
  assert.equal((await ok(`/api/v1/flamegraph?${R}&filter=comm%3Dapp&filter=comm%3Ddb`)).total, 107);
  assert.equal((await ok(`/api/v1/flamegraph?${R}&filter=comm%3Dapp&filter=host%3Dh1`)).total, 80);
  assert.equal((await ok(`/api/v1/flamegraph?${R}&filter=comm%3Dnobody`)).total, 0);
});

await test('flame graph time range picks the samples inside it', async () => {
  assert.equal((await ok(`/api/v1/flamegraph?from=${T0}&to=${T0 + 1}`)).total, 65);
  assert.equal((await ok(`/api/v1/flamegraph?from=${T0}.5&to=${T0 + 1}`)).total, 15);
  assert.equal((await ok(`/api/v1/flamegraph?from=${T0 + 60}&to=${T0 + 180}`)).total, 12);
});

await test('flame graph match regex keeps matching stacks', async () => {
  const j = await ok(`/api/v1/flamegraph?${R}&match=sys_r.*`);
  assert.equal(j.total, 20);
  assert.equal((await ok(`/api/v1/flamegraph?${R}&match=%5Ecompute%24`)).total, 72);
});

await test('node limit merges narrow nodes into [other] and says so', async () => {
  const j = await ok(`/api/v1/flamegraph?${R}&max_nodes=10`);
  assert.ok(j.nodes <= 10, `nodes ${j.nodes}`);
  assert.equal(j.tree_nodes, 11);
  assert.ok(j.truncated, 'truncated reported');
  assert.ok(j.truncated.merged_nodes >= 1 && j.truncated.merged_samples >= 5, JSON.stringify(j.truncated));
  const p = paths(j);
  assert.equal(p.total.total, 107);
  const others = Object.entries(p).filter(([k]) => k.endsWith('[other]'));
  assert.ok(others.length >= 1, 'an [other] node');
  const otherSum = others.reduce((s, [, v]) => s + v.total, 0);
  assert.equal(otherSum, j.truncated.merged_samples);
});

await test('top functions: self and total', async () => {
  const j = await ok(`/api/v1/top?${R}`);
  assert.equal(j.total, 107);
  const f = Object.fromEntries(j.functions.map((x) => [x.name, x]));
  assert.equal(j.functions[0].name, 'compute');
  assert.deepEqual([f.compute.self, f.compute.total], [72, 72]);
  assert.deepEqual([f.sys_read.self, f.sys_read.total, f.sys_read.kind], [20, 20, 'k']);
  assert.deepEqual([f.main.self, f.main.total], [0, 107]);
  assert.deepEqual([f.work.self, f.work.total], [0, 87]);
  assert.deepEqual([f.helper.total, f.helper.kind], [5, 'i']);
  assert.ok(!f.app && !f.db, 'process names are not functions');
  assert.equal((await ok(`/api/v1/top?${R}&limit=2`)).functions.length, 2);
});

await test('diff of two ranges', async () => {
  const j = await ok(`/api/v1/diff?a_from=${T0}&a_to=${T0 + 60}&b_from=${T0 + 60}&b_to=${T0 + 180}`);
  assert.equal(j.total_a, 95);
  assert.equal(j.total_b, 12);
  const p = paths(j, true);
  assert.deepEqual(p['app;main;work;compute'], { a: 60, sa: 60, b: 7, sb: 7, kind: 'u' });
  assert.deepEqual(p['db;main;idle'], { a: 15, sa: 15, b: 0, sb: 0, kind: 'u' });
  const f = Object.fromEntries(j.functions.map((x) => [x.name, x]));
  assert.deepEqual([f.compute.self_a, f.compute.self_b, f.compute.total_a, f.compute.total_b], [60, 12, 60, 12]);
  assert.deepEqual([f.sys_read.self_a, f.sys_read.self_b], [20, 0]);
});

await test('diff of two filters', async () => {
  const j = await ok(`/api/v1/diff?a_from=${T0}&a_to=${T0 + 180}&a_filter=host%3Dh1&b_from=${T0}&b_to=${T0 + 180}&b_filter=host%3Dh2`);
  assert.equal(j.total_a, 100);
  assert.equal(j.total_b, 7);
});

await test('export folded is the same profile', async () => {
  const r = await get(`/api/v1/export?${R}&format=folded`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-disposition') || '', /attachment; filename="kiln-\d+-\d+\.folded"/);
  const lines = r.text.trim().split('\n');
  const sum = lines.reduce((s, l) => s + Number(l.split(' ').pop()), 0);
  assert.equal(sum, 107);
  assert.ok(lines.includes('app;main;work;compute 67'), r.text);
  assert.ok(lines.includes('db;main;helper_[i];compute 5'), r.text);
});

await test('export other formats: a file or an honest 501', async () => {
  for (const f of ['pprof', 'speedscope', 'svg']) {
    const r = await get(`/api/v1/export?${R}&format=${f}`);
    assert.ok(r.status === 200 || r.status === 501, `${f}: ${r.status}`);
    if (r.status === 200) assert.ok(r.text.length > 20, `${f} has content`);
  }
  await bad(`/api/v1/export?${R}&format=bogus`, 400, /unknown format/);
});

await test('healthz and metrics', async () => {
  const h = await get('/healthz');
  assert.equal(h.status, 200);
  assert.equal(h.text, 'ok\n');
  const m = await get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  assert.match(m.text, /^kiln_build_info\{build_id="[^"]+"\} 1$/m);
  const n = Number(/^kiln_http_requests_total\{code="2xx"\} (\d+)$/m.exec(m.text)[1]);
  assert.ok(n > 10, `2xx count ${n}`);
  assert.ok(Number(/^kiln_http_requests_total\{code="4xx"\} (\d+)$/m.exec(m.text)[1]) >= 1);
  assert.ok(Number(/^kiln_store_size_bytes (\d+)$/m.exec(m.text)[1]) > 0);
  assert.equal(Number(/^kiln_store_oldest_sample_seconds ([\d.]+)$/m.exec(m.text)[1]), T0);
});

await test('static UI: index, versioned assets, caching', async () => {
  const r = await get('/');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /text\/html/);
  const m = /\/assets\/app\.js\?v=([^"]+)"/.exec(r.text);
  assert.ok(m, 'app.js is versioned by the build id');
  assert.ok(!r.text.includes('{{BUILD}}'));
  const etag = r.headers.get('etag');
  assert.equal(etag, `"${m[1]}"`);
  const a = await get(`/assets/app.js?v=${m[1]}`);
  assert.equal(a.status, 200);
  assert.match(a.headers.get('content-type'), /javascript/);
  assert.match(a.headers.get('cache-control'), /immutable/);
  assert.equal(a.headers.get('content-encoding'), 'gzip');
  const again = await get(`/assets/app.js?v=${m[1]}`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  assert.equal((await get('/assets/app.js')).headers.get('cache-control'), 'no-cache');
  await bad('/assets/nope.js', 404);
  await bad('/assets/', 404);
  await bad('/assets/../server.c', 404);
  await bad('/web/ui/', 404);
});

await test('bad requests get 400 with a JSON error', async () => {
  await bad('/api/v1/flamegraph?from=yesterday-ish', 400, /cannot parse from/);
  await bad(`/api/v1/flamegraph?from=${T0 + 10}&to=${T0}`, 400, /before/);
  await bad(`/api/v1/flamegraph?from=${T0}&to=${T0}`, 400, /before/);
  await bad('/api/v1/flamegraph?from=1&to=2', 400, /out of bounds/);
  await bad('/api/v1/flamegraph?from=-500d', 400, /out of bounds/);
  await bad('/api/v1/flamegraph?to=%2B30d', 400, /out of bounds/);
  await bad(`/api/v1/flamegraph?${R}&filter=nolabel%3Dx`, 400, /unknown label 'nolabel'/);
  await bad(`/api/v1/flamegraph?${R}&filter=comm`, 400, /key=value/);
  await bad(`/api/v1/flamegraph?${R}&match=(unclosed`, 400, /regex/);
  await bad(`/api/v1/top?${R}&match=a%7B2%2C1%7D`, 400, /regex/);
  await bad(`/api/v1/flamegraph?${R}&max_nodes=0`, 400, /max_nodes/);
  await bad(`/api/v1/flamegraph?${R}&max_nodes=abc`, 400, /max_nodes/);
  await bad(`/api/v1/flamegraph?${R}&max_nodes=99999999`, 400, /max_nodes/);
  await bad(`/api/v1/top?${R}&limit=-1`, 400, /limit/);
  await bad(`/api/v1/timeline?${R}&step=0`, 400, /step/);
  await bad(`/api/v1/timeline?from=-7d&step=1s`, 400, /points/);
  await bad(`/api/v1/timeline?${R}&group_by=nolabel`, 400, /unknown label/);
  await bad('/api/v1/heatmap?from=-3h', 400, /2 hours/);
  await bad('/api/v1/labels/nolabel/values', 400, /unknown label/);
  await bad('/api/v1/label_values', 400, /missing label/);
  await bad(`/api/v1/diff?a_from=${T0}&a_to=${T0 + 60}&b_from=zz`, 400, /b_from/);
  await bad(`/api/v1/flamegraph?${R}&from2=${'x'.repeat(2000)}`, 400, /longer than/);
  await bad(`/api/v1/flamegraph?${R}&${'a=1&'.repeat(2100)}`, 400, /query string longer|more than/);
  await bad(`/api/v1/flamegraph?${R}&${'filter=comm%3Dx&'.repeat(40)}`, 400, /more than 32 filters/);
  await bad(`/api/v1/flamegraph?${R}&${'a=1&'.repeat(200)}`, 400, /more than 128 parameters/);
  await bad('/api/v1/flamegraph?from=%zz', 400, /escape/);
});

await test('unknown paths and methods', async () => {
  await bad('/api/v1/nope', 404);
  await bad('/api/v2/flamegraph', 404);
  await bad('/api/v1/labels/comm/other', 404);
  await bad('/etc/passwd', 404);
  const p = await get('/api/v1/flamegraph', { method: 'POST', body: 'x' });
  assert.equal(p.status, 405);
  assert.equal(typeof p.json.error, 'string');
});

await test('header size limit', async () => {
  let status = 0;
  try {
    status = (await get('/healthz', { headers: { 'X-Big': 'y'.repeat(20000) } })).status;
  } catch (e) {
    status = -1; // the server closed the connection: also a refusal
  }
  assert.notEqual(status, 200);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
