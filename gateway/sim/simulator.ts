/**
 * A fleet of simulated meters against a running gateway: K signed readings per meter at
 * QoS 1, then wait for each PUBACK and each 'committed' receipt. A compact receipt (the
 * default, docs/protocol.md §8.3.1) must name the reading's seq; a full one is checked with
 * the genesis alone; and each meter asks for the full receipt of its last committed reading
 * (§8.3.2) and checks it so. The totals say whether "nothing acknowledged is lost" held.
 */
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { MqttClient } from 'mqtt';
import {
  type Genesis, TxType, decodeReceiptsTopicMessage, encodeReceiptRequest, equalBytes, readingsTopic, receiptRequestTopic, sha256, toHex, verifyReceipt,
} from '../../protocols/index.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { readDevAccountPlan } from '../../ledger-node/billing/dev-setup.js';
import { type KeyPair, loadKeyFile } from '../../ledger-node/keyfile.js';
import type { MeterView } from '../../ledger-node/api.js';
import { GatewayError } from '../errors.js';
import { signReading } from '../cli/sign.js';
import { getJsonOrUndefined } from '../cli/http-client.js';
import { connectMeter, publishQos1 } from './meter-client.js';
import { SealingMeter } from './sealing.js';
import { newTally, onBillsMessage } from './pay.js';
import { type LatencySummary, summarize } from './stats.js';

export interface SimOptions {
  readonly dataDir: string;
  readonly genesis: Genesis;
  readonly mqttUrl: string;
  /** Gateway HTTP API: sequence numbers continue from each meter's lastSeq (read with `adminToken`). */
  readonly httpUrl?: string;
  /**
   * The gateway's admin token: a meter's record is the operator's or its owner's to read
   * (docs/http-api.md §Access). Without it the numbers start from the clock, as without httpUrl.
   */
  readonly adminToken?: string;
  /** First N meter key files (sorted by id); default all. */
  readonly meters?: number;
  readonly readings: number;
  /** Readings per second over all meters; default as fast as the in-flight window allows. */
  readonly rate?: number;
  /** Unacknowledged publishes allowed at once, over all meters. */
  readonly maxInFlight: number;
  /** How long to wait for PUBACKs and receipts after the last publish (and for progress while publishing). */
  readonly timeoutMs: number;
  readonly log?: (line: string) => void;
  /** Stop early (Ctrl-C) and report what happened so far. */
  readonly signal?: AbortSignal;
  /** How often to log the counts while running (default 10 s). */
  readonly statusEveryMs?: number;
}

export interface SimReport {
  readonly meters: number;
  readonly sent: number;
  /** PUBACK received. */
  readonly acknowledged: number;
  /** A valid 'committed' receipt arrived. */
  readonly receipted: number;
  readonly rejected: number;
  readonly rejectedByCode: Record<string, number>;
  /** Acknowledged, not rejected, and no valid receipt before the timeout. */
  readonly missing: number;
  readonly invalidReceipts: number;
  /** Full receipts asked for over MQTT (one per meter, of its last committed reading) that verified with the genesis. */
  readonly fullReceiptsVerified: number;
  readonly publishErrors: number;
  readonly ack: LatencySummary;
  readonly receipt: LatencySummary;
  readonly durationS: number;
  /** Why the run stopped before sending everything (no PUBACKs, interrupted), or null. */
  readonly stalled: string | null;
  /** Confidential meters among those run (sealed readings, docs/protocol.md §11), and the period keys they published. */
  readonly sealed?: { meters: number; periodKeys: number };
  /** On a chain with billing (a currency in genesis, not the default dev chain): the meters' bills and what became of their payments. */
  readonly payments?: { bills: number; sent: number; paid: number; autopaid: number; refusedByCode: Record<string, number>; unanswered: number };
}

