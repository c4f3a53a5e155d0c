// SPDX-License-Identifier: MIT
// Browser side of the web bench.
//   node bench.mjs BASE_URL
//     loads the UI on a store whose flame graph has ~100k nodes and
//     measures, inside Chromium, the time to decode and draw it, to zoom
//     (click path: zoomTo + render), to search (regex over names, redraw,
//     table filter), to hover (hit test + tooltip) and to pick a table row
//     (outline every occurrence, sandwich graphs); as the reference, the
//     same nodes as an SVG of <rect>s the way flamegraph.pl's output is
//     drawn, laid out and painted, then searched and zoomed the way its
//     script does (attributes of every frame).
//   node bench.mjs BASE_URL ttfg END_SECONDS
//     time to first flame graph: from navigation to the graph and table
//     drawn, for the 15 min, 1 h and 24 h ending at END (median of 3, a
//     fresh page each time), beside the flame graph request alone.
import { launch } from './browser.mjs';

const [base, mode, endS] = process.argv.slice(2);
const { browser, page, consoleErrors } = await launch({ width: 1600, height: 1000 });
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];

if (mode === 'ttfg') {
  const end = Number(endS);
  for (const [name, secs] of [['15 min', 900], ['1 h', 3600], ['24 h', 86400]]) {
    const ttfg = [], api = [];
    let total = 0, nodes = 0;
    for (let i = 0; i < 3; i++) {
      await page.goto('about:blank');
      await page.goto(`${base}/?from=${end - secs}&to=${end}`);
      await page.waitForFunction(() => document.body.dataset.loaded === '1', null, { timeout: 120000 });
      const r = await page.evaluate(() => ({ t: Number(document.body.dataset.firstDrawMs), status: document.getElementById('status').textContent,
        total: window.kiln.flame.data.total }));
      ttfg.push(r.t);
      api.push(Number(/ (\d+) ms/.exec(r.status)[1]));
      total = r.total;
      nodes = Number(/(\d+) nodes/.exec(r.status)[1]);
    }
    console.log(`first flame graph, ${name}: ${median(ttfg).toFixed(0)} ms from navigation (flame graph + table requests ${median(api)} ms; ${total} samples, ${nodes} nodes drawn)`);
    console.log(`RESULT ttfg ${secs} ${median(ttfg).toFixed(0)} ${median(api)}`);
  }
  if (consoleErrors.length) console.log('console errors:', consoleErrors);
  await browser.close();
  process.exit(0);
}
await page.goto(`${base}/?from=-2h&max=200000`);
await page.waitForFunction(() => document.body.dataset.loaded === '1', null, { timeout: 60000 });

