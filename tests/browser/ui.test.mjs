// SPDX-License-Identifier: MIT
// The web UI in real headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core) against a real `kiln server` with known counts.
// Usage: node ui.test.mjs BASE_URL T0_SECONDS SCREENSHOT_DIR
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './browser.mjs';

const [base, t0s, shots] = process.argv.slice(2);
const T0 = Number(t0s);
mkdirSync(shots, { recursive: true });

const { browser, page, consoleErrors } = await launch({ width: 1600, height: 1000 });
let passed = 0, failed = 0, n = 0;

async function test(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack || e.message}`);
  }
  const file = join(shots, `${String(++n).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 60)}.png`);
  await page.screenshot({ path: file }).catch(() => {});
}

const loaded = () => page.waitForFunction(() => document.body.dataset.loaded === '1', null, { timeout: 15000 });
const flameTotal = () => page.evaluate(() => window.kiln.flame.data.total);
const param = async (k) => new URL(page.url()).searchParams.get(k);

// Where a node of the flame graph is on screen, by its path of names.
async function nodeCenter(path) {
  return page.evaluate((path) => {
    const f = window.kiln.flame, c = document.getElementById('flame');
    const names = path.split(';');
    let d = 0, i = 0;
    for (const nm of names) {
      const L = f.data.levels[d], K = f.data.levels[d + 1];
      let found = -1;
      for (let k = L.kid0[i]; k < L.kid1[i]; k++) if (f.data.names[K.name[k]] === nm) found = k;
      if (found < 0) return null;
      d++; i = found;
    }
    const [v0, v1] = f.viewRange();
    const r = c.getBoundingClientRect();
    const L = f.data.levels[d];
    const x = r.left + ((L.x[i] - v0 + L.w[i] / 2) / (v1 - v0)) * r.width;
    const y = r.top + f.rowY(d, c.clientHeight) + 9;
    return { x, y };
  }, path);
}

// Uploads folded stacks to the server (started with --ingest).
async function ingest(qs, body) {
  const r = await fetch(`${base}/api/v1/ingest?${qs}`, { method: 'POST', body, headers: { 'Content-Type': 'text/x-folded' } });
  assert.equal(r.status, 200, await r.text());
}

const box = (sel) => page.$eval(sel, (e) => { const b = e.getBoundingClientRect(); return { x: b.left, y: b.top, w: b.width, h: b.height }; });
const tip = () => page.textContent('#tooltip');

// Colour of the canvas pixel at page coordinates.
async function pixelAt(x, y) {
  return page.evaluate(([x, y]) => {
    const c = document.getElementById('flame'), r = c.getBoundingClientRect();
    const k = c.width / r.width;
    return Array.from(c.getContext('2d').getImageData(Math.round((x - r.left) * k), Math.round((y - r.top) * k), 1, 1).data);
  }, [x, y]);
}

await test('first screen: icicle, table beside the graph, roots and table visible at 1600x1000', async () => {
  // A 139-level stack, as a deep Java or kernel stack makes.
  const deep = ['deep'].concat(Array.from({ length: 139 }, (_, k) => `frame_${k}`)).join(';');
  await ingest(`time=${T0 - 600}&label=host=h3`, `${deep} 300\ndeep;main;other_path 100\n`);
  await page.goto(`${base}/?from=${T0 - 700}&to=${T0 - 500}`);
  await loaded();
  assert.equal(await flameTotal(), 400);
  assert.equal(await page.evaluate(() => window.kiln.flame.icicle), true);
  assert.ok(await page.isChecked('#icicle'));
  const vh = await page.evaluate(() => window.innerHeight);
  // No page scroll: the graph scrolls inside its pane.
  const pageH = await page.evaluate(() => document.documentElement.scrollHeight);
  assert.ok(pageH <= vh + 1, `page is ${pageH} px tall in a ${vh} px window`);
  const flame = await box('#flame'), pane = await box('#flame-wrap'), table = await box('#table-wrap');
  assert.ok(flame.h > 139 * 18, `canvas ${flame.h} px for 141 levels`);
  assert.ok(pane.h < flame.h && pane.y + pane.h <= vh, 'graph scrolls inside a fixed pane');
  // The roots (total, process, first frames) are on screen.
  const root = await nodeCenter('deep;frame_0');
  assert.ok(root.y > pane.y && root.y < pane.y + 60, `first frames at y=${root.y}, pane at ${pane.y}`);
  // Table left of the graph, side by side, its first rows on screen.
  assert.ok(table.x + table.w <= pane.x && Math.abs(table.y - pane.y) < 60, `table ${JSON.stringify(table)} graph ${JSON.stringify(pane)}`);
  const row = await box('#top tbody tr');
  assert.ok(row.y + row.h < vh, 'first table row visible');
  // Range and filters above the charts and the graph.
  const range = await box('#range');
  assert.ok(range.y < (await box('#timeline')).y && range.y < pane.y);
  // The toggle is kept: a flame graph puts the roots at the bottom, scrolled into view.
  await page.uncheck('#icicle');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('icicle') === '0');
  const r2 = await nodeCenter('deep;frame_0');
  assert.ok(r2.y < pane.y + pane.h && r2.y > pane.y, `flame roots at ${r2.y} in the pane ${pane.y}..${pane.y + pane.h}`);
  await page.check('#icicle');
});

await test('page loads with the flame graph drawn', async () => {
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}`);
  await loaded();
  assert.equal(await flameTotal(), 107);
  const painted = await page.evaluate(() => {
    const c = document.getElementById('flame');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n / (d.length / 4);
  });
  assert.ok(painted > 0.3, `canvas painted ${painted}`);
  assert.match(await page.textContent('#status'), /107 samples/);
  // The page's parallel requests do not wait for a worker thread held by
  // an idle keep-alive connection (civetweb: one thread per connection).
  const ms = Number(/ (\d+) ms/.exec(await page.textContent('#status'))[1]);
  assert.ok(ms < 2500, `flame graph fetched in ${ms} ms`);
  const rows = await page.$$eval('#top tbody tr', (trs) => trs.map((t) => t.dataset.name));
  assert.equal(rows[0], 'compute');
  assert.ok(Number(await page.getAttribute('#timeline', 'data-points')) >= 3);
  assert.ok(Number(await page.getAttribute('#heatmap', 'data-cells')) >= 5);
});

