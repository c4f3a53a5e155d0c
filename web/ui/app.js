// SPDX-License-Identifier: MIT
// kiln UI: all view state lives in the URL (links reproduce a view, back and
// forward work); every change goes through setState(), which pushes a
// history entry and redraws what depends on the changed keys.
'use strict';

const { FlameGraph, decodeTree, focusTree, callTrees, esc, placeTip, shortName, KIND_NAMES, diffColor, toFolded, toSVG } = window.KilnFlame;

const $ = (id) => document.getElementById(id);
const PRESETS = [['15m', '-15m'], ['1h', '-1h'], ['6h', '-6h'], ['24h', '-24h'], ['7d', '-7d']];
const LIST_KEYS = ['filter', 'b_filter'];
const DEFAULTS = { mode: 'flame', from: '-1h', to: 'now', b_from: '-1h', b_to: 'now', sort: 'self', max: '50000', icicle: '1' };
// The rule `kiln diff` applies (profile/diff.c, --min-samples default).
const MIN_DIFF_SAMPLES = 100;

let state = {};
let labelNames = [];
let flame, data = null, fullData = null, tableRows = [];
let loadSeq = 0, tlSeq = 0, hmSeq = 0;
let refreshing = false;

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
  for (const [k, v] of Object.entries(DEFAULTS)) if (state[k] === undefined) state[k] = v;
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
  // The flame graph first: the server runs few heavy queries at a time.
  if (dataChanged) loadProfile();
  if (dataChanged || changed(before, ['group'])) loadTimeline();
  else if (changed(before, ['hide', 'tz', 'brush'])) drawTimeline();
  if (changed(before, ['tz'])) drawHeatmap();
  if (changed(before, ['refresh'])) scheduleRefresh();
  if (changed(before, ['from', 'to', 'filter'])) loadHosts();
  if (dataChanged) { loadHeatmap(); return; }
  if (changed(before, ['norm'])) { if (fullData && fullData.diff) fullData = decodeTree(fullData.raw, true, state.norm !== '0'); rebuildView(); return; }
  if (changed(before, ['focus'])) rebuildView();
  if (changed(before, ['zoom', 'icicle', 'cap'])) applyZoom();
  if (changed(before, ['q', 'case'])) { applySearch(); renderTable(); }
  else if (changed(before, ['sort', 'desc'])) renderTable();
  // The row and the graph's outlines first; the sandwich graphs (a walk of
  // the whole tree) in the next frame.
  else if (changed(before, ['sel'])) { markPicked(); requestAnimationFrame(renderSandwich); }
  if (changed(before, ['sel'])) { flame.setSelected(state.sel || null); }
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

// ---------- times ----------

const DUR_RE = /^(\d+(\.\d+)?(ns|us|ms|s|m|h|d|w))+$|^\d+(\.\d+)?$/;
const UNITS = { ns: 1e-6, us: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 };

function durMs(s) {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  let ms = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d|w)/g)) ms += Number(m[1]) * UNITS[m[2]];
  return ms;
}

const isRelative = (v) => v === 'now' || /^[+-]/.test(v || '');

