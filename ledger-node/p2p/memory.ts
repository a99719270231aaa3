/**
 * An in-process network of Transports, for fast tests of the node's consensus driver.
 * Delivery is asynchronous (setImmediate, or a timer with `delayMs`), payloads are copied,
 * and cut(nodeId) isolates a node the way a lost NATS link does: what it sends and what
 * is sent to it is dropped, its requests fail with E_P2P_DISCONNECTED, and it reports
 * connected() === false until heal(nodeId). No signatures: every node here is trusted.
 */
import { P2pCode, P2pError } from './envelope.js';
import type { BroadcastKind, Transport } from './transport.js';

type MessageHandler = (from: string, kind: BroadcastKind, payload: Uint8Array) => void;
type RequestHandler = (from: string, payload: Uint8Array) => Promise<Uint8Array>;

export interface MemoryNetworkOptions {
  /** Delivery delay, ms; 0 (default) delivers on the next setImmediate. */
  readonly delayMs?: number;
}

export class MemoryNetwork {
  private readonly nodes = new Map<string, MemoryTransport>();
  private readonly isolated = new Set<string>();

  constructor(private readonly opts: MemoryNetworkOptions = {}) {}

  /** A new transport for `nodeId` (after a close, the id may be used again, like a restart). */
  transport(nodeId: string): MemoryTransport {
    if (this.nodes.has(nodeId)) throw new Error(`node "${nodeId}" already has an open transport`);
    const t = new MemoryTransport(nodeId, this);
    this.nodes.set(nodeId, t);
    return t;
  }

  /** Isolate a node from everyone (a partition of one). */
  cut(nodeId: string): void {
    this.isolated.add(nodeId);
  }

  heal(nodeId: string): void {
    this.isolated.delete(nodeId);
  }

  isCut(nodeId: string): boolean {
    return this.isolated.has(nodeId);
  }

  /** @internal */
  node(id: string): MemoryTransport | undefined {
    return this.nodes.get(id);
  }

  /** @internal Other open, reachable nodes as seen from `from`. */
  reachableFrom(from: string): MemoryTransport[] {
    if (this.isolated.has(from)) return [];
    return [...this.nodes.values()].filter((n) => n.nodeId !== from && !this.isolated.has(n.nodeId));
  }

  /** @internal */
  linked(a: string, b: string): boolean {
    return !this.isolated.has(a) && !this.isolated.has(b) && this.nodes.has(a) && this.nodes.has(b);
  }

  /** @internal */
  remove(t: MemoryTransport): void {
    if (this.nodes.get(t.nodeId) === t) this.nodes.delete(t.nodeId);
  }

  /** @internal */
  later(fn: () => void): void {
    const d = this.opts.delayMs ?? 0;
    if (d > 0) setTimeout(fn, d);
    else setImmediate(fn);
  }
}

export class MemoryTransport implements Transport {
  /** @internal */
  readonly handlers: MessageHandler[] = [];
  /** @internal */
  requestHandler: RequestHandler | undefined;
  private readonly pending = new Set<(err: P2pError) => void>();
  private closed = false;

  constructor(
    readonly nodeId: string,
    private readonly net: MemoryNetwork,
  ) {}

  broadcast(kind: BroadcastKind, payload: Uint8Array): void {
    if (this.closed) return;
    for (const peer of this.net.reachableFrom(this.nodeId)) {
      const copy = new Uint8Array(payload); // not slice(): a Buffer's slice is a view
      this.net.later(() => {
        if (!this.net.linked(this.nodeId, peer.nodeId)) return; // cut while in flight
        for (const h of peer.handlers) {
          try {
            h(this.nodeId, kind, copy);
          } catch {
            // a handler's fault is its own, as with NATS
          }
        }
      });
    }
  }

  onMessage(handler: MessageHandler): void {
    this.handlers.push(handler);
  }

  onRequest(handler: RequestHandler): void {
    this.requestHandler = handler;
  }

  request(to: string | undefined, payload: Uint8Array, timeoutMs: number): Promise<{ from: string; payload: Uint8Array }> {
    if (this.closed) return Promise.reject(new P2pError(P2pCode.CLOSED, 'transport closed'));
    if (to === this.nodeId) return Promise.reject(new P2pError(P2pCode.UNKNOWN_PEER, 'cannot request from ourselves'));
    if (this.net.isCut(this.nodeId)) return Promise.reject(new P2pError(P2pCode.DISCONNECTED, `${this.nodeId} is cut off`));
    const targets = this.net.reachableFrom(this.nodeId).filter((p) => (to === undefined || p.nodeId === to) && p.requestHandler);

    return new Promise((resolve, reject) => {
      let done = false;
      const finish = (err: P2pError | undefined, value?: { from: string; payload: Uint8Array }): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.pending.delete(fail);
        if (err) reject(err);
        else resolve(value!);
      };
      const fail = (err: P2pError): void => finish(err);
      const timer = setTimeout(() => finish(new P2pError(P2pCode.TIMEOUT, `no answer within ${timeoutMs} ms`)), timeoutMs);
      this.pending.add(fail);
      // Like NATS: nobody listening is known at once; a silent or failing peer costs the timeout.
      if (targets.length === 0) return this.net.later(() => finish(new P2pError(P2pCode.NO_RESPONDERS, `nobody serves ${to ?? 'requests'}`)));
      for (const peer of targets) {
        const copy = new Uint8Array(payload); // not slice(): a Buffer's slice is a view
        this.net.later(() => {
          const handler = peer.requestHandler;
          if (!handler || !this.net.linked(this.nodeId, peer.nodeId)) return;
          Promise.resolve()
            .then(() => handler(this.nodeId, copy))
            .then(
            (answer) => {
              const a = new Uint8Array(answer);
              this.net.later(() => {
                if (this.net.linked(this.nodeId, peer.nodeId)) finish(undefined, { from: peer.nodeId, payload: a });
              });
            },
            () => {},
          );
        });
      }
    });
  }

  /** Nodes reachable right now (an in-process link has no silence to wait out). */
  peers(_withinMs?: number): string[] {
    if (this.closed) return [];
    return this.net
      .reachableFrom(this.nodeId)
      .map((p) => p.nodeId)
      .sort();
  }

  connected(): boolean {
    return !this.closed && !this.net.isCut(this.nodeId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.net.remove(this);
    for (const fail of this.pending) fail(new P2pError(P2pCode.CLOSED, 'transport closed'));
  }
}
