/**
 * A deterministic simulation of the consensus core: four validators on a network run by
 * an adversary (seeded random delays, drops, duplicates and reordering; a validator cut
 * off for a while; windows in which non-nil precommits reach only the round's proposer
 * and status/sync gossip is dropped; honest validators crashing, also half-way through
 * carrying out a step, and restarting), optionally with one Byzantine validator
 * (equivocating proposals, double votes, invalid blocks). Virtual time; the same seed
 * replays the same run exactly.
 *
 * Each honest validator is split as production splits it: a disk (decided blocks, the
 * messages it signed, its last safety record) written before anything that depends on it
 * is sent, and a core per height built from that disk alone. A crash throws away
 * everything else; nothing in memory survives a restart.
 */
import { TendermintCore, restoreProblem, signedKey } from '../../ledger-node/consensus/core.js';
import { proposerOf } from '../../ledger-node/consensus/proposer.js';
import type { ConsensusMessage, Effect, Proposal, SafetyState, Timeouts, Validator, Vote } from '../../ledger-node/consensus/types.js';

export interface SimValue {
  readonly height: number;
  readonly prevId: string;
  readonly proposer: string;
  readonly nonce: number;
  readonly valid: boolean;
}
/** Unique by its nonce; `prevId` is checked by valid() (an id holding it would grow with the chain). */
const idOf = (v: SimValue): string => `${v.height}/${v.proposer}/${v.nonce}/${v.valid ? 'ok' : 'bad'}`;

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

type Msg = ConsensusMessage<SimValue>;
type TimeoutT = Extract<Effect<SimValue>, { type: 'schedule' }>['timeout'];

type Ev =
  | { kind: 'msg'; to: string; msg: Msg }
  | { kind: 'timeout'; to: string; epoch: number; t: TimeoutT }
  | { kind: 'tick'; to: string; epoch: number }
  /** `torn`: the node goes down part-way through carrying out the effects of its next step. Up again `downMs` later. */
  | { kind: 'crash'; to: string; torn: boolean; downMs: number }
  | { kind: 'restart'; to: string }
  | { kind: 'control'; what: string; run: () => void };

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

interface Decided {
  readonly id: string;
  readonly value: SimValue;
  readonly proposal: Proposal<SimValue>;
  readonly precommits: readonly Vote[];
}

/** What survives a crash, as the block store and the signed-message log do. */
interface Disk {
  /** Decided values by height (index 0 unused). */
  readonly chain: Decided[];
  /** What the validator signed, written before it is sent. */
  readonly signed: Map<string, Msg>;
  /** The last safety record, written before anything depending on it is sent. */
  state: SafetyState<SimValue> | undefined;
}

interface Honest {
  readonly id: string;
  readonly disk: Disk;
  /** The core of the current height; undefined while the node is down. */
  core: TendermintCore<SimValue> | undefined;
  /** Messages for heights above the core's (memory: lost in a crash). */
  future: Msg[];
  epoch: number;
  evidence: number;
  /** A torn crash on its way: disk writes and sends left before it takes the node down, and for how long. */
  torn: { left: number; downMs: number } | undefined;
}

/** What the adversary controls about the network right now. */
interface Net {
  readonly cut: Set<string>;
  /** Drop probability and delay bound of each message. */
  dropRate: number;
  maxDelayMs: number;
  /** Non-nil precommits reach only the proposer of their round (issue 17's schedule). */
  precommitsToProposer: boolean;
  /** Status gossip (re-sending what one signed) and sync (relaying certificates) flow. */
  gossip: boolean;
  /** A scripted adversary's own rule: true drops the message. */
  drop: ((from: string, to: string, msg: Msg) => boolean) | undefined;
}

export interface SimResult {
  readonly seed: number;
  readonly heights: Record<string, number>;
  readonly decided: Record<string, string[]>;
  readonly violations: string[];
  readonly evidence: number;
  readonly events: number;
  /** Faults the adversary injected, in order (to read a failing run). */
  readonly log: string[];
  /** When each honest validator decided each height (virtual ms, by height). */
  readonly decidedAt: Record<string, number[]>;
  readonly marks: SimMarks;
}

