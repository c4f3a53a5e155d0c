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

function decodeTree(fb, diff) {
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
  return { names: fb.names, kinds: fb.kinds, files: fb.files || [], diff, levels,
    total: levels.length ? levels[0].w[0] : 0,
    totalA: diff ? fb.total_a : (levels.length ? levels[0].ta[0] : 0),
    totalB: diff ? fb.total_b : 0 };
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
        x += k.ta + (diff ? k.tb : 0);
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
      L.w[i] = nd.ta + (diff ? nd.tb : 0);
      L.name[i] = nd.name;
    });
  });
  linkLevels(levels);
  return { names: src.names, kinds: src.kinds, files: src.files, diff: src.diff, levels,
    total: levels[0].w[0], totalA: src.totalA, totalB: src.totalB, focused: true };
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
    this.lastDrawMs = 0;
    canvas.addEventListener('click', (e) => this.onClick(e));
    canvas.addEventListener('mousemove', (e) => this.onMove(e));
    canvas.addEventListener('mouseleave', () => { this.tooltip.hidden = true; });
    window.addEventListener('resize', () => this.render());
  }

  setData(data) {
    this.data = data;
    this.zoom = null;
    this.colors = data.names.map((n, i) => frameColor(n, data.kinds[i]));
    this.maxDelta = 0;
    if (data.diff) {
      const A = data.totalA || 1, B = data.totalB || 1;
      for (const L of data.levels)
        for (let i = 0; i < L.n; i++) {
          const dlt = Math.abs(L.tb[i] / B - L.ta[i] / A);
          if (dlt > this.maxDelta) this.maxDelta = dlt;
        }
    }
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
    if (this.matched && this.matched[d][i]) fill = '#d81b60';
    else if (data.diff) fill = diffColor(L.tb[i] / (data.totalB || 1) - L.ta[i] / (data.totalA || 1), this.maxDelta);
    else fill = this.colors[L.name[i]];
    g.globalAlpha = ancestor ? 0.55 : 1;
    g.fillStyle = fill;
    g.fillRect(px, y + 1, Math.max(pw - 1, 0.5), ROW - 2);
    if (data.kinds[L.name[i]] === 'i' && pw > 4) {
      // Inlined frames: a dotted top edge besides the green hue.
      g.fillStyle = 'rgba(0,0,0,0.35)';
      for (let x = px + 1; x < px + pw - 2; x += 4) g.fillRect(x, y + 1, 2, 1);
    }
    g.globalAlpha = 1;
    if (pw > charW * 3) {
      const name = data.names[L.name[i]];
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
    if (h) this.zoomTo(h.d, h.i);
  }

  onMove(e) {
    const h = this.hit(e);
    const tt = this.tooltip;
    if (!h) { tt.hidden = true; this.canvas.style.cursor = ''; return; }
    this.canvas.style.cursor = 'pointer';
    const data = this.data, L = data.levels[h.d], ni = L.name[h.i];
    const pct = (v, t) => (t ? (100 * v / t).toFixed(2) : '0.00') + '%';
    const kind = KIND_NAMES[data.kinds[ni]] || 'user';
    const file = data.files[ni] || '';
    let html = `<b>${esc(data.names[ni])}</b><br><span class="dim">${kind}${file ? ' · ' + esc(file) : ''}</span><br>`;
    if (data.diff) {
      const a = L.ta[h.i] / (data.totalA || 1), b = L.tb[h.i] / (data.totalB || 1);
      html += `A: ${L.ta[h.i]} total (${pct(L.ta[h.i], data.totalA)}), ${L.sa[h.i]} self<br>` +
        `B: ${L.tb[h.i]} total (${pct(L.tb[h.i], data.totalB)}), ${L.sb[h.i]} self<br>` +
        `change of share: ${(b - a >= 0 ? '+' : '') + (100 * (b - a)).toFixed(2)} pp`;
    } else {
      html += `total: ${L.ta[h.i]} samples (${pct(L.ta[h.i], data.total)})<br>` +
        `self: ${L.sa[h.i]} samples (${pct(L.sa[h.i], data.total)})`;
    }
    if (data.names[ni] === '[other]')
      html += '<br><span class="dim">narrow frames merged by the node limit: use “show more detail”, filters or a shorter range to see them</span>';
    tt.innerHTML = html;
    tt.hidden = false;
    const pad = 14;
    let x = e.clientX + pad, y = e.clientY + pad;
    if (x + tt.offsetWidth > window.innerWidth) x = e.clientX - tt.offsetWidth - pad;
    if (y + tt.offsetHeight > window.innerHeight) y = e.clientY - tt.offsetHeight - pad;
    tt.style.left = x + 'px';
    tt.style.top = y + 'px';
  }
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

window.KilnFlame = { FlameGraph, decodeTree, focusTree, neighbours, frameColor, diffColor, esc, KIND_NAMES };
})();
