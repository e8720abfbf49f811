// Decodes OTLP/HTTP request bodies captured by tests/vm/progs/otlp_sink (DIR/otlp-NNNNNN-logs.bin,
// -metrics.bin, each with its .hdr) into OUT/logs.jsonl and OUT/metrics.jsonl, as receiver.js
// writes them, so that check.js can compare them with the guest's audit log.
//   node decode-dir.js DIR OUT
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { types, decode, logRecords, metrics } = require('./otlp-decode.js');

const [dir, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
for (const f of ['logs.jsonl', 'metrics.jsonl']) fs.writeFileSync(path.join(out, f), '');
for (const f of fs.readdirSync(dir).filter((x) => /^otlp-\d+-(logs|metrics)\.bin$/.test(x)).sort()) {
  const n = parseInt(f.slice(5), 10);
  const hdr = fs.readFileSync(path.join(dir, f.replace(/\.bin$/, '.hdr')), 'latin1').toLowerCase();
  let body = fs.readFileSync(path.join(dir, f));
  if (/\r\ncontent-encoding: *gzip/.test(hdr)) body = zlib.gunzipSync(body);
  const json = /\r\ncontent-type: *application\/json/.test(hdr);
  if (f.endsWith('-logs.bin')) {
    for (const r of logRecords(decode(body, json, types.LogsReq), n))
      fs.appendFileSync(path.join(out, 'logs.jsonl'), JSON.stringify(r) + '\n');
  } else {
    fs.appendFileSync(path.join(out, 'metrics.jsonl'), JSON.stringify({ req: n, ...metrics(decode(body, json, types.MetricsReq)) }) + '\n');
  }
}
