/**
 * The consensus record (./record.ts) in memory: the ConsensusLog port (./ports.ts) for the
 * simulation and for tests of the runner. It keeps exactly what was saved, as bytes, so a
 * "crash" (a new runner over the same log) restores from what was persisted and nothing
 * else. Only what consensus needs; the store's LevelDB keys V, S and L are the real one.
 */
import { toHex } from '../../protocols/index.js';
import type { StoredRecord } from './record.js';
import type { ConsensusLog } from './ports.js';

interface Height {
  state: Uint8Array | undefined;
  readonly blocks: Map<string, Uint8Array>;
  /** By `${round}/${type}`, in the order the store's keys would list them. */
  readonly signed: Map<string, Uint8Array>;
}

export class MemoryConsensusLog implements ConsensusLog {
  private readonly heights = new Map<number, Height>();
  /** When set, the next save throws it (a disk that fails), once. */
  failNextSave: Error | undefined;

  async load(height: number): Promise<StoredRecord> {
    const h = this.heights.get(height);
    const byKey = [...(h?.signed ?? new Map<string, Uint8Array>())].sort(([a], [b]) => {
      const [ra, ta] = a.split('/');
      const [rb, tb] = b.split('/');
      return Number(ra) - Number(rb) || (ta! < tb! ? -1 : ta! > tb! ? 1 : 0);
    });
    return { state: h?.state, blocks: new Map(h?.blocks ?? []), signed: byKey.map(([, v]) => v) };
  }

  async save(height: number, w: Parameters<ConsensusLog['save']>[1]): Promise<void> {
    const fail = this.failNextSave;
    if (fail) {
      this.failNextSave = undefined;
      throw fail;
    }
    let h = this.heights.get(height);
    if (!h) this.heights.set(height, (h = { state: undefined, blocks: new Map(), signed: new Map() }));
    if (w.state) h.state = w.state;
    for (const b of w.blocks ?? []) h.blocks.set(toHex(b.hash), b.bytes);
    if (w.signed) h.signed.set(`${w.signed.round}/${w.signed.type}`, w.signed.bytes);
  }

  async prune(height: number): Promise<void> {
    for (const k of this.heights.keys()) if (k < height) this.heights.delete(k);
  }
}