// What the user typed -> the value kept in the URL (what the server
// parses: now, -1h, unix seconds, RFC 3339). Throws with a message.
function parseTimeInput(raw) {
  const v = raw.trim();
  const bad = () => new Error(`cannot read time "${v}": use 2026-11-30 16:01[:05], RFC 3339, -1h, now-1h or now`);
  if (!v) throw bad();
  if (/^now$/i.test(v)) return 'now';
  let m = /^now\s*([+-])\s*(\S+)$/i.exec(v);
  if (m) { if (!DUR_RE.test(m[2])) throw bad(); return m[1] + m[2]; }
  m = /^([+-])\s*(\S+)$/.exec(v);
  if (m) { if (!DUR_RE.test(m[2])) throw bad(); return m[1] + m[2]; }
  if (/^\d{9,11}(\.\d+)?$/.test(v)) return v;
  m = /^(\d{4})-(\d\d)-(\d\d)(?:[ Tt](\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?)?\s*([Zz]|[+-]\d\d:?\d\d)?$/.exec(v);
  if (!m) throw bad();
  const [, Y, Mo, D, h = '00', mi = '00', sec = '00', frac = '', zone] = m;
  let ms;
  if (zone) {
    const z = zone.toUpperCase() === 'Z' ? 'Z' : zone.length === 5 ? zone.slice(0, 3) + ':' + zone.slice(3) : zone;
    ms = Date.parse(`${Y}-${Mo}-${D}T${h}:${mi}:${sec}${frac}${z}`);
  } else if (state.tz === 'utc') {
    ms = Date.UTC(+Y, +Mo - 1, +D, +h, +mi, +sec) + (frac ? Math.round(Number(frac) * 1000) : 0);
  } else {
    ms = new Date(+Y, +Mo - 1, +D, +h, +mi, +sec).getTime() + (frac ? Math.round(Number(frac) * 1000) : 0);
  }
  if (!Number.isFinite(ms) || +Mo < 1 || +Mo > 12 || +D < 1 || +D > 31 || +h > 23 || +mi > 59 || +sec > 60) throw bad();
  return fmtTime(ms);
}

// A URL time value -> unix ms (relative ones against 'now').
function resolveTime(v, nowMs) {
  if (v === 'now') return nowMs;
  if (/^[+-]/.test(v)) return nowMs + (v[0] === '-' ? -1 : 1) * durMs(v.slice(1));
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : nowMs;
}

const pad2 = (n) => String(n).padStart(2, '0');
function parts(ms) {
  const d = new Date(ms);
  if (state.tz === 'utc')
    return { Y: d.getUTCFullYear(), M: d.getUTCMonth() + 1, D: d.getUTCDate(), h: d.getUTCHours(), m: d.getUTCMinutes(), s: d.getUTCSeconds(), ms: d.getUTCMilliseconds() };
  return { Y: d.getFullYear(), M: d.getMonth() + 1, D: d.getDate(), h: d.getHours(), m: d.getMinutes(), s: d.getSeconds(), ms: d.getMilliseconds() };
}

// Human time in the chosen zone: 2026-11-30 16:01:05(.250).
function fmtHuman(ms, { date = true, secs = true } = {}) {
  const p = parts(ms);
  let s = `${pad2(p.h)}:${pad2(p.m)}`;
  if (secs) s += ':' + pad2(p.s) + (p.ms ? '.' + String(p.ms).padStart(3, '0') : '');
  return date ? `${p.Y}-${pad2(p.M)}-${pad2(p.D)} ${s}` : s;
}

function tzName() {
  if (state.tz === 'utc') return 'UTC';
  const off = -new Date().getTimezoneOffset();
  return `local, UTC${off >= 0 ? '+' : '-'}${pad2(Math.floor(Math.abs(off) / 60))}:${pad2(Math.abs(off) % 60)}`;
}

// What an input shows for a URL value: relative ones as typed, absolute
// ones as a human time in the chosen zone.
const showTime = (v) => (isRelative(v) ? v.replace(/^-/, 'now-').replace(/^now-$/, 'now') : fmtHuman(resolveTime(v, Date.now())));

function fmtDur(ms) {
  if (ms >= 864e5 && ms % 864e5 === 0) return ms / 864e5 + 'd';
  if (ms >= 36e5 && ms % 36e5 === 0) return ms / 36e5 + 'h';
  if (ms >= 6e4 && ms % 6e4 === 0) return ms / 6e4 + 'm';
  if (ms >= 1000) return +(ms / 1000).toFixed(3) + 's';
  return +ms.toFixed(1) + 'ms';
}

// Absolute time for the URL: whole seconds when possible, else RFC 3339
// with milliseconds (sub-second heat map selections).
function fmtTime(ms) {
  ms = Math.round(ms);
  if (ms % 1000 === 0) return String(ms / 1000);
  return new Date(ms).toISOString();
}

// Rounded tick positions for a time axis: a step from a fixed ladder,
// aligned to the zone's minutes, hours and days.
const TICK_STEPS = [1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 108e5, 216e5, 432e5, 864e5, 1728e5, 6048e5];
function timeTicks(t0, t1, px) {
  const span = t1 - t0, want = Math.max(2, Math.floor(px / 110));
  let step = TICK_STEPS[TICK_STEPS.length - 1];
  for (const s of TICK_STEPS) if (span / s <= want) { step = s; break; }
  const off = state.tz === 'utc' ? 0 : -new Date(t0).getTimezoneOffset() * 6e4;
  const first = Math.ceil((t0 + off) / step) * step - off;
  const out = [];
  for (let t = first; t <= t1 && out.length < 100; t += step) {
    const p = parts(t);
    const dayStart = p.h === 0 && p.m === 0 && p.s === 0;
    let label = step < 6e4 ? fmtHuman(t, { date: false }) : fmtHuman(t, { date: false, secs: false });
    if (step >= 864e5 || (dayStart && step >= 6e4)) label = `${p.Y}-${pad2(p.M)}-${pad2(p.D)}` + (step < 864e5 ? ' ' + label : '');
    out.push({ t, label });
  }
  return out;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  for (const k of [1, 2, 2.5, 5, 10]) if (k * e >= v) return k * e;
  return 10 * e;
}

const fmtCount = (n) => (n >= 1e6 ? (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + 'M' : n >= 1e4 ? (n / 1e3).toFixed(n >= 1e5 ? 0 : 1) + 'k' : String(Math.round(n)));

// Colours a canvas needs from the theme (CSS variables).
function theme() {
  const cs = getComputedStyle(document.documentElement);
  return { fg: cs.getPropertyValue('--fg').trim() || '#222', dim: cs.getPropertyValue('--dim').trim() || '#777',
    line: cs.getPropertyValue('--line').trim() || '#ddd', dark: matchMedia('(prefers-color-scheme: dark)').matches };
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
    b.title = `last ${label}`;
    b.addEventListener('click', () => setState({ [key('from')]: val, [key('to')]: 'now', zoom: null }));
    box.appendChild(b);
  }
  const nav = (label, title, fn) => {
    const b = document.createElement('button');
    b.textContent = label;
    b.title = title;
    b.setAttribute('aria-label', title);
    b.id = prefix + fn;
    b.addEventListener('click', () => shiftRange(prefix, fn));
    return b;
  };
  const from = document.createElement('input');
  const to = document.createElement('input');
  from.id = prefix + 'from'; to.id = prefix + 'to';
  from.size = 19; to.size = 19;
  from.title = to.title = '2026-11-30 16:01[:05] (zone shown on the right), RFC 3339, unix seconds, -1h, now-1h, now';
  from.setAttribute('aria-label', (prefix === 'b_' ? 'B ' : '') + 'from');
  to.setAttribute('aria-label', (prefix === 'b_' ? 'B ' : '') + 'to');
  const go = document.createElement('button');
  go.textContent = 'Apply';
  go.id = prefix + 'apply';
  const submit = () => {
    try {
      const f = parseTimeInput(from.value), t = parseTimeInput(to.value);
      showError('');
      setState({ [key('from')]: f, [key('to')]: t, zoom: null });
    } catch (e) { showError(e.message); }
  };
  go.addEventListener('click', submit);
  for (const el of [from, to]) el.addEventListener('keydown', (e) => { if (e.key === 'Enter') submit(); });
  const tz = document.createElement('button');
  tz.className = 'tz';
  tz.id = prefix + 'tz';
  tz.title = 'times typed and shown in this zone; click to switch between local time and UTC';
  tz.addEventListener('click', () => setState({ tz: state.tz === 'utc' ? null : 'utc' }, { replace: true }));
  const human = document.createElement('span');
  human.className = 'human dim';
  human.id = prefix + 'human';
  box.append(nav('◀', 'previous range', 'prev'), ' ', from, ' – ', to, ' ', tz, ' ', go, ' ',
    nav('▶', 'next range', 'next'), nav('zoom out', 'zoom out ×2', 'out'), ' ', human);
}

// Previous/next range (same width) and zoom out ×2 around the centre,
// never past now; a range ending now keeps its relative form.
function shiftRange(prefix, how) {
  const key = (k) => (prefix === 'b_' ? 'b_' : '') + k;
  const now = Date.now();
  const fv = state[key('from')], tv = state[key('to')];
  const a = resolveTime(fv, now), b = resolveTime(tv, now), w = b - a;
  if (how === 'out' && tv === 'now' && isRelative(fv)) {
    setState({ [key('from')]: '-' + fmtDur(2 * w), zoom: null });
    return;
  }
  let na, nb;
  if (how === 'prev') { na = a - w; nb = a; }
  else if (how === 'next') { na = b; nb = b + w; }
  else { na = a - w / 2; nb = b + w / 2; }
  if (nb >= now - 1000) {
    setState({ [key('from')]: '-' + fmtDur(Math.round((nb - na) / 1000) * 1000), [key('to')]: 'now', zoom: null });
    return;
  }
  setState({ [key('from')]: fmtTime(Math.floor(na / 1000) * 1000), [key('to')]: fmtTime(Math.ceil(nb / 1000) * 1000), zoom: null });
}

const FILTER_OPS = ['=', '!=', '=~', '!~'];

function buildFilterControls(prefix) {
  const box = $(prefix + 'filters');
  const fkey = prefix === 'b_' ? 'b_filter' : 'filter';
  const sel = document.createElement('select');
  sel.id = prefix + 'fkey';
  sel.setAttribute('aria-label', 'filter label');
  const op = document.createElement('select');
  op.id = prefix + 'fop';
  op.setAttribute('aria-label', 'filter operator');
  for (const o of FILTER_OPS) {
    const e = document.createElement('option');
    e.value = e.textContent = o;
    op.appendChild(e);
  }
  const val = document.createElement('input');
  val.id = prefix + 'fval';
  val.placeholder = 'value';
  val.size = 18;
  val.setAttribute('aria-label', 'filter value');
  const dl = document.createElement('datalist');
  dl.id = prefix + 'fvals';
  val.setAttribute('list', dl.id);
  const add = document.createElement('button');
  add.textContent = '+ filter';
  add.id = prefix + 'fadd';
  const chips = document.createElement('span');
  chips.id = prefix + 'chips';
  sel.addEventListener('change', () => loadValues(prefix, sel.value, dl));
  val.addEventListener('focus', () => { if (!dl.children.length) loadValues(prefix, sel.value, dl); });
  const submit = () => {
    if (!sel.value || !val.value) return;
    let v = val.value;
    // A pid picked from the list carries its process name after a space.
    if (sel.value === 'pid' && (op.value === '=' || op.value === '!=')) v = v.split(' ')[0];
    const f = sel.value + op.value + v;
    if (!state[fkey].includes(f)) setState({ [fkey]: state[fkey].concat([f]), zoom: null });
    val.value = '';
  };
  add.addEventListener('click', submit);
  val.addEventListener('keydown', (e) => { if (e.key === 'Enter') submit(); });
  box.append('filter ', sel, op, val, dl, ' ', add, ' ', chips);
}

// Values of a label present in the selected range (the server bounds the
// list); pids numerically, with their process name.
async function loadValues(prefix, name, dl) {
  dl.innerHTML = '';
  if (!name) return;
  const p = rangeParams(prefix === 'b_' ? 'b_' : '', state);
  const q = new URLSearchParams();
  q.set('from', p.get((prefix === 'b_' ? 'b_' : '') + 'from'));
  q.set('to', p.get((prefix === 'b_' ? 'b_' : '') + 'to'));
  try {
    const r = await api('labels/' + encodeURIComponent(name) + '/values', q);
    let vals = r.values.slice();
    if (name === 'pid') vals.sort((a, b) => Number(a) - Number(b));
    const comms = r.comms || {};
    for (const v of vals.slice(0, 5000)) {
      const o = document.createElement('option');
      o.value = name === 'pid' && comms[v] ? `${v} ${comms[v]}` : v;
      dl.appendChild(o);
    }
    dl.dataset.count = String(vals.length);
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
  $('a_label').hidden = !diff;
  for (const prefix of ['', 'b_']) {
    const key = (k) => (prefix === 'b_' ? 'b_' : '') + k;
    const fv = state[key('from')], tv = state[key('to')];
    if (document.activeElement !== $(prefix + 'from')) $(prefix + 'from').value = showTime(fv);
    if (document.activeElement !== $(prefix + 'to')) $(prefix + 'to').value = showTime(tv);
    $(prefix + 'tz').textContent = state.tz === 'utc' ? 'UTC' : 'local';
    $(prefix + 'tz').setAttribute('aria-label', 'time zone: ' + tzName());
    const now = Date.now(), a = resolveTime(fv, now), b = resolveTime(tv, now);
    $(prefix + 'human').textContent = `${fmtHuman(a)} → ${fmtHuman(b)} (${tzName()}; ${fmtDur(Math.round((b - a) / 1000) * 1000)})`;
    $(prefix + 'next').disabled = tv === 'now';
    for (const b2 of $(prefix + 'range').querySelectorAll('.preset'))
      b2.classList.toggle('on', fv === b2.dataset.from && tv === 'now');
    const chips = $(prefix + 'chips');
    chips.innerHTML = '';
    for (const f of state[key('filter')]) {
      const c = document.createElement('span');
      c.className = 'chip';
      c.textContent = f;
      const x = document.createElement('button');
      x.textContent = '×';
      x.title = 'remove filter';
      x.setAttribute('aria-label', 'remove filter ' + f);
      x.addEventListener('click', () => setState({ [key('filter')]: state[key('filter')].filter((y) => y !== f), zoom: null }));
      c.appendChild(x);
      chips.appendChild(c);
    }
  }
  $('icicle').checked = state.icicle !== '0';
  if (document.activeElement !== $('search')) $('search').value = state.q || '';
  $('case').checked = state.case === '1';
  $('group').value = state.group || '';
  $('auto').value = state.refresh || '';
  const rel = isRelative(state.to) && (!diff || isRelative(state.b_to));
  $('auto').disabled = !rel;
  $('auto').title = rel ? 'reload the data every 5 s, 10 s or minute' : 'auto-refresh needs a range relative to now (e.g. -1h … now)';
  $('norm').checked = state.norm !== '0';
  $('cap').value = state.cap || 'auto';
  $('legend-diff').hidden = !diff;
  $('legend-kinds').hidden = diff;
  $('tl-hint').textContent = diff ? '(drag to set B, shift+drag to set A)' : '(drag to select a range)';
}

// ---------- live refresh ----------

let refreshTimer = null;

function scheduleRefresh() {
  clearInterval(refreshTimer);
  refreshTimer = null;
  const ms = { '5s': 5000, '10s': 10000, '1m': 60000 }[state.refresh];
  if (ms) refreshTimer = setInterval(() => { if (!document.hidden && !$('auto').disabled) refresh(); }, ms);
}

// Reloads the data of the current (relative) range, keeping zoom,
// selection, search and the scroll positions of the graph and table.
async function refresh() {
  if (refreshing) return;
  refreshing = true;
  $('refresh').classList.add('spin');
  const fw = $('flame-wrap'), tw = $('table-wrap');
  const keep = { f: fw.scrollTop, t: tw.scrollTop };
  try {
    await Promise.all([loadTimeline(), loadHeatmap(), loadProfile({ quiet: true })]);
  } finally {
    fw.scrollTop = keep.f;
    tw.scrollTop = keep.t;
    refreshing = false;
    $('refresh').classList.remove('spin');
    document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes || 0) + 1);
  }
}