const r = await page.evaluate(async () => {
  const { decodeTree } = window.KilnFlame;
  const f = window.kiln.flame;
  const raw = f.data.raw || null;
  const nodes = f.data.levels.reduce((s, L) => s + L.n, 0);
  const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const frame = () => new Promise((res) => requestAnimationFrame(() => setTimeout(res, 0)));
  // Decode + first draw, as on load, several times.
  const resp = await fetch(`/api/v1/flamegraph?from=-2h&max_nodes=200000`);
  const fb = await resp.json();
  const draws = [], decodes = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const data = decodeTree(fb, false);
    const t1 = performance.now();
    f.setData(data);
    f.render();
    const t2 = performance.now();
    decodes.push(t1 - t0);
    draws.push(t2 - t1);
    await frame();
  }
  // Zoom: into frames at depth 1..6 and back out, each a full redraw.
  const zooms = [];
  for (let d = 1; d < Math.min(7, f.data.levels.length); d++) {
    const L = f.data.levels[d];
    let best = 0;
    for (let i = 1; i < L.n; i++) if (L.w[i] > L.w[best]) best = i;
    for (const target of [[d, best], [0, 0]]) {
      const t0 = performance.now();
      f.zoomTo(target[0], target[1]);
      zooms.push(performance.now() - t0);
      await frame();
    }
  }
  // Search: the box's regex over every name, redraw, table filtered.
  const searches = [];
  for (const q of ['fn_1.*', 'k_func', 'FN_2[0-9]+$', 'nothing_matches', '']) {
    const t0 = performance.now();
    window.kiln.setState({ q: q || null }, { replace: true });
    searches.push(performance.now() - t0);
    await frame();
  }
  // Hover: hit test and tooltip at points across the canvas.
  const c = document.getElementById('flame'), cr = c.getBoundingClientRect();
  const hovers = [];
  for (let k = 0; k < 40; k++) {
    const ev = new MouseEvent('mousemove', { clientX: cr.left + ((k * 37) % 100) / 100 * cr.width,
      clientY: cr.top + Math.min(cr.height - 2, (k % 20) * 18 + 9), bubbles: true });
    const t0 = performance.now();
    c.dispatchEvent(ev);
    hovers.push(performance.now() - t0);
  }
  // Picking a table row: row and outlines at once, the sandwich graphs in
  // the next frame; timed to both painted.
  const picks = [], marks = [];
  for (const tr of Array.from(document.querySelectorAll('#top tbody tr[data-name]')).slice(0, 5)) {
    const t0 = performance.now();
    window.kiln.setState({ sel: tr.dataset.name });
    marks.push(performance.now() - t0);
    await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
    picks.push(performance.now() - t0);
    await frame();
  }
  window.kiln.setState({ sel: null });
  // Reference: the same nodes as SVG rects (flamegraph.pl's way), laid
  // out and painted by Chromium.
  const W = 1576, ROW = 16, depth = f.data.levels.length, scale = W / f.data.total;
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${depth * ROW}">`;
  f.data.levels.forEach((L, d) => {
    for (let i = 0; i < L.n; i++) {
      const w = L.w[i] * scale;
      if (w < 0.1) continue; // flamegraph.pl's --minwidth default
      svg += `<g><title>${f.data.names[L.name[i]]}</title><rect x="${(L.x[i] * scale).toFixed(1)}" y="${(depth - d - 1) * ROW}" width="${w.toFixed(1)}" height="15" fill="rgb(230,${(i * 7) % 200},50)"/>` +
        (w > 30 ? `<text x="${(L.x[i] * scale + 3).toFixed(1)}" y="${(depth - d - 1) * ROW + 11}">${f.data.names[L.name[i]].slice(0, Math.floor(w / 7))}</text>` : '') + '</g>';
    }
  });
  svg += '</svg>';
  const svgRects = (svg.match(/<rect/g) || []).length;
  const host = document.createElement('div');
  document.body.appendChild(host);
  const s0 = performance.now();
  host.innerHTML = svg;
  host.getBoundingClientRect();
  await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
  const svgMs = performance.now() - s0;
  // flamegraph.pl's search and zoom rewrite attributes of every frame.
  const gs = Array.from(host.querySelectorAll('g'));
  const t1 = performance.now();
  const re = /fn_1.*/;
  for (const g of gs) {
    const r = g.querySelector('rect');
    if (re.test(g.firstChild.textContent)) r.setAttribute('fill', 'rgb(230,0,230)');
  }
  await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
  const svgSearch = performance.now() - t1;
  const t2 = performance.now();
  for (const g of gs) {
    const r = g.querySelector('rect');
    r.setAttribute('x', String(Number(r.getAttribute('x')) * 2 - 400));
    r.setAttribute('width', String(Number(r.getAttribute('width')) * 2));
  }
  await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
  const svgZoom = performance.now() - t2;
  host.remove();
  return { nodes, levels: f.data.levels.length, decode: med(decodes), draw: med(draws), drawMax: Math.max(...draws),
    zoom: med(zooms), zoomMax: Math.max(...zooms), svgMs, svgRects, bytes: JSON.stringify(fb).length,
    search: med(searches), searchMax: Math.max(...searches), hover: med(hovers), hoverMax: Math.max(...hovers),
    pick: med(picks), pickMax: Math.max(...picks), mark: med(marks), svgSearch, svgZoom };
});
console.log(`browser flame graph: ${r.nodes} nodes, ${r.levels} levels, JSON ${(r.bytes / 1048576).toFixed(1)} MB`);
console.log(`  decode ${r.decode.toFixed(1)} ms, draw ${r.draw.toFixed(1)} ms (max ${r.drawMax.toFixed(1)}), ` +
  `zoom redraw ${r.zoom.toFixed(1)} ms (max ${r.zoomMax.toFixed(1)})`);
console.log(`  reference: same tree as flamegraph.pl-style SVG (${r.svgRects} rects) ${r.svgMs.toFixed(0)} ms to lay out and paint ` +
  `-> canvas decode+draw is ${(r.svgMs / (r.decode + r.draw)).toFixed(0)}x faster`);
console.log(`  search ${r.search.toFixed(1)} ms (max ${r.searchMax.toFixed(1)}), hover ${r.hover.toFixed(2)} ms (max ${r.hoverMax.toFixed(2)}), ` +
  `table row pick: outlines ${r.mark.toFixed(1)} ms, with the sandwich graphs painted ${r.pick.toFixed(1)} ms (max ${r.pickMax.toFixed(1)})`);
console.log(`  reference, flamegraph.pl-style SVG: search ${r.svgSearch.toFixed(0)} ms, zoom ${r.svgZoom.toFixed(0)} ms (attributes of every frame, then paint)`);
console.log(`RESULT interact ${r.search.toFixed(1)} ${r.hover.toFixed(2)} ${r.pick.toFixed(1)} ${r.svgSearch.toFixed(0)} ${r.svgZoom.toFixed(0)}`);
console.log(`RESULT browser ${r.nodes} ${r.decode.toFixed(1)} ${r.draw.toFixed(1)} ${r.zoom.toFixed(1)} ${r.svgMs.toFixed(0)}`);
if (consoleErrors.length) console.log('console errors:', consoleErrors);
await browser.close();
