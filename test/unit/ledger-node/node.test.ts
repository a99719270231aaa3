import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Alg, type CommittedReading, ReasonCode, type SubmitResult, TxType, signTx, verifyReceipt, txMeterId } from '../../../protocols/index.js';
import { generateKeyPair } from '../../../ledger-node/keyfile.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { type NodeMetrics, noopMetrics } from '../../../ledger-node/metrics.js';
import { type TestChain, makeTestChain } from '../../helpers/devchain.js';
import { auditInMemory, inMemory } from '../../helpers/memory-store.js';

const mqtt = (meterId: string) => ({ meterId, transport: 'mqtt' as const });

function waitCommitted(node: LedgerNode, n: number, timeoutMs = 10_000): Promise<CommittedReading[]> {
  const got: CommittedReading[] = [];
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`only ${got.length} of ${n} committed`)), timeoutMs);
    const off = node.intake.onCommitted((c) => {
      got.push(c);
      if (got.length >= n) {
        clearTimeout(t);
        off();
        resolve(got);
      }
    });
  });
}

function rejectedWith(r: SubmitResult, code: string): void {
  assert.equal(r.status, 'rejected', `expected ${code}, got accepted`);
  if (r.status === 'rejected') assert.equal(r.code, code, r.message);
}

describe('ledger node: intake, blocks, receipts', () => {
  let chain: TestChain;
  let node: LedgerNode;
  before(async () => {
    chain = makeTestChain({ meters: 3, meterAlg: 'mixed' });
    node = await LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis: chain.genesis, blockIntervalMs: 50, verifyWorkers: 1, maxBacklog: 50 });
  });
  after(async () => {
    await node.close();
    chain.cleanup();
  });

  test('accepted readings (Ed25519 and ES256) commit into blocks with receipts that verify against genesis alone', async () => {
    const [a, b] = chain.meterIds;
    const committed = waitCommitted(node, 4);
    const results = await Promise.all([
      node.intake.submit(chain.reading(a!, 1), mqtt(a!)),
      node.intake.submit(chain.reading(a!, 2), mqtt(a!)),
      node.intake.submit(chain.reading(b!, 1), mqtt(b!)),
      node.intake.submit(chain.reading(b!, 5), mqtt(b!)),
    ]);
    for (const r of results) assert.equal(r.status, 'accepted', r.status === 'rejected' ? r.message : '');
    const got = await committed;
    for (const c of got) {
      const v = verifyReceipt(chain.genesis, c.receipt);
      assert.equal(txMeterId(v.tx.body), c.meterId);
      assert.equal(v.signatureChecked, true);
    }
    assert.ok(node.status().height >= 1);
    const stored = await node.getReceipt(b!, 5n);
    assert.ok(stored);
    assert.equal(verifyReceipt(chain.genesis, stored).height, got.find((c) => c.meterId === b && c.seq === 5n)!.height);
    const rs = await node.readings(a!, 0n, 10);
    assert.deepEqual(rs.map((r) => r.seq), ['1', '2']);
    assert.equal(node.getMeter(b!)!.lastSeq, '5');
  });

  test('the same bytes again after their block are a retransmission: accepted, not a replay, and the committed reading goes out again (docs/protocol.md §3.8)', async () => {
    const id = chain.meterIds[2]!;
    const bytes = chain.reading(id, 1);
    const committed = waitCommitted(node, 1);
    assert.equal((await node.intake.submit(bytes, mqtt(id))).status, 'accepted');
    const [first] = await committed;
    const order: string[] = [];
    const receiptAgain = waitCommitted(node, 1).then((c) => (order.push('receipt'), c));
    const again = await node.intake.submit(bytes, mqtt(id));
    order.push('answer');
    assert.equal(again.status, 'accepted', again.status === 'rejected' ? again.message : '');
    const [c] = await receiptAgain;
    assert.deepEqual(order, ['answer', 'receipt'], 'the answer (PUBACK, XMPP ack) goes before the receipt');
    assert.equal(c!.seq, 1n);
    assert.equal(c!.height, first!.height);
    assert.equal(verifyReceipt(chain.genesis, c!.receipt).tx.hashHex, verifyReceipt(chain.genesis, first!.receipt).tx.hashHex);
    // Over HTTP too (the admin API): the same answer.
    assert.equal((await node.submitTx(bytes)).status, 'accepted');
    rejectedWith(await node.intake.submit(chain.reading(id, 1, { importWh: 99 }), mqtt(id)), ReasonCode.SEQ_REPLAY);
  });

  test('each refusal carries its reason code', async () => {
    const [a, b] = chain.meterIds;
    const seq = 100n;
    rejectedWith(await node.intake.submit(chain.reading(a!, 1), mqtt(a!)), ReasonCode.SEQ_REPLAY);
    rejectedWith(await node.intake.submit(chain.reading(a!, seq), mqtt(b!)), ReasonCode.WRONG_METER);
    rejectedWith(await node.intake.submit(chain.reading(a!, seq, { time: Date.now() - 30 * 86_400_000 }), mqtt(a!)), ReasonCode.TIME_SKEW);
    rejectedWith(await node.intake.submit(chain.reading(a!, seq, { time: Date.now() + 3_600_000 }), mqtt(a!)), ReasonCode.TIME_SKEW);
    // Valid uints beyond what a Date holds (8.64e15 ms): still a time outside the window, never BUSY.
    for (const time of [8.64e15 + 1, Number.MAX_SAFE_INTEGER]) {
      rejectedWith(await node.intake.submit(chain.reading(a!, seq, { time }), mqtt(a!)), ReasonCode.TIME_SKEW);
    }
    rejectedWith(await node.intake.submit(chain.reading(a!, seq, { key: chain.meterKeys.get(chain.meterIds[2]!)! }), mqtt(a!)), ReasonCode.BAD_SIGNATURE);
    const tampered = chain.reading(a!, seq);
    tampered[tampered.length - 70] ^= 1; // inside the payload: the importWh digits
    const r = await node.intake.submit(tampered, mqtt(a!));
    assert.equal(r.status, 'rejected');
    rejectedWith(await node.intake.submit(new Uint8Array(2000), mqtt(a!)), ReasonCode.TOO_LARGE);
    rejectedWith(await node.intake.submit(Uint8Array.of(1, 2, 3), mqtt(a!)), ReasonCode.MALFORMED);
    const p256 = generateKeyPair(Alg.ES256);
    const stranger = chain.reading(a!, seq, { key: p256 });
    rejectedWith(await node.intake.submit(stranger, mqtt(a!)), ReasonCode.BAD_ALG); // meter-0001 has an Ed25519 key
    const unknown = chain.operatorTx({ type: TxType.MeterRevoke, meterId: 'nobody', time: Date.now() });
    rejectedWith(await node.submitTx(unknown), ReasonCode.UNKNOWN_METER);
    rejectedWith(await node.intake.submit(unknown, mqtt('nobody')), ReasonCode.SCHEMA);
    // nothing of the above was accepted: the next reading still gets in at 100
    assert.equal((await node.intake.submit(chain.reading(a!, seq), mqtt(a!))).status, 'accepted');
  });

  test('operators register, rotate and revoke meters; the rules follow', async () => {
    const fresh = generateKeyPair(Alg.EdDSA);
    const id = 'meter-new';
    const reg = chain.operatorTx({ type: TxType.MeterRegister, meterId: id, time: Date.now(), alg: fresh.alg, publicKey: fresh.publicKey, owner: 'john' });
    assert.equal((await node.submitTx(reg)).status, 'accepted');
    rejectedWith(await node.submitTx(chain.operatorTx({ type: TxType.MeterRegister, meterId: id, time: Date.now() + 1, alg: fresh.alg, publicKey: fresh.publicKey })), ReasonCode.TX_CONFLICT);
    const notOp = generateKeyPair(Alg.EdDSA);
    rejectedWith(await node.submitTx(signTx(chain.genesis.chainId, notOp.alg, notOp.secretKey, { type: TxType.MeterRevoke, meterId: id, time: Date.now() }, 'mallory')), ReasonCode.NOT_OPERATOR);
    assert.equal((await node.intake.submit(chain.reading(id, 1, { key: fresh }), mqtt(id))).status, 'accepted');
    const next = generateKeyPair(Alg.ES256);
    rejectedWith(await node.submitTx(chain.operatorTx({ type: TxType.MeterRotate, meterId: id, time: Date.now(), alg: next.alg, publicKey: next.publicKey, keyEpoch: 2 })), ReasonCode.TX_CONFLICT);
    assert.equal((await node.submitTx(chain.operatorTx({ type: TxType.MeterRotate, meterId: id, time: Date.now(), alg: next.alg, publicKey: next.publicKey, keyEpoch: 1 }))).status, 'accepted');
    rejectedWith(await node.intake.submit(chain.reading(id, 2, { key: fresh }), mqtt(id)), ReasonCode.BAD_ALG);
    assert.equal((await node.intake.submit(chain.reading(id, 2, { key: next }), mqtt(id))).status, 'accepted');
    assert.equal((await node.submitTx(chain.operatorTx({ type: TxType.MeterRevoke, meterId: id, time: Date.now() }))).status, 'accepted');
    rejectedWith(await node.intake.submit(chain.reading(id, 3, { key: next }), mqtt(id)), ReasonCode.METER_REVOKED);
    const deadline = Date.now() + 5000;
    while (node.status().pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(node.getMeter(id)!.revoked, true);
    assert.equal(node.getMeter(id)!.keyEpoch, 1);
  });

  test('a full backlog refuses with E_GATEWAY_BUSY rather than silence', async () => {
    const slow = makeTestChain({ meters: 1 });
    const n = await LedgerNode.open({ openStore: inMemory, dataDir: slow.dataDir, genesis: slow.genesis, blockIntervalMs: 60_000, verifyWorkers: 0, maxBacklog: 3 });
    try {
      const id = slow.meterIds[0]!;
      for (let s = 1; s <= 3; s++) assert.equal((await n.intake.submit(slow.reading(id, s), mqtt(id))).status, 'accepted');
      rejectedWith(await n.intake.submit(slow.reading(id, 4), mqtt(id)), ReasonCode.BUSY);
    } finally {
      await n.close();
    }
    // close() committed the backlog; a reopened node audits clean and has all three
    const audit = await auditInMemory(slow.dataDir, slow.genesis);
    assert.deepEqual(audit, { ok: true, height: 1, txs: 3 });
    slow.cleanup();
  });

  test('a meter above its rate is refused with E_READING_RATE_LIMITED; others are not', async () => {
    const c = makeTestChain({ meters: 2 });
    const n = await LedgerNode.open({ openStore: inMemory, dataDir: c.dataDir, genesis: c.genesis, verifyWorkers: 0, meterRatePerSecond: 1, meterBurst: 2 });
    try {
      const [a, b] = c.meterIds;
      assert.equal((await n.intake.submit(c.reading(a!, 1), mqtt(a!))).status, 'accepted');
      assert.equal((await n.intake.submit(c.reading(a!, 2), mqtt(a!))).status, 'accepted');
      rejectedWith(await n.intake.submit(c.reading(a!, 3), mqtt(a!)), ReasonCode.RATE_LIMITED);
      assert.equal((await n.intake.submit(c.reading(b!, 1), mqtt(b!))).status, 'accepted');
      await new Promise((r) => setTimeout(r, 1100)); // one token back
      assert.equal((await n.intake.submit(c.reading(a!, 3), mqtt(a!))).status, 'accepted');
    } finally {
      await n.close();
      c.cleanup();
    }
  });

  test('a block\'s receipts go out 64 per turn, 256 while a later block\'s wait behind them; close() waits for them all', async () => {
    const c = makeTestChain({ meters: 40 });
    const waiting: [blocks: number, receipts: number][] = [];
    // Once every reading is accepted and a slice of 256 went out, the node is closed in the
    // turn after a later block's receipts next come to wait behind a fan-out under way.
    let armed = false;
    let bigSlice = false;
    let closing: Promise<void> | undefined;
    let handedAtClose = -1;
    const metrics: NodeMetrics = {
      ...noopMetrics,
      receiptsWaiting: (b, r) => {
        const [b0, r0] = waiting.at(-1) ?? [0, 0];
        waiting.push([b, r]);
        if (b === b0 && b >= 2 && r < r0) bigSlice = true;
        // A block with readings arrived behind another: its fan-out begins a turn later, so
        // its receipts are all still owed when close() is called.
        else if (armed && bigSlice && b === b0 + 1 && b >= 2 && r > r0 && !closing) {
          closing = new Promise((resolve, reject) => setImmediate(() => {
            handedAtClose = handed;
            n.close().then(resolve, reject);
          }));
        }
      },
    };
    const n = await LedgerNode.open({ openStore: inMemory, dataDir: c.dataDir, genesis: c.genesis, blockIntervalMs: 1, blockMaxTxs: 700, verifyWorkers: 1, meterRatePerSecond: 0, maxBacklog: 8000, metrics });
    // A slow bridge (0.2 ms a receipt): a block's fan-out outlasts the next height's commit.
    let handed = 0;
    n.intake.onCommitted(() => {
      handed++;
      const t = performance.now();
      while (performance.now() - t < 0.2);
    });
    let closed = false;
    try {
      const perMeter = 100;
      const results = await Promise.all(c.meterIds.flatMap((id) => Array.from({ length: perMeter }, (_, i) => n.intake.submit(c.reading(id, i + 1), mqtt(id)))));
      for (const r of results) assert.equal(r.status, 'accepted', r.status === 'rejected' ? r.message : '');
      armed = true;
      const deadline = Date.now() + 20_000;
      while (!closing && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      assert.ok(closing, `a slice of 256, then a later block waiting behind a fan-out: ${JSON.stringify(waiting)}`);
      await closing;
      closed = true;
      assert.ok(handedAtClose >= 0 && handed > handedAtClose, `receipts still going out when close() was called (${handedAtClose} then ${handed})`);
      // What the committed blocks owed: each block's arrival adds one to the blocks and its readings to the receipts.
      let owed = 0;
      for (let i = 0; i < waiting.length; i++) {
        const [b0, r0] = waiting[i - 1] ?? [0, 0];
        const [b, r] = waiting[i]!;
        if (b === b0 + 1) owed += r - r0;
      }
      assert.equal(handed, owed, 'every committed reading\'s receipt handed out by the time close() resolved');
      assert.deepEqual(waiting.at(-1), [0, 0], 'nothing waits after close()');
    } finally {
      if (!closed) await n.close();
      c.cleanup();
    }
    // Two reports in a row with the same blocks waiting and fewer receipts are one slice
    // (a block's arrival adds one to the blocks, its end takes one away).
    const slices: [blocks: number, size: number][] = [];
    for (let i = 1; i < waiting.length; i++) {
      const [b0, r0] = waiting[i - 1]!;
      const [b, r] = waiting[i]!;
      if (b === b0 && r < r0) slices.push([b, r0 - r]);
    }
    for (const [b, size] of slices) assert.equal(size, b > 1 ? 256 : 64, `a slice with ${b} block(s) waiting: ${JSON.stringify(waiting)}`);
    assert.ok(slices.some(([b]) => b === 1), `slices of 64 seen: ${JSON.stringify(waiting)}`);
    assert.ok(slices.some(([b]) => b > 1), `slices of 256 seen: ${JSON.stringify(waiting)}`);
  });

  test('receipts go out in block order while the next heights are decided, every one by the time close() resolves', async () => {
    const c = makeTestChain({ meters: 20 });
    // Blocks of 150 readings back to back (more than a slice of 64 each): the next height is
    // decided while the last block's receipts are still going out.
    const waiting: [blocks: number, receipts: number][] = [];
    const metrics: NodeMetrics = { ...noopMetrics, receiptsWaiting: (b, r) => void waiting.push([b, r]) };
    const n = await LedgerNode.open({ openStore: inMemory, dataDir: c.dataDir, genesis: c.genesis, blockIntervalMs: 1, blockMaxTxs: 150, verifyWorkers: 1, meterRatePerSecond: 0, maxBacklog: 2000, metrics });
    const got: CommittedReading[] = [];
    n.intake.onCommitted((r) => got.push(r));
    let closed = false;
    try {
      const perMeter = 30;
      const results = await Promise.all(c.meterIds.flatMap((id) => Array.from({ length: perMeter }, (_, i) => n.intake.submit(c.reading(id, i + 1), mqtt(id)))));
      for (const r of results) assert.equal(r.status, 'accepted', r.status === 'rejected' ? r.message : '');
      const deadline = Date.now() + 20_000;
      while (n.status().pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.equal(n.status().pending, 0, 'everything committed');
      await n.close();
      closed = true;
      assert.equal(got.length, c.meterIds.length * perMeter, 'every receipt handed out before close() resolved');
      for (let i = 1; i < got.length; i++) assert.ok(got[i]!.height >= got[i - 1]!.height, `receipts in block order (${got[i - 1]!.height} then ${got[i]!.height})`);
      for (const id of c.meterIds) {
        assert.deepEqual(got.filter((r) => r.meterId === id).map((r) => Number(r.seq)), Array.from({ length: perMeter }, (_, i) => i + 1), `${id}'s receipts in seq order`);
      }
      // The gauges of blocks whose receipts wait: never below zero nor above what the blocks
      // hold, falling by slices within a block, and back at zero once close() resolved.
      assert.ok(waiting.length > 0, 'receiptsWaiting reported');
      for (const [b, r] of waiting) assert.ok(b >= 0 && r >= 0 && r <= b * 150, `${b} blocks, ${r} receipts waiting`);
      assert.ok(waiting.some(([b, r]) => b >= 1 && r > 0 && r % 150 !== 0), 'a block\'s receipts counted down slice by slice');
      assert.deepEqual(waiting.at(-1), [0, 0], 'nothing waits after close()');
    } finally {
      if (!closed) await n.close();
      c.cleanup();
    }
  });
});