/** What a scripted schedule did, and when. */
export interface SimMarks {
  decidedAlone?: { by: string; height: number; block: string; at: number };
  leaderBackAt?: number;
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
  /**
   * 'random' (default): the seeded adversary above. 'issue-17': the schedule of issue 17
   * exactly, all four honest: after height 1, v3 cut off; between v0-v2 non-nil
   * precommits reach only the round's proposer and status and sync are dropped, so
   * that proposer decides a height alone; then it is cut off, the other two are killed
   * and restarted, v3 comes back and the filtering stops. The proposer returns 8 s later.
   */
  readonly schedule?: 'random' | 'issue-17';
}

const TIMEOUTS: Timeouts = { proposeBaseMs: 300, proposeDeltaMs: 100, prevoteBaseMs: 200, prevoteDeltaMs: 100, precommitBaseMs: 200, precommitDeltaMs: 100 };
const MAX_FUTURE = 10_000;
const TICK_MS = 200;

export function simulate(o: SimOptions): SimResult {
  const r = rng(o.seed);
  const schedule = o.schedule ?? 'random';
  const gst = o.gstMs ?? 3000;
  const target = o.targetHeight ?? 4;
  const endAt = gst + (o.progressWithinMs ?? 30_000);
  const validators: Validator[] = ['v0', 'v1', 'v2', 'v3'].map((id) => ({ id, power: 1 }));
  const byzId = o.byzantine === false || schedule === 'issue-17' ? undefined : 'v3';
  const honestIds = validators.map((v) => v.id).filter((id) => id !== byzId);
  const q = new Queue();
  let now = 0;
  let nonce = 0;
  let events = 0;
  const violations: string[] = [];
  const log: string[] = [];
  const net: Net = { cut: new Set(), dropRate: 0.15, maxDelayMs: 200, precommitsToProposer: false, gossip: true, drop: undefined };
  const control = (at: number, what: string, run: () => void): void => q.push(at, { kind: 'control', what, run });

  /** `relay`: a peer passing on signed messages it holds (sync), possibly back to their signer. */
  const send = (from: string, to: string, msg: Msg, relay = false): void => {
    if (from === to && !relay) return;
    if (net.cut.has(from) || net.cut.has(to) || net.drop?.(from, to, msg)) return;
    if (net.precommitsToProposer && msg.type === 'precommit' && msg.valueId !== null && to !== proposerOf(validators, msg.height, msg.round)) return;
    if (r() < net.dropRate) return;
    const delay = 1 + Math.floor(r() * net.maxDelayMs);
    q.push(now + delay, { kind: 'msg', to, msg });
    if (r() < net.dropRate / 3) q.push(now + delay + Math.floor(r() * 100), { kind: 'msg', to, msg }); // duplicate
  };

  const nodes = new Map<string, Honest>();
  const chainIdAt = (n: Honest, h: number): string => (h === 0 ? 'genesis' : n.disk.chain[h]!.id);
  const heightOf = (n: Honest): number => n.disk.chain.length;

  /** Build the core of the node's next height from its disk alone, and start it. */
  const boot = (n: Honest): void => {
    const height = heightOf(n);
    const signed = new Map([...n.disk.signed].filter(([, m]) => m.height === height));
    const restored = n.disk.state?.height === height ? n.disk.state : undefined;
    if (restored) {
      const problem = restoreProblem(restored, signed.values(), validators, idOf);
      if (problem) violations.push(`restore: ${n.id} at height ${height}: ${problem}`);
    }
    n.core = new TendermintCore<SimValue>({
      validators, me: n.id, timeouts: TIMEOUTS, height, signed, ...(restored ? { restored } : {}),
      app: {
        id: idOf,
        propose: (h) => ({ height: h, prevId: chainIdAt(n, h - 1), proposer: n.id, nonce: nonce++, valid: true }),
        valid: (h, v) => v.valid && v.height === h && v.prevId === chainIdAt(n, h - 1),
      },
    });
    const core = n.core;
    apply(n, core.handle({ type: 'start' }));
    const early = n.future.filter((m) => m.height === height);
    n.future = n.future.filter((m) => m.height > height);
    for (const m of early) if (n.core === core) apply(n, core.handle(m));
  };

  const crash = (n: Honest, downMs: number): void => {
    n.core = undefined;
    n.future = [];
    n.torn = undefined;
    n.epoch++;
    q.push(now + downMs, { kind: 'restart', to: n.id });
  };

  /** One disk write or one send done; false if a torn crash takes the node down first. */
  const io = (n: Honest): boolean => {
    if (n.torn === undefined) return true;
    if (n.torn.left-- > 0) return true;
    log.push(`${now}: ${n.id} goes down half-way through a step`);
    crash(n, n.torn.downMs);
    return false;
  };

  const apply = (n: Honest, effects: Effect<SimValue>[]): void => {
    const core = n.core;
    for (const e of effects) {
      if (n.core !== core || !core) return;
      switch (e.type) {
        case 'persist':
          if (!io(n)) return;
          n.disk.state = e.state;
          break;
        case 'broadcast':
          if (!io(n)) return;
          n.disk.signed.set(signedKey(e.msg), e.msg); // written, then sent
          if (!io(n)) return;
          for (const v of validators) send(n.id, v.id, e.msg);
          break;
        case 'schedule':
          q.push(now + e.afterMs, { kind: 'timeout', to: n.id, epoch: n.epoch, t: e.timeout });
          break;
        case 'decide': {
          if (e.height !== heightOf(n)) violations.push(`${n.id} decided height ${e.height} out of order`);
          n.disk.chain[e.height] = { id: e.valueId, value: e.value, proposal: e.proposal, precommits: e.precommits };
          decidedAt[n.id]![e.height] = now;
          for (const [k, m] of n.disk.signed) if (m.height < e.height) n.disk.signed.delete(k);
          boot(n);
          return; // the core of this height is done
        }
        case 'evidence':
          n.evidence++;
          break;
      }
    }
  };

  for (const id of honestIds) {
    const n: Honest = { id, disk: { chain: [], signed: new Map(), state: undefined }, core: undefined, future: [], epoch: 0, evidence: 0, torn: undefined };
    n.disk.chain.length = 1;
    nodes.set(id, n);
    q.push(0, { kind: 'tick', to: id, epoch: 0 });
  }

  /** A reactive schedule's look at the run after each event. */
  let afterEvent = (): void => {};
  const marks: SimMarks = {};
  /** When each honest validator decided each height (virtual ms). */
  const decidedAt: Record<string, number[]> = Object.fromEntries(honestIds.map((id) => [id, []]));

  if (schedule === 'random') {
    const pick = (): string => honestIds[Math.floor(r() * honestIds.length)]!;
    const window = (from: number, len: number, what: string, on: () => void, off: () => void): void => {
      control(from, `${what} from`, on);
      control(from + len, `${what} until`, off);
    };
    // One honest node cut off from everyone for a while.
    const cutNode = pick();
    const cutFrom = Math.floor(r() * gst * 0.5);
    window(cutFrom, Math.floor(r() * gst * 0.5), `${cutNode} cut off`, () => net.cut.add(cutNode), () => net.cut.delete(cutNode));
    // Issue 17's episode, at a random time with random lengths: non-nil precommits only to
    // the proposer and no status or sync, so a proposer may decide alone while the others
    // stay locked below it; then the adversary cuts off whoever is ahead (status messages
    // tell a network adversary that much), crashes one or two others, and lets go.
    if (r() < 0.6) {
      const from = Math.floor(r() * gst * 0.3);
      const until = from + Math.floor(gst * 0.1 + r() * gst * 0.3);
      const away = r() < 0.5 ? pick() : undefined; // issue 17's v3: blackholed through the episode
      control(from, `non-nil precommits only to the proposer; status and sync dropped${away ? `; ${away} cut off` : ''}`, () => {
        net.precommitsToProposer = true;
        net.gossip = false;
        if (away) net.cut.add(away);
      });
      control(until, 'the one ahead cut off, others crashed', () => {
        const top = Math.max(...honestIds.map((id) => heightOf(nodes.get(id)!)));
        const ahead = honestIds.filter((id) => heightOf(nodes.get(id)!) === top);
        const victim = ahead[Math.floor(r() * ahead.length)]!;
        const others = honestIds.filter((id) => id !== victim && id !== away).sort(() => r() - 0.5);
        if (away) net.cut.delete(away);
        net.cut.add(victim);
        log.push(`${now}: ${victim} (height ${top}) cut off`);
        const crashes = Math.floor(r() * (others.length + 1));
        for (const id of others.slice(0, crashes)) q.push(now + Math.floor(r() * 50), { kind: 'crash', to: id, torn: r() < 0.3, downMs: 50 + Math.floor(r() * 600) });
        net.precommitsToProposer = false;
        control(now + Math.floor(r() * 500), 'status and sync flow again', () => (net.gossip = true));
        control(now + 300 + Math.floor(r() * 2500), `${victim} back`, () => net.cut.delete(victim));
      });
    } else if (r() < 0.5) {
      const from = Math.floor(r() * gst * 0.5);
      window(from, Math.floor(gst * 0.2 + r() * gst * 0.3), 'status and sync dropped', () => (net.gossip = false), () => (net.gossip = true));
    }
    // One to three honest crashes and restarts before GST, some of them torn.
    const k = 1 + Math.floor(r() * 3);
    for (let i = 0; i < k; i++) q.push(Math.floor(r() * gst * 0.7), { kind: 'crash', to: pick(), torn: r() < 0.3, downMs: 50 + Math.floor(r() * 1200) });
    control(gst, 'GST: the network is synchronous from now on', () => {
      net.dropRate = 0;
      net.maxDelayMs = 40;
      net.cut.clear();
      net.precommitsToProposer = false;
      net.gossip = true;
    });
  } else {
    // Issue 17: no random faults; the schedule is the adversary. It starts once all four
    // decided height 1, so that the round after the lone decision (height 2, proposer v2)
    // is v3's: it comes back without the block and proposes another one to two
    // validators that must stay locked on the first.
    net.dropRate = 0;
    net.maxDelayMs = 20;
    const trio = ['v0', 'v1', 'v2'];
    let phase = 0;
    net.drop = (from, to, msg) => msg.height >= 2 && (from === 'v3' || to === 'v3'); // v3 sees nothing of height 2 before its cut
    afterEvent = () => {
      if (phase === 0) {
        if (![...nodes.values()].every((n) => heightOf(n) >= 2)) return;
        phase = 1;
        log.push(`${now}: v3 cut off; non-nil precommits only to the proposer; status and sync dropped`);
        net.cut.add('v3');
        net.drop = undefined;
        net.precommitsToProposer = true;
        net.gossip = false;
        return;
      }
      if (phase !== 1) return;
      // The proposer decided alone: the other two, locked on its block, stay below it.
      const ahead = trio.find((id) => trio.every((o) => o === id || heightOf(nodes.get(id)!) > heightOf(nodes.get(o)!)));
      if (!ahead) return;
      const others = trio.filter((id) => id !== ahead);
      const h = heightOf(nodes.get(ahead)!) - 1;
      const block = nodes.get(ahead)!.disk.chain[h]!.id;
      const precommitted = (id: string): boolean => [...nodes.get(id)!.disk.signed.values()].some((m) => m.type === 'precommit' && m.height === h && m.valueId === block);
      if (!others.every((id) => heightOf(nodes.get(id)!) === h && precommitted(id))) return;
      phase = 2;
      marks.decidedAlone = { by: ahead, height: h, block, at: now };
      log.push(`${now}: ${ahead} decided height ${h} alone; ${others.join(' and ')} precommitted its block (so are locked on it)`);
      control(now + 50, `${ahead} cut off; ${others.join(', ')} killed; v3 back; filtering stops`, () => {
        net.cut.add(ahead);
        net.cut.delete('v3');
        net.precommitsToProposer = false;
        net.gossip = true;
      });
      for (const id of others) q.push(now + 50, { kind: 'crash', to: id, torn: false, downMs: 300 });
      marks.leaderBackAt = now + 8000;
      control(now + 8000, `${ahead} back`, () => net.cut.delete(ahead));
    };
  }

  for (const n of nodes.values()) boot(n);

  // The Byzantine validator: equivocates when it proposes, votes both ways always.
  const byzantine = (msg: Msg): void => {
    if (!byzId) return;
    const { height, round } = msg;
    const peers = honestIds;
    if (proposerOf(validators, height, round) === byzId) {
      // Half the time one fresh value for all (what tempts a locked validator, line 23),
      // else a different one to each, one of them invalid.
      // It follows the chain as any validator does.
      const known = height === 1 ? 'genesis' : [...nodes.values()].map((n) => n.disk.chain[height - 1]?.id).find((x) => x !== undefined);
      const prevId = msg.type === 'proposal' ? msg.value.prevId : known ?? 'unknown';
      const one = r() < 0.5 ? { height, prevId, proposer: byzId, nonce: nonce++, valid: true } : undefined;
      peers.forEach((p, i) => {
        const value: SimValue = one ?? { height, prevId, proposer: byzId, nonce: nonce++, valid: i !== 2 };
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
    if (ev.kind === 'control') {
      log.push(`${now}: ${ev.what}`);
      ev.run();
      continue;
    }
    if (byzId && ev.kind === 'msg' && ev.to === byzId) {
      byzantine(ev.msg);
      continue;
    }
    const n = nodes.get(ev.to);
    if (!n) continue;
    switch (ev.kind) {
      case 'crash':
        if (!n.core || n.torn) break;
        if (ev.torn) {
          n.torn = { left: Math.floor(r() * 3), downMs: ev.downMs };
        } else {
          log.push(`${now}: ${n.id} crashes`);
          crash(n, ev.downMs);
        }
        break;
      case 'restart':
        if (n.core) break;
        log.push(`${now}: ${n.id} restarts from its disk at height ${heightOf(n)}${n.disk.state?.height === heightOf(n) ? ` (round ${n.disk.state.round}, locked ${n.disk.state.locked ? `in round ${n.disk.state.locked.round}` : 'on nothing'})` : ''}`);
        boot(n);
        q.push(now + 1, { kind: 'tick', to: n.id, epoch: n.epoch });
        break;
      case 'msg':
        if (!n.core) break;
        if (ev.msg.height > n.core.height) {
          if (n.future.length < MAX_FUTURE) n.future.push(ev.msg);
        } else {
          apply(n, n.core.handle(ev.msg));
        }
        break;
      case 'timeout':
        if (n.core && ev.epoch === n.epoch) apply(n, n.core.handle(ev.t));
        break;
      case 'tick': {
        if (!n.core || ev.epoch !== n.epoch) break;
        if (net.gossip) {
          // Status gossip: re-send what we signed at this height and the polka behind our
          // valid value, as written to disk. Sync: help a peer behind us with the proposal
          // and precommits of the height it is at.
          const h = n.core.height;
          const again = [...n.disk.signed.values()].filter((m) => m.height === h);
          if (n.disk.state?.height === h) again.push(...(n.disk.state.valid?.polka ?? []));
          for (const m of again) for (const v of validators) send(n.id, v.id, m, m.from !== n.id);
          const peer = [...nodes.values()][Math.floor(r() * nodes.size)]!;
          const cert = peer.core ? n.disk.chain[peer.core.height] : undefined;
          if (cert && peer.id !== n.id) {
            send(n.id, peer.id, cert.proposal, true);
            for (const pc of cert.precommits) send(n.id, peer.id, pc, true);
          }
        }
        q.push(now + TICK_MS, { kind: 'tick', to: n.id, epoch: n.epoch });
        break;
      }
    }
    afterEvent();
    if ([...nodes.values()].every((x) => heightOf(x) > target)) break;
  }

  // Agreement: no two honest validators decided differently at one height.
  const decided: Record<string, string[]> = {};
  const heights: Record<string, number> = {};
  for (const n of nodes.values()) {
    decided[n.id] = n.disk.chain.slice(1).map((c) => c.id);
    heights[n.id] = heightOf(n) - 1;
  }
  const maxH = Math.max(...Object.values(heights));
  for (let h = 1; h <= maxH; h++) {
    const ids = new Set([...nodes.values()].map((n) => n.disk.chain[h]?.id).filter((x): x is string => x !== undefined));
    if (ids.size > 1) violations.push(`agreement: height ${h} decided as ${[...ids].join(' and ')}`);
    for (const n of nodes.values()) {
      const c = n.disk.chain[h];
      if (c && (!c.value.valid || c.value.height !== h || c.value.prevId !== (h === 1 ? 'genesis' : n.disk.chain[h - 1]?.id))) {
        violations.push(`validity: ${n.id} decided invalid value ${c.id} at height ${h}`);
      }
    }
  }
  for (const n of nodes.values()) {
    if (heightOf(n) - 1 < target) violations.push(`progress: ${n.id} reached height ${heightOf(n) - 1} of ${target} by ${endAt} ms`);
  }
  return { seed: o.seed, heights, decided, violations, evidence: [...nodes.values()].reduce((s, n) => s + n.evidence, 0), events, log, decidedAt, marks };
}
