// SPDX-License-Identifier: MIT
// Hostile requests against a real `kiln server --ingest` (see
// web_hostile.sh): each gets a JSON error in bounded time and /healthz
// still answers. Usage: node web_hostile.mjs BASE_URL T0_SECONDS
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { readFileSync } from 'node:fs';

const [base, t0s, pid] = process.argv.slice(2);
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
function raw(method, path, headers, body = null, timeout = 5000) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const rq = http.request({ host: u.hostname, port: u.port, method, path, headers, timeout, agent: false }, (res) => {
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


// ---- slow and greedy clients ----

function peakRssMb() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) / 1024;
}

async function healthzWorst(tries = 3) {
  let worst = 0;
  for (let i = 0; i < tries; i++) {
    const t = Date.now();
    await healthy();
    worst = Math.max(worst, Date.now() - t);
    await new Promise((r) => setTimeout(r, 200));
  }
  return worst;
}

await test('200 slow header senders: /healthz answers within a second', async () => {
  const port = Number(new URL(base).port);
  const socks = [];
  for (let i = 0; i < 200; i++) {
    const so = net.connect(port, '127.0.0.1');
    so.on('error', () => {});
    so.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    socks.push(so);
  }
  const timer = setInterval(() => socks.forEach((so) => so.write('X-Slow: 1\r\n')), 500);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const worst = await healthzWorst();
    assert.ok(worst < 1000, `healthz took ${worst} ms`);
  } finally {
    clearInterval(timer);
    socks.forEach((so) => so.destroy());
  }
});

await test('slow upload bodies do not stop other requests', async () => {
  const port = Number(new URL(base).port);
  const socks = [];
  for (let i = 0; i < 4; i++) {
    const so = net.connect(port, '127.0.0.1');
    so.on('error', () => {});
    so.write(`POST /api/v1/ingest HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: text/x-folded\r\nContent-Length: 1000000\r\n\r\na;b 1\n`);
    socks.push(so);
  }
  const timer = setInterval(() => socks.forEach((so) => so.write('a;b 1\n')), 500);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const worst = await healthzWorst();
    assert.ok(worst < 1000, `healthz took ${worst} ms`);
    const r = await req(`/api/v1/top?${R}`, {}, 5000);
    assert.equal(r.status, 200);
    // Two uploads are read at a time: the next waits 5 s, then gets 503.
    const body = 'x;y 1\n';
    const u = await raw('POST', '/api/v1/ingest', { 'Content-Type': 'text/x-folded', 'Content-Length': body.length }, body, 15000);
    assert.equal(u.status, 503, `upload beside slow ones: ${u.status} ${u.text}`);
    assert.ok(u.headers['retry-after'], 'Retry-After');
  } finally {
    clearInterval(timer);
    socks.forEach((so) => so.destroy());
  }
});

await test('max_nodes is capped', async () => {
  const r = await req(`/api/v1/flamegraph?${R}&max_nodes=1000000`);
  jsonError(r, [400]);
  assert.match(r.json.error, /max_nodes/);
});

await test('duplicate Content-Length is refused', async () => {
  const port = Number(new URL(base).port);
  const text = await new Promise((resolve) => {
    const so = net.connect(port, '127.0.0.1');
    let out = '';
    so.on('data', (d) => { out += d; });
    so.on('end', () => resolve(out));
    so.on('error', () => resolve(out));
    so.write(`POST /api/v1/ingest HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: text/x-folded\r\nContent-Length: 6\r\nContent-Length: 60\r\nConnection: close\r\n\r\nq;w 1\n`);
    setTimeout(() => { so.destroy(); resolve(out); }, 3000);
  });
  assert.match(text, /^HTTP\/1\.1 400/, text.slice(0, 100));
  assert.match(text, /Content-Length/);
});

await test('an upload of millions of tiny samples: 413, bounded memory', async () => {
  const before = peakRssMb();
  const body = 'a;b 1\n'.repeat(3000000);
  const r = await raw('POST', '/api/v1/ingest', { 'Content-Type': 'text/x-folded', 'Content-Length': body.length }, body);
  jsonError(r, [413]);
  const after = peakRssMb();
  console.log(`     peak RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MB`);
  assert.ok(after < 1024, `peak RSS ${after} MB`);
  await healthy();
});

await test('an upload of many distinct stacks: 413 beyond the cap, short write below it', async () => {
  let big = '';
  for (let i = 0; i < 100001; i++) big += `up;f${i % 97};g${i} 1\n`;
  let r = await raw('POST', '/api/v1/ingest', { 'Content-Type': 'text/x-folded', 'Content-Length': Buffer.byteLength(big) }, big);
  jsonError(r, [413]);
  assert.match(r.json.error, /distinct stacks/);
  let ok = '';
  for (let i = 0; i < 20000; i++) ok += `up2;f${i % 97};g${i} 1\n`;
  r = await raw('POST', '/api/v1/ingest', { 'Content-Type': 'text/x-folded', 'Content-Length': Buffer.byteLength(ok) }, ok);
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.write_ms < 10000, `write held the lock ${r.json.write_ms} ms`);
  console.log(`     20,000 new stacks: write lock held ${r.json.write_ms} ms`);
});

