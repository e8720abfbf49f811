// Checks what the receiver decoded (receiver.js's logs.jsonl) against the audit log itself,
// field by field, with code that shares nothing with vigil: the chain is re-hashed here
// (h(n) = SHA-256(h(n-1) || line without its last 73 bytes)), event names, severities and
// attributes are derived from each record's own JSON.
//
//   node check.js LOGDIR RXDIR [--missing-ok a-b,c-d] [--to N] [--json]
// Prints "ok - ..." / "not ok - ..." lines; exit 1 on any failure.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const [logDir, rxDir, ...rest] = process.argv.slice(2);
const opt = {};
for (let i = 0; i < rest.length; i += 2) opt[rest[i].replace(/^--/, '')] = rest[i + 1];
let failed = 0;
function ok(cond, what) {
  console.log(`${cond ? 'ok' : 'not ok'} - ${what}`);
  if (!cond) failed++;
  return cond;
}

// The chain, from the files, verified.
const files = fs.readdirSync(logDir).filter((f) => /^audit\.\d{6}\.jsonl$/.test(f)).sort();
const chain = new Map();
let prev = Buffer.alloc(32);
let chainOk = true;
let firstSeen = null;
for (const f of files) {
  for (const line of fs.readFileSync(path.join(logDir, f), 'latin1').split('\n')) {
    if (!line) continue;
    const rec = JSON.parse(line);
    if (firstSeen === null) {
      firstSeen = rec.n;
      if (rec.n !== 1) prev = Buffer.from(rec.prev, 'hex'); // a file record seeds the chain
    }
    const h = crypto.createHash('sha256').update(prev).update(Buffer.from(line.slice(0, line.length - 72), 'latin1')).digest();
    if (h.toString('hex') !== rec.h) chainOk = false;
    prev = h;
    chain.set(rec.n, { line, rec });
  }
}
const head = Math.max(...chain.keys());
ok(chainOk, `the audit log chains (${chain.size} records, head ${head}), re-hashed independently`);

// What the receiver has, deduplicated by seq.
const got = new Map();
let copies = 0;
let conflicting = 0;
const rxLines = fs.existsSync(path.join(rxDir, 'logs.jsonl')) ? fs.readFileSync(path.join(rxDir, 'logs.jsonl'), 'utf8').split('\n').filter(Boolean) : [];
for (const l of rxLines) {
  const r = JSON.parse(l);
  const seq = +r.attributes['vigil.audit.seq'];
  copies++;
  if (got.has(seq)) {
    if (got.get(seq).body !== r.body || got.get(seq).attributes['vigil.audit.hash'] !== r.attributes['vigil.audit.hash']) conflicting++;
  } else got.set(seq, r);
}
ok(conflicting === 0, `duplicates (${copies - got.size} of ${copies} decoded records) are identical copies`);

const missingOk = new Set();
for (const range of (opt['missing-ok'] || '').split(',').filter(Boolean)) {
  const [a, b] = range.split('-').map(Number);
  for (let i = a; i <= (b || a); i++) missingOk.add(i);
}
const to = opt.to ? +opt.to : head;
const missing = [];
const unexpected = [];
for (let n = firstSeen; n <= to; n++) {
  if (!got.has(n) && !missingOk.has(n)) missing.push(n);
  if (got.has(n) && missingOk.has(n)) unexpected.push(n);
}
ok(missing.length === 0, `every record ${firstSeen}..${to} was received` + (missing.length ? ` (missing ${missing.length}: ${missing.slice(0, 10).join(' ')})` : ''));
if (missingOk.size) ok(unexpected.length === 0, `the ${missingOk.size} records of refused requests were not delivered` + (unexpected.length ? ` (got ${unexpected.slice(0, 5)})` : ''));
let extra = 0;
for (const n of got.keys()) if (!chain.has(n)) extra++;
ok(extra === 0, 'no received record is missing from the chain');

