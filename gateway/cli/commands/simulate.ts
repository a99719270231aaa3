/** `meterledger simulate`: drive a gateway with the data dir's meters over real MQTT. */
import { UsageError } from '../../errors.js';
import { lockSimulator } from '../../sim/lock.js';
import { runSimulation, type SimReport } from '../../sim/simulator.js';
import { type CommandSpec, err, intFlag, need, out } from '../args.js';
import { loadDataDirGenesis } from '../chain.js';
import { adminTokenIfGiven, gatewayUrl } from '../client-env.js';

const MAX_IN_FLIGHT = 100;

function human(r: SimReport): string[] {
  const ms = (x: number | null): string => (x === null ? '-' : `${x} ms`);
  const codes = Object.entries(r.rejectedByCode).map(([c, n]) => `${c} ${n}`).join(', ');
  return [
    `meters ${r.meters}, sent ${r.sent}, acknowledged ${r.acknowledged}, receipted ${r.receipted}, rejected ${r.rejected}${codes ? ` (${codes})` : ''}`,
    `missing receipts ${r.missing}, invalid receipts ${r.invalidReceipts}, full receipts asked for and verified ${r.fullReceiptsVerified}, publish errors ${r.publishErrors}, ${r.durationS} s`,
    `publish->PUBACK   p50 ${ms(r.ack.p50)}  p95 ${ms(r.ack.p95)}  p99 ${ms(r.ack.p99)}`,
    `publish->receipt  p50 ${ms(r.receipt.p50)}  p95 ${ms(r.receipt.p95)}  p99 ${ms(r.receipt.p99)}`,
    ...(r.payments ? [`bills ${r.payments.bills}, payments sent ${r.payments.sent}, paid ${r.payments.paid}${r.payments.autopaid ? `, autopaid ${r.payments.autopaid}` : ''}` +
      `${Object.keys(r.payments.refusedByCode).length ? `, refused ${Object.entries(r.payments.refusedByCode).map(([c, n]) => `${c} ${n}`).join(', ')}` : ''}` +
      `${r.payments.unanswered ? `, no outcome yet ${r.payments.unanswered}` : ''}`] : []),
    ...(r.sealed ? [`sealed: ${r.sealed.meters} confidential meters, ${r.sealed.periodKeys} period keys published`] : []),
    ...(r.stalled ? [`stopped early: ${r.stalled}; the counts above are what happened until then`] : []),
  ];
}

function json(r: SimReport): string {
  return JSON.stringify({
    meters: r.meters, sent: r.sent, acknowledged: r.acknowledged, receipted: r.receipted, rejected: r.rejected,
    rejected_by_code: r.rejectedByCode, missing: r.missing, invalid_receipts: r.invalidReceipts,
    full_receipts_verified: r.fullReceiptsVerified, publish_errors: r.publishErrors,
    p50_ms: r.receipt.p50, p95_ms: r.receipt.p95, p99_ms: r.receipt.p99,
    ack_p50_ms: r.ack.p50, ack_p95_ms: r.ack.p95, ack_p99_ms: r.ack.p99,
    duration_s: r.durationS, readings_per_s: r.durationS > 0 ? Math.round(r.acknowledged / r.durationS) : null,
    stalled: r.stalled,
    ...(r.sealed ? { sealed_meters: r.sealed.meters, period_keys: r.sealed.periodKeys } : {}),
    ...(r.payments ? { bills: r.payments.bills, payments_sent: r.payments.sent, payments_paid: r.payments.paid, payments_autopaid: r.payments.autopaid, payments_refused_by_code: r.payments.refusedByCode } : {}),
  });
}

