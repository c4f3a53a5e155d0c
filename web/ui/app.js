// SPDX-License-Identifier: MIT
// kiln UI: all view state lives in the URL (links reproduce a view, back and
// forward work); every change goes through setState(), which pushes a
// history entry and redraws what depends on the changed keys.
'use strict';

const { FlameGraph, decodeTree, focusTree, neighbours, esc, KIND_NAMES, diffColor } = window.KilnFlame;

const $ = (id) => document.getElementById(id);
const PRESETS = [['5m', '-5m'], ['1h', '-1h'], ['24h', '-24h'], ['7d', '-7d']];
const LIST_KEYS = ['filter', 'b_filter'];
const DEFAULTS = { mode: 'flame', from: '-1h', to: 'now', b_from: '-1h', b_to: 'now', sort: 'self', max: '20000' };

let state = {};
let labelNames = [];
let flame, data = null, fullData = null, tableRows = [];
let loadSeq = 0, tlSeq = 0;

// ---------- state <-> URL ----------

function readState() {
  const p = new URLSearchParams(location.search);
  const s = {};
  for (const [k, v] of p) {
    if (LIST_KEYS.includes(k)) (s[k] = s[k] || []).push(v);
    else s[k] = v;
  }
  for (const k of LIST_KEYS) s[k] = s[k] || [];
  for (const [k, v] of Object.entries(DEFAULTS)) if (s[k] === undefined || s[k] === '') s[k] = v;
  return s;
}

function stateQuery(s) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(s)) {
    if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
    else if (v !== undefined && v !== null && v !== '' && DEFAULTS[k] !== v) p.set(k, v);
  }
  return p.toString();
}

function setState(patch, { replace = false } = {}) {
  const before = state;
  state = Object.assign({}, state, patch);
  for (const k of Object.keys(state)) if (state[k] === null) delete state[k];
  const qs = stateQuery(state);
  const url = location.pathname + (qs ? '?' + qs : '');
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  apply(before);
}

window.addEventListener('popstate', () => {
  const before = state;
  state = readState();
  apply(before);
});

const DATA_KEYS = ['mode', 'from', 'to', 'filter', 'b_from', 'b_to', 'b_filter', 'max'];
function changed(before, keys) {
  return keys.some((k) => JSON.stringify(before[k]) !== JSON.stringify(state[k]));
}

// Redraws what the state change touches.
function apply(before) {
  syncControls();
  const dataChanged = changed(before, DATA_KEYS);
  if (dataChanged || changed(before, ['group'])) loadTimeline();
  if (dataChanged) { loadHeatmap(); loadProfile(); return; }
  if (changed(before, ['focus'])) rebuildView();
  if (changed(before, ['zoom', 'icicle'])) applyZoom();
  if (changed(before, ['q'])) applySearch();
  if (changed(before, ['sort', 'desc', 'sel'])) renderTable();
}

// ---------- API ----------

function rangeParams(prefix, s) {
  const p = new URLSearchParams();
  const key = (k) => (prefix === 'b_' ? 'b_' : '') + k;
  p.set(prefix + 'from', s[key('from')]);
  p.set(prefix + 'to', s[key('to')]);
  for (const f of s[key('filter')]) p.append(prefix + 'filter', f);
  return p;
}

