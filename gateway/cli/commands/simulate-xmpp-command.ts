/**
 * `meterledger simulate-xmpp`: drive a gateway's XMPP bridge with the data dir's meters,
 * each logged in to the site's XMPP server as `<meterId>@<domain>` (docs/xmpp.md).
 * A sibling of `simulate` (MQTT), with the same counts and exit rule.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TxType, signTx } from '../../../protocols/index.js';
import { fsReason } from '../../../ledger-node/fs-errors.js';
import { readPrivateFile } from '../../../ledger-node/keyfile.js';
import { GatewayError, UsageError } from '../../errors.js';
import { lockSimulator } from '../../sim/lock.js';
import { runXmppSimulation, type XmppSimMeter, type XmppSimulationReport } from '../simulate-xmpp.js';
import { type CommandSpec, err, intFlag, need, optionalString, out } from '../args.js';
import { loadDataDirGenesis, loadMeterKey } from '../chain.js';

const METER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The password file: one `meterId password` per line (the password is the rest of the
 * line after the first run of spaces or tabs); blank lines and lines starting with # are
 * skipped. Errors name the line, never a password.
 */
export function parsePasswordFile(path: string): { meterId: string; password: string }[] {
  // Passwords: private like a key file (E_KEY_PERMISSIONS otherwise).
  const text = readPrivateFile(path, 'password file').toString('utf8');
  const out: { meterId: string; password: string }[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)[ \t]+(.+)$/.exec(line);
    if (!m) throw new GatewayError('E_PASSWORD_FILE', `${path} line ${i + 1}: expected "meterId password"`);
    const meterId = m[1]!;
    if (!METER_ID.test(meterId)) throw new GatewayError('E_PASSWORD_FILE', `${path} line ${i + 1}: "${meterId}" is not a meter id`);
    if (seen.has(meterId)) throw new GatewayError('E_PASSWORD_FILE', `${path} line ${i + 1}: ${meterId} is listed twice`);
    seen.add(meterId);
    out.push({ meterId, password: m[2]! });
  });
  if (out.length === 0) throw new GatewayError('E_PASSWORD_FILE', `${path} lists no meter`);
  return out;
}

function human(r: XmppSimulationReport, meters: number): string[] {
  const codes = Object.entries(r.rejected_by_code).map(([c, n]) => `${c} ${n}`).join(', ');
  return [
    `meters ${meters}, sent ${r.sent}, acknowledged ${r.acknowledged}, receipted ${r.receipted}, rejected ${r.rejected}${codes ? ` (${codes})` : ''}`,
    `missing receipts ${r.missing}, invalid receipts ${r.invalid_receipts}, ${r.duration_s} s`,
    `send->ack      p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms`,
    `send->receipt  p50 ${r.receipt_p50_ms} ms  p99 ${r.receipt_p99_ms} ms`,
  ];
}

/** The same keys as `simulate --json`: p50_ms/p99_ms are send->receipt, ack_* send->ack. */
function json(r: XmppSimulationReport, meters: number): string {
  const receipted = r.receipted > 0;
  return JSON.stringify({
    meters, sent: r.sent, acknowledged: r.acknowledged, receipted: r.receipted, rejected: r.rejected,
    rejected_by_code: r.rejected_by_code, missing: r.missing, invalid_receipts: r.invalid_receipts,
    p50_ms: receipted ? r.receipt_p50_ms : null, p99_ms: receipted ? r.receipt_p99_ms : null,
    ack_p50_ms: r.p50_ms, ack_p99_ms: r.p99_ms,
    duration_s: r.duration_s, readings_per_s: r.duration_s > 0 ? Math.round(r.acknowledged / r.duration_s) : null,
  });
}

