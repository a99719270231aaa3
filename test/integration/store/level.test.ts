/** The LevelDB store against the store contract (the memory store's run: test/unit/ledger-node/store.test.ts). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore } from '../../../ledger-node/store/level.js';
import type { LedgerStore } from '../../../ledger-node/store/store.js';
import { storeContract } from '../../helpers/store-contract.js';

storeContract('LevelDB', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meterledger-level-'));
  let store: LedgerStore = await LevelStore.open(join(dir, 'store'));
  return {
    store,
    async reopen() {
      await store.close();
      store = await LevelStore.open(join(dir, 'store'));
      return store;
    },
    async cleanup() {
      await store.close().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