async function api(path, params) {
  const url = '/api/v1/' + path + (params ? '?' + params.toString() : '');
  const r = await fetch(url, { headers: { Accept: 'application/json' } });
  let body;
  try { body = await r.json(); } catch (e) { body = { error: `bad response (${r.status})` }; }
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

function showError(msg) {
  const el = $('error');
  el.textContent = msg || '';
  el.hidden = !msg;
}

// ---------- controls ----------

function buildRangeControls(prefix) {
  const box = $(prefix + 'range');
  const key = (k) => (prefix === 'b_' ? 'b_' : '') + k;
  for (const [label, val] of PRESETS) {
    const b = document.createElement('button');
    b.textContent = label;
    b.className = 'preset';
    b.dataset.from = val;
    b.addEventListener('click', () => setState({ [key('from')]: val, [key('to')]: 'now', zoom: null }));
    box.appendChild(b);
  }
  const from = document.createElement('input');
  const to = document.createElement('input');
  from.id = prefix + 'from'; to.id = prefix + 'to';
  from.size = 22; to.size = 22;
  from.title = to.title = 'RFC 3339, unix seconds, -15m, -1h, now';
  const go = document.createElement('button');
  go.textContent = 'Apply';
  go.id = prefix + 'apply';
  const submit = () => setState({ [key('from')]: from.value.trim(), [key('to')]: to.value.trim(), zoom: null });
  go.addEventListener('click', submit);
  for (const el of [from, to]) el.addEventListener('keydown', (e) => { if (e.key === 'Enter') submit(); });
  box.append(' from ', from, ' to ', to, ' ', go);
}

function buildFilterControls(prefix) {
  const box = $(prefix + 'filters');
  const fkey = prefix === 'b_' ? 'b_filter' : 'filter';
  const sel = document.createElement('select');
  sel.id = prefix + 'fkey';
  const val = document.createElement('input');
  val.id = prefix + 'fval';
  val.placeholder = 'value';
  val.size = 18;
  const dl = document.createElement('datalist');
  dl.id = prefix + 'fvals';
  val.setAttribute('list', dl.id);
  const add = document.createElement('button');
  add.textContent = '+ filter';
  add.id = prefix + 'fadd';
  const chips = document.createElement('span');
  chips.id = prefix + 'chips';
  sel.addEventListener('change', () => loadValues(sel.value, dl));
  const submit = () => {
    if (!sel.value || !val.value) return;
    const f = sel.value + '=' + val.value;
    if (!state[fkey].includes(f)) setState({ [fkey]: state[fkey].concat([f]), zoom: null });
    val.value = '';
  };
  add.addEventListener('click', submit);
  val.addEventListener('keydown', (e) => { if (e.key === 'Enter') submit(); });
  box.append('filter ', sel, ' = ', val, dl, ' ', add, ' ', chips);
}

async function loadValues(name, dl) {
  dl.innerHTML = '';
  if (!name) return;
  try {
    const r = await api('labels/' + encodeURIComponent(name) + '/values');
    for (const v of r.values.slice(0, 1000)) {
      const o = document.createElement('option');
      o.value = v;
      dl.appendChild(o);
    }
  } catch (e) { showError(e.message); }
}

function fillLabelSelects() {
  for (const id of ['fkey', 'b_fkey']) {
    const sel = $(id);
    sel.innerHTML = '';
    for (const n of labelNames) {
      const o = document.createElement('option');
      o.value = o.textContent = n;
      sel.appendChild(o);
    }
    sel.value = labelNames.includes('comm') ? 'comm' : labelNames[0] || '';
    loadValues(sel.value, $(id === 'fkey' ? 'fvals' : 'b_fvals'));
  }
  const g = $('group');
  g.innerHTML = '<option value="">(no grouping)</option>';
  for (const n of labelNames) {
    const o = document.createElement('option');
    o.value = n;
    o.textContent = 'by ' + n;
    g.appendChild(o);
  }
  g.value = state.group || '';
}

function syncControls() {
  const diff = state.mode === 'diff';
  document.body.classList.toggle('diff', diff);
  $('mode-flame').classList.toggle('on', !diff);
  $('mode-diff').classList.toggle('on', diff);
  $('b_query').hidden = !diff;
  $('a_label').textContent = diff ? 'A (baseline)' : '';
  for (const prefix of ['', 'b_']) {
    const key = (k) => (prefix === 'b_' ? 'b_' : '') + k;
    $(prefix + 'from').value = state[key('from')];
    $(prefix + 'to').value = state[key('to')];
    for (const b of $(prefix + 'range').querySelectorAll('.preset'))
      b.classList.toggle('on', b.dataset.from === state[key('from')] && state[key('to')] === 'now');
    const chips = $(prefix + 'chips');
    chips.innerHTML = '';
    for (const f of state[key('filter')]) {
      const c = document.createElement('span');
      c.className = 'chip';
      c.textContent = f + ' ';
      const x = document.createElement('button');
      x.textContent = '×';
      x.title = 'remove filter';
      x.addEventListener('click', () => setState({ [key('filter')]: state[key('filter')].filter((y) => y !== f), zoom: null }));
      c.appendChild(x);
      chips.appendChild(c);
    }
  }
  $('search').value = state.q || '';
  $('icicle').checked = state.icicle === '1';
  $('group').value = state.group || '';
  $('legend-diff').hidden = !diff;
  $('legend-kinds').hidden = diff;
}

// ---------- time line ----------

let timelineData = null;
const SERIES_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

async function loadTimeline() {
  const seq = ++tlSeq;
  const p = rangeParams('', state);
  if (state.group) p.set('group_by', state.group);
  try {
    const r = await api('timeline', p);
    if (seq !== tlSeq) return;
    timelineData = r;
    drawTimeline();
  } catch (e) { showError(e.message); timelineData = null; drawTimeline(); }
}

function drawTimeline() {
  const c = $('timeline'), g = c.getContext('2d');
  const W = c.clientWidth, H = c.clientHeight, dpr = window.devicePixelRatio || 1;
  c.width = W * dpr; c.height = H * dpr;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, W, H);
  const leg = $('timeline-legend');
  leg.innerHTML = '';
  if (!timelineData) return;
  const t0 = timelineData.from_ms, t1 = timelineData.to_ms, step = timelineData.step_ms;
  const x = (t) => ((t - t0) / (t1 - t0)) * W;
  const stacks = new Map();
  let max = 0;
  for (const s of timelineData.series)
    for (const [t, n] of s.points) {
      const v = (stacks.get(t) || 0) + n;
      stacks.set(t, v);
      if (v > max) max = v;
    }
  const base = new Map();
  const bw = Math.max(1, (step / (t1 - t0)) * W - 0.5);
  timelineData.series.forEach((s, si) => {
    g.fillStyle = SERIES_COLORS[si % SERIES_COLORS.length];
    for (const [t, n] of s.points) {
      const b = base.get(t) || 0;
      const y0 = H - 14 - ((b + n) / max) * (H - 20), h = (n / max) * (H - 20);
      g.fillRect(x(t), y0, bw, h);
      base.set(t, b + n);
    }
    if (timelineData.series.length > 1 || s.group) {
      const e = document.createElement('span');
      e.innerHTML = `<i style="background:${SERIES_COLORS[si % SERIES_COLORS.length]}"></i>${esc(s.group || 'all')}`;
      leg.appendChild(e);
    }
  });
  g.fillStyle = '#555';
  g.font = '10px sans-serif';
  g.textBaseline = 'bottom';
  for (let k = 0; k <= 4; k++) {
    const t = t0 + ((t1 - t0) * k) / 4;
    const lbl = new Date(t).toLocaleString();
    const tw = g.measureText(lbl).width;
    g.fillText(lbl, Math.min(Math.max(0, x(t) - tw / 2), W - tw), H);
  }
  g.fillText(`max ${max} samples / ${fmtDur(step)}`, 4, 12);
  c.dataset.points = String(stacks.size);
}

