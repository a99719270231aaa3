/**
 * A guard in front of aedes' packet parser. It reads the MQTT fixed header (MQTT 3.1.1
 * §2.2) of each packet as bytes arrive and reports a packet whose Remaining Length exceeds
 * the limit, or is malformed, before the parser buffers its body (without it a client
 * announcing a 256 MB packet makes the broker buffer it). It also reads the UTF-8 strings
 * that name things (client id, will topic, username, topic names and filters) as bytes
 * and reports ill-formed UTF-8 ([MQTT-1.5.3-1], surrogates included) and U+0000
 * ([MQTT-1.5.3-2]): mqtt-packet would decode them to U+FFFD, so distinct byte strings
 * would become one name.
 */
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';

const CONNECT = 1;
const PUBLISH = 3;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;

/** Why `s` may not be an MQTT UTF-8 string, or undefined. */
function stringProblem(s: Uint8Array, what: string): string | undefined {
  if (!isUtf8(s)) return `[MQTT-1.5.3-1] ill-formed UTF-8 in the ${what}`;
  if (s.includes(0)) return `[MQTT-1.5.3-2] U+0000 in the ${what}`;
  return undefined;
}

/**
 * The strings of a packet body, checked. A body that does not parse is left to
 * mqtt-packet, which refuses it with its own error.
 */
function bodyProblem(type: number, b: Uint8Array): string | undefined {
  let at = 0;
  const u16 = (): number | undefined => (at + 2 <= b.length ? (b[at++]! << 8) | b[at++]! : undefined);
  const str = (): Uint8Array | undefined => {
    const n = u16();
    if (n === undefined || at + n > b.length) return undefined;
    at += n;
    return b.subarray(at - n, at);
  };
  if (type === PUBLISH) {
    const topic = str();
    return topic && stringProblem(topic, 'topic name');
  }
  if (type === SUBSCRIBE || type === UNSUBSCRIBE) {
    if (u16() === undefined) return undefined;
    while (at < b.length) {
      const filter = str();
      if (!filter) return undefined;
      const problem = stringProblem(filter, 'topic filter');
      if (problem) return problem;
      if (type === SUBSCRIBE) at++; // requested QoS
    }
    return undefined;
  }
  // CONNECT §3.1.2-3.1.3: protocol name, level, flags, keep alive, then the payload.
  if (!str() || at + 4 > b.length) return undefined;
  const level = b[at++]!;
  const flags = b[at++]!;
  at += 2;
  if (level !== 3 && level !== 4) return undefined; // refused with CONNACK 1 anyway
  const clientId = str();
  if (!clientId) return undefined;
  let problem = stringProblem(clientId, 'client id');
  if (!problem && flags & 0x04) {
    const willTopic = str();
    if (!willTopic || !str()) return undefined; // will topic, will message
    problem = stringProblem(willTopic, 'will topic');
  }
  if (!problem && flags & 0x80) {
    const username = str();
    problem = username && stringProblem(username, 'user name');
  }
  return problem;
}

export class FrameGuard {
  private state: 'type' | 'length' | 'body' = 'type';
  private type = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private remaining = 0;
  /** Bytes of the body to collect for the string checks, and those collected so far. */
  private need = 0;
  private got: Uint8Array[] = [];
  private gotBytes = 0;
  private topicSized = false;

  constructor(private readonly maxRemainingLength: number) {}

  /** Feed the next bytes; returns a reason at the first violation, else undefined. */
  feed(chunk: Uint8Array): string | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.state === 'type') {
        this.type = chunk[i++]! >> 4;
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
        // A PUBLISH is collected up to the end of its topic (the length prefix first).
        const named = this.type === CONNECT || this.type === SUBSCRIBE || this.type === UNSUBSCRIBE;
        this.need = named ? this.length : this.type === PUBLISH ? Math.min(2, this.length) : 0;
        this.got = [];
        this.gotBytes = 0;
        this.topicSized = false;
        this.state = this.remaining === 0 ? 'type' : 'body';
      } else {
        const take = Math.min(this.remaining, chunk.length - i);
        const problem = this.collect(chunk.subarray(i, i + take));
        if (problem) return problem;
        i += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'type';
      }
    }
    return undefined;
  }

  private collect(part: Uint8Array): string | undefined {
    let off = 0;
    while (this.gotBytes < this.need && off < part.length) {
      const n = Math.min(part.length - off, this.need - this.gotBytes);
      this.got.push(part.subarray(off, off + n));
      this.gotBytes += n;
      off += n;
      if (this.gotBytes < this.need) return undefined;
      const body = this.got.length === 1 ? this.got[0]! : Buffer.concat(this.got);
      this.got = [body];
      if (this.type === PUBLISH && !this.topicSized) {
        // The topic's length prefix is in: collect the topic itself, no further.
        this.topicSized = true;
        if (body.length === 2) {
          this.need = Math.min(this.length, 2 + ((body[0]! << 8) | body[1]!));
          if (this.need > 2) continue;
        }
      }
      this.need = 0;
      this.got = [];
      return bodyProblem(this.type, body);
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