await test('hover shows a tooltip with counts', async () => {
  const p = await nodeCenter('app;main;work;sys_read');
  await page.mouse.move(p.x, p.y);
  const t = await tip();
  assert.match(t, /sys_read/);
  assert.match(t, /kernel/);
  assert.match(t, /total: 20 samples \(18\.69%\)/);
  assert.match(t, /self: 20 samples/);
});

await test('click zooms into a frame', async () => {
  const p = await nodeCenter('app;main;work');
  await page.mouse.click(p.x, p.y);
  await page.waitForFunction(() => new URL(location.href).searchParams.get('zoom'));
  assert.equal(await param('zoom'), 'app;main;work');
  assert.equal(await page.getAttribute('#crumbs', 'data-depth'), '3');
  const range = await page.evaluate(() => window.kiln.flame.viewRange());
  assert.equal(range[1] - range[0], 87);
  const c = await nodeCenter('app;main;work;compute');
  const b = await box('#flame');
  assert.ok(c.x > b.x + b.w * 0.3, `compute centre at ${c.x}`);
});

await test('search: case-insensitive, dims the rest, filters the table', async () => {
  await page.fill('#search', 'SYS_R.*');
  await page.waitForFunction(() => /matched/.test(document.getElementById('matched').textContent));
  assert.equal(await page.textContent('#matched'), 'matched 18.69%');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('q') === 'SYS_R.*');
  const p = await nodeCenter('app;main;work;sys_read');
  const px = await pixelAt(p.x, p.y - 6);
  assert.deepEqual(px.slice(0, 3), [216, 27, 96], `highlight colour, got ${px}`);
  // A non-match is drawn faded (alpha well below opaque on the canvas).
  const q = await nodeCenter('app;main;work;compute');
  const qx = await pixelAt(q.x, q.y - 6);
  assert.ok(qx[3] < 120, `non-match dimmed, got ${qx}`);
  const rows = await page.$$eval('#top tbody tr[data-name]', (trs) => trs.map((t) => t.dataset.name));
  assert.deepEqual(rows, ['sys_read']);
  // Case-sensitive on request.
  await page.check('#case');
  await page.waitForFunction(() => document.getElementById('matched').textContent === 'matched 0.00%');
  await page.uncheck('#case');
  await page.waitForFunction(() => document.getElementById('matched').textContent === 'matched 18.69%');
  // Not a valid regex: searched as text instead of failing.
  await page.fill('#search', 'sys_read(');
  await page.waitForFunction(() => /as text/.test(document.getElementById('matched').textContent));
  await page.fill('#search', 'SYS_R.*');
  await page.waitForFunction(() => document.getElementById('matched').textContent === 'matched 18.69%');
});

await test('reloaded URL restores the view', async () => {
  await page.uncheck('#icicle');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('icicle') === '0');
  const url = page.url();
  await page.goto('about:blank');
  await page.goto(url);
  await loaded();
  assert.equal(await page.inputValue('#search'), 'SYS_R.*');
  assert.equal(await page.textContent('#matched'), 'matched 18.69%');
  assert.equal(await page.getAttribute('#crumbs', 'data-depth'), '3');
  assert.ok(!(await page.isChecked('#icicle')));
  assert.equal(await page.evaluate(() => window.kiln.flame.icicle), false);
});