function fmtDur(ms) {
  if (ms % 86400000 === 0) return ms / 86400000 + 'd';
  if (ms % 3600000 === 0) return ms / 3600000 + 'h';
  if (ms % 60000 === 0) return ms / 60000 + 'm';
  return ms / 1000 + 's';
}

// Absolute time for the URL: whole seconds when possible, else RFC 3339
// with milliseconds (sub-second heat map selections).
function fmtTime(ms) {
  ms = Math.round(ms);
  if (ms % 1000 === 0) return String(ms / 1000);
  return new Date(ms).toISOString();
}

// Drag on a canvas: calls done(x0, x1, y0, y1) in CSS pixels.
function dragSelect(canvas, overlay, done) {
  let start = null;
  const pos = (e) => {
    const r = canvas.getBoundingClientRect();
    return [Math.max(0, Math.min(r.width, e.clientX - r.left)), Math.max(0, Math.min(r.height, e.clientY - r.top))];
  };
  canvas.addEventListener('mousedown', (e) => { start = pos(e); e.preventDefault(); });
  window.addEventListener('mousemove', (e) => {
    if (!start) return;
    const p = pos(e);
    overlay.hidden = false;
    overlay.style.left = canvas.offsetLeft + Math.min(start[0], p[0]) + 'px';
    overlay.style.width = Math.abs(p[0] - start[0]) + 'px';
    overlay.style.top = canvas.offsetTop + (overlay.dataset.full ? 0 : Math.min(start[1], p[1])) + 'px';
    overlay.style.height = (overlay.dataset.full ? canvas.clientHeight : Math.abs(p[1] - start[1])) + 'px';
  });
  window.addEventListener('mouseup', (e) => {
    if (!start) return;
    const p = pos(e), s = start;
    start = null;
    overlay.hidden = true;
    if (Math.abs(p[0] - s[0]) < 3 && Math.abs(p[1] - s[1]) < 3) return;
    done(Math.min(s[0], p[0]), Math.max(s[0], p[0]), s[1], p[1]);
  });
}

