/** Shared pieces of the fault suite: a gateway on a fresh dev chain, meters, metrics, polling. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { type Genesis, TOKEN_PREFIX, connectTokenSignBytes, parseGenesis, receiptsTopic, toHex } from '../../protocols/index.js';
import { dataPaths, initDevChain } from '../../ledger-node/devchain.js';
import { loadKeyFile } from '../../ledger-node/keyfile.js';
import { nativeSign } from '../../ledger-node/crypto/native.js';
import { summarize } from '../../gateway/sim/stats.js';
import { GatewayProcess, cli } from '../helpers/gateway-process.js';
import { TestMeter } from '../helpers/mqtt-meter.js';
import { metric } from '../helpers/metrics.js';
import { sleep, until } from '../helpers/until.js';

export { metric };

export { sleep, until };

export interface FaultChain {
  readonly dir: string;
  readonly genesis: Genesis;
  readonly meterIds: string[];
  readonly gw: GatewayProcess;
  meter(id: string, opts?: { reconnectPeriod?: number }): Promise<TestMeter>;
}

/** `meterledger init` in a fresh folder (or `dir`), a config file, a gateway process (not started). */
export async function faultChain(o: { meters: number; config?: Record<string, unknown>; dir?: string; logLevel?: string }): Promise<FaultChain> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'meterledger-fault-'));
  // In-process (what `meterledger init` does): no child process to wait for before the fault.
  initDevChain(dir, { meters: o.meters });
  const cfg = join(dir, 'fault-config.json');
  // Private, as the gateway requires of a config file that may hold secrets (xmpp.password).
  writeFileSync(cfg, JSON.stringify(o.config ?? {}), { mode: 0o600 });
  const gw = await GatewayProcess.create(dir, ['--config', cfg, '--log-level', o.logLevel ?? 'info']);
  const genesis = parseGenesis(JSON.parse(readFileSync(dataPaths(dir).genesis, 'utf8')));
  return {
    dir, genesis, meterIds: genesis.meters.map((m) => m.id), gw,
    meter: (id, opts = {}) => TestMeter.connect(gw.mqttUrl, genesis, id, loadKeyFile(dataPaths(dir).meterKey(id)), opts),
  };
}

export const rejectedBy = (httpUrl: string, code: string): Promise<number> => metric(httpUrl, 'meterledger_readings_rejected_total', `reason="${code}"`);

export { committedSeqs } from '../helpers/gateway-process.js';

/**
 * A well-behaved meter: one reading every `everyMs`, timed from PUBLISH to its committed
 * receipt on the receipts topic. `mark()` starts a new phase; `phases` holds the samples.
 */
export class SteadyMeter {
  private stopped = false;
  private seq = BigInt(Date.now()) * 1000n;
  private phase = 'before';
  readonly phases = new Map<string, number[]>();
  readonly failures: string[] = [];
  private loop: Promise<void> | undefined;
  constructor(readonly m: TestMeter, private readonly everyMs: number) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const seq = ++this.seq;
        const phase = this.phase;
        const t0 = performance.now();
        void (async () => {
          try {
            await this.m.publish(seq);
            const end = Date.now() + 15_000;
            while (!this.m.messages.some((x) => x.seq === seq) && Date.now() < end) await sleep(5);
            const msg = this.m.messages.find((x) => x.seq === seq);
            if (msg?.status !== 'committed') this.failures.push(`${seq}: ${msg ? (msg as { code: string }).code : 'no receipt'}`);
            else (this.phases.get(phase) ?? this.phases.set(phase, []).get(phase)!).push(performance.now() - t0);
          } catch (e) {
            this.failures.push(`${seq}: ${(e as Error).message}`);
          }
        })();
        await sleep(this.everyMs);
      }
    })();
  }

  mark(phase: string): void {
    this.phase = phase;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await sleep(3000); // the last receipts
  }

  summary(phase: string) {
    return summarize(this.phases.get(phase) ?? []);
  }
}

/** A reading a meter had acknowledged (PUBACK), and the gateway it went through. */
export interface Acked { readonly meterId: string; readonly seq: bigint; readonly via: number }

