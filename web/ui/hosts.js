// SPDX-License-Identifier: MIT
// The hosts page: every agent that pushed to this server (GET /api/v1/hosts),
// refreshed every 5 s. Text goes in with textContent only.
'use strict';

function ago(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7200000) return `${Math.round(ms / 60000)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

function cell(tr, text, title) {
  const td = document.createElement('td');
  td.textContent = text;
  if (title) td.title = title;
  tr.appendChild(td);
}

async function load() {
  const status = document.getElementById('status');
  try {
    const r = await fetch('/api/v1/hosts', { credentials: 'same-origin' });
    const j = await r.json();
    if (!r.ok) throw new Error(j.error || r.statusText);
    const body = document.querySelector('#hosts tbody');
    body.replaceChildren();
    for (const h of j.hosts) {
      const tr = document.createElement('tr');
      cell(tr, h.host);
      cell(tr, h.instance);
      cell(tr, h.version);
      cell(tr, `${ago(j.now_ms - h.last_push_ms)} ago`, new Date(h.last_push_ms).toISOString());
      cell(tr, ago(h.lag_ms), 'now minus the end of the newest window received');
      cell(tr, String(h.pending_windows));
      cell(tr, String(h.lost_samples));
      cell(tr, String(h.windows));
      cell(tr, String(h.samples));
      cell(tr, new Date(h.first_push_ms).toISOString());
      if (h.lag_ms > 120000) tr.className = 'stale';
      body.appendChild(tr);
    }
    status.textContent = `${j.hosts.length} hosts, ${new Date(j.now_ms).toLocaleTimeString()}`;
  } catch (e) {
    status.textContent = `cannot list hosts: ${e.message}`;
  }
}

load();
setInterval(load, 5000);
