/**
 * Garbage at volume (bounded): random bytes, truncated packets, a Remaining Length of
 * 256 MB, oversized payloads, and valid MQTT carrying invalid readings. The gateway stays
 * up (/healthz), a well-behaved meter keeps getting receipts (its latency before and
 * during is compared), and every reading the intake refuses is counted by reason on
 * /metrics, exactly as many as were sent.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { ReasonCode, TxType, readingsTopic, signTx } from '../../protocols/index.js';
import { loadKeyFile } from '../../ledger-node/keyfile.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import {
  type FaultChain, SteadyMeter, connectPacket, connectToken, faultChain, publishPacket, rawExchange, rejectedBy, countPubacks, sleep, until,
} from './support.js';

describe('fault: garbage in', { timeout: 150_000 }, () => {
  let c: FaultChain;
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const f of closers) await f().catch(() => {});
    await c?.gw.stop();
    if (c) rmSync(c.dir, { recursive: true, force: true });
  });

  test('the gateway stays up, a good meter keeps its receipts, every refused reading is counted by reason', async () => {
    // No per-meter limit here, so each bad reading meets the check it is made for (floods.test.ts covers the limit).
    c = await faultChain({ meters: 3, config: { ledger: { blockIntervalMs: 250, meterRatePerSecond: 0 } }, logLevel: 'warn' });
    await c.gw.start();
    const port = Number(new URL(c.gw.mqttUrl).port);
    const [goodId, badId] = c.meterIds as [string, string];
    const good = new SteadyMeter(await c.meter(goodId), 50);
    closers.push(() => good.stop(), () => good.m.close());
    good.start();
    await sleep(4000);
    good.mark('during');

    const codes = [ReasonCode.MALFORMED, ReasonCode.BAD_SIGNATURE, ReasonCode.SEQ_REPLAY, ReasonCode.WRONG_METER, ReasonCode.TIME_SKEW, ReasonCode.UNKNOWN_METER];
    const before = Object.fromEntries(await Promise.all(codes.map(async (k) => [k, await rejectedBy(c.gw.httpUrl, k)] as const)));

    // 1. Connection-level garbage: random bytes, truncated CONNECTs, a 256 MB Remaining Length, a CONNECT with a bad token.
    const token = connectToken(c.dir, c.genesis.chainId, badId);
    const conn = connectPacket(badId, badId, token);
    const rude: Promise<{ closedByServer: boolean }>[] = [];
    for (let i = 0; i < 150; i++) rude.push(rawExchange(port, randomBytes(1 + (i * 37) % 3000)));
    for (let i = 0; i < 100; i++) rude.push(rawExchange(port, conn.subarray(0, 1 + (i % (conn.length - 1))), 1500));
    for (let i = 0; i < 50; i++) rude.push(rawExchange(port, Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3])));
    for (let i = 0; i < 50; i++) rude.push(rawExchange(port, connectPacket(`x${i}`, goodId, 'ml1.0.' + '00'.repeat(64))));
    const results = await Promise.all(rude);
    const closed = results.filter((r) => r.closedByServer).length;

    // 2. Valid MQTT, invalid readings, from an authenticated meter on its own topic (raw client: no acks awaited).
    const key = loadKeyFile(dataPaths(c.dir).meterKey(badId));
    const other = loadKeyFile(dataPaths(c.dir).meterKey(c.meterIds[2]!));
    const sign = (body: Parameters<typeof signTx>[3], k = key) => Buffer.from(signTx(c.genesis.chainId, k.alg, k.secretKey, body));
    const r = (seq: bigint, time = Date.now()) => ({ type: TxType.Reading, meterId: badId, seq, time, importWh: 1 }) as const;
    const PER = 60;
    const payloads: Buffer[] = [];
    const first = sign(r(1n));
    payloads.push(first); // accepted: the replays below need a seq to replay
    for (let i = 0; i < PER; i++) payloads.push(randomBytes(20 + i)); // MALFORMED
    for (let i = 0; i < PER; i++) payloads.push(sign(r(BigInt(100 + i)), other)); // BAD_SIGNATURE: another meter's key
    for (let i = 0; i < PER; i++) payloads.push(first); // the same bytes again: an idempotent retransmission, accepted
    for (let i = 0; i < PER; i++) payloads.push(sign({ ...r(1n), importWh: 2 + i })); // SEQ_REPLAY: seq 1 with other content
    for (let i = 0; i < PER; i++) payloads.push(sign({ ...r(BigInt(200 + i)), meterId: c.meterIds[2]! }, key)); // WRONG_METER
    for (let i = 0; i < PER; i++) payloads.push(sign(r(BigInt(300 + i), Date.now() + 86_400_000))); // TIME_SKEW
    const packets = payloads.map((p, i) => publishPacket(i + 1, readingsTopic(badId), p));
    const reply = await rawExchange(port, [conn, ...packets], 60_000, (b) => countPubacks(b) >= packets.length, { afterConnack: true });
    const pubacks = countPubacks(reply.reply);

    await until('every refusal counted', async () => {
      const now = await rejectedBy(c.gw.httpUrl, ReasonCode.TIME_SKEW);
      return now - before[ReasonCode.TIME_SKEW]! >= PER;
    }, 20_000);
    const after_ = Object.fromEntries(await Promise.all(codes.map(async (k) => [k, await rejectedBy(c.gw.httpUrl, k)] as const)));
    const delta = Object.fromEntries(codes.map((k) => [k, after_[k]! - before[k]!]));

    await sleep(2000);
    await good.stop();
    assert.equal((await fetch(`${c.gw.httpUrl}/healthz`)).status, 200);
    const b = good.summary('before');
    const d = good.summary('during');
    console.log(`# garbage: ${rude.length} rude connections (${closed} closed by the gateway), ${packets.length} bad publishes (${pubacks} PUBACKs); refusals ${JSON.stringify(delta)}`);
    console.log(`# good meter receipt latency before p50/p99 ${b.p50}/${b.p99} ms, during ${d.p50}/${d.p99} ms`);

    assert.deepEqual(good.failures, [], 'the well-behaved meter got every receipt');
    assert.ok(d.count > 20, 'the well-behaved meter kept publishing');
    assert.ok((d.p99 ?? Infinity) < Math.max(3 * (b.p99 ?? 0), (b.p99 ?? 0) + 1500), `good meter p99 during garbage ${d.p99} ms vs ${b.p99} ms before`);
    assert.equal(delta[ReasonCode.MALFORMED], PER);
    assert.equal(delta[ReasonCode.BAD_SIGNATURE], PER);
    assert.equal(delta[ReasonCode.SEQ_REPLAY], PER);
    assert.equal(delta[ReasonCode.WRONG_METER], PER);
    assert.equal(delta[ReasonCode.TIME_SKEW], PER);
    assert.equal(pubacks, packets.length, 'every QoS 1 reading is acknowledged (refusals are acked and explained on the receipts topic)');
    assert.ok(closed >= 150, `rude connections are closed by the gateway (${closed})`);
  });

  test('oversized payloads are refused with E_READING_TOO_LARGE and counted', async () => {
    const port = Number(new URL(c.gw.mqttUrl).port);
    const id = c.meterIds[1]!;
    const before = await rejectedBy(c.gw.httpUrl, ReasonCode.TOO_LARGE);
    const packets = Array.from({ length: 20 }, (_, i) => publishPacket(i + 1, readingsTopic(id), randomBytes(5000)));
    await rawExchange(port, [connectPacket(id, id, connectToken(c.dir, c.genesis.chainId, id)), ...packets], 5000, (b) => countPubacks(b) >= packets.length, { afterConnack: true });
    assert.equal(await rejectedBy(c.gw.httpUrl, ReasonCode.TOO_LARGE) - before, 20);
  });

});
