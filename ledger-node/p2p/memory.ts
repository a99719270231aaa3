/**
 * An in-process network of carriers, for fast tests and the simulation: the peer layer
 * (./peers.ts) runs over it exactly as over NATS, signatures and all. Delivery is
 * asynchronous (setImmediate, a timer with `delayMs`, or the injected `schedule`, which
 * sees every hop and may drop, delay or repeat it: a simulation's adversary), data is
 * copied, a node never receives its own publishes (NATS noEcho), and cut(nodeId) isolates
 * a node the way a lost NATS link does: what it sends and what is sent to it is dropped,
 * publishing throws E_P2P_DISCONNECTED, and connected() is false until heal(nodeId).
 */
import type { Carrier, Reply } from './carrier.js';
import { P2pCode, P2pError } from './errors.js';

type Handler = (data: Uint8Array, reply: Reply | undefined) => void;

/** One delivery from one carrier to another, as an injected schedule sees it. */
export interface MemoryHop {
  readonly from: string;
  readonly to: string;
  /** The subject published or requested on (an answer travels on its request's). */
  readonly subject: string;
  readonly kind: 'publish' | 'request' | 'answer';
  /** The bytes as sent: to read, not to keep or change. */
  readonly data: Uint8Array;
}

export interface MemoryNetworkOptions {
  /** Delivery delay, ms; 0 (default) delivers on the next setImmediate. */
  readonly delayMs?: number;
  /**
   * Run `deliver` later (a simulation's virtual time); replaces delayMs. Called once per
   * hop, at the send; it may call `deliver` once, never (a drop) or more often (a
   * duplicate). `hop` is undefined for a request's notice that nobody listens.
   */
  readonly schedule?: (deliver: () => void, hop: MemoryHop | undefined) => void;
}

export class MemoryNetwork {
  private readonly nodes = new Map<string, MemoryCarrier>();
  private readonly isolated = new Set<string>();

  constructor(private readonly opts: MemoryNetworkOptions = {}) {}

  /** A new carrier for `nodeId` (after a close, the id may be used again, like a restart). */
  carrier(nodeId: string): MemoryCarrier {
    if (this.nodes.has(nodeId)) throw new Error(`node "${nodeId}" already has an open carrier`);
    const c = new MemoryCarrier(nodeId, this);
    this.nodes.set(nodeId, c);
    return c;
  }

  /** Isolate a node from everyone (a partition of one). */
  cut(nodeId: string): void {
    if (this.isolated.has(nodeId)) return;
    this.isolated.add(nodeId);
    this.nodes.get(nodeId)?.changed();
  }

  heal(nodeId: string): void {
    if (!this.isolated.delete(nodeId)) return;
    this.nodes.get(nodeId)?.changed();
  }

  isCut(nodeId: string): boolean {
    return this.isolated.has(nodeId);
  }

  /** @internal Other open, reachable carriers subscribed to `subject`, as seen from `from`. */
  subscribers(from: string, subject: string): MemoryCarrier[] {
    if (this.isolated.has(from)) return [];
    return [...this.nodes.values()].filter((n) => n.nodeId !== from && !this.isolated.has(n.nodeId) && n.listens(subject));
  }

  /** @internal */
  linked(a: string, b: string): boolean {
    return !this.isolated.has(a) && !this.isolated.has(b) && this.nodes.has(a) && this.nodes.has(b);
  }

  /** @internal */
  remove(c: MemoryCarrier): void {
    if (this.nodes.get(c.nodeId) === c) this.nodes.delete(c.nodeId);
  }

  /** @internal */
  later(fn: () => void, hop?: MemoryHop): void {
    if (this.opts.schedule) return this.opts.schedule(fn, hop);
    const d = this.opts.delayMs ?? 0;
    if (d > 0) setTimeout(fn, d);
    else setImmediate(fn);
  }
}

const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b); // not slice(): a Buffer's slice is a view

export class MemoryCarrier implements Carrier {
  private readonly subs = new Map<string, Handler[]>();
  private readonly listeners: ((up: boolean) => void)[] = [];
  private closed = false;
  private wasUp = true;

  constructor(
    readonly nodeId: string,
    private readonly net: MemoryNetwork,
  ) {}

  /** @internal */
  listens(subject: string): boolean {
    return !this.closed && this.subs.has(subject);
  }

  /** @internal The network cut or healed us. */
  changed(): void {
    const up = this.connected();
    if (up === this.wasUp) return;
    this.wasUp = up;
    for (const l of this.listeners) l(up);
  }

  /** @internal Hand `data` to our handlers of `subject`; a handler's fault is its own, as with NATS. */
  deliver(subject: string, data: Uint8Array, reply: Reply | undefined): void {
    if (this.closed) return;
    for (const h of this.subs.get(subject) ?? []) {
      try {
        h(copy(data), reply);
      } catch {
        /* as with NATS */
      }
    }
  }

  private usable(): void {
    if (this.closed) throw new P2pError(P2pCode.CLOSED, 'carrier closed');
    if (this.net.isCut(this.nodeId)) throw new P2pError(P2pCode.DISCONNECTED, `${this.nodeId} is cut off`);
  }

  publish(subject: string, data: Uint8Array): void {
    this.usable();
    for (const peer of this.net.subscribers(this.nodeId, subject)) {
      const d = copy(data);
      this.net.later(() => {
        if (this.net.linked(this.nodeId, peer.nodeId)) peer.deliver(subject, d, undefined); // else cut while in flight
      }, { from: this.nodeId, to: peer.nodeId, subject, kind: 'publish', data });
    }
  }

  subscribe(subject: string, onMessage: Handler): void {
    const list = this.subs.get(subject) ?? [];
    list.push(onMessage);
    this.subs.set(subject, list);
  }

  request(subject: string, data: Uint8Array, onAnswer: (data: Uint8Array) => void, onNoResponders: () => void): () => void {
    this.usable();
    let ended = false;
    const targets = this.net.subscribers(this.nodeId, subject);
    // Like NATS: nobody listening is known at once; a silent peer costs the requester's timeout.
    if (targets.length === 0) {
      this.net.later(() => {
        if (!ended) onNoResponders();
      });
    }
    for (const peer of targets) {
      const d = copy(data);
      const reply: Reply = (answer) => {
        const a = copy(answer);
        this.net.later(() => {
          if (!ended && !this.closed && this.net.linked(this.nodeId, peer.nodeId)) onAnswer(a);
        }, { from: peer.nodeId, to: this.nodeId, subject, kind: 'answer', data: answer });
      };
      this.net.later(() => {
        if (this.net.linked(this.nodeId, peer.nodeId)) peer.deliver(subject, d, reply);
      }, { from: this.nodeId, to: peer.nodeId, subject, kind: 'request', data });
    }
    return () => {
      ended = true;
    };
  }

  connected(): boolean {
    return !this.closed && !this.net.isCut(this.nodeId);
  }

  onConnectionChange(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.net.remove(this);
    this.changed();
  }
}
