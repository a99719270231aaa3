/**
 * The meter registry in two layers: `committed` (what the stored blocks say) and the tip
 * (committed plus every accepted, not yet committed transaction, in accept order).
 * Intake checks against the tip; block production against the committed layer.
 */
import type { MeterLookup, MeterRecord } from './rules.js';

export class Registry implements MeterLookup {
  private readonly overlay = new Map<string, { rec: MeterRecord; pending: number }>();

  constructor(private readonly committedMeters: Map<string, MeterRecord>) {}

  /** The tip view. */
  meter(meterId: string): MeterRecord | undefined {
    return this.overlay.get(meterId)?.rec ?? this.committedMeters.get(meterId);
  }

  readonly committed: MeterLookup = { meter: (id) => this.committedMeters.get(id) };

  get size(): number {
    let n = this.committedMeters.size;
    for (const id of this.overlay.keys()) if (!this.committedMeters.has(id)) n++;
    return n;
  }

  ids(): string[] {
    return [...new Set([...this.committedMeters.keys(), ...this.overlay.keys()])].sort();
  }

  /** An accepted transaction moved the tip. */
  accept(meterId: string, next: MeterRecord): void {
    const o = this.overlay.get(meterId);
    this.overlay.set(meterId, { rec: next, pending: (o?.pending ?? 0) + 1 });
  }

  /** A transaction accepted earlier is now committed. */
  commit(meterId: string, next: MeterRecord, wasPending: boolean): void {
    this.committedMeters.set(meterId, next);
    if (!wasPending) return;
    const o = this.overlay.get(meterId);
    if (o && --o.pending <= 0) this.overlay.delete(meterId);
  }

  /** Forget the tip and rebuild it by re-applying `replay` (after a failed write-ahead). */
  resetTip(replay: (accept: (meterId: string, next: MeterRecord) => void) => void): void {
    this.overlay.clear();
    replay((id, next) => this.accept(id, next));
  }
}