// ---------- heat map ----------

let heat = null;

async function loadHeatmap() {
  const box = $('heat-box');
  try {
    const r = await api('heatmap', rangeParams('', state));
    heat = r;
    box.hidden = false;
    $('heat-note').textContent = '';
    drawHeatmap();
  } catch (e) {
    heat = null;
    box.hidden = false;
    $('heat-note').textContent = 'Heat map: ' + e.message + ' (pick a range of 2 hours or less).';
    drawHeatmap();
  }
}

function heatGeometry() {
  const c = $('heatmap');
  const W = c.clientWidth, H = c.clientHeight;
  const secs = Math.max(1, Math.ceil((heat.to_ms - heat.from_ms) / 1000));
  const perCol = Math.max(1, Math.ceil(secs / W));
  const cols = Math.ceil(secs / perCol);
  return { W, H, secs, perCol, cols, cw: W / cols, rh: H / heat.slots, t0: Math.floor(heat.from_ms / 1000) * 1000 };
}

function drawHeatmap() {
  const c = $('heatmap'), g = c.getContext('2d');
  const dpr = window.devicePixelRatio || 1;
  c.width = c.clientWidth * dpr; c.height = c.clientHeight * dpr;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, c.clientWidth, c.clientHeight);
  if (!heat) return;
  const G = heatGeometry();
  const cells = new Float64Array(G.cols * heat.slots);
  let max = 0;
  for (const col of heat.columns) {
    const ci = Math.floor((col[0] - G.t0) / 1000 / G.perCol);
    if (ci < 0 || ci >= G.cols) continue;
    for (let s = 0; s < heat.slots; s++) {
      const v = (cells[ci * heat.slots + s] += col[1 + s]);
      if (v > max) max = v;
    }
  }
  for (let ci = 0; ci < G.cols; ci++)
    for (let s = 0; s < heat.slots; s++) {
      const v = cells[ci * heat.slots + s];
      if (!v) continue;
      const t = Math.sqrt(v / max);
      g.fillStyle = `hsl(${40 - t * 40},90%,${92 - t * 52}%)`;
      g.fillRect(ci * G.cw, s * G.rh, Math.ceil(G.cw), Math.ceil(G.rh));
    }
  c.dataset.cells = String(heat.columns.length);
}

