/**
 * The mempool holds what was accepted at every moment, the group being written to the
 * write-ahead included: the chain writer rebuilds the registry tip from all() after each
 * block, and a transaction missing from it would let a conflicting one in.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Alg, TxType, decodeTx, randomSecretKey, signTx } from '../../../protocols/index.js';
import { Mempool } from '../../../ledger-node/mempool.js';
import type { WalEntry, WriteAhead } from '../../../ledger-node/store/wal.js';

class HeldWal implements WriteAhead {
  readonly appended: WalEntry[][] = [];
  private release_: (() => void) | undefined;
  append(entries: readonly WalEntry[]): Promise<void> {
    this.appended.push([...entries]);
    return new Promise((r) => (this.release_ = r));
  }
  finish(): void {
    this.release_?.();
  }
  release(): void {}
}

test('a transaction whose write-ahead record is being written is in all() and size (it was accepted)', async () => {
  const wal = new HeldWal();
  const m = new Mempool(wal, 1, () => {}, () => {});
  const sk = randomSecretKey(Alg.EdDSA);
  const tx = decodeTx(signTx('c', Alg.EdDSA, sk, { type: TxType.Reading, meterId: 'm1', seq: 1n, time: 1, importWh: 1 }));
  const durable = m.add(tx);
  await new Promise((r) => setImmediate(r));
  assert.equal(wal.appended.length, 1, 'the write has started');
  assert.deepEqual(m.all().map((t) => t.hashHex), [tx.hashHex]);
  assert.equal(m.size, 1);
  assert.equal(m.has(tx.hashHex), true);
  wal.finish();
  await durable;
  assert.deepEqual(m.all().map((t) => t.hashHex), [tx.hashHex]);
  assert.equal(m.durableCount, 1);
});
