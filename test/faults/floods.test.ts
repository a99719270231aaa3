/**
 * Floods. One meter publishing far above its allowance is limited with
 * E_READING_RATE_LIMITED (ledger.meterRatePerSecond / meterBurst) and the refusals are
 * counted; a burst of 3000 connections (half valid meters reconnecting at once, half
 * with bad credentials or none) is absorbed or refused cleanly while a well-behaved
 * meter keeps its latency (p99 before and during reported).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { ReasonCode, receiptsTopic } from '../../protocols/index.js';
import {
  type FaultChain, SteadyMeter, committedSeqs, connectPacket, connectToken, faultChain, metric, rejectedBy, sleep, subscribePacket, until,
} from './support.js';

const RATE = 5;
const BURST = 20;
const BURST_CONNECTIONS = 3000;
const latency = { before: 0, during: Infinity, failures: -1 };

describe('fault: floods', { timeout: 180_000 }, () => {
  let c: FaultChain;
  const closers: (() => Promise<void> | void)[] = [];
  after(async () => {
    for (const f of closers) await f()?.catch?.(() => {});
    await c?.gw.stop();
    if (c) rmSync(c.dir, { recursive: true, force: true });
  });

  test('a meter far above its rate gets E_READING_RATE_LIMITED; what it was allowed commits', async () => {
    c = await faultChain({ meters: 2 + BURST_CONNECTIONS / 2, config: { ledger: { blockIntervalMs: 250, meterRatePerSecond: RATE, meterBurst: BURST } }, logLevel: 'warn' });
    await c.gw.start(60_000);
    const m = await c.meter(c.meterIds[0]!);
    closers.push(() => m.close());
    const before = await rejectedBy(c.gw.httpUrl, ReasonCode.RATE_LIMITED);
    const N = 300;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: N }, (_, i) => m.publish(BigInt(i + 1))));
    const secs = (performance.now() - t0) / 1000;
    await until('a verdict for each', () => m.messages.length >= N, 20_000);
    const limited = m.messages.filter((x) => x.status === 'rejected' && x.code === ReasonCode.RATE_LIMITED).length;
    const committed = m.messages.filter((x) => x.status === 'committed').length;
    const allowed = BURST + Math.ceil(secs * RATE) + 1;
    console.log(`# rate flood: ${N} in ${secs.toFixed(2)} s -> ${committed} committed, ${limited} E_READING_RATE_LIMITED (allowance ${BURST} + ${RATE}/s)`);
    assert.equal(committed + limited, N);
    assert.ok(committed >= BURST && committed <= allowed, `committed ${committed}, allowance ${allowed}`);
    assert.equal(await rejectedBy(c.gw.httpUrl, ReasonCode.RATE_LIMITED) - before, limited, 'each refusal counted');
    assert.equal((await committedSeqs(c.gw, m.meterId)).size, committed);
  });

  test(`a burst of ${BURST_CONNECTIONS} connections is absorbed or refused cleanly; a good meter keeps its latency`, async () => {
    const good = new SteadyMeter(await c.meter(c.meterIds.at(-1)!), 250); // 4/s: within its 5/s
    closers.push(() => good.stop(), () => good.m.close());
    good.start();
    await sleep(5000);
    good.mark('during');
    const port = Number(new URL(c.gw.mqttUrl).port);
    const refusedBefore = await metric(c.gw.httpUrl, 'meterledger_mqtt_connect_refused_total');
    const sockets: net.Socket[] = [];
    closers.push(() => sockets.forEach((s) => s.destroy()));
    let accepted = 0;
    let refused = 0;
    let closedSilently = 0;
    const open = (i: number): Promise<void> => new Promise((resolve) => {
      const valid = i % 2 === 0;
      const id = valid ? c.meterIds[1 + i / 2]! : `intruder-${i}`;
      const pkt = valid
        ? connectPacket(id, id, connectToken(c.dir, c.genesis.chainId, id))
        : i % 4 === 1 || process.env.FLOOD_NO_UNKNOWN_USERS ? connectPacket(id, c.meterIds[1]!, 'ml1.0.' + '00'.repeat(64)) : connectPacket(id, id, 'wrong');
      const s = net.connect({ port, host: '127.0.0.1' });
      sockets.push(s);
      let done = false;
      const finish = (f: () => void): void => {
        if (!done) {
          done = true;
          f();
          resolve();
        }
      };
      s.setTimeout(20_000, () => finish(() => closedSilently++));
      s.on('error', () => finish(() => closedSilently++));
      s.on('close', () => finish(() => closedSilently++));
      s.on('connect', () => s.write(pkt));
      s.on('data', (d: Buffer) => {
        if (d[0] !== 0x20) return;
        if (d[3] === 0) {
          s.write(subscribePacket(1, receiptsTopic(id)));
          finish(() => accepted++);
        } else finish(() => refused++);
      });
    });
    const t0 = performance.now();
    await Promise.all(Array.from({ length: BURST_CONNECTIONS }, (_, i) => open(i)));
    const burstS = (performance.now() - t0) / 1000;
    await sleep(3000);
    good.mark('after');
    await sleep(2000);
    await good.stop();
    const refusedMetric = (await metric(c.gw.httpUrl, 'meterledger_mqtt_connect_refused_total')) - refusedBefore;
    const b = good.summary('before');
    const d = good.summary('during');
    console.log(`# connection burst: ${BURST_CONNECTIONS} in ${burstS.toFixed(1)} s -> ${accepted} accepted, ${refused} refused with a CONNACK code (${refusedMetric} counted), ${closedSilently} closed without CONNACK`);
    console.log(`# good meter receipt latency before p50/p99 ${b.p50}/${b.p99} ms, during ${d.p50}/${d.p99} ms; ${good.failures.length} of its readings refused or without receipt`);
    assert.equal((await fetch(`${c.gw.httpUrl}/healthz`)).status, 200);
    assert.equal(accepted, BURST_CONNECTIONS / 2, 'every valid meter got in');
    assert.equal(refused + closedSilently, BURST_CONNECTIONS / 2, 'every invalid one was refused or closed');
    assert.equal(refusedMetric, refused, 'every CONNACK refusal counted');
    latency.failures = good.failures.length;
    latency.before = b.p99 ?? 0;
    latency.during = d.p99 ?? Infinity;
  });

  test('the good meter keeps its latency during the connection burst', () => {
    assert.equal(latency.failures, 0, 'every reading of the good meter committed (none delayed into its rate limit)');
    assert.ok(latency.during < latency.before + 2000, `p99 during the burst ${latency.during} ms vs ${latency.before} ms before`);
  });
});
