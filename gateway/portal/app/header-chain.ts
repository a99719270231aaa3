/**
 * The block hash chain from the trusted genesis, verified header by header and kept
 * (docs/portal.md §What the browser verifies, 4): each header the gateway lists is hashed
 * here, must link to the one below, and block 1 to the genesis hash. Verified hashes go to
 * a HeaderStore (IndexedDB in the page: header-cache.ts) kept per genesis hash, so a later
 * check fetches only the headers above the cached tip. A header the gateway now serves
 * differently from the cached one is a fork: the check fails saying so, and the cache is
 * never overwritten. Pure (no DOM): the header listing is a function given in.
 */
import { type BlockHeader, headerHash } from '../../../protocols/block.js';
import { equalBytes, fromHex, toHex } from '../../../protocols/bytes.js';

/** A header as GET /api/v1/blocks lists it. */
export interface HeaderSummary {
  readonly height: number;
  readonly chainId: string;
  readonly time: number;
  readonly prevHash: string;
  readonly txRoot: string;
  readonly txCount: number;
  readonly proposer: string;
}

/** One verified header in the cache: its hash, and whether a commit certificate for that hash was checked. */
export interface CachedHeader {
  readonly height: number;
  readonly hash: string;
  readonly certified: boolean;
}

/** Verified headers of one trusted genesis, heights 1..tip() without holes. */
export interface HeaderStore {
  tip(): Promise<number>;
  get(height: number): Promise<CachedHeader | undefined>;
  put(headers: readonly CachedHeader[]): Promise<void>;
}

export class MemoryHeaderStore implements HeaderStore {
  readonly byHeight = new Map<number, CachedHeader>();
  /** The highest height held, as IndexedDB's last key (header-cache.ts). */
  async tip(): Promise<number> {
    let h = 0;
    for (const k of this.byHeight.keys()) if (k > h) h = k;
    return h;
  }
  async get(height: number): Promise<CachedHeader | undefined> {
    return this.byHeight.get(height);
  }
  async put(headers: readonly CachedHeader[]): Promise<void> {
    for (const c of headers) this.byHeight.set(c.height, c);
  }
}

/** Lists headers `from`..`from + limit - 1` (any order); the gateway's word, checked here. */
export type ListHeaders = (from: number, limit: number) => Promise<readonly HeaderSummary[]>;

export class ForkError extends Error {
  readonly code = 'E_PORTAL_FORK';
}

export interface HashAnswer {
  readonly hash: Uint8Array;
  /** Read from the cache of an earlier check, not from this check's headers. */
  readonly cached: boolean;
  /** A commit certificate for this hash was verified before. */
  readonly certified: boolean;
}

const PAGE = 100;

export class ChainVerifier {
  private readonly known = new Map<number, HashAnswer>();
  private busy: Promise<unknown> = Promise.resolve();
  /** Headers fetched from the gateway by this verifier (the cache's effect is measurable). */
  fetched = 0;

  constructor(private readonly chainId: string, genesisHash: Uint8Array, private readonly list: ListHeaders, private readonly store: HeaderStore = new MemoryHeaderStore()) {
    this.known.set(0, { hash: genesisHash, cached: false, certified: true });
  }

  /** The verified hash of block `height`, fetching the headers above the cached tip; throws where the chain breaks. */
  hashAt(height: number): Promise<HashAnswer> {
    const run = this.busy.then(() => this.resolve(height));
    this.busy = run.catch(() => undefined);
    return run;
  }

  /** Remember that a commit certificate for block `height` with this hash verified. */
  async certify(height: number, hash: Uint8Array): Promise<void> {
    const k = this.known.get(height);
    if (!k || !equalBytes(k.hash, hash) || k.certified) return;
    this.known.set(height, { ...k, certified: true });
    await this.store.put([{ height, hash: toHex(hash), certified: true }]);
  }

  private async resolve(height: number): Promise<HashAnswer> {
    const have = this.known.get(height);
    if (have) return have;
    const c = await this.store.get(height);
    if (c) return this.remember(c);
    // Extend from the highest verified height below: the cache's tip or this page's.
    let base = await this.store.tip();
    if (base >= height) throw new Error(`block ${height} is missing from this browser's header cache (its tip is ${base}): clear the site's data to rebuild it`);
    for (const h of this.known.keys()) if (h > base && h < height) base = h;
    let prev = this.known.get(base) ?? (base > 0 ? await this.store.get(base).then((x) => x && this.remember(x)) : undefined);
    if (!prev) throw new Error(`block ${base} is missing from the cache`);
    while (base < height) {
      const from = base + 1;
      const limit = Math.min(PAGE, height - base);
      const page = [...await this.list(from, limit)].sort((a, b) => a.height - b.height);
      this.fetched += page.length;
      if (page.length === 0 || page[0]!.height !== from) throw new Error(`the gateway did not list block ${from}`);
      const fresh: CachedHeader[] = [];
      for (const b of page) {
        if (b.height !== base + 1) throw new Error(`asked for block ${base + 1}, got ${b.height}`);
        const header: BlockHeader = {
          chainId: b.chainId, height: b.height, time: b.time, prevHash: fromHex(b.prevHash, 'prevHash'),
          txRoot: fromHex(b.txRoot, 'txRoot'), txCount: b.txCount, proposer: b.proposer,
        };
        if (header.chainId !== this.chainId) throw new Error(`block ${b.height} is for chain "${header.chainId}"`);
        if (!equalBytes(header.prevHash, prev.hash)) {
          if (prev.cached) throw new ForkError(`fork: block ${b.height} does not link to block ${base} as this browser verified it before (${toHex(prev.hash).slice(0, 16)}…): the gateway serves another chain`);
          throw new Error(`block ${b.height} does not link to block ${base}`);
        }
        prev = { hash: headerHash(header), cached: false, certified: false };
        this.known.set(b.height, prev);
        fresh.push({ height: b.height, hash: toHex(prev.hash), certified: false });
        base = b.height;
        if (base >= height) break;
      }
      await this.store.put(fresh);
    }
    return this.known.get(height)!;
  }

  private remember(c: CachedHeader): HashAnswer {
    const a = { hash: fromHex(c.hash, 'cached hash'), cached: true, certified: c.certified };
    this.known.set(c.height, a);
    return a;
  }
}
