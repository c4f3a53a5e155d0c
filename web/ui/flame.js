// SPDX-License-Identifier: MIT
// Canvas flame graph for kiln's compact tree ("names" + "levels" of ints).
// Decoded once into typed arrays per level; drawing walks only the nodes in
// the visible x range, and frames narrower than a pixel are merged into grey
// runs so they never vanish silently.
(function () {
'use strict';

const ROW = 18;
const KIND_NAMES = { u: 'user', k: 'kernel', i: 'inlined', j: 'JIT', s: 'kiln', p: 'process' };

function hashStr(s) {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

// Stable colour per (name, kind): a hue band per kind, the name picks the
// shade inside it, so a function keeps its colour across views and reloads.
function frameColor(name, kind) {
  const h = hashStr(name);
  const r1 = (h & 0xff) / 255, r2 = ((h >>> 8) & 0xff) / 255;
  switch (kind) {
    case 'k': return `hsl(${195 + r1 * 30},${55 + r2 * 20}%,${60 + r2 * 10}%)`;
    case 'i': return `hsl(${85 + r1 * 45},${45 + r2 * 20}%,${55 + r2 * 10}%)`;
    case 'j': return `hsl(${270 + r1 * 35},${45 + r2 * 20}%,${65 + r2 * 8}%)`;
    case 's': return `hsl(0,0%,${70 + r1 * 10}%)`;
    case 'p': return `hsl(${30 + r1 * 10},${20 + r2 * 15}%,${72 + r2 * 8}%)`;
    default: return `hsl(${r1 * 50},${70 + r2 * 20}%,${55 + r2 * 10}%)`;
  }
}

// Diff colour: blue = share shrank, orange = grew (colour-blind safe),
// intensity linear in |delta| relative to the largest change.
function diffColor(delta, maxAbs) {
  if (!maxAbs || Math.abs(delta) < 1e-12) return 'hsl(0,0%,86%)';
  const t = Math.min(1, Math.abs(delta) / maxAbs);
  const light = 90 - t * 45;
  return delta > 0 ? `hsl(30,95%,${light}%)` : `hsl(212,85%,${light}%)`;
}

// One buffer per field for all levels (views per level): few, large
// allocations keep decoding 100k+ nodes fast and the GC quiet.
function allocLevels(counts, diff) {
  const total = counts.reduce((a, b) => a + b, 0);
  const F = (n) => new Float64Array(n), I = (n) => new Int32Array(n);
  const buf = { x: F(total), w: F(total), ta: F(total), sa: F(total),
    tb: diff ? F(total) : null, sb: diff ? F(total) : null,
    name: I(total), parent: I(total), kid0: I(total), kid1: I(total) };
  let off = 0;
  return counts.map((n) => {
    const L = { n };
    for (const k of Object.keys(buf)) L[k] = buf[k] ? buf[k].subarray(off, off + n) : null;
    off += n;
    return L;
  });
}

function decodeTree(fb, diff, norm) {
  const stride = diff ? 6 : 4;
  const levels = allocLevels(fb.levels.map((a) => a.length / stride), diff);
  for (let d = 0; d < fb.levels.length; d++) {
    const arr = fb.levels[d], L = levels[d];
    const n = L.n, X = L.x, Wd = L.w, TA = L.ta, SA = L.sa, NM = L.name;
    let end = 0;
    for (let i = 0, o = 0; i < n; i++, o += stride) {
      const x = end + arr[o];
      let w = arr[o + 1];
      TA[i] = w;
      SA[i] = arr[o + 2];
      if (diff) {
        L.tb[i] = arr[o + 3];
        L.sb[i] = arr[o + 4];
        w += arr[o + 3];
      }
      NM[i] = arr[o + stride - 1];
      X[i] = x;
      Wd[i] = w;
      end = x + w;
    }
  }
  linkLevels(levels);
  const out = { names: fb.names, kinds: fb.kinds, files: fb.files || [],
    sysnames: fb.sysnames || [], modules: fb.modules || [], diff, levels,
    total: levels.length ? levels[0].w[0] : 0,
    totalA: diff ? fb.total_a : (levels.length ? levels[0].ta[0] : 0),
    totalB: diff ? fb.total_b : 0, raw: fb };
  if (diff && norm && out.totalA && out.totalB) normalise(out);
  return out;
}

// Diff widths with A and B weighted equally (each side's samples scaled
// to the mean of both totals), so a longer B does not look like growth.
// Children are laid out from their parent's start, as the server does.
function normalise(data) {
  const A = data.totalA, B = data.totalB, kA = (A + B) / (2 * A), kB = (A + B) / (2 * B);
  for (const L of data.levels)
    for (let i = 0; i < L.n; i++) L.w[i] = L.ta[i] * kA + L.tb[i] * kB;
  for (let d = 1; d < data.levels.length; d++) {
    const P = data.levels[d - 1], L = data.levels[d];
    for (let p = 0; p < P.n; p++) {
      let x = P.x[p];
      for (let c = P.kid0[p]; c < P.kid1[p]; c++) { L.x[c] = x; x += L.w[c]; }
    }
  }
  data.total = data.levels.length ? data.levels[0].w[0] : 0;
  data.normalised = true;
}

// Parent and child ranges: children of a node are contiguous in the next
// level because both levels are in x order.
function linkLevels(levels) {
  for (let d = 0; d < levels.length; d++) {
    const L = levels[d];
    L.kid0.fill(0);
    L.kid1.fill(0);
    if (d === 0) { L.parent.fill(-1); continue; }
    const P = levels[d - 1];
    let j = 0;
    for (let i = 0; i < L.n; i++) {
      while (j < P.n - 1 && P.x[j] + P.w[j] <= L.x[i]) j++;
      L.parent[i] = j;
      if (P.kid1[j] === P.kid0[j]) P.kid0[j] = i;
      P.kid1[j] = i + 1;
    }
  }
}

// Encodes a tree of plain objects {name, ta, sa, tb, sb, kids: Map} into
// the decoded form (used for the focused "sandwich" view).
function encodeTree(root, src) {
  const diff = src.diff;
  const rows = [];
  let cur = [{ node: root, x: 0 }];
  while (cur.length) {
    rows.push(cur);
    const next = [];
    for (const e of cur) {
      let x = e.x;
      const kids = [...e.node.kids.values()].sort((a, b) =>
        src.names[a.name] < src.names[b.name] ? -1 : src.names[a.name] > src.names[b.name] ? 1 : 0);
      for (const k of kids) {
        next.push({ node: k, x });
        x += k.w !== undefined ? k.w : k.ta + (diff ? k.tb : 0);
      }
    }
    cur = next;
  }
  const levels = allocLevels(rows.map((r) => r.length), diff);
  rows.forEach((row, d) => {
    const L = levels[d];
    row.forEach((e, i) => {
      const nd = e.node;
      L.x[i] = e.x;
      L.ta[i] = nd.ta; L.sa[i] = nd.sa;
      if (diff) { L.tb[i] = nd.tb; L.sb[i] = nd.sb; }
      L.w[i] = nd.w !== undefined ? nd.w : nd.ta + (diff ? nd.tb : 0);
      L.name[i] = nd.name;
    });
  });
  linkLevels(levels);
  return { names: src.names, kinds: src.kinds, files: src.files,
    sysnames: src.sysnames, modules: src.modules, diff: src.diff, levels,
    total: levels.length ? levels[0].w[0] : 0, totalA: src.totalA, totalB: src.totalB, focused: true, raw: src.raw };
}

// The decoded tree as plain objects (for grafting and re-encoding).
function toObj(data, d, i) {
  const L = data.levels[d];
  const o = { name: L.name[i], ta: L.ta[i], sa: L.sa[i], tb: data.diff ? L.tb[i] : 0, sb: data.diff ? L.sb[i] : 0, kids: new Map() };
  if (data.normalised) o.w = L.w[i];
  if (d + 1 < data.levels.length)
    for (let c = L.kid0[i]; c < L.kid1[i]; c++) {
      const k = toObj(data, d + 1, c);
      o.kids.set(k.name, k);
    }
  return o;
}

// Replaces the children of the node at 'path' in 'data' by those of the
// same node in 'sub' (the server's full-detail answer for that subtree).
// Returns the new tree, or null when the path is not in both.
function graft(data, path, sub) {
  const find = (t, p) => {
    let d = 0, i = 0;
    for (const nm of p) {
      if (d + 1 >= t.levels.length) return null;
      const L = t.levels[d], K = t.levels[d + 1];
      let f = -1;
      for (let c = L.kid0[i]; c < L.kid1[i]; c++) if (t.names[K.name[c]] === nm) { f = c; break; }
      if (f < 0) return null;
      d++; i = f;
    }
    return { d, i };
  };
  const at = find(data, path), sat = find(sub, path);
  if (!at || !sat) return null;
  // Names of the sub tree mapped into the tree's name table.
  const names = data.names.slice(), files = (data.files || []).slice();
  let kinds = data.kinds;
  const index = new Map(names.map((n, k) => [n + '\u0000' + kinds[k], k]));
  const map = sub.names.map((n, k) => {
    const key = n + '\u0000' + sub.kinds[k];
    let j = index.get(key);
    if (j === undefined) { j = names.length; names.push(n); kinds += sub.kinds[k]; files.push((sub.files || [])[k] || ''); index.set(key, j); }
    return j;
  });
  const remap = (o) => { o.name = map[o.name]; const kids = new Map(); for (const k of o.kids.values()) { remap(k); kids.set(k.name, k); } o.kids = kids; return o; };
  const root = toObj(data, 0, 0);
  let node = root;
  for (const nm of path) node = [...node.kids.values()].find((k) => data.names[k.name] === nm);
  const subNode = remap(toObj(sub, sat.d, sat.i));
  node.kids = subNode.kids;
  const out = encodeTree(root, { names, kinds, files, diff: data.diff, totalA: data.totalA, totalB: data.totalB, raw: data.raw });
  out.focused = false;
  return out;
}

// Callers (the function at the root, its callers above it) and callees
// (the function at the root, what it calls below) of a function, merged
// over its outermost occurrences, for the sandwich view.
function callTrees(data, nameIdx) {
  const mk = (name) => ({ name, ta: 0, sa: 0, tb: 0, sb: 0, kids: new Map() });
  const callers = mk(nameIdx), callees = mk(nameIdx);
  let self = 0;
  // Outermost occurrences first: their width sets what is too narrow to
  // see in a small graph (under 1/2000 of it), which is left out.
  const outer = [];
  let width = 0;
  for (let d = 1; nameIdx >= 0 && d < data.levels.length; d++) {
    const L = data.levels[d];
    for (let i = 0; i < L.n; i++) {
      if (L.name[i] !== nameIdx) continue;
      self += L.sa[i] + (data.diff ? L.sb[i] : 0);
      let inner = false;
      for (let pd = d - 1, p = L.parent[i]; pd > 0; p = data.levels[pd].parent[p], pd--)
        if (data.levels[pd].name[p] === nameIdx) { inner = true; break; }
      if (inner) continue;
      outer.push(d, i);
      width += L.w[i];
    }
  }
  const min = width / 2000;
  const add = (dst, d, i) => {
    const L = data.levels[d];
    dst.ta += L.ta[i]; dst.sa += L.sa[i];
    if (data.diff) { dst.tb += L.tb[i]; dst.sb += L.sb[i]; }
    if (d + 1 >= data.levels.length) return;
    const K = data.levels[d + 1];
    for (let c = L.kid0[i]; c < L.kid1[i]; c++) {
      if (K.w[c] < min) continue;
      const nm = K.name[c];
      let k = dst.kids.get(nm);
      if (!k) { k = mk(nm); dst.kids.set(nm, k); }
      add(k, d + 1, c);
    }
  };
  for (let o = 0; o < outer.length; o += 2) {
    const d = outer[o], i = outer[o + 1], L = data.levels[d];
    add(callees, d, i);
    // The chain of callers, innermost first, weighted by this node.
    callers.ta += L.ta[i];
    if (data.diff) callers.tb += L.tb[i];
    let cur = callers;
    for (let pd = d - 1, p = L.parent[i]; pd >= 1; p = data.levels[pd].parent[p], pd--) {
      const nm = data.levels[pd].name[p];
      let k = cur.kids.get(nm);
      if (!k) { k = mk(nm); cur.kids.set(nm, k); }
      k.ta += L.ta[i];
      if (data.diff) k.tb += L.tb[i];
      cur = k;
    }
  }
  const src = { names: data.names, kinds: data.kinds, files: data.files, diff: data.diff, totalA: data.totalA, totalB: data.totalB };
  const t = callees.ta + (data.diff ? callees.tb : 0);
  return { callers: encodeTree(callers, src), callees: encodeTree(callees, src), total: t, self };
}

// Folded stacks of the tree on screen (or the subtree at 'sub'), with
// two counts per line (A B) for a diff, as difffolded.pl writes them.
function toFolded(data, sub) {
  const out = [];
  const walk = (d, i, path) => {
    const L = data.levels[d];
    const p = d === 0 ? path : path.concat([data.names[L.name[i]]]);
    const selfA = L.sa[i], selfB = data.diff ? L.sb[i] : 0;
    if (p.length && (selfA || selfB)) out.push(p.join(';') + ' ' + (data.diff ? selfA + ' ' + selfB : selfA));
    if (d + 1 < data.levels.length) for (let c = L.kid0[i]; c < L.kid1[i]; c++) walk(d + 1, c, p);
  };
  let start = [];
  if (sub) {
    for (let d = sub.d, i = sub.i; d > 0; i = data.levels[d].parent[i], d--) start.unshift(data.names[data.levels[d].name[i]]);
    start.pop();
    walk(sub.d, sub.i, start);
  } else walk(0, 0, start);
  return out.join('\n') + '\n';
}

// A self-contained SVG flame graph of the view (flamegraph.pl layout:
// root at the bottom, a <title> per frame), no script.
function toSVG(data, sub, opts) {
  const W = 1200, ROWH = 16, lv = data.levels;
  const d0 = sub ? sub.d : 0, i0 = sub ? sub.i : 0;
  const L0 = lv[d0], v0 = L0.x[i0], v1 = v0 + L0.w[i0], sc = W / (v1 - v0 || 1);
  let depth = 0;
  const rects = [];
  const walk = (d, i) => {
    const L = lv[d], w = L.w[i] * sc;
    if (w < 0.1) return;
    depth = Math.max(depth, d - d0 + 1);
    rects.push([d - d0, (L.x[i] - v0) * sc, w, d, i]);
    if (d + 1 < lv.length) for (let c = L.kid0[i]; c < L.kid1[i]; c++) walk(d + 1, c);
  };
  walk(d0, i0);
  const H = depth * ROWH + 40;
  const pct = (v, t) => (t ? (100 * v / t).toFixed(2) : '0') + '%';
  let s = `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="monospace" font-size="11">\n`;
  s += `<rect width="100%" height="100%" fill="#fff"/><text x="${W / 2}" y="18" text-anchor="middle" font-size="15">${esc(opts.title || 'kiln')}</text>\n`;
  for (const [r, x, w, d, i] of rects) {
    const L = lv[d], ni = L.name[i], name = data.names[ni];
    const y = H - (r + 1) * ROWH - 4;
    let fill, info;
    if (data.diff) {
      fill = diffColor(L.tb[i] / (data.totalB || 1) - L.ta[i] / (data.totalA || 1), opts.colorMax);
      info = `A ${L.ta[i]} (${pct(L.ta[i], data.totalA)}), B ${L.tb[i]} (${pct(L.tb[i], data.totalB)})`;
    } else {
      fill = opts.colors ? opts.colors[ni] : frameColor(name, data.kinds[ni]);
      info = `${L.ta[i]} samples, ${pct(L.ta[i], data.total)}`;
    }
    s += `<g><title>${esc(name)} (${info})</title><rect x="${x.toFixed(1)}" y="${y}" width="${Math.max(0.1, w - 0.5).toFixed(1)}" height="${ROWH - 1}" fill="${fill}" rx="1"/>`;
    const maxc = Math.floor((w - 4) / 6.6);
    if (maxc >= 3) s += `<text x="${(x + 2).toFixed(1)}" y="${y + 11}">${esc(name.length <= maxc ? name : name.slice(0, maxc - 2) + '..')}</text>`;
    s += '</g>\n';
  }
  return s + '</svg>\n';
}

// All subtrees rooted at function 'nameIdx' (outermost occurrences) merged
// into one tree under the root: "what does X do, from every caller".
function focusTree(data, nameIdx) {
  const mk = (name) => ({ name, ta: 0, sa: 0, tb: 0, sb: 0, kids: new Map() });
  const root = mk(data.levels[0].name[0]);
  const top = mk(nameIdx);
  root.kids.set(nameIdx, top);
  const add = (dst, d, i) => {
    const L = data.levels[d];
    dst.ta += L.ta[i]; dst.sa += L.sa[i];
    if (data.diff) { dst.tb += L.tb[i]; dst.sb += L.sb[i]; }
    if (d + 1 >= data.levels.length) return;
    for (let c = L.kid0[i]; c < L.kid1[i]; c++) {
      const nm = data.levels[d + 1].name[c];
      let k = dst.kids.get(nm);
      if (!k) { k = mk(nm); dst.kids.set(nm, k); }
      add(k, d + 1, c);
    }
  };
  for (let d = 1; d < data.levels.length; d++) {
    const L = data.levels[d];
    for (let i = 0; i < L.n; i++) {
      if (L.name[i] !== nameIdx) continue;
      let inner = false;
      for (let pd = d - 1, p = L.parent[i]; pd > 0; p = data.levels[pd].parent[p], pd--)
        if (data.levels[pd].name[p] === nameIdx) { inner = true; break; }
      if (!inner) add(top, d, i);
    }
  }
  root.ta = top.ta; root.tb = top.tb;
  return encodeTree(root, data);
}

// Callers and callees of a function, aggregated by name (sandwich view).
function neighbours(data, nameIdx) {
  const callers = new Map(), callees = new Map();
  const bump = (m, k, a, b) => {
    const e = m.get(k) || { name: k, a: 0, b: 0 };
    e.a += a; e.b += b;
    m.set(k, e);
  };
  for (let d = 1; d < data.levels.length; d++) {
    const L = data.levels[d];
    for (let i = 0; i < L.n; i++) {
      if (L.name[i] !== nameIdx) continue;
      const P = data.levels[d - 1];
      bump(callers, P.name[L.parent[i]], L.ta[i], data.diff ? L.tb[i] : 0);
      if (d + 1 < data.levels.length) {
        const K = data.levels[d + 1];
        for (let c = L.kid0[i]; c < L.kid1[i]; c++)
          bump(callees, K.name[c], K.ta[c], data.diff ? K.tb[c] : 0);
      }
    }
  }
  const sorted = (m) => [...m.values()].sort((x, y) => (y.a + y.b) - (x.a + x.b));
  return { callers: sorted(callers), callees: sorted(callees) };
}

// Colours per name table, computed once: the sandwich graphs and focused
// views share the name table of the tree they come from.
const colorCache = new WeakMap();
function colorsOf(data) {
  let c = colorCache.get(data.names);
  if (!c || c.length !== data.names.length) {
    c = data.names.map((n, i) => frameColor(n, data.kinds[i]));
    colorCache.set(data.names, c);
  }
  return c;
}

class FlameGraph {
  constructor(canvas, tooltip, opts) {
    this.canvas = canvas;
    this.tooltip = tooltip;
    this.opts = opts || {};
    this.data = null;
    this.icicle = false;
    this.zoom = null; // {d, i}
    this.search = null;
    this.matched = null; // per level Uint8Array
    this.colors = [];
    this.maxDelta = 0;
    this.colorMax = 0;
    this.cap = 'auto';
    this.sel = -1;
    this.cursor = null; // keyboard position {d, i}
    this.pctTotal = 0;
    this.lastDrawMs = 0;
    canvas.addEventListener('click', (e) => this.onClick(e));
    canvas.addEventListener('mousemove', (e) => this.onMove(e));
    canvas.addEventListener('mouseleave', () => { this.tooltip.hidden = true; });
    canvas.addEventListener('keydown', (e) => this.onKey(e));
    canvas.addEventListener('blur', () => { this.tooltip.hidden = true; });
    window.addEventListener('resize', () => this.render());
  }

  setSelected(name) {
    this.sel = this.data && name ? this.data.names.indexOf(name) : -1;
    this.render();
  }

  // The |change of share| at full colour: the 95th percentile of the
  // nodes' changes by default, so one big change does not wash out the
  // rest; a fixed number of percentage points; or the largest.
  updateColorMax() {
    const data = this.data;
    this.colorMax = 0;
    if (!data || !data.diff) return;
    if (this.cap === 'max') { this.colorMax = this.maxDelta; return; }
    if (this.cap !== 'auto' && Number(this.cap) > 0) { this.colorMax = Number(this.cap) / 100; return; }
    const A = data.totalA || 1, B = data.totalB || 1, all = [];
    for (const L of data.levels)
      for (let i = 0; i < L.n; i++) {
        const dl = Math.abs(L.tb[i] / B - L.ta[i] / A);
        if (dl > 1e-9) all.push(dl);
      }
    all.sort((a, b) => a - b);
    // At least 0.5 pp: in a diff of two alike ranges the changes are
    // sampling noise, and noise must stay pale.
    this.colorMax = all.length ? Math.max(all[Math.floor(0.95 * (all.length - 1))], 0.005) : 0;
  }

  setData(data) {
    this.data = data;
    this.zoom = null;
    this.cursor = null;
    this.colors = colorsOf(data);
    this.maxDelta = 0;
    if (data.diff) {
      const A = data.totalA || 1, B = data.totalB || 1;
      for (const L of data.levels)
        for (let i = 0; i < L.n; i++) {
          const dlt = Math.abs(L.tb[i] / B - L.ta[i] / A);
          if (dlt > this.maxDelta) this.maxDelta = dlt;
        }
    }
    this.colorCap = null;
    this.applySearch();
  }

  // Zooms to the node at the end of a path of names; returns false if the
  // path no longer exists (different data), leaving the view reset.
  zoomToPath(path) {
    this.zoom = null;
    if (!this.data || !path || !path.length) return !path || !path.length;
    const names = this.data.names;
    let d = 0, i = 0;
    for (const nm of path) {
      const L = this.data.levels[d];
      if (d + 1 >= this.data.levels.length) return false;
      const K = this.data.levels[d + 1];
      let found = -1;
      for (let c = L.kid0[i]; c < L.kid1[i]; c++)
        if (names[K.name[c]] === nm) { found = c; break; }
      if (found < 0) return false;
      d++; i = found;
    }
    this.zoom = { d, i };
    return true;
  }

  pathOf(d, i) {
    const path = [];
    while (d > 0) {
      path.unshift(this.data.names[this.data.levels[d].name[i]]);
      i = this.data.levels[d].parent[i];
      d--;
    }
    return path;
  }

  zoomTo(d, i) {
    this.zoom = d > 0 ? { d, i } : null;
    this.render();
    if (this.opts.onZoom) this.opts.onZoom(this.zoom ? this.pathOf(d, i) : []);
  }

  setSearch(re) {
    this.search = re;
    this.applySearch();
    this.render();
    return this.matchedShare();
  }

  applySearch() {
    this.matched = null;
    if (!this.data || !this.search) return;
    const names = this.data.names;
    const hit = names.map((n) => this.search.test(n));
    this.matched = this.data.levels.map((L) => {
      const m = new Uint8Array(L.n);
      for (let i = 0; i < L.n; i++) m[i] = hit[L.name[i]] ? 1 : 0;
      return m;
    });
  }

  // Share of samples under a matching frame, counting nested matches once.
  matchedShare() {
    if (!this.matched || !this.data.total) return null;
    let sum = 0;
    const lv = this.data.levels;
    let covered = new Uint8Array(1);
    for (let d = 0; d < lv.length; d++) {
      const L = lv[d], m = this.matched[d], cov = new Uint8Array(L.n);
      for (let i = 0; i < L.n; i++) {
        const pc = d > 0 && covered[L.parent[i]];
        if (pc) { cov[i] = 1; continue; }
        if (m[i]) { cov[i] = 1; sum += L.w[i]; }
      }
      covered = cov;
    }
    return sum / this.data.total;
  }

  viewRange() {
    if (!this.zoom) return [0, this.data.total];
    const L = this.data.levels[this.zoom.d];
    return [L.x[this.zoom.i], L.x[this.zoom.i] + L.w[this.zoom.i]];
  }

  rowY(d, H) {
    return this.icicle ? d * ROW : H - (d + 1) * ROW;
  }

  // Keyboard: arrows walk the tree (toward the leaves is down in an
  // icicle, up in a flame graph), Enter zooms, Escape zooms out a level.
  onKey(e) {
    const data = this.data;
    if (!data || !data.total) return;
    let c = this.cursor || (this.zoom ? { ...this.zoom } : { d: 0, i: 0 });
    const deeper = this.icicle ? 'ArrowDown' : 'ArrowUp', shallower = this.icicle ? 'ArrowUp' : 'ArrowDown';
    const L = data.levels[c.d];
    const [v0, v1] = this.viewRange();
    const visible = (d, i) => data.levels[d].x[i] < v1 && data.levels[d].x[i] + data.levels[d].w[i] > v0;
    let next = null;
    if (e.key === deeper && c.d + 1 < data.levels.length && L.kid1[c.i] > L.kid0[c.i]) {
      // The widest child.
      const K = data.levels[c.d + 1];
      let best = L.kid0[c.i];
      for (let k = L.kid0[c.i]; k < L.kid1[c.i]; k++) if (K.w[k] > K.w[best]) best = k;
      next = { d: c.d + 1, i: best };
    } else if (e.key === shallower && c.d > 0) next = { d: c.d - 1, i: L.parent[c.i] };
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      const step = e.key === 'ArrowLeft' ? -1 : 1;
      for (let i = c.i + step; i >= 0 && i < L.n; i += step) if (visible(c.d, i)) { next = { d: c.d, i }; break; }
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      if (data.names[L.name[c.i]] === '[other]' && this.opts.onOther) this.opts.onOther(c.d, c.i);
      else this.zoomTo(c.d, c.i);
      return;
    } else if (e.key === 'Escape') {
      e.preventDefault();
      if (this.zoom) {
        const z = this.zoom;
        this.cursor = { ...z };
        this.zoomTo(z.d - 1, data.levels[z.d].parent[z.i]);
      }
      return;
    } else if (e.key === 'Home') next = { d: 0, i: 0 };
    else return;
    e.preventDefault();
    if (!next) return;
    this.cursor = next;
    this.render();
    this.showCursor();
  }

  // Scrolls the cursor into view, shows its tooltip and tells assistive
  // technology what it is.
  showCursor() {
    const c = this.cursor;
    if (!c) return;
    const y = this.rowY(c.d, this.canvas.clientHeight);
    const wrap = this.canvas.parentElement;
    if (wrap && wrap.scrollHeight > wrap.clientHeight) {
      if (y < wrap.scrollTop) wrap.scrollTop = y - ROW;
      else if (y + ROW > wrap.scrollTop + wrap.clientHeight) wrap.scrollTop = y + 2 * ROW - wrap.clientHeight;
    }
    const r = this.canvas.getBoundingClientRect();
    const [v0, v1] = this.viewRange();
    const L = this.data.levels[c.d];
    const x0 = Math.max(v0, L.x[c.i]), x1 = Math.min(v1, L.x[c.i] + L.w[c.i]);
    const cx = r.left + ((x0 + x1) / 2 - v0) / (v1 - v0) * r.width;
    this.showTip(c, { clientX: cx, clientY: r.top + y + ROW });
    const tot = this.pctTotal || this.data.total;
    const msg = `${this.data.names[L.name[c.i]]}, ${(100 * L.w[c.i] / (tot || 1)).toFixed(1)}% total, depth ${c.d}`;
    this.canvas.dataset.cursor = this.data.names[L.name[c.i]];
    if (this.opts.onCursor) this.opts.onCursor(msg);
  }

  render() {
    const t0 = performance.now();
    const c = this.canvas, data = this.data;
    const W = c.clientWidth || c.parentElement.clientWidth || 800;
    const depth = data ? data.levels.length : 0;
    const H = Math.max(ROW * 3, depth * ROW);
    const dpr = window.devicePixelRatio || 1;
    if (c.width !== Math.round(W * dpr) || c.height !== Math.round(H * dpr)) {
      c.width = Math.round(W * dpr);
      c.height = Math.round(H * dpr);
      c.style.height = H + 'px';
    }
    const g = c.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    if (!data || !data.total) {
      g.fillStyle = '#666';
      g.font = '14px sans-serif';
      g.fillText('No samples in this range.', 10, 24);
      this.lastDrawMs = performance.now() - t0;
      return;
    }
    if (this.colorCap !== this.cap) { this.updateColorMax(); this.colorCap = this.cap; }
    g.font = '11px ui-monospace, Menlo, Consolas, monospace';
    g.textBaseline = 'middle';
    const charW = g.measureText('m').width || 7;
    const [v0, v1] = this.viewRange();
    const scale = W / (v1 - v0);
    const zd = this.zoom ? this.zoom.d : 0;
    // Ancestors of the zoomed node span the full width, greyed.
    if (this.zoom) {
      let i = this.zoom.i;
      for (let d = zd; d >= 0; d--) {
        const L = data.levels[d];
        if (d < zd) this.drawNode(g, d, i, 0, W, H, charW, true);
        i = L.parent[i];
      }
    }
    for (let d = zd; d < depth; d++) {
      const L = data.levels[d];
      // Binary search for the first node ending after v0.
      let lo = 0, hi = L.n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (L.x[mid] + L.w[mid] <= v0) lo = mid + 1; else hi = mid;
      }
      let runStart = -1, runEnd = -1;
      const y = this.rowY(d, H);
      for (let i = lo; i < L.n && L.x[i] < v1; i++) {
        const px = (L.x[i] - v0) * scale, pw = L.w[i] * scale;
        if (pw < 1) {
          // Merge consecutive sub-pixel frames into one visible run.
          if (runStart < 0 || px > runEnd + 1) {
            if (runStart >= 0) this.drawRun(g, runStart, runEnd, y);
            runStart = px;
          }
          runEnd = px + pw;
          continue;
        }
        this.drawNode(g, d, i, px, pw, H, charW, false, y);
      }
      if (runStart >= 0) this.drawRun(g, runStart, runEnd, y);
    }
    if (this.cursor && this.cursor.d < depth && document.activeElement === c) {
      const L = data.levels[this.cursor.d], i = this.cursor.i;
      const px = Math.max(0, (L.x[i] - v0) * scale), pw = Math.min(W, (L.x[i] + L.w[i] - v0) * scale) - px;
      g.strokeStyle = '#1a73e8';
      g.lineWidth = 2;
      g.strokeRect(px + 1, this.rowY(this.cursor.d, H) + 1, Math.max(2, pw - 2), ROW - 2);
    }
    this.lastDrawMs = performance.now() - t0;
    c.dataset.drawMs = this.lastDrawMs.toFixed(2);
  }

  drawRun(g, x0, x1, y) {
    g.fillStyle = '#b8b8b8';
    g.fillRect(x0, y + 1, Math.max(1, x1 - x0), ROW - 2);
  }

  drawNode(g, d, i, px, pw, H, charW, ancestor, y) {
    const data = this.data, L = data.levels[d];
    if (y === undefined) y = this.rowY(d, H);
    let fill;
    const hit = this.matched && this.matched[d][i];
    if (hit) fill = '#d81b60';
    else if (data.diff) fill = diffColor(L.tb[i] / (data.totalB || 1) - L.ta[i] / (data.totalA || 1), this.colorMax);
    else fill = this.colors[L.name[i]];
    // A search dims everything it does not match.
    g.globalAlpha = this.matched && !hit ? 0.28 : ancestor ? 0.55 : 1;
    g.fillStyle = fill;
    g.fillRect(px, y + 1, Math.max(pw - 1, 0.5), ROW - 2);
    if (L.name[i] === this.sel && pw > 1) {
      // Every occurrence of the function picked in the table.
      g.globalAlpha = 1;
      g.strokeStyle = '#000';
      g.lineWidth = 2;
      g.strokeRect(px + 1, y + 2, Math.max(1, pw - 3), ROW - 4);
      g.strokeStyle = '#fff';
      g.lineWidth = 1;
      g.strokeRect(px + 2.5, y + 3.5, Math.max(0.5, pw - 6), ROW - 7);
    }
    if (data.kinds[L.name[i]] === 'i' && pw > 4) {
      // Inlined frames: a dotted top edge besides the green hue.
      g.fillStyle = 'rgba(0,0,0,0.35)';
      for (let x = px + 1; x < px + pw - 2; x += 4) g.fillRect(x, y + 1, 2, 1);
    }
    g.globalAlpha = 1;
    if (pw > charW * 3) {
      const name = shortName(data.names[L.name[i]], data.sysnames && data.sysnames[L.name[i]]);
      const maxc = Math.floor((pw - 6) / charW);
      const text = name.length <= maxc ? name : name.slice(0, Math.max(0, maxc - 1)) + '…';
      g.fillStyle = this.matched && this.matched[d][i] ? '#fff' : '#000';
      g.fillText(text, px + 3, y + ROW / 2);
    }
  }

  hit(e) {
    if (!this.data || !this.data.total) return null;
    const r = this.canvas.getBoundingClientRect();
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    const H = this.canvas.clientHeight;
    const d = this.icicle ? Math.floor(my / ROW) : Math.floor((H - my) / ROW);
    if (d < 0 || d >= this.data.levels.length) return null;
    const zd = this.zoom ? this.zoom.d : 0;
    if (d < zd) {
      let i = this.zoom.i;
      for (let k = zd; k > d; k--) i = this.data.levels[k].parent[i];
      return { d, i };
    }
    const [v0, v1] = this.viewRange();
    const x = v0 + (mx / r.width) * (v1 - v0);
    const L = this.data.levels[d];
    let lo = 0, hi = L.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (L.x[mid] + L.w[mid] <= x) lo = mid + 1; else hi = mid;
    }
    if (lo < L.n && L.x[lo] <= x) return { d, i: lo };
    return null;
  }

  onClick(e) {
    const h = this.hit(e);
    if (!h) return;
    this.cursor = h;
    if (this.data.names[this.data.levels[h.d].name[h.i]] === '[other]' && this.opts.onOther) this.opts.onOther(h.d, h.i);
    else this.zoomTo(h.d, h.i);
  }

  onMove(e) {
    const h = this.hit(e);
    const tt = this.tooltip;
    if (!h) { tt.hidden = true; this.canvas.style.cursor = ''; return; }
    this.canvas.style.cursor = 'pointer';
    this.showTip(h, e);
  }

  showTip(h, e) {
    const tt = this.tooltip;
    const data = this.data, L = data.levels[h.d], ni = L.name[h.i];
    const T = this.pctTotal || data.total;
    const pct = (v, t) => (t ? (100 * v / t).toFixed(2) : '0.00') + '%';
    const kind = KIND_NAMES[data.kinds[ni]] || 'user';
    const file = data.files[ni] || '';
    const mod = (data.modules && data.modules[ni]) || '';
    const sys = (data.sysnames && data.sysnames[ni]) || '';
    let html = `<b>${esc(data.names[ni])}</b><br><span class="dim">${kind}${mod ? ' · ' + esc(mod) : ''}${file ? ' · ' + esc(file) : ''}</span><br>`;
    if (sys) html += `<span class="dim">${esc(sys)}</span><br>`;
    if (data.diff) {
      const a = L.ta[h.i] / (data.totalA || 1), b = L.tb[h.i] / (data.totalB || 1);
      html += `A: ${L.ta[h.i]} total (${pct(L.ta[h.i], data.totalA)}), ${L.sa[h.i]} self<br>` +
        `B: ${L.tb[h.i]} total (${pct(L.tb[h.i], data.totalB)}), ${L.sb[h.i]} self<br>` +
        `change of share: ${(b - a >= 0 ? '+' : '') + (100 * (b - a)).toFixed(2)} pp`;
    } else {
      html += `total: ${L.ta[h.i]} samples (${pct(L.ta[h.i], T)})<br>` +
        `self: ${L.sa[h.i]} samples (${pct(L.sa[h.i], T)})`;
    }
    if (data.names[ni] === '[other]')
      html += '<br><span class="dim">narrow frames merged by the node limit: click (or Enter) to load them at full detail</span>';
    placeTip(tt, html, e);
  }
}

