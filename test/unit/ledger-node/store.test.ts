/** The memory store against the store contract (LevelDB's run: test/integration/store/level.test.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryStore } from '../../../ledger-node/store/memory.js';
import { storeContract } from '../../helpers/store-contract.js';

storeContract('memory', async () => {
  let store = new MemoryStore();
  return {
    store,
    async reopen() {
      await store.close();
      store = store.reopen();
      return store;
    },
    async cleanup() {
      await store.close();
    },
  };
});

test('memory store: one open handle at a time (as LevelDB locks its folder), and a closed handle refuses', async () => {
  const a = new MemoryStore();
  assert.throws(() => a.reopen(), { code: 'E_STORE_LOCKED' });
  await a.close();
  const b = a.reopen();
  await assert.rejects(a.head(), { code: 'E_STORE_CLOSED' });
  assert.equal(await b.head(), undefined);
  await b.close();
});
