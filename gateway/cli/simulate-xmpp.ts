/**
 * Simulated XMPP meters against a gateway's XMPP bridge (docs/xmpp.md): each meter logs in
 * to the site's XMPP server, sends K signed readings as `<reading/>` messages to the
 * gateway's JID, and waits for the `<ack/>` and the `<receipt/>` of each; every receipt is
 * checked with the genesis alone. Uses protocols/ and the XMPP client factory of
 * bridge/xmpp, the same client (STARTTLS, SASL, bind) the gateway's bridge logs in with.
 *
 * TLS: `tls` options (a private CA) apply to STARTTLS (`xmpp://`) and to direct TLS
 * (`xmpps://`) alike; without them the server certificate is checked against Node's
 * trust store.
 */
import { xml, type Element } from '@xmpp/xml';
import type { Client } from '@xmpp/client-core';
import { NS_READING, XmppBridgeError, createXmppClient } from '../../bridge/xmpp/index.js';
import { percentile } from '../sim/stats.js';
import {
  type Genesis, decodeReceipt, equalBytes, fromHex, sha256, verifyReceipt,
} from '../../protocols/index.js';

export interface XmppSimMeter {
  /** Bare JID of the meter's XMPP account, e.g. 'meter-0001@site.example'. */
  readonly jid: string;
  readonly password: string;
  readonly meterId: string;
  /** The meter's signed reading with sequence number `seq` (transaction bytes). */
  readonly sign: (seq: bigint) => Uint8Array;
  /** First sequence number to send (default 1). */
  readonly firstSeq?: bigint;
}

export interface XmppSimulationOptions {
  /** `xmpp://host:port` (STARTTLS when offered) or `xmpps://host:port`. */
  readonly service: string;
  readonly domain: string;
  readonly meters: readonly XmppSimMeter[];
  /** Bare JID the gateway's bridge logs in as. */
  readonly gatewayJid: string;
  /** Readings per meter. */
  readonly readings: number;
  /** Readings per second over all meters; default as fast as possible. */
  readonly rate?: number;
  /** Bound on logging in, and on waiting for acks and receipts after the last send. */
  readonly timeoutMs: number;
  readonly genesis: Genesis;
  readonly tls?: { readonly ca?: string | Buffer; readonly rejectUnauthorized?: boolean };
  readonly log?: (line: string) => void;
}

export interface XmppSimulationReport {
  readonly sent: number;
  /** An `<ack status='accepted'/>` arrived. */
  readonly acknowledged: number;
  /** A `<receipt/>` arrived and verified with the genesis. */
  readonly receipted: number;
  /** Refused: an `<ack status='rejected'/>` or an error stanza. */
  readonly rejected: number;
  readonly rejected_by_code: Record<string, number>;
  /** Accepted but no valid receipt before the timeout. */
  readonly missing: number;
  readonly invalid_receipts: number;
  /** Latency from send to ack (accepted or rejected), ms. */
  readonly p50_ms: number;
  readonly p99_ms: number;
  /** Latency from send to a valid receipt, ms (0 when none arrived). */
  readonly receipt_p50_ms: number;
  readonly receipt_p99_ms: number;
  /** From the first send to the end of waiting, seconds. */
  readonly duration_s: number;
}

interface Tracked {
  readonly meterId: string;
  readonly tx: Uint8Array;
  readonly sentAt: number;
  ackAt?: number;
  accepted?: boolean;
  receiptAt?: number;
  rejected?: string;
  invalid?: string;
}

type XmppEntity = Client;

const settled = (t: Tracked): boolean =>
  t.rejected !== undefined || t.invalid !== undefined || (t.accepted === true && t.receiptAt !== undefined);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile `p` of sorted samples, to 0.1 ms; 0 when there are none. */
const percentileMs = (sorted: readonly number[], p: number): number => Math.round((percentile(sorted, p) ?? 0) * 10) / 10;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