await test('back and forward walk the history', async () => {
  await page.click('#reset');
  await page.waitForFunction(() => !new URL(location.href).searchParams.get('zoom'));
  await page.goBack();
  await page.waitForFunction(() => new URL(location.href).searchParams.get('zoom') === 'app;main;work');
  assert.equal(await page.getAttribute('#crumbs', 'data-depth'), '3');
  await page.goForward();
  await page.waitForFunction(() => !new URL(location.href).searchParams.get('zoom'));
  assert.equal(await page.getAttribute('#crumbs', 'data-depth'), '0');
  await page.fill('#search', '');
  await page.check('#icicle');
  await page.waitForFunction(() => !new URL(location.href).searchParams.get('q'));
});

await test('time line: axes, hover readout and drag selects a range', async () => {
  const r = await box('#timeline');
  const g = await page.evaluate((t) => { const G = window.kiln.tlGeometry(); return { a: G.x(t * 1000), b: G.x((t + 81) * 1000), one: G.x((t + 1) * 1000) }; }, T0);
  // Hover the first second: 50 (app) + 15 (db) samples.
  await page.mouse.move(r.x + (g.a + g.one) / 2, r.y + r.h / 2);
  await page.waitForSelector('#tooltip:not([hidden])');
  const t = await tip();
  assert.match(t, /all: 65|samples: 65/, t);
  assert.match(t, /\d\d:\d\d:\d\d/);
  await page.mouse.move(r.x + g.a + 1, r.y + r.h / 2);
  await page.mouse.down();
  await page.mouse.move(r.x + (g.a + g.b) / 2, r.y + r.h / 2, { steps: 5 });
  await page.mouse.move(r.x + g.b - 1, r.y + r.h / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('from') === String(t), T0);
  assert.equal(await param('to'), String(T0 + 81));
  await loaded();
  assert.equal(await flameTotal(), 100);
  // Inputs show human times, never raw unix seconds.
  assert.match(await page.inputValue('#to'), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  await page.goBack();
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('to') === String(t), T0 + 180);
  await loaded();
  assert.equal(await flameTotal(), 107);
});