// ---------- time line ----------

let timelineData = null;
// 24 distinct colours (Tableau 10 + 10 light + 4): stacked series stay
// apart up to the server's 20 groups plus [other] and lost.
const SERIES_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
  '#a0cbe8', '#ffbe7d', '#8cd17d', '#b6992d', '#499894', '#86bcb6', '#d37295', '#fabfd2', '#79706e', '#d4a6c8',
  '#17becf', '#bcbd22', '#7f7f7f', '#393b79'];
const LOST_COLOR = '#d62728';
const TL = { l: 46, r: 8, t: 6, b: 16 };

function timelineRange() {
  if (state.mode !== 'diff') return rangeParams('', state);
  // Both sides on one time line: the hull of A and B, with A's filters.
  const now = Date.now();
  const a0 = resolveTime(state.from, now), a1 = resolveTime(state.to, now);
  const b0 = resolveTime(state.b_from, now), b1 = resolveTime(state.b_to, now);
  const p = new URLSearchParams();
  const lo = Math.min(a0, b0), hi = Math.max(a1, b1);
  p.set('from', isRelative(state.from) && a0 === lo ? state.from : isRelative(state.b_from) && b0 === lo ? state.b_from : fmtTime(Math.floor(lo / 1000) * 1000));
  p.set('to', (state.to === 'now' || state.b_to === 'now') ? 'now' : fmtTime(Math.ceil(hi / 1000) * 1000));
  for (const f of state.filter) p.append('filter', f);
  return p;
}

async function loadTimeline() {
  const seq = ++tlSeq;
  const p = timelineRange();
  if (state.group) p.set('group_by', state.group);
  try {
    const r = await api('timeline', p);
    if (seq !== tlSeq) return;
    timelineData = r;
  } catch (e) {
    if (seq !== tlSeq) return;
    showError(e.message);
    timelineData = null;
  }
  drawTimeline();
  updateLostBanner();
}

function tlGeometry() {
  const c = $('timeline');
  const W = c.clientWidth, H = c.clientHeight;
  const t0 = timelineData.from_ms, t1 = timelineData.to_ms;
  const pw = W - TL.l - TL.r;
  return { W, H, t0, t1, pw, ph: H - TL.t - TL.b, x: (t) => TL.l + ((t - t0) / (t1 - t0)) * pw, t: (x) => t0 + ((x - TL.l) / pw) * (t1 - t0) };
}

function hiddenSeries() { return (state.hide || '').split('\n').filter(Boolean); }

function drawTimeline() {
  const c = $('timeline'), g = c.getContext('2d');
  const W = c.clientWidth, H = c.clientHeight, dpr = window.devicePixelRatio || 1;
  c.width = W * dpr; c.height = H * dpr;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, W, H);
  const leg = $('timeline-legend');
  leg.innerHTML = '';
  drawBands();
  if (!timelineData) return;
  const th = theme();
  const G = tlGeometry(), step = timelineData.step_ms;
  const hide = hiddenSeries();
  const series = timelineData.series.map((s, si) => ({ name: s.group || 'all', points: s.points, color: SERIES_COLORS[si % SERIES_COLORS.length], total: s.total }));
  const lost = timelineData.lost;
  if (lost && lost.total) series.push({ name: '[lost samples]', points: lost.points, color: LOST_COLOR, total: lost.total, lost: true });
  const sums = new Map();
  let max = 0;
  for (const s of series) {
    if (hide.includes(s.name)) continue;
    for (const [t, n] of s.points) {
      const v = (sums.get(t) || 0) + n;
      sums.set(t, v);
      if (v > max) max = v;
    }
  }
  const top = niceMax(max);
  // Axes: y at 0, half, top; x at rounded times.
  g.strokeStyle = th.line;
  g.fillStyle = th.dim;
  g.font = '10px sans-serif';
  g.lineWidth = 1;
  g.textBaseline = 'middle';
  g.textAlign = 'right';
  for (const v of [0, top / 2, top]) {
    const y = Math.round(TL.t + G.ph - (v / top) * G.ph) + 0.5;
    g.beginPath(); g.moveTo(TL.l, y); g.lineTo(W - TL.r, y); g.stroke();
    g.fillText(fmtCount(v), TL.l - 4, y);
  }
  g.textBaseline = 'bottom';
  g.textAlign = 'center';
  for (const tk of timeTicks(G.t0, G.t1, G.pw)) {
    const x = Math.round(G.x(tk.t)) + 0.5;
    g.beginPath(); g.moveTo(x, TL.t + G.ph); g.lineTo(x, TL.t + G.ph + 3); g.stroke();
    const tw = g.measureText(tk.label).width;
    g.fillText(tk.label, Math.min(Math.max(TL.l + tw / 2, x), W - TL.r - tw / 2), H);
  }
  g.save();
  g.translate(10, TL.t + G.ph / 2);
  g.rotate(-Math.PI / 2);
  g.textBaseline = 'middle';
  g.fillText(`/${fmtDur(step)}`, 0, 0);
  g.restore();
  const base = new Map();
  const bw = Math.max(1, (step / (G.t1 - G.t0)) * G.pw - 0.5);
  for (const s of series) {
    const off = hide.includes(s.name);
    if (!off) {
      g.fillStyle = s.color;
      for (const [t, n] of s.points) {
        const b = base.get(t) || 0;
        const y0 = TL.t + G.ph - ((b + n) / top) * G.ph, h = (n / top) * G.ph;
        g.fillRect(G.x(t), y0, bw, h);
        base.set(t, b + n);
      }
    }
    if (series.length > 1 || timelineData.series.some((x) => x.group)) {
      const e = document.createElement('span');
      e.innerHTML = `<i style="background:${s.color}"></i>${esc(s.name)}`;
      e.className = off ? 'off' : '';
      e.tabIndex = 0;
      e.setAttribute('role', 'switch');
      e.setAttribute('aria-checked', String(!off));
      e.title = `${s.total} samples; click to ${off ? 'show' : 'hide'}`;
      const toggle = () => {
        const h = hiddenSeries();
        setState({ hide: (off ? h.filter((x) => x !== s.name) : h.concat([s.name])).join('\n') || null }, { replace: true });
      };
      e.addEventListener('click', toggle);
      e.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); toggle(); } });
      leg.appendChild(e);
    }
  }
  c.dataset.points = String(sums.size);
  c.dataset.max = String(max);
  c.dataset.series = String(series.length);
}

