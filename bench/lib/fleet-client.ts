/**
 * One slice of the fleet bench's meters (bench/fleet.ts), run as a child process so that
 * each process stays within its own open-file limit and the slices share the cores. Each
 * meter is an mqtt.js client as in the load generator (load-client.ts): MQTT 3.1.1,
 * persistent session, a signed CONNECT token, subscribed to its receipts topic at QoS 1.
 * 'open' connects the slice at a bounded rate; 'run' has every meter publish one signed
 * reading each period at its own phase (QoS 1), timed from PUBLISH to PUBACK and to its
 * 'committed' receipt; 'close' ends the clients.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { TOKEN_PREFIX, TxType, connectTokenSignBytes, decodeCbor, readingsTopic, receiptsTopic, sha256, toHex } from '../../protocols/index.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { type KeyPair, loadKeyFile } from '../../ledger-node/keyfile.js';
import { nativeSign } from '../../ledger-node/crypto/native.js';
import { signReading } from '../../gateway/cli/sign.js';

export interface FleetOpen {
  readonly mqttUrl: string;
  readonly dataDir: string;
  /** From genesis, read by the parent: parseGenesis would check every meter's key again in every slice (minutes at 19,500 on a loaded box). */
  readonly chainId: string;
  readonly meterIds: readonly string[];
  /** CONNECTs started per second by this slice. */
  readonly connectPerS: number;
}

export interface FleetOpened {
  readonly connected: number;
  readonly failed: number;
  /** Why meters failed to connect: the error mqtt.js gave, or a close before CONNACK. */
  readonly failedBy: Record<string, number>;
  readonly seconds: number;
}

export interface FleetRun {
  /** Epoch ms at which the first period starts (the same for every slice). */
  readonly startAt: number;
  readonly durationMs: number;
  readonly periodMs: number;
  readonly drainMs: number;
  /** The phase of this slice's meters within the period, ms, one per meter. */
  readonly phasesMs: readonly number[];
}

export interface FleetSliceResult {
  readonly sent: number;
  readonly acked: number;
  readonly committed: number;
  readonly rejectedByCode: Record<string, number>;
  /** Acknowledged (PUBACK) and neither committed nor rejected by the end of the drain. */
  readonly lost: number;
  /** Sent and never acknowledged. */
  readonly unacked: number;
  /** Connections that closed after they were up. */
  readonly dropped: number;
  readonly ackMs: number[];
  readonly receiptMs: number[];
  /** How late the slice published against each reading's planned time, ms (the client keeping up). */
  readonly lateMs: number[];
  readonly clientCpuS: number;
}

interface Sent {
  readonly sentAt: number;
  ackAt?: number;
  receiptAt?: number;
  rejected?: string;
}