interface Tracked {
  readonly meterId: string;
  readonly seq: bigint;
  readonly sentAt: number;
  ackAt?: number;
  receiptAt?: number;
  rejected?: string;
  failed?: boolean;
  invalid?: string;
  /** Its full receipt was asked for (§8.3.2): undefined until answered, then whether it verified. */
  full?: 'asked' | 'verified';
}

const settled = (t: Tracked): boolean =>
  t.failed === true || t.rejected !== undefined || t.invalid !== undefined || (t.ackAt !== undefined && t.receiptAt !== undefined);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Meter ids with a key file in <dataDir>/keys/meters, sorted. */
export function meterIdsInDataDir(dataDir: string): string[] {
  try {
    return readdirSync(dataPaths(resolve(dataDir)).meterKeys).filter((f) => f.endsWith('.key')).map((f) => f.slice(0, -4)).sort();
  } catch {
    return [];
  }
}

export async function runSimulation(o: SimOptions): Promise<SimReport> {
  const log = o.log ?? (() => undefined);
  const chainId = o.genesis.chainId;
  const all = meterIdsInDataDir(o.dataDir);
  if (all.length === 0) throw new GatewayError('E_SIM_NO_METERS', `no meter keys in ${dataPaths(resolve(o.dataDir)).meterKeys}`);
  const ids = all.slice(0, o.meters ?? all.length);
  if (o.meters !== undefined && o.meters > all.length) throw new GatewayError('E_SIM_NO_METERS', `asked for ${o.meters} meters, ${all.length} key files exist`);

  const keys = new Map<string, KeyPair>(ids.map((id) => [id, loadKeyFile(dataPaths(resolve(o.dataDir)).meterKey(id))]));
  const nextSeq = new Map<string, bigint>();
  for (const id of ids) {
    let start = BigInt(Date.now()) * 1000n; // never collides with an earlier run's numbers
    if (o.httpUrl && o.adminToken !== undefined) {
      const m = await getJsonOrUndefined<MeterView>(o.httpUrl, `/api/v1/meters/${encodeURIComponent(id)}`, o.adminToken);
      if (!m) throw new GatewayError('E_SIM_UNKNOWN_METER', `the gateway knows no meter "${id}"`);
      start = BigInt(m.lastSeq) + 1n;
    }
    nextSeq.set(id, start);
  }

  // Meters confidential in genesis seal their readings under a period key of their own.
  const conf = SealingMeter.recipientsIn(o.genesis);
  const sealing = new Map(ids.filter((id) => conf.has(id)).map((id) => [id, new SealingMeter(o.genesis, id, keys.get(id)!, conf.get(id)!)]));
  let periodKeys = 0;

  const tracked = new Map<string, Tracked>();
  let wake: (() => void) | undefined;
  const poke = (): void => {
    wake?.();
    wake = undefined;
  };
  // The default dev chain has a currency only so that its owner's first enrolment can open
  // the account (its dev-account.json, ledger-node/billing/dev-setup.ts): it issues no bills.
  const billing = o.genesis.currency !== undefined && readDevAccountPlan(o.dataDir) === undefined;
  const tally = newTally();
  const seenBills = new Set<string>();
  const clients = new Map<string, MqttClient>();
  const onMessage = (topic: string, payload: Uint8Array): void => {
    const bills = /^meters\/([^/]+)\/bills$/.exec(topic);
    if (bills) {
      const id = bills[1]!;
      const c = clients.get(id);
      if (c && keys.has(id)) onBillsMessage(chainId, id, keys.get(id)!, c, payload, tally, log, seenBills);
      return;
    }
    let msg;
    try {
      msg = decodeReceiptsTopicMessage(payload);
    } catch {
      return;
    }
    const t = tracked.get(toHex(msg.txHash));
    if (t?.full === 'asked' && msg.status === 'committed' && msg.receipt) {
      try {
        const v = verifyReceipt(o.genesis, msg.receipt);
        if (!equalBytes(v.tx.hash, msg.txHash) || msg.seq !== t.seq) t.invalid = 'full receipt is for another transaction';
        else t.full = 'verified';
      } catch (e) {
        t.invalid = (e as Error).message;
      }
      poke();
      return;
    }
    if (!t || settled(t)) return; // earlier runs' messages in a persistent session
    if (msg.status === 'rejected') t.rejected = msg.code;
    else if (msg.receipt === undefined) {
      // Compact (docs/protocol.md §8.3.1): what a meter checks before it frees its buffer.
      if (msg.seq !== t.seq) t.invalid = `compact receipt names seq ${msg.seq}, the reading has ${t.seq}`;
      else t.receiptAt = performance.now();
    } else {
      try {
        const v = verifyReceipt(o.genesis, msg.receipt);
        if (!equalBytes(v.tx.hash, msg.txHash)) t.invalid = 'receipt is for another transaction';
        else t.receiptAt = performance.now();
      } catch (e) {
        t.invalid = (e as Error).message;
      }
    }
    if (settled(t)) poke();
  };

  log(`connecting ${ids.length} meters to ${o.mqttUrl}`);
  try {
    for (let i = 0; i < ids.length; i += 50) {
      const batch = ids.slice(i, i + 50);
      const cs = await Promise.all(batch.map((id) => connectMeter({
        url: o.mqttUrl, chainId, meterId: id, key: keys.get(id)!, connectTimeoutMs: Math.min(o.timeoutMs, 10_000), onMessage, bills: billing,
      })));
      batch.forEach((id, k) => clients.set(id, cs[k]!));
    }

    const total = ids.length * o.readings;
    log(`publishing ${total} readings (${o.readings} per meter)${o.rate ? ` at ${o.rate}/s` : ''}`);
    const t0 = performance.now();
    const whBase = Math.floor(Date.now() / 1000);
    let inFlight = 0;
    let publishErrors = 0;
    let stalled: string | null = null;
    const aborted = (): boolean => {
      if (o.signal?.aborted) stalled ??= 'interrupted';
      return stalled !== null;
    };
    o.signal?.addEventListener('abort', poke);
    // Counts while it runs, so a stall shows as it happens.
    const status = setInterval(() => {
      const ts = [...tracked.values()];
      log(`sent ${ts.length}/${total}, acknowledged ${ts.filter((t) => t.ackAt !== undefined).length}, ` +
        `receipted ${ts.filter((t) => t.receiptAt !== undefined).length}, rejected ${ts.filter((t) => t.rejected !== undefined).length}, in flight ${inFlight}`);
    }, o.statusEveryMs ?? 10_000);
    status.unref();
    try {
      publishing: for (let n = 0; n < total; n++) {
        if (aborted()) break;
        const id = ids[n % ids.length]!;
        const i = Math.floor(n / ids.length);
        if (o.rate) {
          const due = t0 + (n * 1000) / o.rate;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
        }
        const since = performance.now();
        while (inFlight >= o.maxInFlight) {
          if (performance.now() - since > o.timeoutMs) stalled = `no PUBACK for ${o.timeoutMs / 1000} s with ${inFlight} publishes in flight`;
          if (aborted()) break publishing;
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 100);
          });
        }
        const seq = nextSeq.get(id)!;
        nextSeq.set(id, seq + 1n);
        const now = Date.now();
        // With billing, the register follows the clock (10 Wh a second, a 36 kW site): bills of a
        // short cycle are worth paying, and the register never goes back across runs.
        const importWh = billing ? Math.floor(now / 100) : whBase + i;
        const reading = { type: TxType.Reading, meterId: id, seq, time: now, importWh } as const;
        const sealer = sealing.get(id);
        // The period's key goes first, acknowledged, so its readings never wait for it long (§11.6).
        const keyTx = sealer?.periodKeyFor(now);
        if (keyTx) {
          try {
            await publishQos1(clients.get(id)!, readingsTopic(id), keyTx);
            periodKeys++;
          } catch (e) {
            publishErrors++;
            log(`${id}: the period key was not acknowledged: ${(e as Error).message}`);
          }
        }
        const tx = sealer ? sealer.seal(reading) : signReading(chainId, keys.get(id)!, reading);
        const t: Tracked = { meterId: id, seq, sentAt: performance.now() };
        tracked.set(toHex(sha256(tx)), t);
        inFlight++;
        publishQos1(clients.get(id)!, readingsTopic(id), tx).then(
          () => {
            t.ackAt = performance.now();
          },
          () => {
            t.failed = true;
            publishErrors++;
          },
        ).finally(() => {
          inFlight--;
          poke();
        });
      }

      if (stalled === null) {
        log(`waiting up to ${o.timeoutMs / 1000} s for PUBACKs and receipts`);
        const deadline = performance.now() + o.timeoutMs;
        for (;;) {
          const open = [...tracked.values()].filter((t) => !settled(t)).length;
          if (open === 0 || performance.now() >= deadline || aborted()) break;
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 200);
          });
        }
        // One full receipt per meter, asked for over MQTT (§8.3.2) and verified offline.
        const last = new Map<string, Tracked>();
        for (const t of tracked.values()) if (t.receiptAt !== undefined && t.invalid === undefined) last.set(t.meterId, t);
        for (const t of last.values()) {
          t.full = 'asked';
          await publishQos1(clients.get(t.meterId)!, receiptRequestTopic(t.meterId), encodeReceiptRequest({ seq: t.seq })).catch(() => undefined);
        }
        const fullDeadline = performance.now() + Math.min(o.timeoutMs, 30_000);
        while ([...last.values()].some((t) => t.full === 'asked' && t.invalid === undefined) && performance.now() < fullDeadline && !aborted()) await sleep(50);
        for (const t of last.values()) if (t.full === 'asked' && t.invalid === undefined) t.invalid = 'no full receipt in answer to its request';
        // Payments sent for bills that came meanwhile: wait for their outcome too.
        const payDeadline = performance.now() + o.timeoutMs;
        if (tally.open.size > 0) log(`waiting up to ${o.timeoutMs / 1000} s for the outcome of ${tally.open.size} payments`);
        while (tally.open.size > 0 && performance.now() < payDeadline && !aborted()) await sleep(200);
      } else log(`stopped: ${stalled}`);
    } finally {
      clearInterval(status);
      o.signal?.removeEventListener('abort', poke);
    }
    const durationS = (performance.now() - t0) / 1000;

    const ts = [...tracked.values()];
    const rejectedByCode: Record<string, number> = {};
    for (const t of ts) if (t.rejected) rejectedByCode[t.rejected] = (rejectedByCode[t.rejected] ?? 0) + 1;
    const acked = ts.filter((t) => t.ackAt !== undefined);
    return {
      meters: ids.length,
      sent: ts.length,
      acknowledged: acked.length,
      receipted: acked.filter((t) => t.receiptAt !== undefined).length,
      rejected: ts.filter((t) => t.rejected !== undefined).length,
      rejectedByCode,
      missing: acked.filter((t) => t.receiptAt === undefined && t.rejected === undefined).length,
      invalidReceipts: ts.filter((t) => t.invalid !== undefined).length,
      fullReceiptsVerified: ts.filter((t) => t.full === 'verified').length,
      publishErrors,
      ack: summarize(acked.map((t) => t.ackAt! - t.sentAt)),
      receipt: summarize(acked.filter((t) => t.receiptAt !== undefined).map((t) => t.receiptAt! - t.sentAt)),
      durationS: Math.round(durationS * 1000) / 1000,
      stalled,
      ...(sealing.size ? { sealed: { meters: sealing.size, periodKeys } } : {}),
      ...(billing ? {
        payments: { bills: tally.bills, sent: tally.sent, paid: tally.paid, autopaid: tally.autopaid, refusedByCode: { ...tally.refusedByCode }, unanswered: tally.open.size },
      } : {}),
    };
  } finally {
    await Promise.all([...clients.values()].map((c) => c.endAsync(true).catch(() => undefined)));
  }
}
