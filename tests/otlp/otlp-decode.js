// The OpenTelemetry project's generated decoder (@opentelemetry/otlp-transformer's protobufjs
// root, found through $OTLP_NODE_MODULES) and a flat view of decoded log records for the checks.
'use strict';

const path = require('path');

const root = require(path.join(process.env.OTLP_NODE_MODULES, '@opentelemetry/otlp-transformer/build/src/generated/root.js'));
const P = root.opentelemetry.proto;
const types = {
  LogsReq: P.collector.logs.v1.ExportLogsServiceRequest,
  LogsResp: P.collector.logs.v1.ExportLogsServiceResponse,
  MetricsReq: P.collector.metrics.v1.ExportMetricsServiceRequest,
  MetricsResp: P.collector.metrics.v1.ExportMetricsServiceResponse,
};

function anyValue(v) {
  if (!v) return null;
  if (v.stringValue != null) return v.stringValue;
  if (v.intValue != null) return typeof v.intValue === 'object' ? v.intValue.toString() : String(v.intValue);
  if (v.boolValue != null) return v.boolValue;
  if (v.doubleValue != null) return v.doubleValue;
  return JSON.stringify(v);
}
function attrs(list) {
  const o = {};
  for (const kv of list || []) o[kv.key] = anyValue(kv.value);
  return o;
}
function u64(v) {
  if (v == null) return '0';
  return typeof v === 'object' ? v.toString() : String(v);
}

// body: a Buffer (protobuf) or a string (JSON); returns the decoded message.
function decode(body, json, Msg) {
  if (json) return Msg.fromObject(JSON.parse(body.toString('utf8')));
  return Msg.decode(body);
}

// One flat object per log record of an ExportLogsServiceRequest.
function logRecords(m, req) {
  const recs = [];
  for (const rl of m.resourceLogs) {
    const resource = attrs(rl.resource.attributes);
    for (const sl of rl.scopeLogs) {
      for (const lr of sl.logRecords) {
        recs.push({
          req,
          resource,
          scope: { name: sl.scope.name, version: sl.scope.version },
          time: u64(lr.timeUnixNano),
          observed: u64(lr.observedTimeUnixNano),
          severity_number: lr.severityNumber,
          severity_text: lr.severityText,
          event_name: lr.eventName,
          body: anyValue(lr.body),
          attributes: attrs(lr.attributes),
        });
      }
    }
  }
  return recs;
}

function metrics(m) {
  const rm = m.resourceMetrics[0];
  const out = {};
  for (const met of rm.scopeMetrics[0].metrics) {
    const d = met.sum || met.gauge;
    out[met.name] = {
      kind: met.sum ? 'sum' : 'gauge',
      monotonic: met.sum ? !!met.sum.isMonotonic : false,
      temporality: met.sum ? met.sum.aggregationTemporality : 0,
      points: d.dataPoints.map((p) => ({ attrs: attrs(p.attributes), value: u64(p.asInt) })),
    };
  }
  return { resource: attrs(rm.resource.attributes), metrics: out };
}

module.exports = { types, decode, logRecords, metrics };
