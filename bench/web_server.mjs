// SPDX-License-Identifier: MIT
// Times GET /api/v1/flamegraph on a running `kiln server` and counts bytes
// on the wire (gzip, as browsers ask) and uncompressed.
// Usage: node web_server.mjs BASE_URL NAME FROM TO [REPEATS]
import http from 'node:http';

const [base, name, from, to, reps = '5'] = process.argv.slice(2);

function get(path, gzip) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get(base + path, { headers: gzip ? { 'Accept-Encoding': 'gzip' } : {} }, (res) => {
      let bytes = 0;
      res.on('data', (c) => { bytes += c.length; });
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode}`));
        resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes });
      });
    });
    req.on('error', reject);
  });
}

const path = `/api/v1/flamegraph?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
const times = [];
let wire = 0, raw = 0;
for (let i = 0; i < Number(reps); i++) {
  const r = await get(path, true);
  times.push(r.ms);
  wire = r.bytes;
}
raw = (await get(path, false)).bytes;
const body = await (await fetch(base + path)).json();
times.sort((a, b) => a - b);
const med = times[Math.floor(times.length / 2)];
console.log(`web flamegraph ${name.padEnd(5)} median ${med.toFixed(1)} ms (min ${times[0].toFixed(1)}, first ${times.length ? times[0] && times[0].toFixed(1) : '-'}), ` +
  `${(wire / 1024).toFixed(0)} KiB gzip / ${(raw / 1024).toFixed(0)} KiB raw, ` +
  `${body.total} samples, ${body.nodes} nodes of ${body.tree_nodes}${body.truncated ? ' (limit 20000)' : ''}`);
console.log(`RESULT ${name} ${med.toFixed(1)} ${wire} ${raw}`);
