/**
 * Issue 18, the cluster halt: anyone who can publish on NATS sends large garbage to every
 * subject the gateways listen on: the broadcast subjects, the sync request subjects, each
 * gateway's reply inbox, and the reply subject of every sync request it sees go by. Two
 * validators and an observer that joins during the flood (so its sync requests and their
 * answers cross it), real processes on a real nats-server, bounded in count.
 *
 * Before the fix one 4 MiB CBOR array of empty maps kept a validator's main thread for
 * 4-8 s and took its RSS from ~104 to ~978 MiB. Now: the height keeps growing during the
 * flood, the observer catches up through it, /healthz never waits long, peak RSS stays
 * far below that, and every piece of garbage is counted as dropped.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type NatsConnection, connect } from 'nats';
import { encodeCbor, parseGenesis } from '../../protocols/index.js';
import { clusterMeterId, dataPaths } from '../../ledger-node/devchain.js';
import { loadKeyFile } from '../../ledger-node/keyfile.js';
import { type NatsCluster, startNatsCluster } from '../helpers/nats-cluster.js';
import { GatewayProcess, SteadyMeter, TestMeter, cli, metric, sleep, until } from './support.js';

const MiB = 1024 * 1024;
const ROUNDS = 4;

/** CBOR array of n empty maps: n + 5 bytes that decode to n JS objects (RFC 8949 §3.1 major types 4 and 5). */
function emptyMaps(n: number): Uint8Array {
  const b = new Uint8Array(5 + n).fill(0xa0);
  b.set([0x9a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  return b;
}

/** A frame shaped like docs/protocol.md §12 naming a real validator, with a made-up signature and a big payload. */
function forgedFrame(chainId: string, from: string, payload: Uint8Array): Uint8Array {
  const ascii = (s: string) => [s.length, ...Buffer.from(s)];
  const time = Date.now();
  const head = [
    ...Buffer.from('meterledger/p2p/v2'), 1,
    ...[Math.floor(time / 2 ** 32) >>> 24, (Math.floor(time / 2 ** 32) >>> 16) & 0xff, (Math.floor(time / 2 ** 32) >>> 8) & 0xff, Math.floor(time / 2 ** 32) & 0xff],
    ...[time >>> 24 & 0xff, (time >>> 16) & 0xff, (time >>> 8) & 0xff, time & 0xff],
    (payload.length >>> 24) & 0xff, (payload.length >>> 16) & 0xff, (payload.length >>> 8) & 0xff, payload.length & 0xff,
    ...randomBytes(32), ...ascii(chainId), ...ascii(from), 0,
  ];
  return Uint8Array.from([...head, ...randomBytes(64), ...payload]);
}

/** Peak resident set of a process, bytes (Linux VmHWM). */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** CPU time a process has used, user and system, seconds (Linux /proc/<pid>/stat, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Every subject the gateways subscribe to, from the server's monitoring (wildcard tokens filled in). */
async function subjectsOfGateways(monitorPort: number, chainToken: string): Promise<string[]> {
  const r = await fetch(`http://127.0.0.1:${monitorPort}/connz?subs=1`);
  const body = (await r.json()) as { connections?: { name?: string; subscriptions_list?: string[] }[] };
  const subs = (body.connections ?? []).filter((c) => (c.name ?? '').startsWith('meterledger/')).flatMap((c) => c.subscriptions_list ?? []);
  return [...new Set(subs.map((s) => s.replace(/\*/g, 'x').replace(/>$/, 'x')))].filter((s) => s.startsWith(`ml.${chainToken}.`) || s.startsWith('_INBOX.'));
}

describe('fault: garbage on every NATS subject, sync and reply inboxes included', { timeout: 400_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-nats-garbage-'));
  let nats: NatsCluster | undefined;
  let attacker: NatsConnection | undefined;
  const gws: GatewayProcess[] = [];
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closers) await c().catch(() => {});
    await attacker?.close().catch(() => {});
    await Promise.all(gws.map((g) => g.stop().catch(() => null)));
    await nats?.stopAll();
    rmSync(root, { recursive: true, force: true });
  });

  test('the height grows through the flood, the observer syncs through it, the event loop and RSS stay bounded', async () => {
    mkdirSync(join(root, 'nats'));
    nats = await startNatsCluster({ size: 1, dir: join(root, 'nats') });
    const init = await cli(['testnet', '--validators', '2', '--observers', '1', '--meters', '1', '--out', join(root, 'net'), '--nats', nats.urls[0]!]);
    assert.equal(init.code, 0, init.stderr);
    const genesis = parseGenesis(JSON.parse(readFileSync(join(root, 'net', 'node0', 'genesis.json'), 'utf8')));
    const token = genesis.chainId.replaceAll('.', '_');
    for (let i = 0; i < 3; i++) {
      const dir = join(root, 'net', `node${i}`);
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      cfg.ledger = { blockIntervalMs: 200 };
      cfg.consensus = { proposeTimeoutMs: 800, prevoteTimeoutMs: 400, precommitTimeoutMs: 400 };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
      gws.push(await GatewayProcess.create(dir, ['--log-level', 'warn']));
    }
    const [v0, v1, o0] = gws as [GatewayProcess, GatewayProcess, GatewayProcess];
    await Promise.all([v0.start(60_000), v1.start(60_000)]);
    const height = async (g: GatewayProcess) => (await g.json<{ height: number }>('/api/v1/status')).body.height;

    const meterId = clusterMeterId(0, 0);
    const meter = new SteadyMeter(await TestMeter.connect(v0.mqttUrl, genesis, meterId, loadKeyFile(dataPaths(v0.dataDir).meterKey(meterId))), 100);
    closers.push(() => meter.m.close(), () => meter.stop());
    meter.start();
    await until('30 blocks before the flood (for the observer to sync)', async () => (await height(v0)) >= 30, 120_000);

    // /healthz every 100 ms on each validator: the longest wait is how long its event loop was held.
    const worst = new Map<GatewayProcess, number>();
    let probing = true;
    const probes = [v0, v1].map(async (g) => {
      while (probing) {
        const t0 = performance.now();
        await fetch(`${g.httpUrl}/healthz`, { signal: AbortSignal.timeout(60_000) }).then((r) => r.text()).catch(() => {});
        worst.set(g, Math.max(worst.get(g) ?? 0, performance.now() - t0));
        await sleep(100);
      }
    });

    const garbage = [
      emptyMaps(4 * MiB),
      encodeCbor([emptyMaps(MiB), new Uint8Array(64)]), // the old envelope's shape: [body, signature]
      randomBytes(MiB),
      forgedFrame(genesis.chainId, 'validator-1', emptyMaps(2 * MiB)),
    ];
    attacker = await connect({ servers: nats.urls[0]!, name: 'attacker' });
    const a = attacker;
    let sent = 0;
    // Every sync request that goes by: garbage to its reply subject, before the answer if we can.
    const snoop = (m: { reply?: string }) => {
      if (!m.reply) return;
      for (const g of garbage) a.publish(m.reply, g);
      sent += garbage.length;
    };
    a.subscribe(`ml.${token}.sync`, { callback: (_e, m) => snoop(m) });
    a.subscribe(`ml.${token}.sync.*`, { callback: (_e, m) => snoop(m) });
    await a.flush();

    const h0 = await height(v0);
    await o0.start(30_000, { until: 'listening' }); // the observer joins now: it must sync through the flood (not ready before it has)
    const rss0 = [peakRss(v0.proc!.pid!), peakRss(v1.proc!.pid!)];
    const cpu0 = [cpuSeconds(v0.proc!.pid!), cpuSeconds(v1.proc!.pid!)];
    const subjectsSeen = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const subjects = await subjectsOfGateways(nats.monitorPorts[0]!, token);
      for (const s of subjects) subjectsSeen.add(s);
      for (const s of subjects) {
        for (const g of garbage) a.publish(s, g, s.includes('.sync') ? { reply: `_INBOX.attacker.${round}` } : undefined);
        sent += garbage.length;
        await a.flush();
        await sleep(50);
      }
    }
    const h1 = await height(v0);
    probing = false;
    await Promise.all(probes);
    const cpu = [cpuSeconds(v0.proc!.pid!) - cpu0[0]!, cpuSeconds(v1.proc!.pid!) - cpu0[1]!];

    console.log(`# nats garbage: ${sent} messages (${garbage.map((g) => g.length).join('/')} bytes), heights ${h0} -> ${h1}, longest /healthz wait ${[...worst.values()].map((w) => Math.round(w)).join('/')} ms, peak RSS ${[v0, v1].map((g) => Math.round(peakRss(g.proc!.pid!) / MiB)).join('/')} MiB (before ${rss0.map((r) => Math.round(r / MiB)).join('/')}), CPU during the flood ${cpu.map((c) => c.toFixed(1)).join('/')} s`);

    assert.ok(h1 >= h0 + 5, `blocks kept coming during the flood: ${h0} -> ${h1}`);
    // CPU time, not wall time, is the measure that a busy machine does not inflate: each
    // validator received ROUNDS x 5 x 8 MiB; before the fix each 4 MiB array alone cost 4-8 s.
    for (const [i, c] of cpu.entries()) assert.ok(c < 20, `validator-${i} spent ${c.toFixed(1)} s of CPU on the flood`);
    // Wall time only with a bound no busy machine reaches, since the old code held it for minutes.
    for (const [g, w] of worst) assert.ok(w < 10_000, `${g.dataDir}: /healthz waited ${Math.round(w)} ms (the main thread was held)`);
    for (const g of [v0, v1]) {
      const peak = peakRss(g.proc!.pid!);
      assert.ok(peak < 600 * MiB, `${g.dataDir}: peak RSS ${Math.round(peak / MiB)} MiB`);
    }
    await until('the observer synced through the flood', async () => (await height(o0)) >= h1, 90_000);
    const kinds = ['consensus', 'tx', 'status', 'sync', 'sync.validator-0', 'sync.validator-1', 'sync.observer-0'].map((k) => `ml.${token}.${k}`);
    for (const k of kinds) assert.ok(subjectsSeen.has(k), `flooded ${k} (saw ${[...subjectsSeen].join(', ')})`);
    assert.ok([...subjectsSeen].filter((s) => s.startsWith('_INBOX.')).length >= 3, 'flooded each gateway\'s reply inbox');
    // On its five subjects, each round: three pieces of garbage that are no frame at all.
    const dropped = await metric(v0.httpUrl, 'meterledger_peer_messages_dropped_total', 'reason="E_P2P_MALFORMED"');
    assert.ok(dropped >= ROUNDS * 5 * 3, `garbage counted as dropped at validator-0: ${dropped}`);
    await meter.stop();
    assert.deepEqual(meter.failures, [], 'every reading of the steady meter committed');
  });
});