export const simulateXmppCommand: CommandSpec = {
  name: 'simulate-xmpp',
  summary: 'Simulate the data dir\'s meters over XMPP: each logs in as <meterId>@<domain>, sends K signed readings to the gateway\'s JID, then waits for acks and receipts.',
  options: {
    'data-dir': { type: 'string', value: 'D', required: true, help: 'data dir with genesis.json and keys/meters/*.key' },
    xmpp: { type: 'string', value: 'SERVICE', required: true, help: 'XMPP server: xmpp://host:5222 (STARTTLS) or xmpps://host:5223 (direct TLS)' },
    'xmpp-domain': { type: 'string', value: 'DOMAIN', required: true, help: 'XMPP domain of the meter accounts (and the TLS server name)' },
    'gateway-jid': { type: 'string', value: 'JID', required: true, help: 'bare JID the gateway\'s bridge logs in as (xmpp.username@xmpp.domain)' },
    'xmpp-password-file': { type: 'string', value: 'F', required: true, help: 'one "meterId password" per line: the meters to drive and their XMPP passwords (mode 0600)' },
    'xmpp-ca-file': { type: 'string', value: 'F', help: 'PEM CA (or self-signed certificate) of the XMPP server (default: the system store)' },
    meters: { type: 'string', value: 'N', help: 'use the first N meters of the password file (default all)' },
    readings: { type: 'string', value: 'K', help: 'readings per meter (default 10)' },
    rate: { type: 'string', value: 'R', help: 'readings per second over all meters (default: as fast as possible)' },
    'timeout-s': { type: 'string', value: 'S', help: 'bound on each login, and on waiting for acks and receipts after the last send (default 60)' },
    json: { type: 'boolean', help: 'end with one JSON line: sent, acknowledged, receipted, rejected, rejected_by_code, p50_ms, p99_ms (receipt), ack_p50_ms, ack_p99_ms ...' },
  },
  details: 'Each meter signs with its key in the data dir (keys/meters/<meterId>.key). Sequence numbers start at\n' +
    'Date.now()*1000, so runs (this one and `simulate` over MQTT) never collide; one simulator per data\n' +
    'dir at a time (D/simulate.lock), as for simulate.\n' +
    'Exits 1 if any acknowledged reading got no valid receipt (or an invalid one), or nothing was acknowledged.',
  async run(args) {
    const cmd = 'simulate-xmpp';
    const dataDir = resolve(need(args, 'data-dir', cmd));
    const service = need(args, 'xmpp', cmd);
    if (!/^xmpps?:\/\/[^/]+\/?$/.test(service)) throw new UsageError(`--xmpp must be a URL like xmpp://127.0.0.1:5222 (see meterledger ${cmd} --help)`);
    const domain = need(args, 'xmpp-domain', cmd);
    const gatewayJid = need(args, 'gateway-jid', cmd);
    if (!/^[^@/\s]+@[^@/\s]+$/.test(gatewayJid)) throw new UsageError(`--gateway-jid must be a bare JID like gateway@${domain} (see meterledger ${cmd} --help)`);
    const accounts = parsePasswordFile(need(args, 'xmpp-password-file', cmd));
    const caFile = optionalString(args, 'xmpp-ca-file');
    let ca: string | undefined;
    if (caFile !== undefined) {
      try {
        ca = readFileSync(caFile, 'utf8');
      } catch (cause) {
        throw new GatewayError('E_IO', `--xmpp-ca-file: cannot read ${caFile}: ${fsReason(cause)}`, { cause });
      }
    }
    const n = intFlag(args, 'meters', cmd, 1, 1_000_000) ?? accounts.length;
    const readings = intFlag(args, 'readings', cmd, 1, 10_000_000, 10)!;
    const rate = intFlag(args, 'rate', cmd, 1, 10_000_000);
    const timeoutS = intFlag(args, 'timeout-s', cmd, 1, 86_400, 60)!;
    const asJson = args.values.json === true;

    const genesis = loadDataDirGenesis(dataDir);
    const firstSeq = BigInt(Date.now()) * 1000n; // as `simulate`: above any earlier run's numbers
    const whBase = Math.floor(Date.now() / 1000);
    const meters: XmppSimMeter[] = accounts.slice(0, n).map(({ meterId, password }) => {
      const key = loadMeterKey(dataDir, meterId);
      return {
        jid: `${meterId}@${domain}`, password, meterId, firstSeq,
        sign: (seq: bigint) => signTx(genesis.chainId, key.alg, key.secretKey,
          { type: TxType.Reading, meterId, seq, time: Date.now(), importWh: whBase + Number(seq - firstSeq) }),
      };
    });
    const unlock = lockSimulator(dataDir);
    let report: XmppSimulationReport;
    try {
      report = await runXmppSimulation({
        service, domain, meters, gatewayJid, readings, timeoutMs: timeoutS * 1000, genesis, log: err,
        ...(ca !== undefined ? { tls: { ca } } : {}),
        ...(rate !== undefined ? { rate } : {}),
      });
    } finally {
      unlock();
    }
    for (const line of human(report, meters.length)) (asJson ? err : out)(line);
    if (asJson) out(json(report, meters.length));
    const failed = report.missing > 0 || report.invalid_receipts > 0 || (report.sent > 0 && report.acknowledged === 0);
    return failed ? 1 : 0;
  },
};
