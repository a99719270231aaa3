/**
 * The HeaderStore of header-chain.ts in IndexedDB: database `meterledger-chain`, store
 * `headers`, keyed [genesis hash, height], so the headers verified under one genesis are
 * never read under another. Storage that fails (private mode, quota) falls back to memory:
 * the checks stay the same, only slower.
 */
import { type CachedHeader, type HeaderStore, MemoryHeaderStore } from './header-chain.js';

const DB_NAME = 'meterledger-chain';
const STORE = 'headers';

interface Row extends CachedHeader {
  readonly genesis: string;
}

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB_NAME, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE, { keyPath: ['genesis', 'height'] });
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB is not available'));
  });
}

export class IdbHeaderStore implements HeaderStore {
  private db: Promise<IDBDatabase> | undefined;
  private readonly fallback = new MemoryHeaderStore();
  private broken = false;

  constructor(private readonly genesis: string) {}

  private async run<T>(mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest<T> | void): Promise<T | undefined> {
    this.db ??= open();
    const d = await this.db;
    return new Promise<T | undefined>((resolve, reject) => {
      const tx = d.transaction(STORE, mode);
      const req = f(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req ? req.result : undefined);
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  }

  private async guarded<T>(f: () => Promise<T>, alt: () => Promise<T>): Promise<T> {
    if (this.broken) return alt();
    try {
      return await f();
    } catch {
      this.broken = true;
      return alt();
    }
  }

  /** The highest cached height under this genesis (0: none): the last key of its range. */
  tip(): Promise<number> {
    return this.guarded(async () => {
      this.db ??= open();
      const d = await this.db;
      return new Promise<number>((resolve, reject) => {
        const tx = d.transaction(STORE, 'readonly');
        const range = IDBKeyRange.bound([this.genesis, 0], [this.genesis, Number.MAX_SAFE_INTEGER]);
        const req = tx.objectStore(STORE).openKeyCursor(range, 'prev');
        let tip = 0;
        req.onsuccess = () => {
          const c = req.result;
          if (c) tip = (c.primaryKey as [string, number])[1];
        };
        tx.oncomplete = () => resolve(tip);
        tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
      });
    }, () => this.fallback.tip());
  }

  get(height: number): Promise<CachedHeader | undefined> {
    return this.guarded(async () => {
      const row = await this.run<Row | undefined>('readonly', (s) => s.get([this.genesis, height]) as IDBRequest<Row | undefined>);
      return row ? { height: row.height, hash: row.hash, certified: row.certified } : undefined;
    }, () => this.fallback.get(height));
  }

  put(headers: readonly CachedHeader[]): Promise<void> {
    return this.guarded(async () => {
      await this.run('readwrite', (s) => {
        for (const h of headers) s.put({ genesis: this.genesis, ...h } satisfies Row);
      });
    }, () => this.fallback.put(headers));
  }
}
