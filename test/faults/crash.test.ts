/**
 * Crash: kill -9 of the gateway at random moments under QoS 1 load, 20 times, each time
 * restarted. The load generator keeps every (meter, seq) that got a PUBACK. At the end
 * each one is committed and its receipt verifies offline with the genesis alone, no
 * (meter, seq) is in the chain twice, and `meterledger verify --data-dir` passes.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { TxType, decodeBlock, decodeReceipt, decodeTx, verifyReceipt } from '../../protocols/index.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { LevelStore } from '../../ledger-node/store/level.js';
import { cli, faultChain, sleep } from './support.js';
import { startAckedLoad, uncommitted } from '../helpers/acked-load.js';

const KILLS = 20;
const METERS = 6;
const IN_FLIGHT = 16;

describe('fault: kill -9 under QoS 1 load', { timeout: 240_000 }, () => {
  let dir = '';
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  test(`${KILLS} kills at random moments: every acknowledged reading committed once, receipts verify, the chain verifies`, async () => {
    const c = await faultChain({ meters: METERS, config: { ledger: { blockIntervalMs: 200, meterRatePerSecond: 0 } }, logLevel: 'warn' });
    dir = c.dir;
    await c.gw.start();
    const meters = await Promise.all(c.meterIds.map((id) => c.meter(id)));
    const load = startAckedLoad(meters, IN_FLIGHT);
    const { acked } = load;

    const killedAt: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      await sleep(200 + Math.floor(Math.random() * 1200));
      killedAt.push(load.total());
      await c.gw.kill9();
      await c.gw.start();
    }
    await sleep(1500);
    await load.stop();
    await Promise.all(meters.map((m) => m.close()));

    const total = load.total();
    assert.ok(total > 500, `load too small to mean anything (${total} acknowledged)`);
    assert.ok(new Set(killedAt).size > KILLS / 2, `kills should fall while acknowledgements flow: ${killedAt.join(',')}`);

    const missing = await uncommitted(c.gw, acked);
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} acknowledged but not committed`);

    // Receipts of a sample (up to 300), checked offline with nothing but the genesis file.
    const all = [...acked].flatMap(([id, seqs]) => seqs.map((s) => [id, s] as const));
    for (let i = 0; i < Math.min(300, all.length); i++) {
      const [id, s] = all[Math.floor(Math.random() * all.length)]!;
      const r = await c.gw.get(`/api/v1/meters/${id}/receipts/${s}`, { accept: 'application/cbor' });
      assert.equal(r.status, 200, `${id}/${s} has no receipt`);
      const v = verifyReceipt(c.genesis, decodeReceipt(new Uint8Array(await r.arrayBuffer())));
      assert.equal(v.tx.body.type === TxType.Reading && v.tx.body.seq, s);
    }
    assert.equal(await c.gw.stop(), 0, c.gw.stderr.slice(-2000));

    // Nothing committed twice: every (meter, seq) appears in exactly one block, once.
    const store = await LevelStore.open(dataPaths(c.dir).store);
    const seen = new Map<string, number>();
    try {
      for await (const { bytes: v } of store.blocks()) {
        for (const t of decodeBlock(v).txs) {
          const tx = decodeTx(t, Infinity);
          if (tx.body.type !== TxType.Reading) continue;
          const k = `${tx.body.meterId}/${tx.body.seq}`;
          seen.set(k, (seen.get(k) ?? 0) + 1);
        }
      }
    } finally {
      await store.close();
    }
    const twice = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
    assert.deepEqual(twice, [], 'readings committed twice');
    assert.ok(seen.size >= total);

    const v = await cli(['verify', '--data-dir', c.dir], { timeoutMs: 120_000 });
    assert.equal(v.code, 0, v.stderr + v.stdout);
    console.log(`# crash: ${KILLS} kills, ${total} acknowledged, ${seen.size} committed, 0 lost, 0 duplicated`);
  });
});
