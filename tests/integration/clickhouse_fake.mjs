// SPDX-License-Identifier: MIT
// A hostile stand-in for ClickHouse's HTTP interface: it answers the schema
// version like a real server, then every other query according to MODE:
//   garbage   random bytes           truncated  a row cut short
//   lengths   a string claiming 2^40 bytes      error  a 500 with binary junk
//   slow      nothing for 60 s       badstatus  a 200 then the connection cut
// Prints "port N" once listening. Usage: node clickhouse_fake.mjs MODE
import http from 'node:http';
import crypto from 'node:crypto';

const mode = process.argv[2];
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    const sql = url.searchParams.get('query') || Buffer.concat(chunks).toString('latin1');
    if (/kiln_schema/.test(sql)) {
      res.end(Buffer.from([2, 0, 0, 0])); // CH_SCHEMA_VERSION
      return;
    }
    if (/^\s*(INSERT|CREATE|ALTER)/i.test(sql)) { res.end(); return; }
    switch (mode) {
      case 'garbage': res.end(crypto.randomBytes(4093)); break;
      case 'truncated': res.end(Buffer.alloc(7, 1)); break;
      case 'lengths': {
        // a UInt64 id, then a varint string length of 2^40
        const b = Buffer.alloc(8 + 6);
        b.writeUInt32LE(1, 0);
        b.set([0x80, 0x80, 0x80, 0x80, 0x80, 0x20], 8);
        res.end(b);
        break;
      }
      case 'error':
        res.statusCode = 500;
        res.end(Buffer.concat([Buffer.from('Code: 999, e.displayText() = \x01\x02\xff'), crypto.randomBytes(5000)]));
        break;
      case 'slow': setTimeout(() => res.end(), 60000); break;
      case 'badstatus':
        res.writeHead(200, { 'Content-Length': '100000' });
        res.write(crypto.randomBytes(1000));
        setTimeout(() => req.socket.destroy(), 50);
        break;
      default: res.statusCode = 400; res.end('unknown mode');
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));