// Compare mode: where A and B lie on the shared time line.
function drawBands() {
  const diff = state.mode === 'diff' && timelineData;
  for (const [id, pre] of [['tl-a', ''], ['tl-b', 'b_']]) {
    const el = $(id);
    if (!diff) { el.hidden = true; continue; }
    const G = tlGeometry(), now = Date.now();
    const a = resolveTime(state[pre + 'from'], now), b = resolveTime(state[pre + 'to'], now);
    const x0 = Math.max(TL.l, G.x(a)), x1 = Math.min(G.W - TL.r, G.x(b));
    el.hidden = x1 <= x0;
    el.style.left = x0 + 'px';
    el.style.width = (x1 - x0) + 'px';
    el.style.height = (TL.t + G.ph) + 'px';
  }
}

// Hover readout of a bucket: its time and the count of each series.
function timelineHover(e) {
  const tt = $('tooltip');
  if (!timelineData || dragging) { tt.hidden = true; return; }
  const G = tlGeometry(), r = $('timeline').getBoundingClientRect();
  const mx = e.clientX - r.left;
  if (mx < TL.l || mx > G.W - TL.r) { tt.hidden = true; return; }
  const step = timelineData.step_ms;
  const t = G.t(mx), b0 = Math.floor(t / step) * step;
  let html = `<b>${fmtHuman(b0)}</b> <span class="dim">+${fmtDur(step)}</span><br>`;
  let total = 0;
  const rows = [];
  timelineData.series.forEach((s, si) => {
    const p = s.points.find((q) => q[0] === b0);
    if (p) { rows.push([s.group || 'samples', p[1], SERIES_COLORS[si % SERIES_COLORS.length]]); total += p[1]; }
  });
  const lp = timelineData.lost && timelineData.lost.points.find((q) => q[0] === b0);
  if (lp) rows.push(['lost', lp[1], LOST_COLOR]);
  rows.sort((x, y) => y[1] - x[1]);
  for (const [n, v, col] of rows.slice(0, 12)) html += `<i class="sw" style="display:inline-block;width:9px;height:9px;background:${col}"></i> ${esc(n)}: ${v}<br>`;
  if (rows.length > 12) html += `<span class="dim">… ${rows.length - 12} more</span><br>`;
  if (!rows.length) html += '<span class="dim">no samples</span>';
  else if (rows.length > 1) html += `total sampled: ${total}`;
  placeTip(tt, html, e);
}

// Lost samples: a banner with the share and the cause when they exceed
// a few percent of the range.
function updateLostBanner() {
  const el = $('lost-banner');
  const lost = timelineData && timelineData.lost;
  if (!lost || !lost.total) { el.hidden = true; return; }
  const sampled = timelineData.series.reduce((a, s) => a + s.total, 0);
  const share = lost.total / (sampled + lost.total);
  if (share < 0.02) { el.hidden = true; return; }
  const why = (lost.reasons || []).map((r) => `${r.reason} (${r.count})`).join(', ') || 'unknown';
  const advice = (lost.reasons || []).some((r) => /ring buffer/.test(r.reason))
    ? ' The agent did not read the ring buffer fast enough (a loaded machine, or too high a frequency): lower --frequency, or give the agent more CPU.'
    : '';
  el.textContent = `${(100 * share).toFixed(1)}% of the samples in this range were lost (${lost.total} of ${sampled + lost.total}); cause: ${why}.${advice} They are shown as their own series on the time line. `;
  // They also take their share of the flame graph's width ([lost]).
  const hide = document.createElement('button');
  hide.id = 'hide-lost';
  hide.textContent = 'leave them out of the flame graph';
  hide.addEventListener('click', () => setState({ filter: state.filter.concat(['comm!=[lost]']), zoom: null }));
  if (!state.filter.includes('comm!=[lost]')) el.appendChild(hide);
  el.hidden = false;
}

// Drag on a canvas: calls done(x0, x1, y0, y1, event) in CSS pixels.
let dragging = false;
function dragSelect(canvas, overlay, done) {
  let start = null;
  const pos = (e) => {
    const r = canvas.getBoundingClientRect();
    return [Math.max(0, Math.min(r.width, e.clientX - r.left)), Math.max(0, Math.min(r.height, e.clientY - r.top))];
  };
  canvas.addEventListener('mousedown', (e) => { start = pos(e); dragging = true; e.preventDefault(); });
  window.addEventListener('mousemove', (e) => {
    if (!start) return;
    const p = pos(e);
    $('tooltip').hidden = true;
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
    dragging = false;
    overlay.hidden = true;
    if (Math.abs(p[0] - s[0]) < 3 && Math.abs(p[1] - s[1]) < 3) return;
    done(Math.min(s[0], p[0]), Math.max(s[0], p[0]), s[1], p[1], e);
  });
}

// ---------- heat map ----------

let heat = null;
const HM = { l: 46, r: 8, t: 7, b: 16 };

async function loadHeatmap() {
  const seq = ++hmSeq;
  const box = $('heat-box');
  if (state.mode === 'diff') return;
  const now = Date.now();
  if (resolveTime(state.to, now) - resolveTime(state.from, now) > 2 * 36e5 + 1000) {
    heat = null;
    box.hidden = false;
    $('heat-note').textContent = 'Pick a range of 2 hours or less (drag on the time line) to see the sub-second heat map.';
    drawHeatmap();
    return;
  }
  try {
    const r = await api('heatmap', rangeParams('', state));
    if (seq !== hmSeq) return;
    heat = r;
    box.hidden = false;
    $('heat-note').textContent = '';
  } catch (e) {
    if (seq !== hmSeq) return;
    heat = null;
    box.hidden = false;
    $('heat-note').textContent = 'Heat map: ' + e.message + ' (pick a range of 2 hours or less).';
  }
  drawHeatmap();
}

function heatGeometry() {
  const c = $('heatmap');
  const W = c.clientWidth, H = c.clientHeight;
  const pw = W - HM.l - HM.r, ph = H - HM.t - HM.b;
  const secs = Math.max(1, Math.ceil((heat.to_ms - heat.from_ms) / 1000));
  const perCol = Math.max(1, Math.ceil(secs / pw));
  const cols = Math.ceil(secs / perCol);
  return { W, H, pw, ph, secs, perCol, cols, cw: pw / cols, rh: ph / heat.slots, t0: Math.floor(heat.from_ms / 1000) * 1000 };
}

function heatColor(t, dark) {
  return dark ? `hsl(${40 - t * 40},90%,${18 + t * 45}%)` : `hsl(${40 - t * 40},90%,${92 - t * 52}%)`;
}

