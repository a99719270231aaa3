/**
 * The load generator, run as its own process (fork) so that its CPU is not the
 * gateway's and a gateway profile shows only the gateway. Real meters: mqtt.js, MQTT
 * 3.1.1, persistent session, a signed CONNECT token, subscribed to the receipts topic at
 * QoS 1. Readings are signed before the clock starts (OpenSSL, as a meter's secure
 * element would), published at QoS 1, and each is timed from PUBLISH to its 'committed'
 * receipt. Closed loop (a window of unacknowledged publishes) measures capacity; paced
 * (a target rate) measures latency below it.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { readFileSync } from 'node:fs';
import { TxType, decodeCbor, decodeReceiptsTopicMessage, makeConnectToken, parseGenesis, readingsTopic, receiptsTopic, sha256, toHex, verifyReceipt } from '../../protocols/index.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { type KeyPair, loadKeyFile } from '../../ledger-node/keyfile.js';
import { signReading } from '../../gateway/cli/sign.js';
import { SealingMeter } from '../../gateway/sim/sealing.js';
import { summarize } from '../../gateway/sim/stats.js';

export interface MeterSpec {
  readonly id: string;
  readonly dataDir: string;
  readonly mqttUrl: string;
}

export interface LoadOptions {
  readonly meters: readonly MeterSpec[];
  readonly mode: 'closed' | 'paced';
  /**
   * closed: readings without their receipt (committed or rejected) at once, over all
   * meters. The window closes on receipts, not PUBACKs: a window of acknowledgements
   * lets acceptance outrun commitment, and the backlog (and the latency) then grows
   * for as long as the run lasts instead of settling at what the gateway sustains.
   */
  readonly inFlight?: number;
  /** paced: readings per second over all meters. */
  readonly rate?: number;
  readonly durationMs: number;
  /** Receipts before this are not counted in the rate, readings sent before it not in the latency. */
  readonly warmupMs: number;
  /** Readings signed in advance, over all meters (the load stops early if they run out). */
  readonly budget: number;
  /** How long to wait for receipts after the last publish. */
  readonly drainMs: number;
  /** First sequence number of every meter (default: now in µs, above any earlier run). */
  readonly startSeq?: string;
  /**
   * What counts as a reading committed (and closes its place in the window): its
   * 'committed' receipt from the gateway (the default); its PUBACK (a plain broker, which
   * commits nothing: bench/compare.ts); or its SHA-256 in a message on this topic (the
   * do-it-yourself consumer's batched announcement after each fsync, bench/lib/diy-consumer.ts).
   */
  readonly commitOn?: 'receipt' | 'puback' | { readonly durableTopic: string };
}

export interface LoadResult {
  readonly sent: number;
  readonly acked: number;
  readonly committed: number;
  readonly rejectedByCode: Record<string, number>;
  /** Acknowledged and neither committed nor rejected by the end of the drain. */
  readonly missing: number;
  readonly budgetExhausted: boolean;
  readonly windowS: number;
  /** Committed receipts per second between the warm-up and the end of the load. */
  readonly committedPerS: number;
  readonly sentPerS: number;
  readonly latency: ReturnType<typeof summarize>;
  readonly ackLatency: ReturnType<typeof summarize>;
  readonly signedBytesAvg: number;
  readonly clientCpuS: number;
  /**
   * Committed receipts decoded in full (one in RECEIPT_SAMPLE): a full one verified against
   * genesis, a compact one (docs/protocol.md §8.3.1) checked to name the reading's seq and hash.
   */
  readonly receiptsVerified: number;
  /** Mean size of a committed message on the receipts topic, bytes (compact by default). */
  readonly receiptBytesAvg: number;
  /** Of those, receipts that failed to decode or verify (must be 0). */
  readonly receiptsInvalid: number;
}

/**
 * One committed receipt in this many is kept, and after the load (outside the CPU it
 * reports, and after the gateway's work is done) decoded in full and verified offline
 * against genesis (inclusion proof, commit certificate, signature). The others are only
 * read for their status and txHash, so that during the load the generator spends its CPU
 * on MQTT, not on checking what the tests already check, and leaves more of the machine
 * to the gateway.
 */
const RECEIPT_SAMPLE = 100;