// Field by field.
const past = { allow: 'allowed', deny: 'denied', audit: 'audited' };
function expectName(rec) {
  const e = rec.e || {};
  if (rec.k === 'event') return `vigil.${e.type}.${past[e.verdict] || e.verdict}`;
  if (rec.k === 'policy' && /^policy_/.test(e.type || '')) return `vigil.policy.${e.type.slice(7)}`;
  if (['loss', 'gap', 'file'].includes(rec.k)) return `vigil.log.${rec.k}`;
  if (['start', 'stop'].includes(rec.k)) return `vigil.agent.${rec.k}`;
  return `vigil.${rec.k}`;
}
function expectSeverity(rec) {
  const e = rec.e || {};
  if (rec.k === 'loss' || rec.k === 'gap') return [17, 'ERROR'];
  if (e.verdict === 'deny' || e.type === 'policy_rejected') return [13, 'WARN'];
  if (e.verdict === 'audit') return [10, 'INFO2'];
  return [9, 'INFO'];
}
function nanos(iso) {
  const m = iso.match(/^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/);
  const sec = BigInt(Date.parse(m[1] + 'Z') / 1000);
  const frac = ((m[2] || '') + '000000000').slice(0, 9);
  return (sec * 1000000000n + BigInt(frac)).toString();
}
const bad = {};
function field(n, name, want, have) {
  if (String(want) !== String(have)) {
    if (!bad[name]) bad[name] = `record ${n}: ${name} is ${JSON.stringify(have)}, the chain says ${JSON.stringify(want)}`;
  }
}
const expectRes = opt.resource ? JSON.parse(opt.resource) : null;
let checked = 0;
for (const [n, r] of got) {
  const c = chain.get(n);
  if (!c) continue;
  const rec = c.rec;
  const a = r.attributes;
  checked++;
  field(n, 'vigil.audit.hash', rec.h, a['vigil.audit.hash']);
  field(n, 'vigil.audit.kind', rec.k, a['vigil.audit.kind']);
  field(n, 'body', c.line, r.body);
  field(n, 'event_name', expectName(rec), r.event_name);
  const [sn, st] = expectSeverity(rec);
  field(n, 'severity_number', sn, r.severity_number);
  field(n, 'severity_text', st, r.severity_text);
  const t = (rec.e && rec.e.time) || rec.time;
  if (t) field(n, 'time_unix_nano', nanos(t), r.time);
  if (BigInt(r.observed) < BigInt(r.time)) bad.observed = `record ${n}: observed time before the event time`;
  field(n, 'resource service.name', 'vigil', r.resource['service.name']);
  if (expectRes) for (const k of Object.keys(expectRes)) field(n, `resource ${k}`, expectRes[k], r.resource[k]);
  if (rec.k === 'event') {
    const e = rec.e;
    field(n, 'process.pid', e.pid, a['process.pid']);
    field(n, 'process.parent_pid', e.ppid, a['process.parent_pid']);
    field(n, 'thread.id', e.tid, a['thread.id']);
    field(n, 'user.id', e.uid, a['user.id']);
    field(n, 'process.executable.name', e.comm, a['process.executable.name']);
    const exec = ['exec', 'mmap_exec', 'mprotect_exec', 'exec_invalidated'].includes(e.type);
    if (e.path) field(n, exec ? 'process.executable.path' : 'file.path', e.path, a[exec ? 'process.executable.path' : 'file.path']);
    field(n, 'vigil.verdict', e.verdict, a['vigil.verdict']);
    field(n, 'vigil.reason', e.reason, a['vigil.reason']);
    field(n, 'vigil.event.type', e.type, a['vigil.event.type']);
    if (e.rule !== null) field(n, 'vigil.rule.name', e.rule, a['vigil.rule.name']);
    else field(n, 'vigil.rule.name (null: absent)', undefined, a['vigil.rule.name']);
    field(n, 'vigil.policy.name', e.policy, a['vigil.policy.name']);
    field(n, 'vigil.policy.serial', e.policy_serial, a['vigil.policy.serial']);
    field(n, 'vigil.generation', e.generation, a['vigil.generation']);
    for (const k of ['network.peer.address', 'network.peer.port', 'network.transport', 'network.type'])
      if (e[k] !== undefined) field(n, k, e[k], a[k]);
    if (e.access !== undefined) field(n, 'vigil.access', e.access, a['vigil.access']);
  } else if (rec.k === 'loss') {
    field(n, 'vigil.loss.source', rec.source, a['vigil.loss.source']);
    field(n, 'vigil.loss.count', rec.count, a['vigil.loss.count']);
    field(n, 'vigil.loss.total', rec.total, a['vigil.loss.total']);
  }
}
ok(checked > 0 && Object.keys(bad).length === 0, `${checked} records match the chain field by field` + (Object.keys(bad).length ? ': ' + Object.values(bad).join('; ') : ''));
if (opt.json) console.log(JSON.stringify({ head, received: got.size, copies, checked }));
process.exit(failed ? 1 : 0);