await test('heat map: hover readout, legend and drag selects a sub-second range', async () => {
  const r = await box('#heatmap');
  const G = await page.evaluate(() => { const G = window.kiln.heatGeometry(); return { cw: G.cw, rh: G.rh, l: window.kiln.HM.l, t: window.kiln.HM.t }; });
  await page.mouse.move(r.x + G.l + G.cw * 0.5, r.y + G.t + G.rh * 0.5);
  await page.waitForSelector('#tooltip:not([hidden])');
  const t = await tip();
  assert.match(t, /offset 0–20 ms/);
  assert.match(t, /50 samples/);
  assert.equal(await page.getAttribute('#heatmap', 'data-max'), '50');
  await page.mouse.move(r.x + G.l + G.cw * 0.3, r.y + G.t + G.rh * 0.5);
  await page.mouse.down();
  await page.mouse.move(r.x + G.l + G.cw * 0.6, r.y + G.t + G.rh * 10.5, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction(() => /\.\d{3}Z$/.test(new URL(location.href).searchParams.get('to') || ''));
  await loaded();
  // The first 220 ms of T0: only the 50 samples at T0 + 0.000.
  assert.equal(await flameTotal(), 50);
  await page.goBack();
  await loaded();
});

await test('time picker: human, RFC 3339, relative; zoom out and previous/next', async () => {
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}&tz=utc`);
  await loaded();
  const iso = (s) => new Date(s * 1000).toISOString().slice(0, 19).replace('T', ' ');
  assert.equal(await page.inputValue('#from'), iso(T0));
  assert.match(await page.textContent('#range'), /UTC/);
  // "YYYY-MM-DD HH:MM" in the zone on screen (UTC here).
  await page.fill('#from', iso(T0).slice(0, 16));
  await page.fill('#to', iso(T0 + 60));
  await page.click('#apply');
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('to') === String(t), T0 + 60);
  assert.equal(await param('from'), String(T0));
  await loaded();
  assert.equal(await flameTotal(), 95);
  // RFC 3339 with an offset, and now-relative forms.
  await page.fill('#from', new Date(T0 * 1000).toISOString().replace('.000Z', '+00:00'));
  await page.fill('#to', 'now-1m');
  await page.click('#apply');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('to') === '-1m');
  assert.equal(await param('from'), String(T0));
  await loaded();
  assert.equal(await flameTotal(), 107);
  await page.fill('#from', 'yesterday-ish');
  await page.click('#apply');
  await page.waitForSelector('#error:not([hidden])');
  assert.match(await page.textContent('#error'), /cannot read time/);
  // Zoom out doubles the range around its centre; previous/next move by its width.
  await page.goto(`${base}/?from=${T0 + 60}&to=${T0 + 120}`);
  await loaded();
  await page.click('#out');
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('from') === String(t), T0 + 30);
  assert.equal(await param('to'), String(T0 + 150));
  await page.click('#prev');
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('to') === String(t), T0 + 30);
  assert.equal(await param('from'), String(T0 - 90));
  await page.click('#next');
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('from') === String(t), T0 + 30);
  // Relative ranges zoom out relatively.
  await page.goto(`${base}/?from=-15m`);
  await page.click('#out');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('from') === '-30m');
  const ticks = await page.evaluate((t) => window.kiln.timeTicks(t * 1000 + 1234, t * 1000 + 3600e3, 1200).map((k) => k.t % 60000), T0);
  assert.ok(ticks.length >= 4 && ticks.every((m) => m === 0), 'ticks at whole minutes');
});

await test('label filter narrows the profile', async () => {
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}`);
  await loaded();
  await page.selectOption('#fkey', 'comm');
  await page.fill('#fval', 'db');
  await page.click('#fadd');
  await page.waitForFunction(() => new URL(location.href).searchParams.getAll('filter').includes('comm=db'));
  await loaded();
  assert.equal(await flameTotal(), 20);
  assert.match(await page.textContent('#chips'), /comm=db/);
  await page.click('#chips button');
  await page.waitForFunction(() => !new URL(location.href).searchParams.getAll('filter').length);
  await loaded();
  assert.equal(await flameTotal(), 107);
  // Operators: !=, =~ (whole value), !~.
  for (const [op, v, want] of [['!=', 'db', 87], ['=~', 'd.', 20], ['!~', 'a.*', 20], ['=~', 'a', 0]]) {
    await page.selectOption('#fop', op);
    await page.fill('#fval', v);
    await page.click('#fadd');
    await page.waitForFunction((f) => new URL(location.href).searchParams.getAll('filter').includes(f), `comm${op}${v}`);
    await loaded();
    assert.equal(await flameTotal(), want, `comm${op}${v}`);
    await page.click('#chips button');
    await page.waitForFunction(() => !new URL(location.href).searchParams.getAll('filter').length);
    await loaded();
  }
  await page.selectOption('#fop', '=');
});

await test('table: row highlights the function in the graph; sandwich as two flame graphs', async () => {
  await page.click('#top th[data-sort="total"] button');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('sort') === 'total');
  const first = await page.$eval('#top tbody tr', (t) => t.dataset.name);
  assert.equal(first, 'main');
  await page.click('#top tbody tr[data-name="compute"]');
  await page.waitForSelector('#sandwich:not([hidden])');
  assert.equal(await page.evaluate(() => window.kiln.flame.sel), await page.evaluate(() => window.kiln.flame.data.names.indexOf('compute')));
  // Every occurrence outlined: a dark border pixel at the left edge of both compute frames.
  for (const path of ['app;main;work;compute', 'db;main;helper;compute']) {
    const px = await page.evaluate((p) => {
      const f = window.kiln.flame, c = document.getElementById('flame');
      let d = 0, i = 0;
      for (const n of p.split(';')) { const L = f.data.levels[d], K = f.data.levels[d + 1]; for (let k = L.kid0[i]; k < L.kid1[i]; k++) if (f.data.names[K.name[k]] === n) { i = k; break; } d++; }
      const L = f.data.levels[d], k = c.width / c.clientWidth;
      const x = Math.floor((L.x[i] / f.data.total) * c.clientWidth * k) + 1, y = Math.floor((f.rowY(d, c.clientHeight) + 9) * k);
      return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data);
    }, path);
    assert.ok(px[0] < 60 && px[1] < 60 && px[2] < 60, `${path} outlined, got ${px}`);
  }
  assert.match(await page.textContent('#sw-name'), /compute — total 67\.29%, self 67\.29%/);
  const sw = await page.evaluate(() => {
    const { callers, callees } = window.kiln.sandwich;
    const kids = (t, d) => Array.from(t.levels[d].name.slice(0, t.levels[d].n)).map((k) => t.names[k]).sort();
    return { root: callers.names[callers.levels[0].name[0]], callers: kids(callers, 1), callees: callees.levels.length, total: callers.levels[0].w[0] };
  });
  assert.deepEqual(sw, { root: 'compute', callers: ['helper', 'work'], callees: 1, total: 72 });
  await page.click('#sw-focus');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('focus') === 'compute');
  assert.equal(await flameTotal(), 72);
  await page.click('#unfocus');
  await page.waitForFunction(() => !new URL(location.href).searchParams.get('focus'));
  assert.equal(await flameTotal(), 107);
});