function drawHeatmap() {
  const c = $('heatmap'), g = c.getContext('2d');
  const dpr = window.devicePixelRatio || 1;
  c.width = c.clientWidth * dpr; c.height = c.clientHeight * dpr;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, c.clientWidth, c.clientHeight);
  if (!heat) { drawHeatLegend(0); return; }
  const th = theme();
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
      g.fillStyle = heatColor(Math.sqrt(v / max), th.dark);
      g.fillRect(HM.l + ci * G.cw, HM.t + s * G.rh, Math.ceil(G.cw), Math.ceil(G.rh));
    }
  // Axes: offsets within the second down the left, time along the bottom.
  g.fillStyle = th.dim;
  g.strokeStyle = th.line;
  g.font = '10px sans-serif';
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (const ms of [0, 500, 980]) g.fillText(ms === 980 ? '1 s' : ms + ' ms', HM.l - 4, HM.t + (ms / heat.slot_ms) * G.rh + G.rh / 2);
  g.textAlign = 'center';
  g.textBaseline = 'bottom';
  const t1 = G.t0 + G.cols * G.perCol * 1000;
  for (const tk of timeTicks(G.t0, t1, G.pw)) {
    const x = Math.round(HM.l + ((tk.t - G.t0) / (t1 - G.t0)) * G.pw) + 0.5;
    g.beginPath(); g.moveTo(x, HM.t + G.ph); g.lineTo(x, HM.t + G.ph + 3); g.stroke();
    const tw = g.measureText(tk.label).width;
    g.fillText(tk.label, Math.min(Math.max(HM.l + tw / 2, x), G.W - HM.r - tw / 2), G.H);
  }
  c.dataset.cells = String(heat.columns.length);
  c.dataset.max = String(max);
  heat.cellMax = max;
  heat.cells = cells;
  drawHeatLegend(max, G.perCol);
}

function drawHeatLegend(max, perCol) {
  const c = $('heat-legend'), g = c.getContext('2d');
  const dpr = window.devicePixelRatio || 1, W = 330, H = 16;
  c.width = W * dpr; c.height = H * dpr;
  c.style.width = W + 'px'; c.style.height = H + 'px';
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, W, H);
  if (!max) return;
  const th = theme();
  g.fillStyle = th.dim;
  g.font = '10px sans-serif';
  g.textBaseline = 'middle';
  g.fillText('0', 0, 8);
  const x0 = 10, x1 = 130;
  for (let x = x0; x < x1; x++) {
    g.fillStyle = heatColor(Math.sqrt((x - x0) / (x1 - x0)), th.dark);
    g.fillRect(x, 2, 1, 12);
  }
  g.fillStyle = th.dim;
  g.fillText(`${max} samples per ${perCol > 1 ? perCol + ' s × ' : ''}20 ms`, x1 + 4, 8);
}

function heatHover(e) {
  const tt = $('tooltip');
  if (!heat || !heat.cells || dragging) { tt.hidden = true; return; }
  const G = heatGeometry(), r = $('heatmap').getBoundingClientRect();
  const mx = e.clientX - r.left - HM.l, my = e.clientY - r.top - HM.t;
  const ci = Math.floor(mx / G.cw), s = Math.floor(my / G.rh);
  if (ci < 0 || ci >= G.cols || s < 0 || s >= heat.slots) { tt.hidden = true; return; }
  const t = G.t0 + ci * G.perCol * 1000;
  const v = heat.cells[ci * heat.slots + s];
  const when = G.perCol > 1 ? `${fmtHuman(t)} +${G.perCol} s` : fmtHuman(t);
  placeTip(tt, `<b>${when}</b><br>offset ${s * heat.slot_ms}–${(s + 1) * heat.slot_ms} ms<br>${v} samples`, e);
}

// ---------- profile ----------

