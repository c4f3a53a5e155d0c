// SPDX-License-Identifier: MIT
// Asks two `kiln server`s the same questions on every read endpoint and
// requires the same answers: one on SQLite, one on ClickHouse, holding the
// same data (written by the same generator, or copied by `kiln migrate`).
// Usage: node store_compare.mjs BASE_A BASE_B FROM_SECONDS TO_SECONDS
//        [KEY=VALUE filter to try] [GROUP_BY key]
import assert from 'node:assert/strict';
import { walkLevels } from './flame_levels.mjs';

const [a, b, from, to, filter = 'comm=app', group = 'comm'] = process.argv.slice(2);
const R = `from=${from}&to=${to}`;
const mid = Math.floor((Number(from) + Number(to)) / 2);
const [fk] = filter.split('=');
const F = encodeURIComponent(filter);
const paths = [
  '/api/v1/labels',
  `/api/v1/labels/${fk}/values`,
  `/api/v1/labels/${fk}/values?${R}`,
  `/api/v1/labels/${group}/values?from=${mid}&to=${to}`,
  `/api/v1/timeline?${R}&step=60s`,
  `/api/v1/timeline?${R}&step=10s&group_by=${group}`,
  `/api/v1/timeline?${R}&step=1s&filter=${F}`,
  `/api/v1/heatmap?from=${from}&to=${Math.min(Number(to), Number(from) + 600)}`,
  `/api/v1/heatmap?${R}&filter=${F}`,
  `/api/v1/flamegraph?${R}`,
  `/api/v1/flamegraph?${R}&filter=${F}`,
  `/api/v1/flamegraph?from=${mid}.37&to=${to}`,
  `/api/v1/flamegraph?${R}&max_nodes=20`,
  `/api/v1/top?${R}`,
  `/api/v1/top?${R}&limit=5&filter=${F}`,
  `/api/v1/diff?a_from=${from}&a_to=${mid}&b_from=${mid}&b_to=${to}`,
  `/api/v1/export?${R}&format=folded`,
  `/api/v1/export?${R}&format=speedscope`,
  `/api/v1/flamegraph?${R}&filter=nolabel%3Dx`,
];

// A flame graph's names are numbered in the order the store returned
// stacks, which differs between engines: compare the decoded tree instead
// (path -> counts), as web_api.mjs reads it.
function tree(fb, diff) {
  const out = {};
  const nameOf = (i) => `${fb.names[i]}/${fb.kinds ? fb.kinds[i] : ''}`;
  walkLevels(fb, diff, nameOf, (path, arr, o, stride) => {
    out[path] = arr.slice(o + 1, o + stride - 1).join(',');
  });
  return out;
}

// speedscope: samples as frame-name paths with weights, sorted.
function scope(j) {
  const names = j.shared.frames.map((f) => `${f.name}@${f.file || ''}:${f.line || ''}`);
  return j.profiles.map((p) => p.samples.map((s, i) => `${s.map((x) => names[x]).join(';')} ${p.weights[i]}`).sort());
}

function normalize(j) {
  if (j && Array.isArray(j.levels) && Array.isArray(j.names)) {
    const o = { ...j, levels: tree(j, 'total_a' in j || /diff/.test(j.format || '')) };
    // Arrays parallel to names (kinds, files, ...) are in the tree now.
    for (const [k, v] of Object.entries(j)) if (k !== 'levels' && k !== 'names' && (Array.isArray(v) || typeof v === 'string') && v.length === j.names.length) o[k] = null;
    o.names = null;
    return o;
  }
  if (j && j.shared && Array.isArray(j.profiles)) return { ...j, shared: null, profiles: scope(j) };
  return j;
}

// Fields that describe the request's cost, not the data.
// Rows of a table (objects with a name) may tie on the sort key, and the
// order of ties follows the store's order: compare them as sets.
function strip(v) {
  if (Array.isArray(v)) {
    const o = v.map(strip);
    if (o.length && o.every((x) => x && typeof x === 'object' && 'name' in x)) {
      return o.map((x) => JSON.stringify(x)).sort();
    }
    return o;
  }
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) if (!/^(time_ms|elapsed|took|duration_ms)$/.test(k)) o[k] = strip(x);
    return o;
  }
  return v;
}

// A kept-alive connection may be closed by the server while idle (civetweb's
// keep_alive_timeout) just as the next request goes out: retry on a fresh
// connection then.
async function get(url) {
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(url, i ? { headers: { Connection: 'close' } } : {});
      return { status: r.status, text: await r.text() };
    } catch (e) {
      if (i === 2) throw e;
    }
  }
}

async function fetchBoth(path) {
  const [ra, rb] = await Promise.all([get(a + path), get(b + path)]);
  return { ra, rb, ta: ra.text, tb: rb.text };
}

let failed = 0, nonEmpty = 0;
for (const p of paths) {
  const { ra, rb, ta, tb } = await fetchBoth(p);
  try {
    assert.equal(rb.status, ra.status, `status ${ra.status} vs ${rb.status}: ${tb.slice(0, 200)}`);
    let ja = null, jb = null;
    try { ja = JSON.parse(ta); jb = JSON.parse(tb); } catch { /* folded, speedscope text */ }
    if (ja && jb) assert.deepEqual(strip(normalize(jb)), strip(normalize(ja)));
    else assert.equal(tb.split('\n').sort().join('\n'), ta.split('\n').sort().join('\n'));
    if (ra.status === 200 && ta.length > 40) nonEmpty++;
    console.log(`same ${p.slice(0, 100)}`);
  } catch (e) {
    failed++;
    console.log(`DIFF ${p.slice(0, 100)}: ${e.message.slice(0, 600)}`);
  }
}
// Answers that are all empty would compare equal and prove nothing.
if (nonEmpty < paths.length / 2) { console.log(`only ${nonEmpty} answers had data`); failed++; }
console.log(`${paths.length - failed} same, ${failed} different`);
process.exit(failed ? 1 : 0);
