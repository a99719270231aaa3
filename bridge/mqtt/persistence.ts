/**
 * The session store aedes keeps its sessions in: aedes-persistence's in-memory store with
 * this broker's rules added where aedes consults it.
 *
 * - Messages are queued for a session only if its holder may receive them (acl.ts
 *   mayReceive), once per session however many of its filters match, and at most
 *   `maxQueued` per session; beyond that they are dropped for that session.
 * - [MQTT-3.3.1-1] a queued PUBLISH resent on reconnect carries DUP=1 if it was sent
 *   before, DUP=0 if not ([MQTT-3.3.1-3]); aedes resends it as stored.
 * - [MQTT-3.2.2-2] a stored session without subscriptions still answers Session Present 1;
 *   aedes derives the flag from "has subscriptions" (docs/upstream/aedes-session-present.md).
 * - wipe() ends a stored session (expired or displaced by the per-meter cap).
 */
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js';
import type { Client } from 'aedes';
import type { Readable } from 'node:stream';
import { type Principal, deliveryQos, mayReceive } from './acl.js';

type Packet = Parameters<MemoryPersistence['outgoingUpdate']>[1];
/** What is queued: a PUBLISH (or, after PUBREC, its PUBREL). */
type Queued = Packet & { readonly topic: string };

/**
 * Returned for a stored session that has no subscriptions, so that aedes answers Session
 * Present 1; hooks.ts refuses it when aedes restores it, so it subscribes to nothing.
 */
export const SESSION_PLACEHOLDER = '$meterledger/session';

/** The filters a client holds and the QoS granted for each (aedes' Client.subscriptions). */
export const grantedOf = (client: Client): [string, number][] =>
  Object.entries((client as unknown as { subscriptions: Record<string, { qos: number }> }).subscriptions ?? {}).map(([f, s]) => [f, s.qos]);

export interface SessionStoreRules {
  /** Who holds the session `clientId` (connected or stored), if anyone. */
  principalOf(clientId: string): Principal | undefined;
  /** Whether the connection now holding `clientId` found a stored session at CONNECT. */
  sessionPresent(clientId: string): boolean;
  /** Most messages queued per session. */
  readonly maxQueued: number;
  /** A message was not queued for `clientId` because its queue was full (once per filling). */
  onQueueFull(clientId: string): void;
}

export class SessionStore extends MemoryPersistence {
  /** Messages queued per client id. */
  private readonly queued = new Map<string, number>();
  private readonly full = new Set<string>();

  constructor(private readonly rules: SessionStoreRules) {
    super();
  }

  queuedFor(clientId: string): number {
    return this.queued.get(clientId) ?? 0;
  }

  override async outgoingEnqueue(sub: { clientId: string }, packet: Queued): Promise<void> {
    if (this.mayQueue(sub.clientId, packet.topic)) await super.outgoingEnqueue(sub, packet);
  }

  override async outgoingEnqueueCombi(subs: { clientId: string }[], packet: Queued): Promise<void> {
    const seen = new Set<string>();
    const keep: { clientId: string }[] = [];
    for (const s of subs) {
      // Overlapping filters of one session match once: aedes delivers the message once.
      if (seen.has(s.clientId)) continue;
      seen.add(s.clientId);
      if (this.mayQueue(s.clientId, packet.topic)) keep.push(s);
    }
    if (keep.length > 0) await super.outgoingEnqueueCombi(keep, packet);
  }

  override async outgoingClearMessageId(client: Client, packet: Packet): Promise<Packet> {
    // aedes calls this without a packet identifier when it declines to forward a message
    // it never sent (authorizeForward said no, or an overlapping filter delivered it
    // already). No such message was queued here (see outgoingEnqueueCombi); matching
    // "no identifier" would drop an unrelated message still waiting to be sent.
    if (packet.messageId === undefined) return undefined as unknown as Packet;
    const removed = await super.outgoingClearMessageId(client, packet);
    if (removed) this.count(client.id, -1);
    return removed;
  }

  override async outgoingUpdate(client: Client, packet: Packet): Promise<void> {
    try {
      await super.outgoingUpdate(client, packet);
    } catch (err) {
      // A message not queued (the session's queue was full) still goes out live, with
      // no resend if the connection drops; aedes would instead drop the connection.
      if (packet.cmd !== 'publish') throw err;
    }
  }

  /**
   * What aedes resends on reconnect. It gives a PUBLISH its packet identifier just before
   * the first write, so one with an identifier was sent before and this is a re-delivery
   * ([MQTT-3.3.1-1] DUP=1). A queued message matched an established subscription:
   * RETAIN=0 ([MQTT-3.3.1-9]), and no higher QoS than granted ([MQTT-3.8.4-6]).
   */
  override outgoingStream(client: Client): Readable {
    const granted = 'subscriptions' in client ? grantedOf(client) : [];
    return super.outgoingStream(client).map((p: Queued) => (p.cmd === 'publish'
      ? { ...p, dup: p.messageId !== undefined, retain: false, qos: deliveryQos(granted, p.topic, p.qos) }
      : p));
  }

  override async subscriptionsByClient(client: Client): ReturnType<MemoryPersistence['subscriptionsByClient']> {
    const subs = await super.subscriptionsByClient(client);
    if (subs.length === 0 && this.rules.sessionPresent(client.id)) return [{ topic: SESSION_PLACEHOLDER, qos: 0 }];
    return subs;
  }

  /** End the stored session of `clientId`: subscriptions, queued and in-flight messages, will. */
  async wipe(clientId: string): Promise<void> {
    const client = { id: clientId } as Client;
    await this.cleanSubscriptions(client);
    for await (const p of super.outgoingStream(client)) await super.outgoingClearMessageId(client, p as Packet);
    this.queued.delete(clientId);
    this.full.delete(clientId);
    await this.cleanIncoming(client);
    await this.delWill(client);
  }

  private mayQueue(clientId: string, topic: string): boolean {
    const p = this.rules.principalOf(clientId);
    if (!p || !mayReceive(p, topic)) return false;
    if (this.queuedFor(clientId) >= this.rules.maxQueued) {
      if (!this.full.has(clientId)) {
        this.full.add(clientId);
        this.rules.onQueueFull(clientId);
      }
      return false;
    }
    this.count(clientId, +1);
    return true;
  }

  private count(clientId: string, d: number): void {
    const n = this.queuedFor(clientId) + d;
    if (n > 0) this.queued.set(clientId, n);
    else this.queued.delete(clientId);
    if (n < this.rules.maxQueued) this.full.delete(clientId);
  }
}