await test('compare mode renders a diff with a capped colour scale and sortable deltas', async () => {
  await page.click('#mode-diff');
  await page.waitForSelector('#b_query:not([hidden])');
  await page.fill('#from', String(T0));
  await page.fill('#to', String(T0 + 60));
  await page.click('#apply');
  await page.fill('#b_from', String(T0 + 60));
  await page.fill('#b_to', String(T0 + 180));
  await page.click('#b_apply');
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('b_to') === String(t), T0 + 180);
  await loaded();
  const d = await page.evaluate(() => ({ diff: window.kiln.flame.data.diff, a: window.kiln.flame.data.totalA, b: window.kiln.flame.data.totalB }));
  assert.deepEqual(d, { diff: true, a: 95, b: 12 });
  assert.ok(await page.isVisible('#legend-diff'));
  const head = await page.$$eval('#top th', (ths) => ths.map((t) => t.textContent));
  assert.deepEqual(head, ['function', 'A self', 'B self', 'Δ self', 'Δ total', '|Δ|']);
  // db;main;helper only exists in B: its share grew, so it is orange.
  const p = await nodeCenter('db;main;helper');
  const px = await pixelAt(p.x, p.y - 6);
  assert.ok(px[0] > px[2] + 40, `grew is orange, got ${px}`);
  const q = await nodeCenter('db;main;idle');
  const qx = await pixelAt(q.x, q.y - 6);
  assert.ok(qx[2] > qx[0] + 40, `shrank is blue, got ${qx}`);
  // Too few samples on a side: the same rule as kiln diff.
  assert.match(await page.textContent('#compare-bar'), /Too few samples to judge: A has 95 samples, B has 12 samples/);
  assert.match(await page.textContent('#cli-cmd'), new RegExp(`^kiln diff 'db:[^']*\\?from=${T0}&to=${T0 + 60}' 'db:[^']*\\?from=${T0 + 60}&to=${T0 + 180}'`));
  // Colour cap: a fixed 1 pp scale, and the largest change.
  await page.selectOption('#cap', '1');
  await page.waitForFunction(() => window.kiln.flame.colorMax === 0.01);
  await page.selectOption('#cap', 'max');
  await page.waitForFunction(() => window.kiln.flame.colorMax === window.kiln.flame.maxDelta);
  await page.selectOption('#cap', 'auto');
  // Sort by the change of self share.
  await page.click('#top th[data-sort="self"] button');
  await page.waitForFunction(() => window.kiln.state.sort === 'self' && window.kiln.state.desc !== '0');
  const rows = await page.$$eval('#top tbody tr[data-name]', (trs) => trs.map((t) => t.dataset.name));
  assert.equal(rows[0], 'compute', rows.join());
  // Normalised widths: A and B weigh the same.
  const w = await page.evaluate(() => { const L = window.kiln.flame.data.levels[1]; return Array.from(L.w.slice(0, L.n)); });
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 107) < 1e-6);
  const url = page.url();
  await page.goto(url);
  await loaded();
  assert.equal(await page.evaluate(() => window.kiln.flame.data.totalB), 12);
});

await test('compare: swap, brush B and A on one time line', async () => {
  await page.click('#swap');
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('from') === String(t), T0 + 60);
  await loaded();
  assert.equal(await page.evaluate(() => window.kiln.flame.data.totalA), 12);
  assert.ok(await page.isVisible('#tl-a') && await page.isVisible('#tl-b'));
  const r = await box('#timeline');
  const g = await page.evaluate((t) => { const G = window.kiln.tlGeometry(); return { a: G.x(t * 1000), b: G.x((t + 30) * 1000), c: G.x((t + 90) * 1000) }; }, T0);
  await page.mouse.move(r.x + g.a + 1, r.y + 20);
  await page.mouse.down();
  await page.mouse.move(r.x + g.b - 1, r.y + 20, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('b_to') === String(t), T0 + 30);
  assert.equal(await param('b_from'), String(T0));
  await page.keyboard.down('Shift');
  await page.mouse.move(r.x + g.b + 1, r.y + 20);
  await page.mouse.down();
  await page.mouse.move(r.x + g.c - 1, r.y + 20, { steps: 4 });
  await page.mouse.up();
  await page.keyboard.up('Shift');
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('to') === String(t), T0 + 90);
  assert.equal(await param('from'), String(T0 + 30));
  await loaded();
});

