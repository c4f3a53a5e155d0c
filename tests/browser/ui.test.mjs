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

const { browser, page, consoleErrors } = await launch();
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
  const file = join(shots, `${String(++n).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`);
  await page.screenshot({ path: file, fullPage: true }).catch(() => {});
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

// Colour of the canvas pixel at page coordinates.
async function pixelAt(x, y) {
  return page.evaluate(([x, y]) => {
    const c = document.getElementById('flame'), r = c.getBoundingClientRect();
    const k = c.width / r.width;
    return Array.from(c.getContext('2d').getImageData(Math.round((x - r.left) * k), Math.round((y - r.top) * k), 1, 1).data);
  }, [x, y]);
}

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
  const rows = await page.$$eval('#top tbody tr', (trs) => trs.map((t) => t.dataset.name));
  assert.equal(rows[0], 'compute');
  assert.ok(Number(await page.getAttribute('#timeline', 'data-points')) >= 3);
  assert.ok(Number(await page.getAttribute('#heatmap', 'data-cells')) >= 5);
});

await test('hover shows a tooltip with counts', async () => {
  const p = await nodeCenter('app;main;work;sys_read');
  await page.mouse.move(p.x, p.y);
  const tip = await page.textContent('#tooltip');
  assert.match(tip, /sys_read/);
  assert.match(tip, /kernel/);
  assert.match(tip, /total: 20 samples \(18\.69%\)/);
  assert.match(tip, /self: 20 samples/);
});

await test('click zooms into a frame', async () => {
  const p = await nodeCenter('app;main;work');
  await page.mouse.click(p.x, p.y);
  await page.waitForFunction(() => new URL(location.href).searchParams.get('zoom'));
  assert.equal(await param('zoom'), 'app;main;work');
  assert.equal(await page.getAttribute('#crumbs', 'data-depth'), '3');
  const range = await page.evaluate(() => window.kiln.flame.viewRange());
  assert.equal(range[1] - range[0], 87);
  // The zoomed frame now spans the width: compute fills most of it.
  const c = await nodeCenter('app;main;work;compute');
  const box = await page.$eval('#flame', (e) => e.getBoundingClientRect().width);
  assert.ok(c.x > box * 0.3, `compute centre at ${c.x}`);
});

await test('search highlights matches and reports the share', async () => {
  await page.fill('#search', 'sys_r.*');
  await page.waitForFunction(() => /matched/.test(document.getElementById('matched').textContent));
  assert.equal(await page.textContent('#matched'), 'matched 18.69%');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('q') === 'sys_r.*');
  const p = await nodeCenter('app;main;work;sys_read');
  const px = await pixelAt(p.x, p.y - 6);
  assert.deepEqual(px.slice(0, 3), [216, 27, 96], `highlight colour, got ${px}`);
});

await test('reloaded URL restores the view', async () => {
  await page.check('#icicle');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('icicle') === '1');
  const url = page.url();
  await page.goto('about:blank');
  await page.goto(url);
  await loaded();
  assert.equal(await page.inputValue('#search'), 'sys_r.*');
  assert.equal(await page.textContent('#matched'), 'matched 18.69%');
  assert.equal(await page.getAttribute('#crumbs', 'data-depth'), '3');
  assert.ok(await page.isChecked('#icicle'));
  assert.equal(await page.evaluate(() => window.kiln.flame.icicle), true);
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
  await page.uncheck('#icicle');
});

await test('time line drag selects a range', async () => {
  const r = await page.$eval('#timeline', (e) => { const b = e.getBoundingClientRect(); return { x: b.left, y: b.top, w: b.width, h: b.height }; });
  await page.mouse.move(r.x + r.w * 0.004, r.y + r.h / 2);
  await page.mouse.down();
  await page.mouse.move(r.x + r.w * 0.2, r.y + r.h / 2, { steps: 5 });
  await page.mouse.move(r.x + r.w * 0.45, r.y + r.h / 2, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('from') === String(t), T0);
  assert.equal(await param('to'), String(T0 + 81));
  await loaded();
  assert.equal(await flameTotal(), 100);
  assert.equal(await page.inputValue('#to'), String(T0 + 81));
  await page.goBack();
  await page.waitForFunction((t) => new URL(location.href).searchParams.get('to') === String(t), T0 + 180);
  await loaded();
  assert.equal(await flameTotal(), 107);
});

await test('heat map drag selects a sub-second range', async () => {
  const r = await page.$eval('#heatmap', (e) => { const b = e.getBoundingClientRect(); return { x: b.left, y: b.top, w: b.width, h: b.height }; });
  const cw = r.w / 180, rh = r.h / 50;
  await page.mouse.move(r.x + cw * 0.3, r.y + rh * 0.5);
  await page.mouse.down();
  await page.mouse.move(r.x + cw * 0.6, r.y + rh * 10.5, { steps: 4 });
  await page.mouse.up();
  await page.waitForFunction(() => /\.\d{3}Z$/.test(new URL(location.href).searchParams.get('to') || ''));
  await loaded();
  // The first 220 ms of T0: only the 50 samples at T0 + 0.000.
  assert.equal(await flameTotal(), 50);
  await page.goBack();
  await loaded();
});

await test('label filter narrows the profile', async () => {
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
});

await test('table sorts and shows callers and callees', async () => {
  await page.click('#top th[data-sort="total"]');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('sort') === 'total');
  const first = await page.$eval('#top tbody tr', (t) => t.dataset.name);
  assert.equal(first, 'main');
  await page.click('#top tbody tr[data-name="compute"]');
  await page.waitForSelector('#sandwich:not([hidden])');
  const callers = await page.$$eval('#sw-callers a', (as) => as.map((a) => a.textContent));
  assert.deepEqual(callers.sort(), ['helper', 'work']);
  await page.click('#sw-focus');
  await page.waitForFunction(() => new URL(location.href).searchParams.get('focus') === 'compute');
  assert.equal(await flameTotal(), 72);
  await page.click('#unfocus');
  await page.waitForFunction(() => !new URL(location.href).searchParams.get('focus'));
  assert.equal(await flameTotal(), 107);
});

await test('compare mode renders a diff', async () => {
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
  assert.deepEqual(head, ['function', 'A self %', 'B self %', 'Δ self', 'Δ total']);
  // db;main;helper only exists in B: its share grew, so it is orange.
  const p = await nodeCenter('db;main;helper');
  const px = await pixelAt(p.x, p.y - 6);
  assert.ok(px[0] > px[2] + 40, `grew is orange, got ${px}`);
  const q = await nodeCenter('db;main;idle');
  const qx = await pixelAt(q.x, q.y - 6);
  assert.ok(qx[2] > qx[0] + 40, `shrank is blue, got ${qx}`);
  const url = page.url();
  await page.goto(url);
  await loaded();
  assert.equal(await page.evaluate(() => window.kiln.flame.data.totalB), 12);
});

await test('download folded stacks', async () => {
  await page.click('#mode-flame');
  await page.goto(`${base}/?from=${T0}&to=${T0 + 180}`);
  await loaded();
  await page.click('.menu summary');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-export="folded"]')]);
  const path = await dl.path();
  const { readFileSync } = await import('node:fs');
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes('app;main;work;compute 67'), text);
});

await test('no console errors', async () => {
  assert.deepEqual(consoleErrors, []);
});

await browser.close();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