interface Item {
  readonly meter: number;
  readonly seq: bigint;
  readonly bytes: Buffer;
  sentAt?: number;
  ackAt?: number;
  receiptAt?: number;
  rejected?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const genesisCache = new Map<string, ReturnType<typeof parseGenesis>>();
  const genesisOf = (dir: string) => {
    let g = genesisCache.get(dir);
    if (!g) genesisCache.set(dir, (g = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')))));
    return g;
  };
  const keys: KeyPair[] = o.meters.map((m) => loadKeyFile(dataPaths(m.dataDir).meterKey(m.id)));
  const chainId = genesisOf(o.meters[0]!.dataDir).chainId;

  // Sign everything first, round-robin over the meters, each meter's sequence rising.
  const start = o.startSeq !== undefined ? BigInt(o.startSeq) : BigInt(Date.now()) * 1000n;
  const items: Item[] = [];
  const byHash = new Map<string, Item>();
  const now = Date.now();
  let bytesTotal = 0;
  // Confidential meters (genesis recipients): each meter's period key first, then its readings sealed under it.
  const conf = SealingMeter.recipientsIn(genesisOf(o.meters[0]!.dataDir));
  const sealers = o.meters.map((m, k) => (conf.has(m.id) ? new SealingMeter(genesisOf(m.dataDir), m.id, keys[k]!, conf.get(m.id)!) : undefined));
  const periodKeys = sealers.map((s) => s?.periodKeyFor(now));
  const setup = periodKeys.flatMap((k, meter) => (k ? [{ meter, bytes: Buffer.from(k) }] : []));
  for (let n = 0; n < o.budget; n++) {
    const k = n % o.meters.length;
    const seq = start + BigInt(Math.floor(n / o.meters.length));
    const reading = { type: TxType.Reading, meterId: o.meters[k]!.id, seq, time: now, importWh: n } as const;
    const bytes = Buffer.from(sealers[k] ? sealers[k]!.seal(reading) : signReading(chainId, keys[k]!, reading));
    bytesTotal += bytes.length;
    const it: Item = { meter: k, seq, bytes };
    items.push(it);
    byHash.set(toHex(sha256(bytes)), it);
  }

  const clients: MqttClient[] = [];
  const genesis = genesisOf(o.meters[0]!.dataDir);
  let receiptsVerified = 0;
  let receiptsInvalid = 0;
  let receiptNo = 0;
  let receiptBytes = 0;
  const sampled: Uint8Array[] = [];
  let inFlight = 0;
  const onMessage = (_t: string, payload: Buffer): void => {
    let m;
    try {
      m = decodeCbor(new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    } catch {
      receiptsInvalid++;
      return;
    }
    // A compact receipt (integer labels, docs/protocol.md §8.3.1: 5 = txHash) or a text-keyed message.
    const compact = m instanceof Map && m.has(0);
    const txHash = m instanceof Map ? m.get(compact ? 5 : 'txHash') : undefined;
    if (!(txHash instanceof Uint8Array)) {
      receiptsInvalid++;
      return;
    }
    const it = byHash.get(toHex(txHash));
    if (!it || it.receiptAt !== undefined || it.rejected !== undefined) return;
    const status = compact ? 'committed' : (m as Map<string, unknown>).get('status');
    inFlight--;
    if (status === 'committed') {
      it.receiptAt = performance.now();
      receiptBytes += payload.length;
      if (receiptNo++ % RECEIPT_SAMPLE === 0) sampled.push(new Uint8Array(payload)); // a copy: mqtt.js may reuse its buffers
    } else it.rejected = String((m as Map<string, unknown>).get('code'));
    wake();
  };
  for (let i = 0; i < o.meters.length; i += 50) {
    const batch = o.meters.slice(i, i + 50).map(async (m, j) => {
      const key = keys[i + j]!;
      const token = (): string => makeConnectToken(chainId, m.id, m.id, Date.now(), key.alg, key.secretKey);
      const c = mqtt.connect(m.mqttUrl, { protocolVersion: 4, clientId: m.id, username: m.id, password: token(), clean: false, reconnectPeriod: 500, connectTimeout: 10_000, keepalive: 60 });
      c.on('reconnect', () => {
        c.options.password = token();
      });
      c.on('error', () => undefined);
      c.on('message', onMessage);
      await new Promise<void>((res, rej) => {
        const t = setTimeout(() => rej(new Error(`${m.id}: no CONNACK`)), 15_000);
        c.once('connect', () => {
          clearTimeout(t);
          res();
        });
      });
      await c.subscribeAsync(receiptsTopic(m.id), { qos: 1 });
      clients[i + j] = c;
    });
    await Promise.all(batch);
  }
  const commitOn = o.commitOn ?? 'receipt';
  if (typeof commitOn === 'object') {
    const d = mqtt.connect(o.meters[0]!.mqttUrl, { protocolVersion: 4, clientId: 'bench-durable-watch', clean: true, reconnectPeriod: 0 });
    d.on('error', () => undefined);
    d.on('message', (_t, payload: Buffer) => {
      for (let i = 0; i + 32 <= payload.length; i += 32) {
        const it = byHash.get(payload.toString('hex', i, i + 32));
        if (!it || it.receiptAt !== undefined) continue;
        it.receiptAt = performance.now();
        inFlight--;
      }
      wake();
    });
    await new Promise<void>((res, rej) => {
      d.once('connect', () => res());
      d.once('error', rej);
    });
    await d.subscribeAsync(commitOn.durableTopic, { qos: 1 });
    clients.push(d);
  }

  let waiter: (() => void) | undefined;
  function wake(): void {
    const w = waiter;
    waiter = undefined;
    w?.();
  }
  const wait = (ms: number): Promise<void> => new Promise((r) => {
    waiter = r;
    setTimeout(r, ms);
  });

  // Before the load, and outside its figures: each confidential meter's period key,
  // acknowledged. Then the parent is told the generator is ready and answers when it has
  // opened its CPU window (after the gateway committed those keys: runLoadProcess's onReady).
  await Promise.all(setup.map((it) => clients[it.meter]!.publishAsync(readingsTopic(o.meters[it.meter]!.id), it.bytes, { qos: 1 })));
  if (process.send) {
    const go = new Promise<void>((r) => process.once('message', () => r()));
    process.send({ ready: true });
    await go;
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + o.durationMs;
  let next = 0;
  const window = o.inFlight ?? 1000;
  while (performance.now() < end && next < items.length) {
    if (o.mode === 'paced') {
      const due = t0 + (next * 1000) / o.rate!;
      const w = due - performance.now();
      if (w > 1) await sleep(w);
    } else if (inFlight >= window) {
      await wait(50);
      continue;
    }
    const it = items[next++]!;
    it.sentAt = performance.now();
    inFlight++;
    clients[it.meter]!.publish(readingsTopic(o.meters[it.meter]!.id), it.bytes, { qos: 1 }, (e) => {
      if (!e) it.ackAt = performance.now();
      if (!e && commitOn === 'puback') {
        it.receiptAt = it.ackAt;
        inFlight--;
      }
      wake();
    });
    // Let the socket breathe in closed mode too.
    if (o.mode === 'closed' && next % 64 === 0) await new Promise((r) => setImmediate(r));
  }
  const loadEnd = performance.now();
  const budgetExhausted = next >= items.length && loadEnd < end - 100;
  const sent = items.slice(0, next);
  const drainEnd = loadEnd + o.drainMs;
  // Checked every 200 ms, not on every receipt: a scan of everything sent per receipt
  // was 5% of the generator's CPU.
  while (performance.now() < drainEnd) {
    if (sent.every((it) => it.receiptAt !== undefined || it.rejected !== undefined || (it.ackAt === undefined && performance.now() - it.sentAt! > 10_000))) break;
    await sleep(200);
  }
  const cpu = process.cpuUsage(cpu0);
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  for (const bytes of sampled) {
    try {
      const full = decodeReceiptsTopicMessage(bytes);
      if (full.status !== 'committed') throw new Error('status differs in full decode');
      // A compact receipt (docs/protocol.md §8.3.1) has no proof: it must name the reading sent.
      if (full.receipt) verifyReceipt(genesis, full.receipt);
      else if (byHash.get(toHex(full.txHash))?.seq !== full.seq) throw new Error('compact receipt names another reading');
      receiptsVerified++;
    } catch {
      receiptsInvalid++;
    }
  }

  const from = t0 + o.warmupMs;
  const windowS = (loadEnd - from) / 1000;
  const inWindow = sent.filter((it) => it.receiptAt !== undefined && it.receiptAt >= from && it.receiptAt <= loadEnd).length;
  const rejectedByCode: Record<string, number> = {};
  for (const it of sent) if (it.rejected) rejectedByCode[it.rejected] = (rejectedByCode[it.rejected] ?? 0) + 1;
  const measured = sent.filter((it) => it.sentAt! >= from && it.receiptAt !== undefined);
  return {
    sent: sent.length,
    acked: sent.filter((it) => it.ackAt !== undefined).length,
    committed: sent.filter((it) => it.receiptAt !== undefined).length,
    rejectedByCode,
    missing: sent.filter((it) => it.ackAt !== undefined && it.receiptAt === undefined && it.rejected === undefined).length,
    budgetExhausted,
    windowS: Math.round(windowS * 1000) / 1000,
    committedPerS: Math.round(inWindow / windowS),
    sentPerS: Math.round(sent.filter((it) => it.sentAt! >= from).length / windowS),
    latency: summarize(measured.map((it) => it.receiptAt! - it.sentAt!)),
    ackLatency: summarize(sent.filter((it) => it.ackAt !== undefined && it.sentAt! >= from).map((it) => it.ackAt! - it.sentAt!)),
    signedBytesAvg: Math.round(bytesTotal / Math.max(1, items.length)),
    clientCpuS: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
    receiptsVerified,
    receiptBytesAvg: receiptNo === 0 ? 0 : Math.round(receiptBytes / receiptNo),
    receiptsInvalid,
  };
}

// As a child process: one 'run' message in, one result out.
if (process.send) {
  process.once('message', (msg: { run: LoadOptions }) => {
    runLoad(msg.run).then(
      (r) => process.send!({ result: r }, () => process.exit(0)),
      (e: unknown) => process.send!({ error: String((e as Error).stack ?? e) }, () => process.exit(1)),
    );
  });
}