await test('compare defaults on a young store give both sides samples', async () => {
  const now = Math.floor(Date.now() / 1000);
  for (const [ago, n] of [[420, 150], [300, 160], [120, 170], [20, 180]])
    await ingest(`time=${now - ago}&label=host=young`, `svc;main;serve ${n}\nsvc;main;gc ${n >> 2}\n`);
  await page.goto(`${base}/?from=-1h&filter=host%3Dyoung`);
  await loaded();
  await page.click('#mode-diff');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('mode') === 'diff');
  await loaded();
  const t = await page.evaluate(() => [window.kiln.flame.data.totalA, window.kiln.flame.data.totalB]);
  assert.ok(t[0] >= 100 && t[1] >= 100, `A ${t[0]} B ${t[1]}`);
  assert.ok(!(await page.$('#few-samples')), 'no warning');
  assert.deepEqual(await page.evaluate(() => window.kiln.state.b_filter), ['host=young']);
});

await test('refresh and auto-refresh pick up new windows, keeping zoom and selection', async () => {
  const now = Math.floor(Date.now() / 1000);
  await ingest(`time=${now - 30}&label=host=live`, 'svc;main;serve 100\nsvc;main;parse 50\n');
  await page.goto(`${base}/?from=-15m&filter=host%3Dlive&zoom=svc%3Bmain&sel=serve`);
  await loaded();
  assert.equal(await flameTotal(), 150);
  await ingest(`time=${now - 5}&label=host=live`, 'svc;main;serve 40\n');
  await page.click('#refresh');
  await page.waitForFunction(() => window.kiln.flame.data.total === 190);
  assert.equal(await param('zoom'), 'svc;main');
  assert.equal(await page.getAttribute('#crumbs', 'data-depth'), '2');
  assert.equal(await page.evaluate(() => window.kiln.state.sel), 'serve');
  await page.selectOption('#auto', '5s');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('refresh') === '5s');
  const before = Number(await page.evaluate(() => document.body.dataset.refreshes || 0));
  await ingest(`time=${now}&label=host=live`, 'svc;main;parse 10\n');
  await page.waitForFunction((b) => Number(document.body.dataset.refreshes || 0) > b && window.kiln.flame.data.total === 200, before, { timeout: 15000 });
  assert.equal(await param('zoom'), 'svc;main');
  assert.ok(await page.isVisible('#sandwich'));
  // Absolute ranges do not move: auto-refresh is off for them.
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}&refresh=10s`);
  await loaded();
  assert.ok(await page.isDisabled('#auto'));
});

await test('download folded stacks of the view; the menu closes', async () => {
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}`);
  await loaded();
  await page.click('.menu summary');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="folded"]')]);
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(await dl.path(), 'utf8');
  assert.ok(text.includes('app;main;work;compute 67'), text);
  assert.equal(await page.evaluate(() => document.getElementById('dl-menu').open), false);
  // Zoomed: only that subtree.
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}&zoom=db%3Bmain`);
  await loaded();
  await page.click('.menu summary');
  const [dl2] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="svg"]')]);
  const svg = readFileSync(await dl2.path(), 'utf8');
  assert.match(svg, /<svg /);
  assert.match(svg, />idle/);
  assert.ok(!svg.includes('>work'), 'svg of the zoomed subtree only');
  // pprof and speedscope from the server, the zoomed frame's samples only.
  await page.click('.menu summary');
  const [dl3] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="speedscope"]')]);
  const ss = JSON.parse(readFileSync(await dl3.path(), 'utf8'));
  const names = ss.shared.frames.map((f) => f.name);
  const weight = ss.profiles.reduce((a, p) => a + p.weights.reduce((x, y) => x + y, 0), 0);
  assert.ok(names.includes('idle') && !names.includes('work') && !names.includes('sys_read'), names.join());
  assert.equal(weight, 20, 'db: 15 idle + 5 helper;compute');
  // Focus: the stacks through the function.
  const r = await fetch(`${base}/api/v1/export?from=${T0}&to=${T0 + 180}&format=folded&focus=helper`);
  assert.equal((await r.text()).trim().split('\n').map((l) => l.split(' ').pop()).reduce((a, b) => a + Number(b), 0), 5);
});

await test('keyboard-only walk through graph and table', async () => {
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}`);
  await loaded();
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'search');
  await page.keyboard.press('Escape');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'flame');
  await page.keyboard.press('ArrowDown'); // the widest child of the root: app
  assert.equal(await page.getAttribute('#flame', 'data-cursor'), 'app');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.getAttribute('#flame', 'data-cursor'), 'work');
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getAttribute('#flame', 'data-cursor'), 'helper');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('zoom') === 'db;main;helper');
  assert.match(await page.getAttribute('#flame', 'aria-label'), /helper/);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('zoom') === 'db;main');
  // Into the table: Shift+Tab from the graph lands on a row.
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.name), 'compute');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.name), 'sys_read');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('sel') === 'sys_read');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !new URL(location.href).searchParams.get('sel'));
  // Every select has a label.
  const unlabelled = await page.$$eval('select', (ss) => ss.filter((s) => !s.getAttribute('aria-label') && !(s.id && document.querySelector(`label[for="${s.id}"]`))).map((s) => s.id));
  assert.deepEqual(unlabelled, []);
});