async function loadProfile({ quiet = false } = {}) {
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
  if (!quiet) $('status').textContent = 'loading…';
  document.body.dataset.loaded = '0';
  try {
    const t0 = performance.now();
    // One request, one store query: the table comes with the graph.
    p.set('functions', '1');
    p.set('limit', '2000');
    const r = await api(diff ? 'diff' : 'flamegraph', p);
    const fetchMs = performance.now() - t0;
    if (seq !== loadSeq) return;
    showError('');
    fullData = decodeTree(r, diff, diff && state.norm !== '0');
    tableRows = r.functions;
    rebuildView();
    const total = diff ? `A ${r.total_a} / B ${r.total_b} samples` : `${r.total} samples`;
    $('status').textContent = `${total} · ${r.nodes} nodes · ${fetchMs.toFixed(0)} ms · at ${fmtHuman(Math.floor(Date.now() / 1000) * 1000, { date: false })}`;
    const tr = $('truncated');
    if (r.truncated) {
      tr.hidden = false;
      tr.innerHTML = `${r.truncated.merged_nodes} narrow nodes (${r.truncated.merged_samples} samples) are merged into ` +
        `${r.truncated.other_nodes} “[other]” frames by the ${state.max}-node limit; click an [other] frame to expand it. `;
      const more = document.createElement('button');
      more.textContent = 'more detail everywhere';
      more.addEventListener('click', () => setState({ max: String(Math.min(200000, Number(state.max) * 4)) }));
      tr.appendChild(more);
    } else tr.hidden = true;
    updateCompareBar(r);
    document.body.dataset.loaded = '1';
    document.body.dataset.firstDrawMs = document.body.dataset.firstDrawMs || String(performance.now());
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
  flame.setSelected(state.sel || null);
  applyZoom();
  applySearch();
  renderTable();
}

let iciclePrev = null;
function applyZoom() {
  flame.icicle = state.icicle !== '0';
  flame.cap = state.cap || 'auto';
  const path = state.zoom ? state.zoom.split(';') : [];
  flame.zoomToPath(path);
  flame.render();
  // A flame graph (root at the bottom) starts scrolled to its roots.
  if (!refreshing) { const w = $('flame-wrap'); if (!flame.icicle) w.scrollTop = w.scrollHeight; else if (iciclePrev === false) w.scrollTop = 0; }
  iciclePrev = flame.icicle;
  renderCrumbs();
  const ds = $('diff-scale');
  if (ds) ds.textContent = flame.data && flame.data.diff
    ? `widths: ${state.norm !== '0' ? 'A and B normalised to equal weight' : 'A + B samples'}; full colour at ±${(100 * flame.colorMax).toFixed(2)} pp of share`
    : '';
}

function renderCrumbs() {
  const box = $('crumbs');
  box.innerHTML = '';
  const all = document.createElement('button');
  all.textContent = 'all';
  all.id = 'reset';
  all.title = 'zoom out to all (Esc)';
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
function searchRegExp(q, flags) {
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
  const re = new RegExp(q, flags);
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

// The one place that turns the search box into a matcher (the graph and
// the table both use it): case-insensitive unless "Aa" is on; a pattern
// that is not valid regex syntax is searched as plain text; one that could
// backtrack without bound is refused (searchRegExp).
function compileSearch(q, caseSensitive) {
  if (!q) return { re: null };
  const flags = caseSensitive ? '' : 'i';
  try { return { re: searchRegExp(q, flags) }; } catch (e) {
    if (!(e instanceof SyntaxError)) return { re: null, error: e.message };
    try { return { re: searchRegExp(q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), flags), literal: true }; } catch (e2) {
      return { re: null, error: e2.message };
    }
  }
}

let searchRe = null;
function applySearch() {
  const out = $('matched');
  const { re, literal, error } = compileSearch(state.q || '', state.case === '1');
  searchRe = re;
  const share = flame.setSearch(re);
  out.textContent = error ? `bad regex: ${error}` : re && re.slow ? 'search stopped: too slow'
    : re && share !== null ? `matched ${(100 * share).toFixed(2)}%${literal ? ' (as text)' : ''}` : '';
}

// ---------- table and sandwich ----------

function renderTable() {
  const diff = state.mode === 'diff';
  const t = $('top');
  const raw = fullData && fullData.raw;
  const A = raw ? (diff ? raw.total_a : raw.total) : 0, B = raw ? raw.total_b : 0;
  const pct = (v, tot) => (tot ? (100 * v / tot).toFixed(2) : '0.00') + '%';
  let rows = searchRe ? tableRows.filter((r) => searchRe.test(r.name)) : tableRows.slice();
  const key = state.sort || 'self';
  const val = (r) => {
    if (key === 'name') return r.name;
    if (!diff) return r[key];
    if (key === 'a') return r.self_a / (A || 1);
    if (key === 'b') return r.self_b / (B || 1);
    const a = (key === 'total' ? r.total_a : r.self_a) / (A || 1);
    const b = (key === 'total' ? r.total_b : r.self_b) / (B || 1);
    return key === 'abs' ? Math.abs(b - a) : b - a;
  };
  rows.sort((x, y) => {
    const vx = val(x), vy = val(y);
    const c = typeof vx === 'string' ? vx.localeCompare(vy) : vy - vx;
    return state.desc === '0' ? -c : c;
  });
  const th = (k, label, title) => `<th data-sort="${k}" class="${key === k ? 'sorted' : ''}${key === k && state.desc === '0' ? ' asc' : ''}"` +
    ` aria-sort="${key === k ? (state.desc === '0' ? 'ascending' : 'descending') : 'none'}"><button title="${title || 'sort by ' + label}">${label}</button></th>`;
  let html = '<thead><tr>' + th('name', 'function');
  if (diff) html += th('a', 'A self') + th('b', 'B self') + th('self', 'Δ self', 'sort by change of self share (grew first)') + th('total', 'Δ total') + th('abs', '|Δ|', 'sort by size of the change of self share');
  else html += th('self', 'self') + th('total', 'total');
  html += '</tr></thead><tbody>';
  const scale = diff ? flame.colorMax || 0.01 : 0;
  const shown = rows.slice(0, 500);
  for (const r of shown) {
    const kind = `<span class="kind k-${r.kind}" title="${KIND_NAMES[r.kind] || ''}">${r.kind}</span>`;
    const sel = state.sel === r.name ? ' class="picked" aria-selected="true"' : '';
    const tip = [r.name, r.system_name, r.module, r.file].filter(Boolean).join('\n');
    html += `<tr data-name="${esc(r.name)}" tabindex="-1"${sel}><td title="${esc(tip)}">${kind}${esc(shortName(r.name, r.system_name))}</td>`;
    if (diff) {
      const ds = r.self_b / (B || 1) - r.self_a / (A || 1), dt = r.total_b / (B || 1) - r.total_a / (A || 1);
      const cell = (d) => `<td class="num" style="background:${diffColor(d, scale)};color:#000">${d >= 0 ? '+' : ''}${(100 * d).toFixed(2)}</td>`;
      html += `<td class="num">${pct(r.self_a, A)}</td><td class="num">${pct(r.self_b, B)}</td>${cell(ds)}${cell(dt)}<td class="num">${(100 * Math.abs(ds)).toFixed(2)}</td>`;
    } else {
      html += `<td class="num" title="${r.self} samples">${pct(r.self, A)}</td><td class="num" title="${r.total} samples">${pct(r.total, A)}</td>`;
    }
    html += '</tr>';
  }
  if (!shown.length) html += `<tr><td colspan="6" class="dim">${searchRe ? 'no function matches the search' : 'no samples'}</td></tr>`;
  t.innerHTML = html + '</tbody>';
  t.dataset.rows = String(rows.length);
  const first = t.querySelector('tr.picked') || t.querySelector('tbody tr[data-name]');
  if (first) first.tabIndex = 0;
  renderSandwich();
}

// Selection only: mark the row instead of rebuilding the table.
function markPicked() {
  for (const tr of $('top').querySelectorAll('tr.picked')) { tr.classList.remove('picked'); tr.removeAttribute('aria-selected'); }
  if (!state.sel) return;
  const tr = $('top').querySelector(`tr[data-name="${CSS.escape(state.sel)}"]`);
  if (tr) { tr.classList.add('picked'); tr.setAttribute('aria-selected', 'true'); }
}

let swCallers = null, swCallees = null;
function renderSandwich() {
  const box = $('sandwich');
  const name = state.sel;
  if (!name || !fullData) { box.hidden = true; return; }
  const idx = fullData.names.indexOf(name);
  box.hidden = false;
  const T = fullData.diff ? fullData.totalA + fullData.totalB : fullData.total;
  const tr = callTrees(fullData, idx);
  const pct = (v) => (T ? (100 * v / T).toFixed(2) : '0.00') + '%';
  if (fullData.diff) {
    // In a diff: each side's share of its own samples.
    const L = (t) => t.levels.length ? t.levels[0] : null, c = L(tr.callees);
    const pa = (v, t) => (t ? (100 * v / t).toFixed(2) : '0.00') + '%';
    $('sw-name').textContent = c ? `${name} — total A ${pa(c.ta[0], fullData.totalA)} → B ${pa(c.tb[0], fullData.totalB)}` : name;
  } else $('sw-name').textContent = `${name} — total ${pct(tr.total)}, self ${pct(tr.self)}`;
  if (!swCallers) {
    swCallers = new FlameGraph($('sw-callers'), $('tooltip'), { small: true, onZoom: (path) => { if (path.length) setState({ sel: path[path.length - 1] }); } });
    swCallees = new FlameGraph($('sw-callees'), $('tooltip'), { small: true, onZoom: (path) => { if (path.length) setState({ sel: path[path.length - 1] }); } });
  }
  swCallers.icicle = false;
  swCallees.icicle = true;
  for (const [g, t] of [[swCallers, tr.callers], [swCallees, tr.callees]]) {
    g.pctTotal = T;
    g.setData(t);
    g.render();
  }
  box.dataset.callers = String(tr.callers.levels.length > 1 ? tr.callers.levels[1].n : 0);
  // The function sits where the two graphs meet: keep that in view.
  const cv = $('sw-callers');
  box.scrollTop = Math.max(0, cv.offsetTop + cv.offsetHeight - box.offsetTop - box.clientHeight / 2);
}

// ---------- compare ----------

// Compare defaults from the data present: B = the last 15 minutes and A
// the 15 before when the store holds that much, else the data present
// split in two halves, so both sides have samples on a young store.
async function compareDefaults() {
  const patch = { mode: 'diff', zoom: null, focus: null, b_filter: state.filter.slice() };
  try {
    // The last day at one-minute steps says where the data is.
    const p = new URLSearchParams({ from: '-24h', to: 'now', step: '1m' });
    for (const f of state.filter) p.append('filter', f);
    const r = await api('timeline', p);
    let first = Infinity, last = -Infinity;
    for (const s of r.series) for (const [t, n] of s.points) if (n > 0) { first = Math.min(first, t); last = Math.max(last, t + r.step_ms); }
    const now = Date.now(), live = now - last < 2 * 6e4;
    const end = live ? now : last;
    const toB = live ? 'now' : fmtTime(Math.ceil(end / 1000) * 1000);
    if (first === Infinity) {
      Object.assign(patch, { from: '-30m', to: '-15m', b_from: '-15m', b_to: 'now' });
    } else if (end - first >= 30 * 6e4) {
      Object.assign(patch, live ? { from: '-30m', to: '-15m', b_from: '-15m', b_to: 'now' }
        : { from: fmtTime(Math.floor((end - 18e5) / 1000) * 1000), to: fmtTime(Math.floor((end - 9e5) / 1000) * 1000),
          b_from: fmtTime(Math.floor((end - 9e5) / 1000) * 1000), b_to: toB });
    } else {
      // A young store: the data present, split in two halves.
      const mid = Math.round((first + end) / 2000) * 1000;
      Object.assign(patch, { from: fmtTime(Math.floor(first / 1000) * 1000), to: fmtTime(mid), b_from: fmtTime(mid), b_to: toB });
    }
  } catch (e) {
    Object.assign(patch, { from: '-30m', to: '-15m', b_from: '-15m', b_to: 'now' });
  }
  setState(patch);
}

function swapSides() {
  setState({ from: state.b_from, to: state.b_to, filter: state.b_filter.slice(), b_from: state.from, b_to: state.to, b_filter: state.filter.slice() });
}

// A = B's range one day earlier.
function sameYesterday() {
  const now = Date.now();
  const b0 = resolveTime(state.b_from, now), b1 = resolveTime(state.b_to, now);
  setState({ from: fmtTime(Math.floor((b0 - 864e5) / 1000) * 1000), to: fmtTime(Math.ceil((b1 - 864e5) / 1000) * 1000), filter: state.b_filter.slice() });
}

function shq(s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; }

function cliCommand(r) {
  const side = (from, to, filters) => {
    const q = new URLSearchParams({ from: String(Math.floor(from / 1000)), to: String(Math.ceil(to / 1000)) });
    for (const f of filters) q.append('filter', f);
    return shq(`db:${storePath}?${q.toString().replace(/%3D/g, '=')}`);
  };
  return `kiln diff ${side(r.a_from_ms, r.a_to_ms, state.filter)} ${side(r.b_from_ms, r.b_to_ms, state.b_filter)} --format markdown`;
}

let storePath = 'kiln.db';
function updateCompareBar(r) {
  const bar = $('compare-bar');
  if (state.mode !== 'diff') { bar.hidden = true; return; }
  bar.hidden = false;
  bar.innerHTML = '';
  const warn = [];
  if (r.total_a < MIN_DIFF_SAMPLES) warn.push(`A has ${r.total_a} samples`);
  if (r.total_b < MIN_DIFF_SAMPLES) warn.push(`B has ${r.total_b} samples`);
  bar.classList.toggle('warn', warn.length > 0);
  const b = (label, id, fn, title) => {
    const e = document.createElement('button');
    e.textContent = label; e.id = id; e.title = title || label;
    e.addEventListener('click', fn);
    return e;
  };
  if (warn.length) {
    const w = document.createElement('b');
    w.id = 'few-samples';
    w.textContent = `Too few samples to judge: ${warn.join(', ')}; at least ${MIN_DIFF_SAMPLES} on each side are needed (kiln diff --min-samples). `;
    bar.append(w);
  }
  bar.append(b('⇄ swap A and B', 'swap', swapSides), ' ',
    b('A = same range yesterday', 'yesterday', sameYesterday), ' ',
    b('defaults for the data present', 'cmp-defaults', compareDefaults), ' CLI: ');
  const code = document.createElement('code');
  code.className = 'cli';
  code.id = 'cli-cmd';
  code.textContent = cliCommand(r);
  const copy = b('copy', 'cli-copy', () => navigator.clipboard && navigator.clipboard.writeText(code.textContent), 'copy the command');
  bar.append(code, ' ', copy);
}

// ---------- downloads ----------

function saveBlob(blob, name) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

// Folded and SVG are made from the tree on screen (zoom, focus, diff);
// pprof and speedscope by the server from the range, filters and the
// zoomed frame or focused function (side A in compare mode); the markdown
// table by the server as `kiln diff` writes it.
async function download(fmt) {
  $('dl-menu').open = false;
  const diff = state.mode === 'diff';
  const tag = fmtTime(resolveTime(state.from, Date.now())) + (state.zoom || state.focus ? '-view' : '');
  if (flame.data && flame.data.total && (fmt === 'folded' || fmt === 'svg')) {
    const sub = flame.zoom ? flame.zoom : null;
    if (fmt === 'folded') saveBlob(new Blob([toFolded(flame.data, sub)], { type: 'text/plain' }), `kiln-${tag}${diff ? '-diff' : ''}.folded`);
    else saveBlob(new Blob([toSVG(flame.data, sub, { title: diff ? 'kiln diff' : 'kiln', colorMax: flame.colorMax, colors: flame.colors })], { type: 'image/svg+xml' }), `kiln-${tag}${diff ? '-diff' : ''}.svg`);
    return;
  }
  let url;
  if (fmt === 'md') {
    const p = rangeParams('a_', state);
    for (const [k, v] of rangeParams('b_', state)) p.append(k, v);
    p.set('format', 'markdown');
    url = '/api/v1/diff_report?' + p.toString();
  } else {
    // The server keeps the samples of the view: the zoomed frame's stacks,
    // or those through the focused function.
    const p = rangeParams('', state);
    p.set('format', fmt);
    if (state.focus) p.set('focus', state.focus);
    else if (flame.zoom) p.set('path', flame.pathOf(flame.zoom.d, flame.zoom.i).join(';'));
    url = '/api/v1/export?' + p.toString();
  }
  try {
    const r = await fetch(url);
    if (!r.ok) {
      let msg = `HTTP ${r.status}`;
      try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
      showError(`download ${fmt}: ${msg}`);
      return;
    }
    const blob = await r.blob();
    const cd = r.headers.get('Content-Disposition') || '';
    const m = /filename="([^"]+)"/.exec(cd);
    saveBlob(blob, m ? m[1] : 'kiln.' + fmt);
  } catch (e) { showError(e.message); }
}