// ---------- profile ----------

async function loadProfile() {
  const seq = ++loadSeq;
  const diff = state.mode === 'diff';
  let p;
  if (diff) {
    p = rangeParams('a_', state);
    for (const [k, v] of rangeParams('b_', state)) p.append(k, v);
  } else {
    p = rangeParams('', state);
  }
  p.set('max_nodes', state.max);
  $('status').textContent = 'loading…';
  document.body.dataset.loaded = '0';
  try {
    const t0 = performance.now();
    const r = await api(diff ? 'diff' : 'flamegraph', p);
    const fetchMs = performance.now() - t0;
    let top = null;
    if (!diff) top = await api('top', (() => { const q = rangeParams('', state); q.set('limit', '500'); return q; })());
    if (seq !== loadSeq) return;
    showError('');
    fullData = decodeTree(r, diff);
    fullData.raw = r;
    tableRows = diff ? r.functions : top.functions;
    rebuildView();
    const total = diff ? `A ${r.total_a} / B ${r.total_b} samples` : `${r.total} samples`;
    $('status').textContent = `${total} · ${r.nodes} nodes · fetched in ${fetchMs.toFixed(0)} ms`;
    const tr = $('truncated');
    if (r.truncated) {
      tr.hidden = false;
      tr.innerHTML = `${r.truncated.merged_nodes} narrow nodes (${r.truncated.merged_samples} samples) are merged into ` +
        `${r.truncated.other_nodes} “[other]” frames by the ${state.max}-node limit. `;
      const more = document.createElement('button');
      more.textContent = 'show more detail';
      more.addEventListener('click', () => setState({ max: String(Math.min(1000000, Number(state.max) * 4)) }));
      tr.appendChild(more);
    } else tr.hidden = true;
    document.body.dataset.loaded = '1';
  } catch (e) {
    if (seq !== loadSeq) return;
    $('status').textContent = '';
    showError(e.message);
    fullData = null;
    rebuildView();
    document.body.dataset.loaded = 'error';
  }
}

// Picks the tree to show (whole or focused on a function) and draws it.
function rebuildView() {
  data = fullData;
  if (data && state.focus) {
    const idx = data.names.indexOf(state.focus);
    if (idx >= 0) data = focusTree(fullData, idx);
  }
  $('focus-note').hidden = !(data && data.focused);
  $('focus-name').textContent = state.focus || '';
  if (data) flame.setData(data);
  else flame.setData({ names: [], kinds: '', files: [], levels: [], total: 0, diff: false });
  applyZoom();
  applySearch();
  renderTable();
}

function applyZoom() {
  flame.icicle = state.icicle === '1';
  const path = state.zoom ? state.zoom.split(';') : [];
  flame.zoomToPath(path);
  flame.render();
  renderCrumbs();
}

function renderCrumbs() {
  const box = $('crumbs');
  box.innerHTML = '';
  const all = document.createElement('button');
  all.textContent = 'all';
  all.id = 'reset';
  all.addEventListener('click', () => setState({ zoom: null }));
  box.appendChild(all);
  const path = flame.zoom ? flame.pathOf(flame.zoom.d, flame.zoom.i) : [];
  path.forEach((nm, k) => {
    box.append(' › ');
    const b = document.createElement('button');
    b.textContent = nm.length > 40 ? nm.slice(0, 39) + '…' : nm;
    b.title = nm;
    b.addEventListener('click', () => setState({ zoom: path.slice(0, k + 1).join(';') }));
    box.appendChild(b);
  });
  box.dataset.depth = String(path.length);
}