// Shows tooltip element tt with html next to the pointer, inside the window.
function placeTip(tt, html, e) {
  tt.innerHTML = html;
  tt.hidden = false;
  const pad = 14;
  let x = e.clientX + pad, y = e.clientY + pad;
  if (x + tt.offsetWidth > window.innerWidth) x = e.clientX - tt.offsetWidth - pad;
  if (y + tt.offsetHeight > window.innerHeight) y = e.clientY - tt.offsetHeight - pad;
  tt.style.left = x + 'px';
  tt.style.top = y + 'px';
}

// A demangled C++/Rust name without its parameter list and trailing
// qualifiers, for labels: "ns::f<int>(long) const" -> "ns::f<int>". Only
// names that were demangled are shortened (Go's "(*T).m" stays whole).
function shortName(name, sysname) {
  if (!sysname) return name;
  let s = name, suffix = '';
  const clone = / \[clone [^\]]*\]$/.exec(s);
  if (clone) { suffix = clone[0]; s = s.slice(0, clone.index); }
  s = s.replace(/(\s*(const|volatile|&&|&))+$/, '');
  if (!s.endsWith(')')) return name;
  let depth = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    if (s[i] === ')') depth++;
    else if (s[i] === '(' && --depth === 0) return i > 0 ? s.slice(0, i) + suffix : name;
  }
  return name;
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

window.KilnFlame = { FlameGraph, decodeTree, focusTree, neighbours, callTrees, graft, toFolded, toSVG, frameColor, diffColor, esc, placeTip, shortName, KIND_NAMES };
})();