// ---------- keyboard ----------

function tableKeys(e) {
  const tr = e.target.closest && e.target.closest('tr[data-name]');
  if (!tr) return;
  let next = null;
  if (e.key === 'ArrowDown') next = tr.nextElementSibling;
  else if (e.key === 'ArrowUp') next = tr.previousElementSibling;
  else if (e.key === 'Home') next = tr.parentElement.firstElementChild;
  else if (e.key === 'End') next = tr.parentElement.lastElementChild;
  else if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); setState({ sel: tr.dataset.name }); return; }
  else if (e.key === 'Escape') { e.preventDefault(); setState({ sel: null }); return; }
  if (next && next.dataset.name) {
    e.preventDefault();
    tr.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }
}

// After a re-render, keep keyboard focus on the row of the same name.
function refocusRow(name) {
  const tr = $('top').querySelector(`tr[data-name="${CSS.escape(name)}"]`);
  if (tr) { for (const x of $('top').querySelectorAll('tr[tabindex="0"]')) x.tabIndex = -1; tr.tabIndex = 0; tr.focus(); }
}

// ---------- setup ----------

async function init() {
  state = readState();
  flame = new FlameGraph($('flame'), $('tooltip'), {
    onZoom: (path) => setState({ zoom: path.length ? path.join(';') : null }),
    onOther: expandOther,
    onCursor: (txt) => { $('flame').setAttribute('aria-label', 'flame graph: ' + txt); },
  });
  buildRangeControls('');
  buildRangeControls('b_');
  buildFilterControls('');
  buildFilterControls('b_');
  $('mode-flame').addEventListener('click', () => setState({ mode: 'flame', zoom: null }));
  $('mode-diff').addEventListener('click', () => {
    if (new URLSearchParams(location.search).has('b_from')) setState({ mode: 'diff', zoom: null, focus: null });
    else compareDefaults();
  });
  let searchTimer = null;
  $('search').addEventListener('input', (e) => {
    clearTimeout(searchTimer);
    const v = e.target.value;
    searchTimer = setTimeout(() => setState({ q: v || null }, { replace: true }), 150);
  });
  $('search').addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.target.value = ''; setState({ q: null }, { replace: true }); $('flame').focus(); }
    if (e.key === 'Enter') $('flame').focus();
  });
  $('case').addEventListener('change', (e) => setState({ case: e.target.checked ? '1' : null }, { replace: true }));
  $('icicle').addEventListener('change', (e) => setState({ icicle: e.target.checked ? null : '0' }));
  $('norm').addEventListener('change', (e) => setState({ norm: e.target.checked ? null : '0' }));
  $('cap').addEventListener('change', (e) => setState({ cap: e.target.value === 'auto' ? null : e.target.value }));
  $('group').addEventListener('change', (e) => setState({ group: e.target.value || null, hide: null }));
  $('host').addEventListener('change', (e) => {
    const rest = state.filter.filter((f) => !f.startsWith('host='));
    setState({ filter: e.target.value ? rest.concat(['host=' + e.target.value]) : rest, zoom: null });
  });
  $('refresh').addEventListener('click', () => refresh());
  $('auto').addEventListener('change', (e) => setState({ refresh: e.target.value || null }, { replace: true }));
  $('unfocus').addEventListener('click', () => setState({ focus: null, zoom: null }));
  $('sw-focus').addEventListener('click', () => setState({ focus: state.sel, zoom: null }));
  $('sw-close').addEventListener('click', () => setState({ sel: null }));
  $('sw-lines').addEventListener('click', () => showLines(state.sel));
  $('lines-close').addEventListener('click', () => { $('lines-box').hidden = true; });
  $('top').addEventListener('click', (e) => {
    const th = e.target.closest('th');
    if (th) {
      const k = th.dataset.sort;
      setState({ sort: k, desc: state.sort === k && state.desc !== '0' ? '0' : null });
      return;
    }
    const tr = e.target.closest('tr[data-name]');
    if (tr) { setState({ sel: state.sel === tr.dataset.name ? null : tr.dataset.name }); refocusRow(tr.dataset.name); }
  });
  $('top').addEventListener('keydown', (e) => {
    const name = e.target.dataset && e.target.dataset.name;
    tableKeys(e);
    if (name && (e.key === 'Enter' || e.key === ' ')) refocusRow(name);
  });
  for (const b of document.querySelectorAll('[data-export]'))
    b.addEventListener('click', () => download(b.dataset.export));
  document.addEventListener('click', (e) => { if (!e.target.closest('#dl-menu')) $('dl-menu').open = false; });
  document.addEventListener('keydown', (e) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
    if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); $('search').focus(); $('search').select(); return; }
    if (typing) return;
    if (e.key === '/') { e.preventDefault(); $('search').focus(); $('search').select(); }
    else if (e.key === 'Escape') {
      if (!$('lines-box').hidden) $('lines-box').hidden = true;
      else if ($('dl-menu').open) $('dl-menu').open = false;
      else if (document.activeElement !== $('flame') && !document.activeElement.closest('#top')) setState({ zoom: null });
    } else if (e.key === 'r' && !e.ctrlKey && !e.metaKey && !e.altKey) refresh();
  });
  const tl = $('timeline');
  tl.addEventListener('mousemove', timelineHover);
  tl.addEventListener('mouseleave', () => { $('tooltip').hidden = true; });
  $('heatmap').addEventListener('mousemove', heatHover);
  $('heatmap').addEventListener('mouseleave', () => { $('tooltip').hidden = true; });
  dragSelect(tl, $('tl-sel'), (x0, x1, y0, y1, e) => {
    if (!timelineData) return;
    const G = tlGeometry();
    const a = G.t(Math.max(TL.l, x0)), b = G.t(Math.min(G.W - TL.r, x1));
    const side = state.mode === 'diff' && !e.shiftKey ? 'b_' : '';
    setState({ [side + 'from']: fmtTime(Math.floor(a / 1000) * 1000), [side + 'to']: fmtTime(Math.ceil(b / 1000) * 1000), zoom: null });
  });
  dragSelect($('heatmap'), $('hm-sel'), (x0, x1, y0, y1) => {
    if (!heat) return;
    const G = heatGeometry();
    x0 -= HM.l; x1 -= HM.l; y0 -= HM.t; y1 -= HM.t;
    // FlameScope order: from the start cell to the end cell, column-major.
    const c0 = Math.max(0, Math.floor(x0 / G.cw)), c1 = Math.max(c0, Math.floor(Math.max(x0, x1 - 1) / G.cw));
    let r0 = Math.floor(Math.min(y0, y1) / G.rh), r1 = Math.floor(Math.max(y0, y1) / G.rh);
    r0 = Math.max(0, Math.min(heat.slots - 1, r0)); r1 = Math.max(0, Math.min(heat.slots - 1, r1));
    const a = G.t0 + c0 * G.perCol * 1000 + r0 * heat.slot_ms;
    const b = G.t0 + c1 * G.perCol * 1000 + (G.perCol > 1 ? G.perCol * 1000 : (r1 + 1) * heat.slot_ms);
    setState({ from: fmtTime(a), to: fmtTime(b), zoom: null });
  });
  window.addEventListener('resize', () => { drawTimeline(); drawHeatmap(); if (swCallers) renderSandwich(); });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { drawTimeline(); drawHeatmap(); flame.render(); });
  syncControls();
  scheduleRefresh();
  // The flame graph and table need no label list: asked for first.
  loadProfile();
  try {
    const l = await api('labels');
    labelNames = l.names;
    if (l.store) storePath = l.store;
  } catch (e) { showError(e.message); }
  fillLabelSelects();
  loadTimeline();
  loadHeatmap();
  loadHosts();
}

