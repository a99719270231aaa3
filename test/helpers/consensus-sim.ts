/**
 * A deterministic simulation of the consensus core: four validators on a seeded random
 * network (delays, drops, duplicates, reordering, a partition that heals, one crash and
 * restart) with one Byzantine validator (equivocating proposals, double votes, invalid
 * blocks). Virtual time; the same seed replays the same run exactly.
 */
import { TendermintCore } from '../../ledger-node/consensus/core.js';
import { proposerOf } from '../../ledger-node/consensus/proposer.js';
import type { ConsensusMessage, Effect, Proposal, Timeouts, Validator, Vote } from '../../ledger-node/consensus/types.js';

export interface SimValue {
  readonly height: number;
  readonly prevId: string;
  readonly proposer: string;
  readonly nonce: number;
  readonly valid: boolean;
}
const idOf = (v: SimValue): string => `${v.height}/${v.proposer}/${v.nonce}/${v.valid ? 'ok' : 'bad'}/${v.prevId}`;

/** mulberry32: small, fast, good enough for schedules. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Ev =
  | { kind: 'msg'; to: string; msg: ConsensusMessage<SimValue> }
  | { kind: 'timeout'; to: string; epoch: number; t: Extract<Effect<SimValue>, { type: 'schedule' }>['timeout'] }
  | { kind: 'tick'; to: string; epoch: number }
  | { kind: 'crash'; to: string }
  | { kind: 'restart'; to: string };

class Queue {
  private heap: { at: number; n: number; ev: Ev }[] = [];
  private n = 0;
  push(at: number, ev: Ev): void {
    const h = this.heap;
    h.push({ at, n: this.n++, ev });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(h[p]!, h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }
  pop(): { at: number; ev: Ev } | undefined {
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
  private less(a: { at: number; n: number }, b: { at: number; n: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.n < b.n);
  }
}

interface Honest {
  id: string;
  core: TendermintCore<SimValue>;
  /** Decided values by height (index 0 unused). Survives a crash, like the block store. */
  chain: { id: string; value: SimValue; proposal: Proposal<SimValue>; precommits: readonly Vote[] }[];
  /** What it signed, persisted before sending. Survives a crash. */
  signed: Map<string, ConsensusMessage<SimValue>>;
  up: boolean;
  epoch: number;
  evidence: number;
}

export interface SimResult {
  readonly seed: number;
  readonly heights: Record<string, number>;
  readonly decided: Record<string, string[]>;
  readonly violations: string[];
  readonly evidence: number;
  readonly events: number;
}

export interface SimOptions {
  readonly seed: number;
  /** Heights every honest validator must decide. */
  readonly targetHeight?: number;
  /** Virtual ms after which the network is synchronous (no drops, partition healed). */
  readonly gstMs?: number;
  /** Virtual ms after GST by which the target must be reached. */
  readonly progressWithinMs?: number;
  readonly byzantine?: boolean;
}

const TIMEOUTS: Timeouts = { proposeBaseMs: 300, proposeDeltaMs: 100, prevoteBaseMs: 200, prevoteDeltaMs: 100, precommitBaseMs: 200, precommitDeltaMs: 100 };

