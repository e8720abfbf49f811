// Test-only OTLP/HTTP receiver on loopback. It decodes every request with the OpenTelemetry
// project's own generated decoder (@opentelemetry/otlp-transformer's protobufjs root), shares no
// code with vigil, and writes what it decoded as JSON lines for the checks.
//
//   node receiver.js --port-file F --out DIR [--faults SPEC]
//
// DIR/logs.jsonl: one line per decoded log record of an accepted request (every copy, with the
// request number), DIR/metrics.jsonl: one line per metrics request, DIR/requests.jsonl: one
// line per request (path, status served, records, first/last seq).
// Faults (for /v1/logs, in order, one per request): "503+ra1" (503, Retry-After: 1), "429",
// "400", "413", "500", "drop" (connection closed without an answer), "partial2" (200 with
// partial_success rejecting 2), "ok". Comma-separated; a count prefix repeats: "3*drop".
// POST /control with a fault list appends faults; GET /down?ms=T closes the listener for T ms.
// --max-records N: 413 for a logs request of more than N records; --refuse-seq S: 400 for one
// holding record S (both before, and without consuming, the fault list).
// --forward 1: no idle timeouts (a QEMU guestfwd's single connection).
// --tls DIR: HTTPS, client certificate required. --discard 1 (benchmarks): every /v1/ request answered 200 at once, nothing decoded or kept.
'use strict';

const http = require('http');
const https = require('https');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const { types, decode, logRecords, metrics } = require('./otlp-decode.js');
const { LogsReq, LogsResp, MetricsReq, MetricsResp } = types;

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const out = args.out;
fs.mkdirSync(out, { recursive: true });
const faults = [];
function addFaults(spec) {
  for (const f of (spec || '').split(',').filter(Boolean)) {
    const m = f.match(/^(\d+)\*(.*)$/);
    for (let i = 0; i < (m ? +m[1] : 1); i++) faults.push(m ? m[2] : f);
  }
}
addFaults(args.faults);

let nreq = 0;
function append(file, obj) {
  fs.appendFileSync(path.join(out, file), JSON.stringify(obj) + '\n');
}

function handle(req, res, body) {
  const n = ++nreq;
  if (args.discard && req.url.startsWith('/v1/')) { // benchmarks: answer without decoding
    res.setHeader('Content-Type', 'application/x-protobuf');
    res.end();
    return;
  }
  const json = (req.headers['content-type'] || '').includes('json');
  if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
  if (req.url === '/control') {
    addFaults(body.toString());
    res.end('ok\n');
    return;
  }
  if (req.url === '/v1/metrics') {
    const mt = metrics(decode(body, json, MetricsReq));
    append('metrics.jsonl', { req: n, resource: mt.resource, metrics: mt.metrics });
    res.setHeader('Content-Type', json ? 'application/json' : 'application/x-protobuf');
    res.end(json ? '{}' : Buffer.from(MetricsResp.encode(MetricsResp.create({})).finish()));
    return;
  }
  if (req.url !== '/v1/logs') {
    res.statusCode = 404;
    res.end();
    return;
  }
  const recs = logRecords(decode(body, json, LogsReq), n);
  const seqs = recs.map((r) => +r.attributes['vigil.audit.seq']);
  const fault = args['max-records'] && recs.length > +args['max-records'] ? '413'
    : args['refuse-seq'] && seqs.includes(+args['refuse-seq']) ? '400'
    : faults.shift() || 'ok';
  const entry = { req: n, t: Date.now(), path: req.url, json, gzip: req.headers['content-encoding'] === 'gzip',
    fault, records: recs.length, first: seqs[0], last: seqs[seqs.length - 1],
    auth: req.headers['authorization'] || null,
    client_cn: req.socket.getPeerCertificate ? (req.socket.getPeerCertificate().subject || {}).CN || null : null };
  append('requests.jsonl', entry);
  if (fault === 'drop') {
    req.socket.destroy();
    return;
  }
  const m503 = fault.match(/^(\d{3})(\+ra(\d+))?$/);
  if (m503 && fault !== '200') {
    res.statusCode = +m503[1];
    if (m503[3]) res.setHeader('Retry-After', m503[3]);
    res.end();
    return;
  }
  // Accepted: the records count as received.
  for (const r of recs) append('logs.jsonl', r);
  let partial = {};
  const mp = fault.match(/^partial(\d+)$/);
  if (mp) partial = { partialSuccess: { rejectedLogRecords: +mp[1], errorMessage: 'test rejects' } };
  res.setHeader('Content-Type', json ? 'application/json' : 'application/x-protobuf');
  if (json) res.end(JSON.stringify(partial));
  else res.end(Buffer.from(LogsResp.encode(LogsResp.create(partial)).finish()));
}

let server;
function listen(port, cb) {
  const handler = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (req.url.startsWith('/down')) {
        const ms = +new URL(req.url, 'http://x').searchParams.get('ms');
        res.end('down\n');
        const p = server.address().port;
        server.close();
        server.closeAllConnections && server.closeAllConnections();
        setTimeout(() => listen(p, () => append('requests.jsonl', { up: Date.now() })), ms);
        return;
      }
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch (e) {
        append('requests.jsonl', { error: String(e && e.stack || e) });
        res.statusCode = 400;
        res.end(String(e));
      }
    });
  };
  // --tls DIR: HTTPS with DIR/server.{crt,key}, client certificates required (DIR/ca.crt).
  server = args.tls
    ? https.createServer({
        key: fs.readFileSync(path.join(args.tls, 'server.key')),
        cert: fs.readFileSync(path.join(args.tls, 'server.crt')),
        ca: fs.readFileSync(path.join(args.tls, 'ca.crt')),
        requestCert: true,
        rejectUnauthorized: true,
      }, handler)
    : http.createServer(handler);
  server.on('tlsClientError', (e) => append('requests.jsonl', { tls_error: String(e.code || e) }));
  server.keepAliveTimeout = 60000;
  if (args.forward) {
    // Behind a QEMU guestfwd (tests/vm/otlpfwd.host.sh): QEMU opens ONE connection when the guest
    // starts, minutes before vigild sends anything, and carries every guest connection over it;
    // once closed it is gone for good. So no idle, header or request timeout closes it.
    server.keepAliveTimeout = 0;
    server.headersTimeout = 0;
    server.requestTimeout = 0;
    server.timeout = 0;
  }
  server.listen(port, '127.0.0.1', cb);
}

listen(+(args.port || 0), () => {
  fs.writeFileSync(args['port-file'], String(server.address().port));
});