export async function runXmppSimulation(o: XmppSimulationOptions): Promise<XmppSimulationReport> {
  const log = o.log ?? (() => undefined);
  const tracked = new Map<string, Tracked>(); // by message id
  let wake: (() => void) | undefined;

  const onStanza = (s: Element): void => {
    const ack = s.getChild('ack', NS_READING);
    const rc = s.getChild('receipt', NS_READING);
    let t: Tracked | undefined;
    if (s.attrs.type === 'error') {
      t = tracked.get(s.attrs.id ?? '');
      if (t && !settled(t)) {
        t.ackAt ??= performance.now();
        const e = s.getChild('error');
        t.rejected = e?.getChild('refused', NS_READING)?.attrs.code ?? e?.getChildElements()[0]?.name ?? 'xmpp-error';
      }
    } else if (ack) {
      t = tracked.get(ack.attrs.id ?? '');
      if (t && t.ackAt === undefined) {
        t.ackAt = performance.now();
        if (ack.attrs.status === 'accepted') t.accepted = true;
        else t.rejected = ack.attrs.code ?? 'unknown';
      }
    } else if (rc) {
      t = tracked.get(rc.attrs.id ?? '');
      if (t && t.receiptAt === undefined && t.invalid === undefined) {
        try {
          const v = verifyReceipt(o.genesis, decodeReceipt(new Uint8Array(Buffer.from(rc.getText(), 'base64'))));
          if (!equalBytes(v.tx.hash, sha256(t.tx))) t.invalid = 'receipt is for another transaction';
          else if (rc.attrs.tx && !equalBytes(fromHex(rc.attrs.tx), v.tx.hash)) t.invalid = 'tx attribute differs from the receipt';
          else t.receiptAt = performance.now();
        } catch (e) {
          t.invalid = (e as Error).message;
        }
      }
    }
    if (t && settled(t)) {
      wake?.();
      wake = undefined;
    }
  };

  const clients: { m: XmppSimMeter; x: XmppEntity }[] = [];
  let t0: number | undefined;
  try {
    log(`logging in ${o.meters.length} meters to ${o.service}`);
    for (const m of o.meters) {
      const [local, domain] = m.jid.split('@');
      if (!local || domain !== o.domain) throw new TypeError(`meter JID "${m.jid}" is not <user>@${o.domain}`);
      const x = createXmppClient({
        service: o.service, domain: o.domain, username: local, password: m.password,
        resource: `sim-${Math.random().toString(36).slice(2, 8)}`, ...(o.tls ? { tls: o.tls } : {}),
      }).entity;
      x.on('error', () => undefined);
      x.on('stanza', onStanza);
      clients.push({ m, x });
      try {
        await withTimeout(x.start(), o.timeoutMs, `login of ${m.jid}`);
      } catch (e) {
        const auth = (e as Error).name === 'SASLError';
        throw new XmppBridgeError(auth ? 'E_XMPP_AUTH' : 'E_XMPP_CONNECT',
          `${auth ? 'login refused' : 'could not log in'} to ${o.service} as ${m.jid}: ${(e as Error).message}`, { cause: e });
      }
      await x.send(xml('presence'));
    }

    const total = o.meters.length * o.readings;
    log(`sending ${total} readings (${o.readings} per meter) to ${o.gatewayJid}${o.rate ? ` at ${o.rate}/s` : ''}`);
    t0 = performance.now();
    for (let n = 0; n < total; n++) {
      const { m, x } = clients[n % clients.length]!;
      const seq = (m.firstSeq ?? 1n) + BigInt(Math.floor(n / clients.length));
      if (o.rate) {
        const due = t0 + (n * 1000) / o.rate;
        const now = performance.now();
        if (due > now) await sleep(due - now);
      }
      const tx = m.sign(seq);
      const id = `sim-${m.meterId}-${seq}`;
      tracked.set(id, { meterId: m.meterId, tx, sentAt: performance.now() });
      await x.send(xml('message', { to: o.gatewayJid, id },
        xml('reading', { xmlns: NS_READING, meter: m.meterId }, Buffer.from(tx).toString('base64'))));
    }

    const deadline = Date.now() + o.timeoutMs;
    while ([...tracked.values()].some((t) => !settled(t)) && Date.now() < deadline) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.min(250, Math.max(0, deadline - Date.now())));
      });
    }
  } finally {
    await Promise.all(clients.map(({ x }) => withTimeout(x.stop(), 3000, 'logout').catch(() => undefined)));
  }

  const all = [...tracked.values()];
  const rejected_by_code: Record<string, number> = {};
  for (const t of all) if (t.rejected) rejected_by_code[t.rejected] = (rejected_by_code[t.rejected] ?? 0) + 1;
  const lat = all.filter((t) => t.ackAt !== undefined).map((t) => t.ackAt! - t.sentAt).sort((a, b) => a - b);
  const rlat = all.filter((t) => t.receiptAt !== undefined).map((t) => t.receiptAt! - t.sentAt).sort((a, b) => a - b);
  const report: XmppSimulationReport = {
    sent: all.length,
    acknowledged: all.filter((t) => t.accepted).length,
    receipted: all.filter((t) => t.receiptAt !== undefined).length,
    rejected: all.filter((t) => t.rejected !== undefined).length,
    rejected_by_code,
    missing: all.filter((t) => t.accepted && t.receiptAt === undefined && t.invalid === undefined).length,
    invalid_receipts: all.filter((t) => t.invalid !== undefined).length,
    p50_ms: percentileMs(lat, 50),
    p99_ms: percentileMs(lat, 99),
    receipt_p50_ms: percentileMs(rlat, 50),
    receipt_p99_ms: percentileMs(rlat, 99),
    duration_s: t0 === undefined ? 0 : Math.round(performance.now() - t0) / 1000,
  };
  log(`sent ${report.sent}, accepted ${report.acknowledged}, receipted ${report.receipted}, rejected ${report.rejected}, ack p50 ${report.p50_ms} ms p99 ${report.p99_ms} ms`);
  return report;
}
