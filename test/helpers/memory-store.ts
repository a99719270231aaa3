/**
 * Memory stores (ledger-node/store/memory.ts) for node tests, one per store path: a node
 * closed and opened again on the same data dir finds what it left, as on disk, and no
 * LevelDB is opened.
 */
import type { Genesis } from '../../protocols/index.js';
import { type AuditResult, auditLedgerStore } from '../../ledger-node/audit.js';
import { dataPaths } from '../../ledger-node/devchain.js';
import { MemoryStore } from '../../ledger-node/store/memory.js';
import type { LedgerStore, StoreOpener } from '../../ledger-node/store/store.js';

const byPath = new Map<string, ReturnType<typeof MemoryStore.opener>>();

/** NodeOptions.openStore for tests. */
export const inMemory: StoreOpener = (path: string): Promise<LedgerStore> => {
  let o = byPath.get(path);
  if (!o) byPath.set(path, (o = MemoryStore.opener()));
  return o(path);
};

/** The audit (ledger-node/audit.ts) of the memory store a node left at `dataDir`. */
export async function auditInMemory(dataDir: string, genesis: Genesis): Promise<AuditResult> {
  const store = await inMemory(dataPaths(dataDir).store);
  try {
    return await auditLedgerStore(store, dataPaths(dataDir).wal, genesis);
  } finally {
    await store.close();
  }
}