export function simulate(o: SimOptions): SimResult {
  const r = rng(o.seed);
  const gst = o.gstMs ?? 3000;
  const target = o.targetHeight ?? 4;
  const endAt = gst + (o.progressWithinMs ?? 30_000);
  const validators: Validator[] = ['v0', 'v1', 'v2', 'v3'].map((id) => ({ id, power: 1 }));
  const byzId = o.byzantine === false ? undefined : 'v3';
  const honestIds = validators.map((v) => v.id).filter((id) => id !== byzId);
  const q = new Queue();
  let now = 0;
  let nonce = 0;
  let events = 0;
  const violations: string[] = [];

  // A partition before GST: one honest node cut off from everyone for a while.
  const cutNode = honestIds[Math.floor(r() * honestIds.length)]!;
  const cutFrom = Math.floor(r() * gst * 0.5);
  const cutUntil = cutFrom + Math.floor(r() * gst * 0.5);
  const partitioned = (a: string, b: string, at: number): boolean => at >= cutFrom && at < cutUntil && (a === cutNode) !== (b === cutNode);

  /** `relay`: a peer passing on signed messages it holds (sync), possibly back to their signer. */
  const send = (from: string, to: string, msg: ConsensusMessage<SimValue>, relay = false): void => {
    if (from === to && !relay) return;
    if (now < gst && (r() < 0.15 || partitioned(from, to, now))) return; // dropped
    const delay = now < gst ? 1 + Math.floor(r() * 200) : 1 + Math.floor(r() * 40);
    q.push(now + delay, { kind: 'msg', to, msg });
    if (r() < 0.05) q.push(now + delay + Math.floor(r() * 100), { kind: 'msg', to, msg }); // duplicate
  };

  const nodes = new Map<string, Honest>();
  const chainIdAt = (n: Honest, h: number): string => (h === 0 ? 'genesis' : n.chain[h]!.id);
  const makeCore = (n: Honest): TendermintCore<SimValue> => new TendermintCore<SimValue>({
    validators, me: n.id, timeouts: TIMEOUTS, height: n.chain.length, signed: n.signed,
    app: {
      id: idOf,
      propose: (h) => ({ height: h, prevId: chainIdAt(n, h - 1), proposer: n.id, nonce: nonce++, valid: true }),
      valid: (h, v) => v.valid && v.height === h && v.prevId === chainIdAt(n, h - 1),
    },
  });

  const apply = (n: Honest, effects: Effect<SimValue>[]): void => {
    for (const e of effects) {
      if (!n.up) return;
      switch (e.type) {
        case 'broadcast':
          n.signed.set(`${e.msg.height}/${e.msg.round}/${e.msg.type}`, e.msg); // persist, then send
          for (const v of validators) send(n.id, v.id, e.msg);
          break;
        case 'schedule':
          q.push(now + e.afterMs, { kind: 'timeout', to: n.id, epoch: n.epoch, t: e.timeout });
          break;
        case 'decide':
          if (e.height !== n.chain.length) violations.push(`${n.id} decided height ${e.height} out of order`);
          n.chain[e.height] = { id: e.valueId, value: e.value, proposal: e.proposal, precommits: e.precommits };
          apply(n, n.core.nextHeight());
          break;
        case 'evidence':
          n.evidence++;
          break;
      }
    }
  };

  for (const id of honestIds) {
    const n: Honest = { id, core: undefined as never, chain: [undefined as never], signed: new Map(), up: true, epoch: 0, evidence: 0 };
    n.chain.length = 1;
    n.core = makeCore(n);
    nodes.set(id, n);
    q.push(0, { kind: 'tick', to: id, epoch: 0 });
  }
  // One honest crash and restart before GST.
  const crashNode = honestIds[Math.floor(r() * honestIds.length)]!;
  const crashAt = Math.floor(r() * gst * 0.6);
  q.push(crashAt, { kind: 'crash', to: crashNode });
  q.push(crashAt + 300 + Math.floor(r() * 1200), { kind: 'restart', to: crashNode });
  for (const n of nodes.values()) apply(n, n.core.handle({ type: 'start' }));

  // The Byzantine validator: equivocates when it proposes, votes both ways always.
  let byzHeardHeight = 1;
  const byzantine = (msg: ConsensusMessage<SimValue>): void => {
    if (!byzId) return;
    byzHeardHeight = Math.max(byzHeardHeight, msg.height);
    const { height, round } = msg;
    const peers = honestIds;
    if (proposerOf(validators, height, round) === byzId) {
      const prevId = msg.type === 'proposal' ? msg.value.prevId : 'unknown';
      peers.forEach((p, i) => {
        const value: SimValue = { height, prevId, proposer: byzId, nonce: nonce++, valid: i !== 2 };
        send(byzId, p, { type: 'proposal', from: byzId, height, round, value, valueId: idOf(value), validRound: -1 });
      });
    }
    if (msg.type === 'proposal') {
      for (const kind of ['prevote', 'precommit'] as const) {
        peers.forEach((p, i) => send(byzId, p, { type: kind, from: byzId, height, round, valueId: i % 2 === 0 ? msg.valueId : null }));
      }
    }
  };

  for (;;) {
    const next = q.pop();
    if (!next || next.at > endAt) break;
    now = next.at;
    events++;
    const ev = next.ev;
    if (byzId && ev.kind === 'msg' && ev.to === byzId) {
      byzantine(ev.msg);
      continue;
    }
    const n = nodes.get(ev.to);
    if (!n) continue;
    switch (ev.kind) {
      case 'crash':
        n.up = false;
        n.epoch++;
        break;
      case 'restart':
        n.up = true;
        n.core = makeCore(n); // fresh memory; the chain and the signed record survive
        apply(n, n.core.handle({ type: 'start' }));
        q.push(now + 1, { kind: 'tick', to: n.id, epoch: n.epoch });
        break;
      case 'msg':
        if (n.up) apply(n, n.core.handle(ev.msg));
        break;
      case 'timeout':
        if (n.up && ev.epoch === n.epoch) apply(n, n.core.handle(ev.t));
        break;
      case 'tick': {
        if (!n.up || ev.epoch !== n.epoch) break;
        // Gossip: re-send what we signed at this height; help a peer behind us with the
        // proposal and precommits of the height it is at (block sync).
        for (const m of n.core.signedMessages()) for (const v of validators) send(n.id, v.id, m);
        const peer = [...nodes.values()][Math.floor(r() * nodes.size)]!;
        const at = peer.up ? peer.core.height : Infinity;
        const cert = n.chain[at];
        if (cert && peer.id !== n.id) {
          send(n.id, peer.id, cert.proposal, true);
          for (const pc of cert.precommits) send(n.id, peer.id, pc, true);
        }
        q.push(now + 200, { kind: 'tick', to: n.id, epoch: n.epoch });
        break;
      }
    }
    if ([...nodes.values()].every((x) => x.chain.length > target)) break;
  }

  // Agreement: no two honest validators decided differently at one height.
  const decided: Record<string, string[]> = {};
  const heights: Record<string, number> = {};
  for (const n of nodes.values()) {
    decided[n.id] = n.chain.slice(1).map((c) => c.id);
    heights[n.id] = n.chain.length - 1;
  }
  const maxH = Math.max(...Object.values(heights));
  for (let h = 1; h <= maxH; h++) {
    const ids = new Set([...nodes.values()].map((n) => n.chain[h]?.id).filter((x): x is string => x !== undefined));
    if (ids.size > 1) violations.push(`agreement: height ${h} decided as ${[...ids].join(' and ')}`);
    for (const n of nodes.values()) {
      const c = n.chain[h];
      if (c && (!c.value.valid || c.value.height !== h || c.value.prevId !== (h === 1 ? 'genesis' : n.chain[h - 1]?.id))) {
        violations.push(`validity: ${n.id} decided invalid value ${c.id} at height ${h}`);
      }
    }
  }
  for (const n of nodes.values()) {
    if (n.chain.length - 1 < target) violations.push(`progress: ${n.id} reached height ${n.chain.length - 1} of ${target} by ${endAt} ms`);
  }
  return { seed: o.seed, heights, decided, violations, evidence: [...nodes.values()].reduce((s, n) => s + n.evidence, 0), events };
}