await test('dark theme follows prefers-color-scheme', async () => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}&sel=compute`);
  await loaded();
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = bg.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 120, `dark background, got ${bg}`);
  const fg = await page.evaluate(() => getComputedStyle(document.querySelector('td')).color);
  assert.ok(fg.match(/\d+/g).map(Number).reduce((a, c) => a + c) > 450, `light text, got ${fg}`);
  assert.equal(await flameTotal(), 107);
  await page.screenshot({ path: join(shots, 'dark.png') });
  await page.emulateMedia({ colorScheme: 'light' });
});

await test('lost samples: their own series spread over the window, a banner with the cause', async () => {
  const t = T0 - 1200;
  await ingest(`time=${t}&label=host=h1`, 'app;main;work 100\n');
  await ingest(`time=${t + 20}&label=host=h1`, '[lost];[lost: ring buffer full] 500\n');
  await page.goto(`${base}/?from=${t - 30}&to=${t + 60}`);
  await loaded();
  // loaded() is the flame graph's; the time line and heat map answer on
  // their own requests, a moment later on a loaded machine.
  await page.waitForFunction(() => window.kiln.timeline && window.kiln.timeline.lost &&
    document.getElementById('heatmap').dataset.max !== undefined, null, { timeout: 15000 });
  const tl = await page.evaluate(() => window.kiln.timeline);
  assert.equal(tl.lost.total, 500);
  assert.ok(tl.lost.points.length >= 9 && Math.max(...tl.lost.points.map((p) => p[1])) <= 60, JSON.stringify(tl.lost.points));
  assert.equal(tl.series.reduce((a, s) => a + s.total, 0), 100, 'sampled series without the lost');
  assert.deepEqual(tl.lost.reasons, [{ reason: 'ring buffer full', count: 500 }]);
  assert.ok(await page.isVisible('#lost-banner'));
  assert.match(await page.textContent('#lost-banner'), /83\.3% of the samples in this range were lost .*ring buffer full/);
  assert.match(await page.textContent('#timeline-legend'), /lost samples/);
  // The heat map leaves them out.
  assert.equal(await page.getAttribute('#heatmap', 'data-max'), '100');
  assert.equal(await flameTotal(), 600);
  await page.click('#hide-lost');
  await page.waitForFunction(() => new URL(location.href).searchParams.getAll('filter').includes('comm!=[lost]'));
  await loaded();
  assert.equal(await flameTotal(), 100);
});

await test('[other] expands to the hidden frames', async () => {
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}&max=10`);
  await loaded();
  const other = await page.evaluate(() => {
    const f = window.kiln.flame;
    for (let d = 1; d < f.data.levels.length; d++) {
      const L = f.data.levels[d];
      for (let i = 0; i < L.n; i++) if (f.data.names[L.name[i]] === '[other]') return f.pathOf(d, i).join(';');
    }
    return null;
  });
  assert.ok(other, 'an [other] frame with max=10');
  assert.ok(await page.isVisible('#truncated'));
  const p = await nodeCenter(other);
  await page.mouse.click(p.x, p.y);
  await page.waitForFunction(() => document.body.dataset.expanded === '1');
  const parent = other.split(';').slice(0, -1).join(';');
  const kids = await page.evaluate((parent) => {
    const f = window.kiln.flame;
    let d = 0, i = 0;
    for (const nm of parent ? parent.split(';') : []) {
      const L = f.data.levels[d], K = f.data.levels[d + 1];
      for (let k = L.kid0[i]; k < L.kid1[i]; k++) if (f.data.names[K.name[k]] === nm) { i = k; break; }
      d++;
    }
    const L = f.data.levels[d], K = f.data.levels[d + 1], out = [];
    for (let k = L.kid0[i]; k < L.kid1[i]; k++) out.push(f.data.names[K.name[k]]);
    return { kids: out, total: f.data.total };
  }, parent);
  assert.ok(!kids.kids.includes('[other]'), `no [other] left under ${parent}: ${kids.kids}`);
  assert.equal(kids.total, 107);
  // Against the full tree: the same children, the hidden ones included.
  const full = await (await fetch(`${base}/api/v1/flamegraph?from=${T0}&to=${T0 + 180}`)).json();
  assert.equal(full.truncated, null);
  const fullKids = await page.evaluate(([fb, parent]) => {
    const t = window.KilnFlame.decodeTree(fb, false);
    let d = 0, i = 0;
    for (const nm of parent ? parent.split(';') : []) {
      const L = t.levels[d], K = t.levels[d + 1];
      for (let k = L.kid0[i]; k < L.kid1[i]; k++) if (t.names[K.name[k]] === nm) { i = k; break; }
      d++;
    }
    const L = t.levels[d], K = t.levels[d + 1], out = [];
    for (let k = L.kid0[i]; k < L.kid1[i]; k++) out.push(t.names[K.name[k]]);
    return out;
  }, [full, parent]);
  assert.deepEqual(kids.kids.slice().sort(), fullKids.slice().sort());
  assert.ok(fullKids.length > 1, 'several children, some of them hidden before');
});

