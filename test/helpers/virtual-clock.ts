/**
 * Virtual time for simulations: a Scheduler (ledger-node/consensus/ports.ts) whose clock
 * moves only when the simulation runs the next timer. Timers due at the same moment run in
 * the order they were set, so a seed replays exactly.
 */
import type { Scheduler } from '../../ledger-node/consensus/ports.js';

interface Timer {
  readonly at: number;
  readonly n: number;
  readonly fn: () => void;
  cancelled: boolean;
}

export class VirtualClock implements Scheduler {
  private heap: Timer[] = [];
  private seq = 0;
  private t = 0;

  /** `epochMs`: what now() says at virtual time 0 (block times look like real ones). */
  constructor(private readonly epochMs = 1_700_000_000_000) {}

  /** Virtual ms since the start. */
  get elapsed(): number {
    return this.t;
  }

  now(): number {
    return this.epochMs + this.t;
  }

  after(ms: number, fn: () => void): () => void {
    const timer: Timer = { at: this.t + Math.max(0, ms), n: this.seq++, fn, cancelled: false };
    this.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Virtual ms at which the next timer is due, or undefined. */
  peek(): number | undefined {
    while (this.heap.length && this.heap[0]!.cancelled) this.pop();
    return this.heap[0]?.at;
  }

  /** Move to the next timer and run it; false when there is none. */
  runNext(): boolean {
    if (this.peek() === undefined) return false;
    const timer = this.pop()!;
    this.t = timer.at;
    timer.fn();
    return true;
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.n < b.n);
  }

  private push(x: Timer): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    if (!h.length) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
