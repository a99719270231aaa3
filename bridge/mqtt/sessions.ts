/**
 * The sessions the broker holds, by client id: who owns each, whether it is connected,
 * whether it outlives its connection (CleanSession 0, [MQTT-3.1.2-4]) and since when it
 * is offline. It bounds what one meter can make the broker keep: at most
 * `maxPerMeter` sessions per meter (connected or stored), and a stored session ends
 * `expiryMs` after its last connection closed. Pure: time comes in as arguments, and
 * what must be wiped is returned for the caller (hooks.ts) to do.
 */
import type { Principal } from './acl.js';

export interface SessionLimits {
  /** Sessions (connections and stored persistent sessions) one meter may hold. */
  readonly maxPerMeter: number;
  /** A stored session ends this long after its last connection closed. */
  readonly expiryMs: number;
}

interface Entry {
  readonly principal: Principal;
  /** The connection using the session now; undefined while offline. */
  conn: object | undefined;
  /** CleanSession 0: the session stays when the connection ends. */
  persistent: boolean;
  /** When the session was last used (connected or disconnected). */
  lastUsed: number;
  /** The current connection found a stored session at CONNECT. */
  present: boolean;
}

/** What a CONNECT found and what it displaced. */
export interface ConnectOutcome {
  /** [MQTT-3.2.2-2] the broker held session state for this client id before. */
  readonly sessionPresent: boolean;
  /** Sessions of the same meter to end first (over maxPerMeter), least recently used first. */
  readonly evicted: readonly { readonly clientId: string; readonly conn: object | undefined; readonly persistent: boolean }[];
}

const ownerKey = (p: Principal): string | undefined => (p.kind === 'meter' ? p.meterId : undefined);

export class SessionRegistry {
  private readonly entries = new Map<string, Entry>();
  /** Client ids by meter, for the per-meter cap. */
  private readonly byMeter = new Map<string, Set<string>>();

  constructor(readonly limits: SessionLimits) {}

  /** The principal of the session `clientId`, connected or stored. */
  principalOf(clientId: string): Principal | undefined {
    return this.entries.get(clientId)?.principal;
  }

  /** [MQTT-3.2.2-2] whether the connection now holding `clientId` found a stored session. */
  sessionPresent(clientId: string): boolean {
    return this.entries.get(clientId)?.present ?? false;
  }

  /** Stored (persistent) sessions plus connected ones. */
  size(): number {
    return this.entries.size;
  }

  /**
   * A CONNECT of `conn` as `principal` was accepted. The caller must end what `evicted`
   * lists: close the connection if there is one, wipe the stored state if persistent.
   */
  connect(clientId: string, principal: Principal, clean: boolean, conn: object, now: number): ConnectOutcome {
    const old = this.entries.get(clientId);
    // [MQTT-3.2.2-1] a clean session never finds one; [MQTT-3.1.2-6] and it discards it.
    const sessionPresent = !clean && old !== undefined && old.persistent;
    if (old) this.remove(clientId);
    const evicted: ConnectOutcome['evicted'][number][] = [];
    const meter = ownerKey(principal);
    if (meter !== undefined) {
      const ids = this.byMeter.get(meter);
      while (ids && ids.size >= this.limits.maxPerMeter) {
        const victim = this.leastRecentlyUsed(ids);
        const e = this.entries.get(victim)!;
        evicted.push({ clientId: victim, conn: e.conn, persistent: e.persistent });
        this.remove(victim);
      }
    }
    this.add(clientId, { principal, conn, persistent: !clean, lastUsed: now, present: sessionPresent });
    return { sessionPresent, evicted };
  }

  /**
   * The connection `conn` closed. Returns true when the session went with it (clean),
   * false when it stays stored or `conn` no longer held it (taken over [MQTT-3.1.4-2]).
   */
  disconnect(clientId: string, conn: object, now: number): boolean {
    const e = this.entries.get(clientId);
    if (!e || e.conn !== conn) return false;
    if (!e.persistent) {
      this.remove(clientId);
      return true;
    }
    e.conn = undefined;
    e.lastUsed = now;
    return false;
  }

  /** Forget a session without a connection (its state was wiped). */
  forget(clientId: string): void {
    if (this.entries.get(clientId)?.conn === undefined) this.remove(clientId);
  }

  /** Stored sessions offline for longer than expiryMs: removed here, to be wiped by the caller. */
  expire(now: number): string[] {
    const out: string[] = [];
    for (const [id, e] of this.entries) {
      if (e.conn === undefined && now - e.lastUsed > this.limits.expiryMs) out.push(id);
    }
    for (const id of out) this.remove(id);
    return out;
  }

  /** Offline sessions before connected ones, each oldest first. */
  private leastRecentlyUsed(ids: Set<string>): string {
    let best: string | undefined;
    let b: Entry | undefined;
    for (const id of ids) {
      const e = this.entries.get(id)!;
      const offline = e.conn === undefined;
      if (!b || (offline !== (b.conn === undefined) ? offline : e.lastUsed < b.lastUsed)) {
        best = id;
        b = e;
      }
    }
    return best!;
  }

  private add(clientId: string, e: Entry): void {
    this.entries.set(clientId, e);
    const meter = ownerKey(e.principal);
    if (meter === undefined) return;
    let ids = this.byMeter.get(meter);
    if (!ids) this.byMeter.set(meter, (ids = new Set()));
    ids.add(clientId);
  }

  private remove(clientId: string): void {
    const e = this.entries.get(clientId);
    if (!e) return;
    this.entries.delete(clientId);
    const meter = ownerKey(e.principal);
    if (meter === undefined) return;
    const ids = this.byMeter.get(meter);
    ids?.delete(clientId);
    if (ids?.size === 0) this.byMeter.delete(meter);
  }
}