// The search box and ?q= in a shared link run in this tab's backtracking
// regex engine, so a pattern that could take exponential or high-polynomial
// time is refused (the server bounds match= the same way, with PCRE2
// limits): at most 256 characters, no backreferences, no repeated group
// that itself holds a quantifier or an alternation, at most 2 unbounded
// quantifiers (counts above 16 are unbounded), counts up to 1000. Names are
// tested on their first 512 characters (A*A*x over 512 A's: ~40 ms), and
// all matching of one search stops after 1 s.
const SEARCH_MAX = 256, SEARCH_NAME_MAX = 512, SEARCH_BUDGET_MS = 1000;
function searchRegExp(q) {
  if (q.length > SEARCH_MAX) throw new Error(`longer than ${SEARCH_MAX} characters`);
  const groups = [false]; // per open group: holds a quantifier or '|'
  let unbounded = 0, prevGroupRisky = false;
  for (let i = 0; i < q.length; i++) {
    const c = q[i];
    let quant = null;
    if (c === '\\') {
      if (/[1-9k]/.test(q[i + 1] || '')) throw new Error('backreferences are not allowed');
      i++;
    } else if (c === '[') {
      for (i++; i < q.length && q[i] !== ']'; i++) if (q[i] === '\\') i++;
    } else if (c === '(') {
      groups.push(false);
      if (q[i + 1] === '?') i++;
    } else if (c === ')') {
      prevGroupRisky = groups.length > 1 ? groups.pop() : false;
      if (prevGroupRisky) groups[groups.length - 1] = true;
      continue;
    } else if (c === '|') {
      groups[groups.length - 1] = true;
    } else if (c === '*' || c === '+' || c === '?') {
      quant = c;
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(q.slice(i));
      if (m) {
        const max = m[2] === undefined ? Number(m[1]) : m[3] ? Number(m[3]) : Infinity;
        quant = max > 16 ? '+' : 'counted';
        if (Number(m[1]) > 1000 || Number(m[3] || 0) > 1000) throw new Error('counts above 1000');
        i += m[0].length - 1;
      }
    }
    if (quant) {
      if (quant !== '?' && prevGroupRisky) throw new Error('a repeated group with a quantifier or | inside');
      if ((quant === '*' || quant === '+') && ++unbounded > 2) throw new Error('more than 2 unbounded quantifiers');
      groups[groups.length - 1] = true;
      if (q[i + 1] === '?' || q[i + 1] === '+') i++;
    }
    prevGroupRisky = false;
  }
  const re = new RegExp(q);
  const start = performance.now();
  const search = {
    slow: false,
    test(name) {
      if (search.slow || performance.now() - start > SEARCH_BUDGET_MS) {
        search.slow = true;
        return false;
      }
      return re.test(name.length > SEARCH_NAME_MAX ? name.slice(0, SEARCH_NAME_MAX) : name);
    },
  };
  return search;
}

function applySearch() {
  const q = state.q || '';
  const out = $('matched');
  let re = null;
  if (q) {
    try { re = searchRegExp(q); } catch (e) {
      out.textContent = `bad regex: ${e.message}`;
      flame.setSearch(null);
      return;
    }
  }
  const share = flame.setSearch(re);
  out.textContent = re && re.slow ? 'search stopped: too slow'
    : re && share !== null ? `matched ${(100 * share).toFixed(2)}%` : '';
}

// ---------- table and sandwich ----------

