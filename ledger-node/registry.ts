/**
 * The meter registry in two layers: `committed` (what the stored blocks say) and the tip
 * (committed plus every accepted, not yet committed transaction, in accept order).
 * Intake checks against the tip; blocks against the committed layer. After each block
 * the tip is rebuilt from the committed layer and what is still waiting.
 */
import type { MeterLookup, MeterRecord } from './rules.js';

export class Registry implements MeterLookup {
  private readonly overlay = new Map<string, MeterRecord>();

  constructor(private readonly committedMeters: Map<string, MeterRecord>) {}

  /** The tip view. */
  meter(meterId: string): MeterRecord | undefined {
    return this.overlay.get(meterId) ?? this.committedMeters.get(meterId);
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
    this.overlay.set(meterId, next);
  }

  /** A block changed these records. Call resetTip afterwards. */
  commit(changed: ReadonlyMap<string, MeterRecord>): void {
    for (const [id, rec] of changed) this.committedMeters.set(id, rec);
  }

  /** Rebuild the tip by re-applying what still waits, in order. */
  resetTip(replay: (accept: (meterId: string, next: MeterRecord) => void) => void): void {
    this.overlay.clear();
    replay((id, next) => this.accept(id, next));
  }
}