// ---------- hosts ----------

// A host picker when the range holds several hosts (a cluster store); it
// sets one host= filter, and the time line can be grouped by host.
async function loadHosts() {
  const box = $('host-box'), sel = $('host');
  if (!labelNames.includes('host')) { box.hidden = true; return; }
  try {
    const q = new URLSearchParams({ from: state.from, to: state.to });
    const r = await api('labels/host/values', q);
    const cur = state.filter.filter((f) => f.startsWith('host=')).map((f) => f.slice(5));
    const hosts = r.values.slice();
    for (const h of cur) if (!hosts.includes(h)) hosts.push(h);
    box.hidden = hosts.length < 2;
    sel.innerHTML = `<option value="">all ${hosts.length} hosts</option>` + hosts.map((h) => `<option>${esc(h)}</option>`).join('');
    sel.value = cur.length === 1 ? cur[0] : '';
    sel.dataset.count = String(hosts.length);
  } catch (e) { box.hidden = true; }
}

// ---------- [other] and lines ----------

// Clicking an "[other]" frame asks the server for the subtree under its
// parent at full detail and grafts it into the tree on screen.
async function expandOther(d, i) {
  const path = flame.pathOf(d, i).slice(0, -1);
  const diff = state.mode === 'diff';
  let p;
  if (diff) { p = rangeParams('a_', state); for (const [k, v] of rangeParams('b_', state)) p.append(k, v); }
  else p = rangeParams('', state);
  p.set('max_nodes', '200000');
  p.set('path', path.join(';'));
  $('status').textContent = 'expanding [other]…';
  try {
    const r = await api(diff ? 'diff' : 'flamegraph', p);
    const sub = decodeTree(r, diff, diff && state.norm !== '0');
    const grown = window.KilnFlame.graft(fullData, path, sub);
    if (!grown) throw new Error('the tree changed: reload');
    fullData = grown;
    rebuildView();
    $('tooltip').hidden = true;
    const tr = $('truncated');
    if (!tr.hidden) tr.firstChild.textContent = tr.firstChild.textContent.replace(/( \(expanded.*\))?\. $/, '') +
      ` (expanded under ${path.length ? path.join(' › ') : 'the root'}). `;
    $('status').textContent = `expanded [other] under ${path[path.length - 1] || 'the root'}: ${r.nodes} nodes`;
    document.body.dataset.expanded = String(Number(document.body.dataset.expanded || 0) + 1);
  } catch (e) { showError('expand [other]: ' + e.message); }
}

async function showLines(name) {
  if (!name) return;
  const box = $('lines-box'), body = $('lines-body');
  $('lines-title').textContent = `${name}: lines`;
  body.textContent = 'loading…';
  box.hidden = false;
  const p = rangeParams('', state);
  p.set('function', name);
  try {
    const r = await api('lines', p);
    const T = fullData ? fullData.total : 0;
    const pct = (v) => (T ? ` <span class="dim">${(100 * v / T).toFixed(2)}%</span>` : '');
    let html = `<table class="src" id="lines-table"><thead><tr><th>file:line</th><th>self</th><th>total</th></tr></thead><tbody>`;
    for (const l of r.lines) html += `<tr data-line="${l.line}"><td>${esc(l.file || '?')}:${l.line}</td><td class="num">${l.self}${pct(l.self)}</td><td class="num">${l.total}${pct(l.total)}</td></tr>`;
    if (!r.lines.length) html += '<tr><td colspan="3" class="dim">no samples of this function in the range</td></tr>';
    html += '</tbody></table>';
    for (const src of r.sources || []) {
      html += `<h4>${esc(src.file)}</h4>`;
      if (src.error) { html += `<p class="dim">source not shown: ${esc(src.error)}</p>`; continue; }
      const max = Math.max(1, ...Object.values(src.heat || {}).map((h) => h[1]));
      html += `<table class="src source" data-file="${esc(src.file)}"><thead><tr><th>line</th><th>total</th><th>self</th><th></th></tr></thead><tbody>`;
      src.text.split('\n').forEach((ln, k) => {
        const h = (src.heat || {})[k + src.first] || [0, 0];
        const bg = h[1] ? `background:${heatColor(Math.sqrt(h[1] / max), false)};color:#000` : '';
        html += `<tr${h[1] ? ' class="hot"' : ''}><td class="num dim">${k + src.first}</td><td class="num" style="${bg}">${h[1] || ''}</td><td class="num">${h[0] || ''}</td><td class="code">${esc(ln)}</td></tr>`;
      });
      html += '</tbody></table>';
    }
    if (r.note) html += `<p class="dim">${esc(r.note)}</p>`;
    body.innerHTML = html;
  } catch (e) { body.textContent = e.message; }
}

window.kiln = { get state() { return state; }, get flame() { return flame; }, setState, parseTimeInput, resolveTime, timeTicks, refresh,
  get timeline() { return timelineData; }, tlGeometry, heatGeometry, HM, TL, compileSearch,
  get sandwich() { return { callers: swCallers && swCallers.data, callees: swCallees && swCallees.data }; } };
document.addEventListener('DOMContentLoaded', init);