export const simulateCommand: CommandSpec = {
  name: 'simulate',
  summary: 'Simulate the data dir\'s meters: one MQTT client each, K signed readings at QoS 1, then check PUBACKs and receipts.',
  options: {
    'data-dir': { type: 'string', value: 'D', required: true, help: 'data dir with genesis.json and keys/meters/*.key' },
    mqtt: { type: 'string', value: 'URL', required: true, help: 'broker, e.g. mqtt://127.0.0.1:1883' },
    http: { type: 'string', value: 'URL', help: 'gateway HTTP API (or METERLEDGER_URL): continue each meter\'s sequence from its lastSeq (needs the admin token; without it numbers start from the clock)' },
    'admin-token-file': {
      type: 'string', value: 'F',
      help: 'with --http: file (mode 0600) holding the gateway\'s http.adminToken, to read the meters\' lastSeq (or METERLEDGER_HTTP_ADMIN_TOKEN_FILE, or METERLEDGER_HTTP_ADMIN_TOKEN)',
    },
    meters: { type: 'string', value: 'N', help: 'use the first N meters (default all)' },
    readings: { type: 'string', value: 'K', help: 'readings per meter (default 10)' },
    rate: { type: 'string', value: 'R', help: `readings per second over all meters (default: as fast as ${MAX_IN_FLIGHT} in flight allow)` },
    'timeout-s': { type: 'string', value: 'S', help: 'wait this long for PUBACKs and receipts after the last publish (default 60)' },
    json: { type: 'boolean', help: 'end with one JSON line: sent, acknowledged, receipted, rejected, rejected_by_code, p50_ms, p99_ms (receipt), ack_p50_ms, ack_p99_ms ...' },
  },
  details: 'Without --http, sequence numbers start at Date.now()*1000 so runs never collide. One simulator\n' +
    'per data dir at a time (D/simulate.lock): two would take each other\'s sessions and make each other\'s\n' +
    'readings replays. Counts are printed every 10 s; when PUBACKs stop for --timeout-s, or on Ctrl-C, the\n' +
    'run stops and prints what it has. Exits 1 then, if any acknowledged, unrejected reading got no valid\n' +
    'receipt, or if nothing was acknowledged.',
  async run(args) {
    const cmd = 'simulate';
    const dataDir = need(args, 'data-dir', cmd);
    const mqttUrl = need(args, 'mqtt', cmd);
    if (!/^(mqtts?|wss?|tcp|tls):\/\//.test(mqttUrl)) throw new UsageError('--mqtt must be a URL like mqtt://127.0.0.1:1883');
    const httpUrl = gatewayUrl(args);
    const adminToken = httpUrl !== undefined ? adminTokenIfGiven(args, cmd) : undefined;
    const meters = intFlag(args, 'meters', cmd, 1, 1_000_000);
    const readings = intFlag(args, 'readings', cmd, 1, 10_000_000, 10)!;
    const rate = intFlag(args, 'rate', cmd, 1, 10_000_000);
    const timeoutS = intFlag(args, 'timeout-s', cmd, 1, 86_400, 60)!;
    const asJson = args.values.json === true;
    const genesis = loadDataDirGenesis(dataDir);
    const unlock = lockSimulator(dataDir);
    const stop = new AbortController();
    const onSigint = (): void => stop.abort();
    process.once('SIGINT', onSigint);
    let report: SimReport;
    try {
      report = await runSimulation({
        dataDir, genesis, mqttUrl, readings, maxInFlight: MAX_IN_FLIGHT, timeoutMs: timeoutS * 1000, log: err, signal: stop.signal,
        ...(httpUrl !== undefined ? { httpUrl } : {}),
        ...(adminToken !== undefined ? { adminToken } : {}),
        ...(meters !== undefined ? { meters } : {}),
        ...(rate !== undefined ? { rate } : {}),
      });
    } finally {
      process.off('SIGINT', onSigint);
      unlock();
    }
    for (const line of human(report)) (asJson ? err : out)(line);
    if (asJson) out(json(report));
    const failed = report.stalled !== null || report.missing > 0 || (report.sent > 0 && report.acknowledged === 0);
    return failed ? 1 : 0;
  },
};
