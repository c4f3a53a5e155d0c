// SPDX-License-Identifier: MIT
// Browser side of the web bench: loads the UI on a store whose flame graph
// has ~100k nodes and measures, inside Chromium, the time to decode and
// draw it, to zoom (click path: zoomTo + render), and, as the reference, the
// time Chromium takes to lay out and paint the same nodes as an SVG of
// <rect>s the way flamegraph.pl's output is drawn.
// Usage: node bench.mjs BASE_URL
import { launch } from './browser.mjs';

const [base] = process.argv.slice(2);
const { browser, page, consoleErrors } = await launch({ width: 1600, height: 1000 });
await page.goto(`${base}/?from=-2h&max=1000000`);
await page.waitForFunction(() => document.body.dataset.loaded === '1', null, { timeout: 60000 });

const r = await page.evaluate(async () => {
  const { decodeTree } = window.KilnFlame;
  const f = window.kiln.flame;
  const raw = f.data.raw || null;
  const nodes = f.data.levels.reduce((s, L) => s + L.n, 0);
  const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const frame = () => new Promise((res) => requestAnimationFrame(() => setTimeout(res, 0)));
  // Decode + first draw, as on load, several times.
  const resp = await fetch(`/api/v1/flamegraph?from=-2h&max_nodes=1000000`);
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
  host.remove();
  return { nodes, levels: f.data.levels.length, decode: med(decodes), draw: med(draws), drawMax: Math.max(...draws),
    zoom: med(zooms), zoomMax: Math.max(...zooms), svgMs, svgRects, bytes: JSON.stringify(fb).length };
});
console.log(`browser flame graph: ${r.nodes} nodes, ${r.levels} levels, JSON ${(r.bytes / 1048576).toFixed(1)} MB`);
console.log(`  decode ${r.decode.toFixed(1)} ms, draw ${r.draw.toFixed(1)} ms (max ${r.drawMax.toFixed(1)}), ` +
  `zoom redraw ${r.zoom.toFixed(1)} ms (max ${r.zoomMax.toFixed(1)})`);
console.log(`  reference: same tree as flamegraph.pl-style SVG (${r.svgRects} rects) ${r.svgMs.toFixed(0)} ms to lay out and paint ` +
  `-> canvas decode+draw is ${(r.svgMs / (r.decode + r.draw)).toFixed(0)}x faster`);
console.log(`RESULT browser ${r.nodes} ${r.decode.toFixed(1)} ${r.draw.toFixed(1)} ${r.zoom.toFixed(1)} ${r.svgMs.toFixed(0)}`);
if (consoleErrors.length) console.log('console errors:', consoleErrors);
await browser.close();