await test('a small gzipped pprof of millions of samples: 413, bounded memory', async () => {
  const { gzipSync } = await import('node:zlib');
  // Hand-encoded profile.proto: 5 M samples {location_id: [1], value: [1]}.
  const varint = (n) => { const b = []; while (n > 127) { b.push((n & 127) | 128); n = Math.floor(n / 128); } b.push(n); return Buffer.from(b); };
  const field = (num, payload) => Buffer.concat([varint((num << 3) | 2), varint(payload.length), payload]);
  const str = (s) => Buffer.from(s);
  const sample = field(2, Buffer.concat([field(1, Buffer.from([1])), field(2, Buffer.from([1]))]));
  const N = 5000000;
  const head = Buffer.concat([
    field(1, Buffer.concat([Buffer.from([8, 1, 16, 2])])), // sample_type {type: 1, unit: 2}
    field(4, Buffer.concat([Buffer.from([8, 1]), field(4, Buffer.from([8, 1]))])), // location {id 1, line {function_id 1}}
    field(5, Buffer.from([8, 1, 16, 3])), // function {id 1, name 3}
    field(6, str('')), field(6, str('samples')), field(6, str('count')), field(6, str('tiny')),
  ]);
  const body = gzipSync(Buffer.concat([head, Buffer.alloc(0), Buffer.concat(Array(N).fill(sample))]));
  console.log(`     ${(body.length / 1024).toFixed(0)} KB gzipped, ${N} samples`);
  const before = peakRssMb();
  const r = await raw('POST', '/api/v1/ingest', { 'Content-Type': 'application/x-protobuf', 'Content-Length': body.length }, body, 30000);
  jsonError(r, [413]);
  const after = peakRssMb();
  console.log(`     peak RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MB: ${r.json.error}`);
  assert.ok(after < 1024, `peak RSS ${after} MB`);
  await healthy();
});

// ---- the smaller items ----

const upload = (qs, body, type = 'text/x-folded') =>
  raw('POST', `/api/v1/ingest${qs}`, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) }, body);

await test('counts that would wrap: 400', async () => {
  const big = 2 ** 53;
  const r = await upload('', `w;a ${big}\nw;b ${big}\n`);
  jsonError(r, [400]);
  assert.match(r.json.error, /2\^53/);
});

await test('absurd times are refused', async () => {
  for (const t of ['2554-01-01T00:00:00Z', '18446744073', '%2B600y']) {
    const r = await upload(`?time=${t}`, 'x;y 1\n');
    jsonError(r, [400]);
  }
  const r = await req(`/api/v1/top?from=2554-01-01T00:00:00Z&to=2554-01-02T00:00:00Z`);
  jsonError(r, [400]);
});

await test('more than 64 label names work', async () => {
  for (let u = 0; u < 3; u++) {
    const labels = [];
    for (let i = 0; i < 30; i++) labels.push(`label=${encodeURIComponent(`k${u * 30 + i}=v${u}`)}`);
    const r = await upload(`?${labels.join('&')}`, `lab;f${u} 3\n`);
    assert.equal(r.status, 200, r.text);
  }
  const names = (await req('/api/v1/labels')).json.names;
  assert.ok(names.includes('k89'), `${names.length} names`);
  const r = await req(`/api/v1/top?from=-1h&to=%2B1h&filter=k89%3Dv2`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.total, 3);
});

await test('a gzipped folded upload is read as folded', async () => {
  const { gzipSync } = await import('node:zlib');
  const gz = gzipSync(Buffer.from('gz;folded_ok 4\n'));
  const r = await new Promise((resolve, reject) => {
    const u = new URL(base);
    const rq = http.request({ host: u.hostname, port: u.port, method: 'POST', path: '/api/v1/ingest', headers: { 'Content-Type': 'application/gzip', 'Content-Length': gz.length } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    rq.on('error', reject);
    rq.end(gz);
  });
  assert.equal(r.status, 200, r.text);
  const bad = gzipSync(Buffer.from('gz;folded_bad x\n'));
  const r2 = await new Promise((resolve, reject) => {
    const u = new URL(base);
    const rq = http.request({ host: u.hostname, port: u.port, method: 'POST', path: '/api/v1/ingest', headers: { 'Content-Type': 'application/gzip', 'Content-Length': bad.length } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    rq.on('error', reject);
    rq.end(bad);
  });
  assert.equal(r2.status, 400);
  assert.match(r2.text, /gzipped folded/);
  assert.doesNotMatch(r2.text, /protobuf/);
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