/**
 * A meter that sends seq 1, 2, ... (one every `everyMs` after its PUBACK) through one
 * gateway and, when a reading gets no PUBACK within 5 s (its gateway died), moves to the
 * next running gateway and continues with the next seq there; with `goHome`, once that says
 * so and its own gateway runs again, it goes back there. The unacknowledged reading is not
 * counted: it may or may not be in.
 */
export async function failoverMeter(o: {
  meterId: string; home: number; gws: readonly GatewayProcess[]; up: readonly boolean[]; genesis: Genesis; keyDir: string;
  running: () => boolean; acked: Acked[]; moves: { n: number }; everyMs: number; goHome?: () => boolean;
}): Promise<void> {
  const { meterId, home, gws, up, genesis, running, acked, moves, goHome } = o;
  const key = loadKeyFile(dataPaths(o.keyDir).meterKey(meterId));
  let at = home;
  let m: TestMeter | undefined;
  let seq = 0n;
  while (running()) {
    if (goHome && m && at !== home && up[home] && goHome()) {
      await m.close().catch(() => {});
      m = undefined;
      at = home;
    }
    if (!m) {
      try {
        m = await TestMeter.connect(gws[at]!.mqttUrl, genesis, meterId, key, { reconnectPeriod: 0 });
      } catch {
        at = nextUp(at, up);
        await sleep(200);
        continue;
      }
    }
    const s = ++seq;
    const ok = await Promise.race([m.publish(s).then(() => true, () => false), sleep(5000).then(() => false)]);
    if (ok) {
      acked.push({ meterId, seq: s, via: at });
      await sleep(o.everyMs);
      continue;
    }
    await m.close().catch(() => {});
    m = undefined;
    at = nextUp(at, up);
    moves.n++;
  }
  await m?.close().catch(() => {});
}

/** The next gateway after `from` that is up (round the ring), or `from` when none is. */
export function nextUp(from: number, up: readonly boolean[]): number {
  for (let k = 1; k <= up.length; k++) {
    const i = (from + k) % up.length;
    if (up[i]) return i;
  }
  return from;
}

export { connectPacket, publishPacket, rawPacket, remainingLength, subscribePacket } from '../helpers/raw-mqtt.js';

/** A meter's connect token, signed with OpenSSL. */
export function connectToken(dir: string, chainId: string, meterId: string): string {
  const key = loadKeyFile(dataPaths(dir).meterKey(meterId));
  const t = Date.now();
  return `${TOKEN_PREFIX}.${t}.${toHex(nativeSign(key.alg, key.privateKey, connectTokenSignBytes(chainId, meterId, meterId, t)))}`;
}

/** Open a socket, write `bytes`, and resolve with what came back when the server closes it, `enough` says so, or after `ms`. */
export function rawExchange(port: number, bytes: Buffer | Buffer[], ms = 3000, enough?: (reply: Buffer) => boolean, opts: { afterConnack?: boolean } = {}): Promise<{ reply: Buffer; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(t);
      s.destroy();
      resolve({ reply: Buffer.concat(chunks), closedByServer });
    };
    const t = setTimeout(() => finish(false), ms);
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      if (enough?.(Buffer.concat(chunks))) finish(false);
    });
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    s.on('connect', () => {
      const all = Array.isArray(bytes) ? bytes : [bytes];
      // With afterConnack, only the first packet (a CONNECT) goes before the CONNACK: aedes
      // queues at most 42 packets that arrive before it and drops the client beyond that.
      for (const b of opts.afterConnack ? all.slice(0, 1) : all) s.write(b);
      if (opts.afterConnack) s.once('data', () => all.slice(1).forEach((b) => s.write(b)));
    });
  });
}

/** PUBACKs (0x40 0x02 id id) in a byte stream of server packets (CONNACK, SUBACK, PUBLISH ... skipped by length). */
export function countPubacks(b: Buffer): number {
  let n = 0;
  let i = 0;
  while (i < b.length) {
    const type = b[i]!;
    let len = 0;
    let mul = 1;
    let j = i + 1;
    for (;;) {
      if (j >= b.length) return n;
      const d = b[j++]!;
      len += (d & 0x7f) * mul;
      mul *= 128;
      if (!(d & 0x80)) break;
    }
    if (j + len > b.length) return n;
    if (type === 0x40) n++;
    i = j + len;
  }
  return n;
}

export { GatewayProcess, cli, TestMeter, receiptsTopic };
