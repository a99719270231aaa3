/**
 * The ledger's state in two layers (records keyed by (kind, id), protocols/state.ts):
 * `committed` (what the stored blocks say) and the tip (committed plus every accepted, not
 * yet committed transaction, in accept order). Intake checks against the tip; blocks
 * against the committed layer. After each block the tip is rebuilt from the committed
 * layer and what is still waiting.
 */
import { type StateChange, StateKind, type StateReader } from '../../protocols/index.js';
import type { MeterRecord } from './meter.js';

type Layer = Map<string, Map<string, unknown>>;

function put(layer: Layer, c: StateChange, deleted: unknown): void {
  let m = layer.get(c.kind);
  if (!m) layer.set(c.kind, (m = new Map()));
  m.set(c.id, c.value === null ? deleted : c.value);
}

/** A deleted record in the tip (null in a change), hiding the committed one. */
const GONE = Symbol('deleted');

export class ChainState implements StateReader {
  private readonly base: Layer = new Map();
  private readonly tip: Layer = new Map();

  constructor(records: Iterable<StateChange> = []) {
    this.commit(records);
  }

  /** The tip view. */
  get(kind: string, id: string): unknown {
    const t = this.tip.get(kind)?.get(id);
    if (t !== undefined) return t === GONE ? undefined : t;
    return this.base.get(kind)?.get(id);
  }

  readonly committed: StateReader = { get: (kind, id) => this.base.get(kind)?.get(id) };

  /** Convenience for the meter kind, on the tip. */
  meter(meterId: string): MeterRecord | undefined {
    return this.get(StateKind.Meter, meterId) as MeterRecord | undefined;
  }

  /** Ids of `kind` in the tip, sorted. */
  ids(kind: string): string[] {
    const out = new Set(this.base.get(kind)?.keys() ?? []);
    for (const [id, v] of this.tip.get(kind) ?? []) {
      if (v === GONE) out.delete(id);
      else out.add(id);
    }
    return [...out].sort();
  }

  /** Ids of `kind` in the committed layer (what the stored blocks say), sorted. */
  committedIds(kind: string): string[] {
    return [...(this.base.get(kind)?.keys() ?? [])].sort();
  }

  /** Kinds with records, committed or in the tip. */
  kinds(): string[] {
    return [...new Set([...this.base.keys(), ...this.tip.keys()])].sort();
  }

  size(kind: string): number {
    return this.ids(kind).length;
  }

  /** An accepted transaction moved the tip. */
  accept(changes: Iterable<StateChange>): void {
    for (const c of changes) put(this.tip, c, GONE);
  }

  /** A block made these changes. Call resetTip afterwards. */
  commit(changes: Iterable<StateChange>): void {
    for (const c of changes) {
      if (c.value === null) this.base.get(c.kind)?.delete(c.id);
      else put(this.base, c, undefined);
    }
  }

  /** Rebuild the tip by re-applying what still waits, in order. */
  resetTip(replay: (accept: (changes: Iterable<StateChange>) => void) => void): void {
    this.tip.clear();
    replay((changes) => this.accept(changes));
  }
}