function renderTable() {
  const diff = state.mode === 'diff';
  const t = $('top');
  const raw = fullData && fullData.raw;
  const A = raw ? (diff ? raw.total_a : raw.total) : 0, B = raw ? raw.total_b : 0;
  const pct = (v, tot) => (tot ? (100 * v / tot).toFixed(2) : '0.00') + '%';
  let rows = tableRows.slice();
  const key = state.sort || 'self';
  const val = (r) => {
    if (key === 'name') return r.name;
    if (!diff) return r[key];
    const a = (key === 'total' ? r.total_a : r.self_a) / (A || 1);
    const b = (key === 'total' ? r.total_b : r.self_b) / (B || 1);
    if (key === 'a') return r.self_a / (A || 1);
    if (key === 'b') return r.self_b / (B || 1);
    return b - a;
  };
  rows.sort((x, y) => {
    const vx = val(x), vy = val(y);
    const c = typeof vx === 'string' ? vx.localeCompare(vy) : vy - vx;
    return state.desc === '0' ? -c : c;
  });
  const th = (k, label) => `<th data-sort="${k}" class="${key === k ? 'sorted' : ''}">${label}</th>`;
  let html = '<thead><tr>' + th('name', 'function');
  if (diff) html += th('a', 'A self %') + th('b', 'B self %') + th('self', 'Δ self') + th('total', 'Δ total');
  else html += th('self', 'self') + th('self', 'self %') + th('total', 'total') + th('total', 'total %');
  html += '</tr></thead><tbody>';
  for (const r of rows.slice(0, 500)) {
    const kind = `<span class="kind k-${r.kind}" title="${KIND_NAMES[r.kind] || ''}">${r.kind}</span>`;
    const sel = state.sel === r.name ? ' class="picked"' : '';
    html += `<tr data-name="${esc(r.name)}"${sel}><td title="${esc(r.file || '')}">${kind}${esc(r.name)}</td>`;
    if (diff) {
      const ds = r.self_b / (B || 1) - r.self_a / (A || 1), dt = r.total_b / (B || 1) - r.total_a / (A || 1);
      const cell = (d) => `<td class="num" style="background:${diffColor(d, 0.0000001 + Math.abs(d) * 2)}">${d >= 0 ? '+' : ''}${(100 * d).toFixed(2)}</td>`;
      html += `<td class="num">${pct(r.self_a, A)}</td><td class="num">${pct(r.self_b, B)}</td>${cell(ds)}${cell(dt)}`;
    } else {
      html += `<td class="num">${r.self}</td><td class="num">${pct(r.self, A)}</td><td class="num">${r.total}</td><td class="num">${pct(r.total, A)}</td>`;
    }
    html += '</tr>';
  }
  t.innerHTML = html + '</tbody>';
  renderSandwich();
}

function renderSandwich() {
  const box = $('sandwich');
  const name = state.sel;
  if (!name || !fullData) { box.hidden = true; return; }
  const idx = fullData.names.indexOf(name);
  box.hidden = false;
  $('sw-name').textContent = name;
  const nb = idx >= 0 ? neighbours(fullData, idx) : { callers: [], callees: [] };
  const list = (el, items) => {
    el.innerHTML = '';
    for (const it of items.slice(0, 50)) {
      const li = document.createElement('li');
      const nm = fullData.names[it.name];
      li.innerHTML = `<a href="#">${esc(nm)}</a> <span class="dim">${it.a}${fullData.diff ? ' → ' + it.b : ''}</span>`;
      li.querySelector('a').addEventListener('click', (e) => { e.preventDefault(); setState({ sel: nm }); });
      el.appendChild(li);
    }
    if (!items.length) el.innerHTML = '<li class="dim">none</li>';
  };
  list($('sw-callers'), nb.callers);
  list($('sw-callees'), nb.callees);
}

// ---------- downloads ----------

async function download(fmt) {
  const p = rangeParams('', state);
  p.set('format', fmt);
  try {
    const r = await fetch('/api/v1/export?' + p.toString());
    if (!r.ok) {
      let msg = `HTTP ${r.status}`;
      try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
      showError(`download ${fmt}: ${msg}`);
      return;
    }
    const blob = await r.blob();
    const cd = r.headers.get('Content-Disposition') || '';
    const m = /filename="([^"]+)"/.exec(cd);
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = m ? m[1] : 'kiln.' + fmt;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (e) { showError(e.message); }
}

// ---------- setup ----------