const clients: MqttClient[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let ids: readonly string[] = [];
let keys: KeyPair[] = [];
let chainId = '';
let dropped = 0;
let running = false;
const byHash = new Map<string, Sent>();

function onReceipt(_t: string, payload: Buffer): void {
  let m;
  try {
    m = decodeCbor(new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
  } catch {
    return;
  }
  // A compact receipt (docs/protocol.md §8.3.1: label 5 = txHash) or a text-keyed message.
  const compact = m instanceof Map && m.has(0);
  const txHash = m instanceof Map ? m.get(compact ? 5 : 'txHash') : undefined;
  if (!(txHash instanceof Uint8Array)) return;
  const it = byHash.get(toHex(txHash));
  if (!it || it.receiptAt !== undefined || it.rejected !== undefined) return;
  const status = compact ? 'committed' : (m as Map<string, unknown>).get('status');
  if (status === 'committed') it.receiptAt = performance.now();
  else it.rejected = String((m as Map<string, unknown>).get('code'));
}

export async function openSlice(o: FleetOpen): Promise<FleetOpened> {
  chainId = o.chainId;
  ids = o.meterIds;
  keys = ids.map((id) => loadKeyFile(dataPaths(o.dataDir).meterKey(id)));
  const t0 = performance.now();
  let connected = 0;
  let failed = 0;
  const failedBy: Record<string, number> = {};
  const one = async (i: number): Promise<void> => {
    const id = ids[i]!;
    const key = keys[i]!;
    const t = Date.now();
    // Signed with OpenSSL, as idle-client.ts does: noble's sign would cost the slice ~1 ms per meter.
    const token = `${TOKEN_PREFIX}.${t}.${toHex(nativeSign(key.alg, key.privateKey, connectTokenSignBytes(chainId, id, id, t)))}`;
    // No reconnect: a connection the gateway closes is counted (dropped), not hidden.
    const c = mqtt.connect(o.mqttUrl, { protocolVersion: 4, clientId: id, username: id, password: token, clean: false, reconnectPeriod: 0, connectTimeout: 30_000, keepalive: 60 });
    let why = 'closed before CONNACK';
    // A refused CONNACK, or mqtt.js' own connect timeout, is an error before the close.
    c.on('error', (e) => (why = (e as { code?: unknown }).code !== undefined ? `${e.message} (${String((e as { code?: unknown }).code)})` : e.message));
    c.on('message', onReceipt);
    try {
      await new Promise<void>((res, rej) => {
        c.once('connect', () => res());
        c.once('close', () => rej(new Error(why)));
      });
      await c.subscribeAsync(receiptsTopic(id), { qos: 1 });
      c.on('close', () => dropped++);
      clients[i] = c;
      connected++;
    } catch (e) {
      failed++;
      failedBy[(e as Error).message] = (failedBy[(e as Error).message] ?? 0) + 1;
      c.end(true);
    }
  };
  // A bounded rate: a tick every 100 ms starts its share of CONNECTs.
  const perTick = Math.max(1, Math.round(o.connectPerS / 10));
  const pending: Promise<void>[] = [];
  for (let i = 0; i < ids.length; i += perTick) {
    const tick = performance.now();
    for (let j = i; j < Math.min(ids.length, i + perTick); j++) pending.push(one(j));
    const w = tick + 100 - performance.now();
    if (w > 0) await sleep(w);
  }
  await Promise.all(pending);
  return { connected, failed, failedBy, seconds: (performance.now() - t0) / 1000 };
}

export async function runSlice(o: FleetRun): Promise<FleetSliceResult> {
  // Every reading's planned time, in order: period by period, each meter at its phase.
  const plan: { at: number; meter: number; n: number }[] = [];
  for (let n = 0; n * o.periodMs < o.durationMs; n++) {
    for (let k = 0; k < ids.length; k++) {
      const at = o.startAt + n * o.periodMs + o.phasesMs[k]!;
      if (at < o.startAt + o.durationMs) plan.push({ at, meter: k, n });
    }
  }
  plan.sort((a, b) => a.at - b.at);
  const seq0 = BigInt(Date.now()) * 1000n;
  const sent: Sent[] = [];
  const lateMs: number[] = [];
  running = true;
  const cpu0 = process.cpuUsage();
  let next = 0;
  while (next < plan.length) {
    const w = plan[next]!.at - Date.now();
    if (w > 2) await sleep(Math.min(w, 50));
    while (next < plan.length && plan[next]!.at <= Date.now()) {
      const p = plan[next++]!;
      const c = clients[p.meter];
      if (!c || !c.connected) continue; // failed to connect or dropped: counted there
      lateMs.push(Date.now() - p.at);
      const bytes = Buffer.from(signReading(chainId, keys[p.meter]!, { type: TxType.Reading, meterId: ids[p.meter]!, seq: seq0 + BigInt(p.n), time: Date.now(), importWh: p.n }));
      const it: Sent = { sentAt: performance.now() };
      byHash.set(toHex(sha256(bytes)), it);
      sent.push(it);
      c.publish(readingsTopic(ids[p.meter]!), bytes, { qos: 1 }, (e) => {
        if (!e) it.ackAt = performance.now();
      });
    }
  }
  const settled = (it: Sent): boolean => it.receiptAt !== undefined || it.rejected !== undefined;
  const drainEnd = performance.now() + o.drainMs;
  while (performance.now() < drainEnd && !sent.every(settled)) await sleep(200);
  const cpu = process.cpuUsage(cpu0);
  running = false;
  const rejectedByCode: Record<string, number> = {};
  for (const it of sent) if (it.rejected) rejectedByCode[it.rejected] = (rejectedByCode[it.rejected] ?? 0) + 1;
  return {
    sent: sent.length,
    acked: sent.filter((it) => it.ackAt !== undefined).length,
    committed: sent.filter((it) => it.receiptAt !== undefined).length,
    rejectedByCode,
    lost: sent.filter((it) => it.ackAt !== undefined && !settled(it)).length,
    unacked: sent.filter((it) => it.ackAt === undefined).length,
    dropped,
    ackMs: sent.filter((it) => it.ackAt !== undefined).map((it) => Math.round((it.ackAt! - it.sentAt) * 10) / 10),
    receiptMs: sent.filter((it) => it.receiptAt !== undefined).map((it) => Math.round((it.receiptAt! - it.sentAt) * 10) / 10),
    lateMs,
    clientCpuS: Math.round(((cpu.user + cpu.system) / 1e6) * 100) / 100,
  };
}

// As a child process: 'open', then 'run', then 'close'; one answer to each.
if (process.send) {
  process.on('message', (m: { open?: FleetOpen; run?: FleetRun; close?: true }) => {
    const fail = (e: unknown): void => void process.send!({ error: String((e as Error).stack ?? e) });
    if (m.open) openSlice(m.open).then((r) => process.send!({ opened: r }), fail);
    if (m.run && !running) runSlice(m.run).then((r) => process.send!({ result: r }), fail);
    if (m.close) {
      void Promise.all(clients.map((c) => c?.endAsync(true).catch(() => undefined))).then(() => process.send!({ closed: true }, () => process.exit(0)));
    }
  });
}
