/**
 * A guard in front of aedes' packet parser: it reads only the MQTT fixed header
 * (MQTT 3.1.1 §2.2) of each packet as bytes arrive and reports a packet whose Remaining
 * Length exceeds the limit, or is malformed, before the parser buffers its body. Without
 * it a client announcing a 256 MB packet makes the broker buffer it.
 */
import type { Readable } from 'node:stream';

export class FrameGuard {
  private state: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;

  constructor(private readonly maxRemainingLength: number) {}

  /** Feed the next bytes; returns a reason at the first violation, else undefined. */
  feed(chunk: Uint8Array): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'type') {
        i++;
        this.state = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
      } else if (this.state === 'length') {
        const b = chunk[i++]!;
        this.length += (b & 0x7f) * this.multiplier;
        this.multiplier *= 128;
        this.lengthBytes++;
        if (b & 0x80) {
          // §2.2.3: the Remaining Length takes at most four bytes.
          if (this.lengthBytes === 4) return 'malformed Remaining Length';
          continue;
        }
        if (this.length > this.maxRemainingLength) {
          return `packet of ${this.length} bytes exceeds the limit of ${this.maxRemainingLength}`;
        }
        this.remaining = this.length;
        this.state = this.remaining === 0 ? 'type' : 'body';
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'type';
      }
    }
    return undefined;
  }
}

/**
 * Check every chunk aedes reads from `conn` (it pulls with `conn.read()` on 'readable').
 * On a violation the chunk is withheld and `onViolation` runs (it should destroy `conn`).
 */
export function guardReads(conn: Readable, maxRemainingLength: number, onViolation: (reason: string) => void): void {
  const guard = new FrameGuard(maxRemainingLength);
  const read = conn.read.bind(conn);
  let violated = false;
  conn.read = (size?: number): unknown => {
    if (violated) return null;
    const chunk: unknown = read(size);
    if (chunk instanceof Uint8Array && chunk.length > 0) {
      const problem = guard.feed(chunk);
      if (problem !== undefined) {
        violated = true;
        onViolation(problem);
        return null;
      }
    }
    return chunk;
  };
}