async function init() {
  state = readState();
  flame = new FlameGraph($('flame'), $('tooltip'), {
    onZoom: (path) => setState({ zoom: path.length ? path.join(';') : null }),
  });
  buildRangeControls('');
  buildRangeControls('b_');
  buildFilterControls('');
  buildFilterControls('b_');
  $('mode-flame').addEventListener('click', () => setState({ mode: 'flame', zoom: null }));
  $('mode-diff').addEventListener('click', () => {
    // A sensible first comparison: the previous hour against this one.
    const patch = { mode: 'diff', zoom: null, focus: null };
    if (!new URLSearchParams(location.search).has('b_from')) {
      Object.assign(patch, { from: '-2h', to: '-1h', b_from: '-1h', b_to: 'now', b_filter: state.filter.slice() });
    }
    setState(patch);
  });
  let searchTimer = null;
  $('search').addEventListener('input', (e) => {
    clearTimeout(searchTimer);
    const v = e.target.value;
    searchTimer = setTimeout(() => setState({ q: v || null }, { replace: true }), 150);
  });
  $('icicle').addEventListener('change', (e) => setState({ icicle: e.target.checked ? '1' : null }));
  $('group').addEventListener('change', (e) => setState({ group: e.target.value || null }));
  $('unfocus').addEventListener('click', () => setState({ focus: null, zoom: null }));
  $('sw-focus').addEventListener('click', () => setState({ focus: state.sel, zoom: null }));
  $('sw-close').addEventListener('click', () => setState({ sel: null }));
  $('top').addEventListener('click', (e) => {
    const th = e.target.closest('th');
    if (th) {
      const k = th.dataset.sort;
      setState({ sort: k, desc: state.sort === k && state.desc !== '0' ? '0' : null });
      return;
    }
    const tr = e.target.closest('tr[data-name]');
    if (tr) setState({ sel: tr.dataset.name });
  });
  for (const b of document.querySelectorAll('[data-export]'))
    b.addEventListener('click', () => download(b.dataset.export));
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); $('search').focus(); }
    if (e.key === 'Escape' && document.activeElement.tagName !== 'INPUT') setState({ zoom: null });
  });
  dragSelect($('timeline'), $('tl-sel'), (x0, x1) => {
    if (!timelineData) return;
    const W = $('timeline').clientWidth;
    const t0 = timelineData.from_ms, t1 = timelineData.to_ms;
    const a = t0 + (x0 / W) * (t1 - t0), b = t0 + (x1 / W) * (t1 - t0);
    setState({ from: fmtTime(Math.floor(a / 1000) * 1000), to: fmtTime(Math.ceil(b / 1000) * 1000), zoom: null });
  });
  dragSelect($('heatmap'), $('hm-sel'), (x0, x1, y0, y1) => {
    if (!heat) return;
    const G = heatGeometry();
    // FlameScope order: from the start cell to the end cell, column-major.
    let c0 = Math.floor(x0 / G.cw), c1 = Math.floor(Math.max(x0, x1 - 1) / G.cw);
    let r0 = Math.floor(Math.min(y0, y1) / G.rh), r1 = Math.floor(Math.max(y0, y1) / G.rh);
    r0 = Math.max(0, Math.min(heat.slots - 1, r0)); r1 = Math.max(0, Math.min(heat.slots - 1, r1));
    const a = G.t0 + c0 * G.perCol * 1000 + r0 * heat.slot_ms;
    const b = G.t0 + c1 * G.perCol * 1000 + (G.perCol > 1 ? G.perCol * 1000 : (r1 + 1) * heat.slot_ms);
    setState({ from: fmtTime(a), to: fmtTime(b), zoom: null });
  });
  window.addEventListener('resize', () => { drawTimeline(); drawHeatmap(); });
  syncControls();
  try {
    labelNames = (await api('labels')).names;
  } catch (e) { showError(e.message); }
  fillLabelSelects();
  loadTimeline();
  loadHeatmap();
  loadProfile();
}

window.kiln = { get state() { return state; }, get flame() { return flame; }, setState };
document.addEventListener('DOMContentLoaded', init);