await test('line view: file:line rows and the source with a heat column', async () => {
  await page.goto(`${base}/?from=${T0 - 960}&to=${T0 - 840}&sel=hot_loop`);
  await loaded();
  await page.click('#sw-lines');
  await page.waitForSelector('#lines-table');
  const rows = await page.$$eval('#lines-table tbody tr', (trs) => trs.map((t) => t.textContent));
  assert.equal(rows.length, 2);
  assert.match(rows[0], /hot\.c:3.*30.*30/);
  assert.match(rows[1], /hot\.c:5.*10.*10/);
  await page.waitForSelector('table.source');
  const hot = await page.$$eval('table.source tr.hot', (trs) => trs.map((t) => t.textContent));
  assert.equal(hot.length, 2);
  assert.match(hot[0], /^330\s*30\s*for \(;;\)/);
  // A relative path is named, not read.
  const r = await (await fetch(`${base}/api/v1/lines?from=${T0}&to=${T0 + 180}&function=compute`)).json();
  assert.match(r.sources[0].error, /relative path/);
  await page.screenshot({ path: join(shots, 'lines-view.png') });
  await page.keyboard.press('Escape');
  assert.ok(await page.isHidden('#lines-box'));
});

await test('compare downloads: the markdown table of kiln diff and the diff SVG', async () => {
  await page.goto(`${base}/?mode=diff&from=${T0}&to=${T0 + 60}&b_from=${T0 + 60}&b_to=${T0 + 180}`);
  await loaded();
  const { readFileSync } = await import('node:fs');
  await page.click('.menu summary');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="md"]')]);
  const md = readFileSync(await dl.path(), 'utf8');
  assert.match(md, /\| Function \| Base self/);
  assert.match(md, /too few samples to judge/);
  await page.click('.menu summary');
  const [dl2] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="svg"]')]);
  const svg = readFileSync(await dl2.path(), 'utf8');
  assert.match(svg, /kiln diff/);
  assert.match(svg, /A 0 \(0\.00%\), B 5 \(41\.67%\)/, 'helper only in B');
  assert.equal(await page.evaluate(() => document.getElementById('dl-menu').open), false);
});

await test('label filter values: in range, pids numeric with their process name; host picker', async () => {
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}`);
  await loaded();
  await page.selectOption('#fkey', 'pid');
  await page.waitForFunction(() => document.getElementById('fvals').children.length === 3);
  const opts = await page.$$eval('#fvals option', (os) => os.map((o) => o.value));
  assert.deepEqual(opts, ['100 app', '200 db', '300 app']);
  await page.fill('#fval', '200 db');
  await page.click('#fadd');
  await page.waitForFunction(() => new URL(location.href).searchParams.getAll('filter').includes('pid=200'));
  await loaded();
  assert.equal(await flameTotal(), 20);
  await page.click('#chips button');
  await loaded();
  // Hosts h1 and h2 in the range: the picker shows, and narrows to one.
  assert.ok(await page.isVisible('#host'));
  await page.selectOption('#host', 'h2');
  await page.waitForFunction(() => new URL(location.href).searchParams.getAll('filter').includes('host=h2'));
  await loaded();
  assert.equal(await flameTotal(), 7);
  await page.selectOption('#group', 'host');
  await page.selectOption('#host', '');
  await loaded();
  await page.waitForFunction(() => document.getElementById('timeline').dataset.series === '2');
  // The legend toggles a series.
  await page.click('#timeline-legend span:first-child');
  await page.waitForFunction(() => /h1/.test(new URL(location.href).searchParams.get('hide') || ''));
  assert.match(await page.getAttribute('#timeline-legend span:first-child', 'class'), /off/);
});

await test('no console errors', async () => {
  assert.deepEqual(consoleErrors, []);
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
