/**
 * A deterministic simulation of the production consensus code (TigerBeetle's
 * testing/cluster.zig is the model): each honest validator is the node's own
 * ConsensusRunner, PeerInput and BlockSync (ledger-node/consensus/), over in-memory ports:
 * virtual time (./virtual-clock.ts), the consensus record in memory
 * (ledger-node/consensus/memory-log.ts), a chain of test blocks and keyed-hash signatures
 * (./sim-chain.ts), or with `signatures: 'ed25519'` the node's own Ed25519Signer over keys
 * derived from the validators' names (./sim-keys.ts). Every consensus message travels as
 * bytes: encodePeerMessage (protocols/peer-messages.ts) on send, PeerInput.onBytes on
 * receipt, so the production decoder, its bounds and the signature check run on every
 * message of every seed; sync requests and answers are bytes too (BlockSync encodes
 * them). Around them a network run by an adversary: seeded random delays, drops,
 * duplicates and reordering; a validator cut off for a while; windows in which non-nil
 * precommits reach only the round's proposer and status, re-sent messages and sync are
 * dropped; honest validators crashing, also half-way through a step (between the writes
 * and sends it makes), and restarting; optionally one Byzantine validator (equivocating
 * proposals, double votes, invalid blocks, and now and then bytes no honest node sends:
 * malformed payloads, votes in another's name, signatures with a bit flipped, which the
 * honest peer inputs must refuse and the result counts). The same seed replays the same
 * run exactly.
 *
 * A crash keeps the validator's block store and its consensus record, exactly as saved,
 * and nothing else: a restart builds a new runner over them, as a restarted process does.
 */
import {
  type Block, decodePeerMessage, encodeBlock, encodeCbor, encodePeerMessage, headerHash, makeHeader, sha256, toHex, utf8,
} from '../../protocols/index.js';
import { MemoryConsensusLog } from '../../ledger-node/consensus/memory-log.js';
import type { PeerMessage, SignedProposal, SignedVote } from '../../protocols/index.js';
import { PeerInput } from '../../ledger-node/consensus/peer-input.js';
import type { ChainPort, ConsensusLog, MessageSigner, Scheduler } from '../../ledger-node/consensus/ports.js';
import { proposerOf } from '../../ledger-node/consensus/proposer.js';
import { ConsensusRunner } from '../../ledger-node/consensus/runner.js';
import { Ed25519Signer } from '../../ledger-node/consensus/signer.js';
import { BlockSync } from '../../ledger-node/consensus/sync.js';
import type { Timeouts, Validator, ValidatorSets } from '../../ledger-node/consensus/types.js';
import { type SimSetChange, SimChain, SimSigner, applySimChange } from './sim-chain.js';
import { simKey } from './sim-keys.js';
import { VirtualClock } from './virtual-clock.js';
import type { SimLedger } from './sim-ledger.js';

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

export interface SimResult {
  readonly seed: number;
  readonly heights: Record<string, number>;
  /** Block ids (header hashes, hex) each honest validator committed, by height - 1. */
  readonly decided: Record<string, string[]>;
  readonly violations: string[];
  readonly evidence: number;
  /** Committed blocks the Byzantine validator proposed (valid ones: it proposed on time and got them decided). */
  readonly byzantineBlocks: number;
  readonly events: number;
  /** Faults the adversary injected, in order (to read a failing run). */
  readonly log: string[];
  /** When each honest validator committed each height (virtual ms, by height). */
  readonly decidedAt: Record<string, number[]>;
  readonly marks: SimMarks;
  /** With `ledger`: each honest validator's ledger digest (balances, the bill, the payment) at its head. */
  readonly ledgers?: Record<string, { height: number; digest: string }>;
  /** Payloads the honest peer inputs refused, by the code they logged (E_P2P_MALFORMED, E_P2P_BAD_SIGNATURE). */
  readonly refused: Record<string, number>;
  /** The Byzantine validator's garbage: sent, and malformed payloads that reached a running honest node (each must be refused). */
  readonly garbage: { readonly sent: number; readonly malformedDelivered: number };
}

/** What a scripted schedule did, and when. */
export interface SimMarks {
  decidedAlone?: { by: string; height: number; block: string; at: number };
  leaderBackAt?: number;
}

export interface SimOptions {
  readonly seed: number;
  /** Heights every honest validator must commit. */
  readonly targetHeight?: number;
  /** Virtual ms after which the network is synchronous (no drops, partition healed). */
  readonly gstMs?: number;
  /** Virtual ms after GST by which the target must be reached. */
  readonly progressWithinMs?: number;
  readonly byzantine?: boolean;
  /**
   * 'random' (default): the seeded adversary above. 'issue-17': the schedule of issue 17
   * exactly, all four honest: after height 1, v3 cut off; between v0-v2 non-nil
   * precommits reach only the round's proposer and status, re-sends and sync are dropped,
   * so that proposer commits a height alone; then it is cut off, the other two are killed
   * and restarted, v3 comes back and the filtering stops. The proposer returns 8 s later.
   */
  readonly schedule?: 'random' | 'issue-17';
  /**
   * Change the validator set during the run (docs/consensus.md "Changing the validator
   * set"): v4, honest and following from the start, is added; v1's power goes to 3; v2's
   * key is rotated; v0 is removed (it goes on following). Each change is proposed by the
   * honest proposers from height 1 until it commits, under the same adversary.
   */
  readonly setChanges?: boolean;
  /**
   * Money (./sim-ledger.ts): every honest validator checks the blocks' ledger transactions
   * with the real rules over its own state; honest proposers include a bill, then its
   * payment; the Byzantine validator's invalid blocks carry a wrong bill instead of a "bad" one.
   */
  readonly ledger?: SimLedger;
  /**
   * 'tags' (default): SimSigner's keyed-hash tags, 64 bytes as Ed25519 signatures are.
   * 'ed25519': the node's Ed25519Signer (OpenSSL), each validator with a key derived from
   * its id; not with setChanges (a rotated key has no name to derive it from here).
   */
  readonly signatures?: 'tags' | 'ed25519';
}

/** The changes of `setChanges`, in order, and the set they end in. */
export const SIM_SET_SCRIPT: readonly SimSetChange[] = [
  { op: 'add', id: 'v4', power: 1 }, { op: 'power', id: 'v1', power: 3 }, { op: 'rotate', id: 'v2' }, { op: 'remove', id: 'v0' },
];

const TIMEOUTS: Timeouts = { proposeBaseMs: 300, proposeDeltaMs: 100, prevoteBaseMs: 200, prevoteDeltaMs: 100, precommitBaseMs: 200, precommitDeltaMs: 100 };
const STATUS_EVERY_MS = 400;
const SYNC_TIMEOUT_MS = 500;
const CHAIN_ID = 'sim';
const GENESIS_HASH = sha256(utf8('sim genesis'));
const noLogger = { debug() {}, info() {}, warn() {}, error() {} };
/** Work started by an event (promises only: every port resolves at once) is done when this resolves. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** One life of a validator process: what a crash throws away. */
interface Life {
  readonly runner: ConsensusRunner;
  readonly input: PeerInput;
  readonly sync: BlockSync;
  /** Set by open(); messages reach the node only then, as the node subscribes after restoring. */
  up: boolean;
  dead: boolean;
  /** A torn crash on its way: writes and sends left before it takes the node down, and for how long. */
  torn: { left: number; downMs: number } | undefined;
  serve: ((from: string, payload: Uint8Array) => Promise<Uint8Array>) | undefined;
}

interface Honest {
  readonly id: string;
  /** Survive a crash: the block store and the consensus record. */
  readonly chain: SimChain;
  readonly log: MemoryConsensusLog;
  life: Life | undefined;
  evidence: number;
  fatal: string[];
  /** Non-nil precommits it sent (so persisted), `${height}/${block id}`. */
  readonly precommitted: Set<string>;
}

/** What the adversary controls about the network right now. */
interface Net {
  readonly cut: Set<string>;
  /** Drop probability and delay bound of each message. */
  dropRate: number;
  maxDelayMs: number;
  /** Non-nil precommits reach only the proposer of their round (issue 17's schedule). */
  precommitsToProposer: boolean;
  /** Status messages, what a node sends again with them, and sync requests flow. */
  gossip: boolean;
  /** A scripted adversary's own rule: true drops the message (`height` of a sync request: the one asked for). */
  drop: ((from: string, to: string, height: number) => boolean) | undefined;
}

/** Never resolves: what a write or a send of a process that is gone does. */
const gone = <T>(): Promise<T> => new Promise<T>(() => {});

export async function simulate(o: SimOptions): Promise<SimResult> {
  const r = rng(o.seed);
  const schedule = o.schedule ?? 'random';
  const gst = o.gstMs ?? 3000;
  const target = o.targetHeight ?? 4;
  const endAt = gst + (o.progressWithinMs ?? 30_000);
  const ed25519 = o.signatures === 'ed25519';
  if (ed25519 && o.setChanges) throw new Error('signatures: ed25519 does not go with setChanges');
  const validators: Validator[] = ['v0', 'v1', 'v2', 'v3'].map((id) => ({ id, power: 1, ...(ed25519 ? { publicKey: simKey(id).publicKey } : {}) }));
  /** The production signer, or the sim's tags; either signs as `id` only. */
  const signerFor = (id: string, sets: ValidatorSets): MessageSigner => (ed25519 ? new Ed25519Signer(CHAIN_ID, sets, simKey(id).privateKey) : new SimSigner(id, CHAIN_ID, sets));
  const script = o.setChanges ? SIM_SET_SCRIPT : [];
  const byzId = o.byzantine === false || schedule === 'issue-17' ? undefined : 'v3';
  /** Every process: the genesis validators and those the script adds (they follow until their set is in force). */
  const allIds = [...validators.map((v) => v.id), ...script.filter((c) => c.op === 'add').map((c) => c.id)];
  const honestIds = allIds.filter((id) => id !== byzId);
  const clock = new VirtualClock();
  const at = (ms: number, fn: () => void): void => void clock.after(ms - clock.elapsed, fn);
  let events = 0;
  const violations: string[] = [];
  const log: string[] = [];
  const refused: Record<string, number> = {};
  const garbage = { sent: 0, malformedDelivered: 0 };
  /** What the honest peer inputs log: a refusal's code is counted. */
  const countingLogger = {
    debug(o: object | string) {
      const code = typeof o === 'object' ? (o as { code?: unknown }).code : undefined;
      if (typeof code === 'string') refused[code] = (refused[code] ?? 0) + 1;
    },
    info() {},
    warn(o: object | string) {
      countingLogger.debug(o);
    },
    error() {},
  };
  const net: Net = { cut: new Set(), dropRate: 0.15, maxDelayMs: 200, precommitsToProposer: false, gossip: true, drop: undefined };
  const control = (when: number, what: string, run: () => void): void => at(when, () => {
    log.push(`${clock.elapsed}: ${what}`);
    run();
  });
  const nodes = new Map<string, Honest>();
  const decidedAt: Record<string, number[]> = Object.fromEntries(honestIds.map((id) => [id, []]));
  const heightOf = (n: Honest): number => n.chain.blocks.length;
  /** The set of `height` as the honest chains know it (they agree, or agreement fails below); genesis's if none knows yet. */
  const setAt = (height: number): readonly Validator[] => {
    for (const n of nodes.values()) {
      const s = n.chain.sets(height);
      if (s) return s;
    }
    return validators;
  };

  /** Whether the adversary lets one message from `from` reach `to` (and, if so, it is delayed, maybe duplicated). */
  const passes = (from: string, to: string, height: number, gossip: boolean): boolean =>
    !(net.cut.has(from) || net.cut.has(to) || net.drop?.(from, to, height) || (gossip && !net.gossip) || r() < net.dropRate);
  const delay = (): number => 1 + Math.floor(r() * net.maxDelayMs);

  /**
   * `m` goes out as `bytes`, its encoding (the adversary reads what it carries, as one on
   * the wire can). `gossip`: status, what is sent again with it; dropped with status in
   * the adversary's gossip-off windows.
   */
  const send = (from: string, to: string, m: PeerMessage, bytes: Uint8Array, gossip: boolean): void => {
    if (from === to) return;
    if (!gossip && net.precommitsToProposer && m.t === 'precommit' && m.blockHash !== null && to !== proposerOf(setAt(m.height), m.height, m.round)) return;
    if (!passes(from, to, m.height, gossip)) return;
    const d = delay();
    deliverAt(clock.elapsed + d, from, to, bytes);
    if (r() < net.dropRate / 3) deliverAt(clock.elapsed + d + Math.floor(r() * 100), from, to, bytes); // duplicate
  };
  const deliverAt = (when: number, from: string, to: string, bytes: Uint8Array): void => at(when, () => {
    events++;
    if (to === byzId) {
      let m: PeerMessage;
      try {
        m = decodePeerMessage(bytes);
      } catch (e) {
        violations.push(`wire: ${from} sent a payload that does not decode: ${(e as Error).message}`);
        return;
      }
      return byzantine(m);
    }
    const life = nodes.get(to)?.life;
    if (life?.up) life.input.onBytes(from, bytes);
  });
  const broadcast = (from: string, m: PeerMessage, gossip: boolean): void => {
    const bytes = encodePeerMessage(m);
    for (const id of allIds) send(from, id, m, bytes, gossip);
  };

  /** A sync request from `from` to `to` over the adversary's network; rejects as a timeout does. */
  const request = (from: string, to: string, payload: Uint8Array, height: number, timeoutMs: number): Promise<{ from: string; payload: Uint8Array }> =>
    new Promise((resolve, reject) => {
      let done = false;
      clock.after(timeoutMs, () => {
        if (!done) reject(new Error('timed out'));
        done = true;
      });
      if (!passes(from, to, height, true)) return;
      at(clock.elapsed + delay(), () => {
        const serve = nodes.get(to)?.life;
        if (!serve?.up || !serve.serve) return;
        void serve.serve(from, payload).then((answer) => {
          if (!passes(to, from, height, true)) return;
          at(clock.elapsed + delay(), () => {
            if (!done) resolve({ from: to, payload: answer });
            done = true;
          });
        });
      });
    });

  /** Start a life of `n` from what it kept: a runner over its chain and record, its peer input and sync. */
  const boot = (n: Honest): void => {
    const id = n.id;
    let life: Life; // eslint-disable-line prefer-const
    /** One write, commit or send; false (and the process is gone) if a torn crash takes it down first. */
    const io = (): boolean => {
      if (life.dead) return false;
      if (life.torn === undefined || life.torn.left-- > 0) return true;
      log.push(`${clock.elapsed}: ${id} goes down half-way through a step`);
      crash(n, life.torn.downMs);
      return false;
    };
    const scheduler: Scheduler = {
      now: () => clock.now(),
      after: (ms, fn) => clock.after(ms, () => {
        if (!life.dead) fn();
      }),
    };
    const record: ConsensusLog = {
      load: (h) => n.log.load(h),
      save: (h, w) => (io() ? n.log.save(h, w) : gone()),
      prune: (h) => (life.dead ? gone() : n.log.prune(h)),
    };
    const chain: ChainPort = {
      head: () => n.chain.head(),
      propose: (h) => n.chain.propose(h),
      check: (b) => n.chain.check(b),
      commit: async (b, c) => {
        if (!io()) return gone();
        await n.chain.commit(b, c);
        decidedAt[id]![b.header.height] = clock.elapsed;
      },
      stored: (h) => n.chain.stored(h),
    };
    const signer = signerFor(id, n.chain.sets);
    const runner = new ConsensusRunner({
      sets: n.chain.sets, me: id, timeouts: TIMEOUTS, scheduler, signer, chain, log: record,
      wire: (m) => {
        if (!io()) return;
        if (m.t === 'precommit' && m.blockHash !== null) n.precommitted.add(`${m.height}/${toHex(m.blockHash)}`);
        broadcast(id, m, false);
      },
      evidence: async () => {},
      metrics: { consensusRound() {}, consensusTimeout() {}, consensusStateUnrestorable() {}, evidence: () => void n.evidence++ },
      logger: noLogger,
      onBehind: () => life.sync.kick(),
      onHeight: () => life.runner.startHeight(), // a block is always due: there is always work
      onFatal: (e) => void n.fatal.push(e.message),
    });
    const sync = new BlockSync({
      transport: {
        request: (to, payload, timeoutMs) => (to === undefined ? Promise.reject(new Error('no peer named')) : request(id, to, payload, n.chain.head().height + 1, timeoutMs)),
        onRequest: (handler) => void (life.serve = handler),
        peers: () => honestIds.filter((x) => x !== id),
      },
      wire: (m) => {
        if (!life.dead) broadcast(id, m, true);
      },
      runner, chain, scheduler, random: r, sets: n.chain.sets, me: id,
      statusEveryMs: STATUS_EVERY_MS, requestTimeoutMs: SYNC_TIMEOUT_MS, metrics: { peers() {}, blockSynced() {} }, logger: noLogger,
    });
    const input = new PeerInput({ sets: n.chain.sets, onAhead: () => life.sync.kick(), signer, runner, onStatus: (from, h) => sync.onStatus(from, h), metrics: { consensusMessage() {} }, logger: countingLogger });
    life = { runner, input, sync, up: false, dead: false, torn: undefined, serve: undefined };
    n.life = life;
    void runner.open().then(() => {
      if (life.dead) return;
      life.up = true;
      sync.start();
      runner.startHeight();
    });
  };

  const crash = (n: Honest, downMs: number): void => {
    const life = n.life;
    if (!life) return;
    life.dead = true;
    life.up = false;
    n.life = undefined;
    at(clock.elapsed + downMs, () => {
      if (n.life) return;
      log.push(`${clock.elapsed}: ${n.id} restarts from its record at height ${heightOf(n) + 1}`);
      boot(n);
    });
  };

  for (const id of honestIds) {
    nodes.set(id, { id, chain: new SimChain(CHAIN_ID, id, GENESIS_HASH, clock, validators, script, o.ledger?.node()), log: new MemoryConsensusLog(), life: undefined, evidence: 0, fatal: [], precommitted: new Set() });
  }

  const crashAt = (when: number, id: string, torn: boolean, downMs: number): void => at(when, () => {
    const n = nodes.get(id)!;
    if (!n.life || n.life.torn) return;
    if (torn) {
      n.life.torn = { left: Math.floor(r() * 3), downMs };
    } else {
      log.push(`${clock.elapsed}: ${id} crashes`);
      crash(n, downMs);
    }
  });

  /** A reactive schedule's look at the run after each event. */
  let afterEvent = (): void => {};
  const marks: SimMarks = {};

  if (schedule === 'random') {
    const pick = (): string => honestIds[Math.floor(r() * honestIds.length)]!;
    const window = (from: number, len: number, what: string, on: () => void, off: () => void): void => {
      control(from, `${what} from`, on);
      control(from + len, `${what} until`, off);
    };
    // One honest node cut off from everyone for a while.
    const cutNode = pick();
    window(Math.floor(r() * gst * 0.5), Math.floor(r() * gst * 0.5), `${cutNode} cut off`, () => net.cut.add(cutNode), () => net.cut.delete(cutNode));
    // Issue 17's episode, at a random time with random lengths: non-nil precommits only to
    // the proposer and no status or sync, so a proposer may commit alone while the others
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
        log.push(`${clock.elapsed}: ${victim} (height ${top}) cut off`);
        const crashes = Math.floor(r() * (others.length + 1));
        for (const id of others.slice(0, crashes)) crashAt(clock.elapsed + Math.floor(r() * 50), id, r() < 0.3, 50 + Math.floor(r() * 600));
        net.precommitsToProposer = false;
        control(clock.elapsed + Math.floor(r() * 500), 'status and sync flow again', () => (net.gossip = true));
        control(clock.elapsed + 300 + Math.floor(r() * 2500), `${victim} back`, () => net.cut.delete(victim));
      });
    } else if (r() < 0.5) {
      window(Math.floor(r() * gst * 0.5), Math.floor(gst * 0.2 + r() * gst * 0.3), 'status and sync dropped', () => (net.gossip = false), () => (net.gossip = true));
    }
    // One to three honest crashes and restarts before GST, some of them torn.
    const k = 1 + Math.floor(r() * 3);
    for (let i = 0; i < k; i++) crashAt(Math.floor(r() * gst * 0.7), pick(), r() < 0.3, 50 + Math.floor(r() * 1200));
    control(gst, 'GST: the network is synchronous from now on', () => {
      net.dropRate = 0;
      net.maxDelayMs = 40;
      net.cut.clear();
      net.precommitsToProposer = false;
      net.gossip = true;
    });
  } else {
    // Issue 17: no random faults; the schedule is the adversary. It starts once all four
    // committed height 1, so that the round after the lone decision (height 2, proposer
    // v2) is v3's: it comes back without the block and proposes another one to two
    // validators that must stay locked on the first.
    net.dropRate = 0;
    net.maxDelayMs = 20;
    const trio = ['v0', 'v1', 'v2'];
    let phase = 0;
    net.drop = (from, to, height) => height >= 2 && (from === 'v3' || to === 'v3'); // v3 sees nothing of height 2 before its cut
    afterEvent = () => {
      if (phase === 0) {
        if (![...nodes.values()].every((n) => heightOf(n) >= 1)) return;
        phase = 1;
        log.push(`${clock.elapsed}: v3 cut off; non-nil precommits only to the proposer; status and sync dropped`);
        net.cut.add('v3');
        net.drop = undefined;
        net.precommitsToProposer = true;
        net.gossip = false;
        return;
      }
      if (phase !== 1) return;
      // The proposer committed alone: the other two, locked on its block, stay below it.
      const ahead = trio.find((id) => trio.every((x) => x === id || heightOf(nodes.get(id)!) > heightOf(nodes.get(x)!)));
      if (!ahead) return;
      const others = trio.filter((id) => id !== ahead);
      const h = heightOf(nodes.get(ahead)!);
      const block = nodes.get(ahead)!.chain.blocks[h - 1]!.id;
      if (!others.every((id) => heightOf(nodes.get(id)!) === h - 1 && nodes.get(id)!.precommitted.has(`${h}/${block}`))) return;
      phase = 2;
      marks.decidedAlone = { by: ahead, height: h, block, at: clock.elapsed };
      log.push(`${clock.elapsed}: ${ahead} committed height ${h} alone; ${others.join(' and ')} precommitted its block (so are locked on it)`);
      control(clock.elapsed + 50, `${ahead} cut off; ${others.join(', ')} killed; v3 back; filtering stops`, () => {
        net.cut.add(ahead);
        net.cut.delete('v3');
        net.precommitsToProposer = false;
        net.gossip = true;
      });
      for (const id of others) crashAt(clock.elapsed + 50, id, false, 300);
      marks.leaderBackAt = clock.elapsed + 8000;
      control(clock.elapsed + 8000, `${ahead} back`, () => net.cut.delete(ahead));
    };
  }

  // The Byzantine validator: equivocates when it proposes, votes both ways always. It
  // signs as itself only (it holds no other key), so its lies are attributable.
  // It follows the chain as any validator does: the set of a height is the honest chains'.
  const byzSets = (h: number): readonly Validator[] => setAt(h);
  const byzSigner = byzId ? signerFor(byzId, byzSets) : undefined;
  let byzNonce = 0;
  /** How often it proposed in a round, and the proposals it voted on: it lies freely, but not a thousand times over. */
  const byzProposed = new Map<string, number>();
  const byzVoted = new Set<string>();
  const byzBlock = (height: number, prevHash: Uint8Array, valid: boolean): Block => {
    const txs: Uint8Array[] = [utf8(`${valid || o.ledger ? '' : 'bad:'}${byzId}:${height}:${byzNonce++}`)];
    // With money, what is wrong is the bill: signed by the biller, its total a cent too high.
    if (!valid && o.ledger) txs.push(o.ledger.wrongBill);
    // With set changes, now and then a change nobody approved: more power for itself, under the next number.
    if (script.length > 0 && r() < 0.3) txs.push(utf8(`valset:${(nodes.values().next().value?.chain.changes ?? 0) + 1}:power:${byzId}:100`));
    return { header: makeHeader({ chainId: CHAIN_ID, height, time: clock.now(), prevHash, proposer: byzId! }, txs), txs };
  };
  const byzantine = (m: PeerMessage): void => {
    if (!byzId || !byzSigner || m.t === 'status') return;
    const { height, round } = m;
    const hr = `${height}/${round}`;
    if (!setAt(height).some((v) => v.id === byzId)) return; // not a validator at this height: its votes would not count
    // It proposes on time: on a precommit for a block of the height before its turn, its
    // proposal of the next height goes out at once, on top of that block. (Waiting for a
    // message of its own round, it would speak only after the honest proposer's timeout,
    // and none of its blocks would ever be decided: the checks below would see less.)
    const ahead = m.t === 'precommit' && m.blockHash !== null && setAt(height + 1).some((v) => v.id === byzId) &&
      proposerOf(setAt(height + 1), height + 1, 0) === byzId;
    for (const [ph, pr] of ahead ? [[height, round], [height + 1, 0]] as const : [[height, round]] as const) {
      const phr = `${ph}/${pr}`;
      if (proposerOf(setAt(ph), ph, pr) !== byzId || (byzProposed.get(phr) ?? 0) >= 2) continue;
      byzProposed.set(phr, (byzProposed.get(phr) ?? 0) + 1);
      // Half the time one fresh block for all (what tempts a locked validator, line 23),
      // else a different one to each, one of them invalid. It follows the chain as any
      // validator does.
      const known = [...nodes.values()].map((n) => n.chain.blocks[height - 2]?.hash).find((x) => x !== undefined);
      const prevHash = ph !== height && m.t === 'precommit' ? m.blockHash! : m.t === 'proposal' ? m.block.header.prevHash : height === 1 ? GENESIS_HASH : known;
      if (prevHash) {
        // With money, the block for all carries the wrong bill: only the honest validators' own check stops it.
        const one = r() < 0.5 ? byzBlock(ph, prevHash, !o.ledger) : undefined;
        honestIds.forEach((p, i) => {
          const block = one ?? byzBlock(ph, prevHash, i !== 2);
          const value = { block, bytes: encodeBlock(block), id: toHex(headerHash(block.header)) };
          byzSend(p, byzSigner.sign({ type: 'proposal', from: byzId, height: ph, round: pr, value, valueId: value.id, validRound: -1 }) as SignedProposal);
        });
      }
    }
    if (m.t === 'proposal' && !byzVoted.has(`${hr}/${toHex(m.blockHash)}`)) {
      const id = toHex(m.blockHash);
      byzVoted.add(`${hr}/${id}`);
      for (const type of ['prevote', 'precommit'] as const) {
        honestIds.forEach((p, i) => byzSend(p, byzSigner.sign({ type, from: byzId, height, round, valueId: i % 2 === 0 ? id : null }) as SignedVote));
      }
    }
    if (g() < 0.1) sendGarbage(height, round);
  };
  const byzSend = (to: string, m: SignedProposal | SignedVote): void => send(byzId!, to, m, encodePeerMessage(m), false);

  // Now and then bytes no honest node sends, to one honest node: malformed payloads (each
  // must be refused by the decoder, E_P2P_MALFORMED), or well-formed votes whose signature
  // cannot hold (in another validator's name, or its own with a bit flipped: refused with
  // E_P2P_BAD_SIGNATURE when the receiver knows the height's set). Their own random
  // source and a fixed network (cut links only), so the rest of the run draws what it did.
  const g = rng(o.seed ^ 0x5bd1e995);
  const sendGarbage = (height: number, round: number): void => {
    if (!byzId || !byzSigner) return;
    const to = honestIds[Math.floor(g() * honestIds.length)]!;
    const v = byzSigner.sign({ type: 'prevote', from: byzId, height, round, valueId: null }) as SignedVote;
    const fields = { t: v.t, from: v.from, height, round, blockHash: null, signature: v.signature };
    const enc = encodePeerMessage(v);
    const noise = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(g() * 256));
    const kind = Math.floor(g() * 9);
    const bytes = [
      () => enc.subarray(0, 1 + Math.floor(g() * (enc.length - 1))), // truncated
      () => Uint8Array.from([...enc, 0]), // a byte after the item
      () => encodeCbor({ ...fields, signature: v.signature.subarray(0, 63) }), // signature not 64 bytes
      () => encodeCbor({ ...fields, extra: 1 }), // a field not of the format
      () => encodeCbor({ ...fields, t: 'vote' }), // no such message type
      () => noise(1 + Math.floor(g() * 80)),
      () => encodeCbor({ t: 'proposal', from: byzId, height, round, validRound: -1, block: noise(40), signature: v.signature }), // no block inside
      () => encodePeerMessage({ ...v, from: honestIds.find((x) => x !== to) ?? to }), // in another's name
      () => encodePeerMessage({ ...v, signature: v.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) }), // a bit flipped
    ][kind]!();
    const malformed = kind < 7;
    garbage.sent++;
    at(clock.elapsed + 1 + Math.floor(g() * 100), () => {
      const life = nodes.get(to)?.life;
      if (!life?.up || net.cut.has(byzId) || net.cut.has(to)) return;
      if (malformed) garbage.malformedDelivered++;
      life.input.onBytes(byzId, bytes);
    });
  };

  for (const n of nodes.values()) boot(n);
  const done = (): boolean => [...nodes.values()].every((n) => heightOf(n) >= target);
  for (;;) {
    await settle();
    afterEvent();
    if (done()) break;
    const next = clock.peek();
    if (next === undefined || next > endAt) break;
    clock.runNext();
  }
  for (const n of nodes.values()) {
    if (n.life) n.life.dead = true; // the run is over: nothing more happens
  }

  // Agreement: no two honest validators committed different blocks at one height.
  // Validity: each committed block extends the committer's chain, is valid, and names a validator.
  const decided: Record<string, string[]> = {};
  const heights: Record<string, number> = {};
  for (const n of nodes.values()) {
    decided[n.id] = n.chain.blocks.map((c) => c.id);
    heights[n.id] = heightOf(n);
    for (const f of n.fatal) violations.push(`halted: ${n.id}: ${f}`);
  }
  const maxH = Math.max(...Object.values(heights));
  for (let h = 1; h <= maxH; h++) {
    const ids = new Set([...nodes.values()].map((n) => n.chain.blocks[h - 1]?.id).filter((x): x is string => x !== undefined));
    if (ids.size > 1) violations.push(`agreement: height ${h} committed as ${[...ids].join(' and ')}`);
    for (const n of nodes.values()) {
      const c = n.chain.blocks[h - 1];
      if (!c) continue;
      const prev = h === 1 ? GENESIS_HASH : n.chain.blocks[h - 2]!.hash;
      const hd = c.block.header;
      const bad = c.block.txs.some((t) => { const x = new TextDecoder().decode(t); return x.startsWith('bad') || x.startsWith(`valset:`) && x.includes(`:${byzId}:100`) || o.ledger?.isWrong(t) === true; });
      const set = n.chain.sets(h)!;
      if (bad || hd.height !== h || toHex(hd.prevHash) !== toHex(prev) || !set.some((v) => v.id === hd.proposer)) {
        violations.push(`validity: ${n.id} committed invalid block ${c.id} at height ${h}`);
      }
    }
  }
  // Every certificate holds more than 2/3 of the power of its height's set, as the committer knew it.
  for (const n of nodes.values()) {
    const checker = signerFor(n.id, n.chain.sets);
    n.chain.blocks.forEach((c, i) => {
      const problem = checker.commitProblem(c.block.header, c.commit);
      if (problem) violations.push(`certificate: ${n.id} height ${i + 1}: ${problem}`);
    });
  }
  // The set changes happened: every honest chain at the target holds all of them, ending in the script's set.
  if (script.length > 0) {
    const want = JSON.stringify(script.reduce<readonly Validator[]>((set, c, i) => applySimChange(set, c, i + 1), validators));
    for (const n of nodes.values()) {
      if (heightOf(n) < target) continue;
      if (n.chain.changes !== script.length || JSON.stringify(n.chain.latestSet) !== want) {
        violations.push(`set changes: ${n.id} applied ${n.chain.changes} of ${script.length}, set ${JSON.stringify(n.chain.latestSet)}`);
      } else if (JSON.stringify(n.chain.sets(target)) !== want) {
        violations.push(`set changes: ${n.id}'s set at height ${target} is not yet the final one`);
      }
    }
  }
  let ledgers: Record<string, { height: number; digest: string }> | undefined;
  if (o.ledger) {
    ledgers = {};
    const byHeight = new Map<number, string>();
    for (const n of nodes.values()) {
      const digest = n.chain.ledger!.digest();
      ledgers[n.id] = { height: heightOf(n), digest };
      const other = byHeight.get(heightOf(n));
      if (other !== undefined && other !== digest) violations.push(`ledger: ${n.id} at height ${heightOf(n)} holds ${digest}, another validator ${other}`);
      byHeight.set(heightOf(n), digest);
    }
  }
  for (const n of nodes.values()) {
    if (heightOf(n) < target) violations.push(`progress: ${n.id} reached height ${heightOf(n)} of ${target} by ${endAt} ms`);
  }
  const longest = [...nodes.values()].reduce((a, n) => (n.chain.blocks.length > a.chain.blocks.length ? n : a));
  const byzantineBlocks = byzId === undefined ? 0 : longest.chain.blocks.filter((c) => c.block.header.proposer === byzId).length;
  return {
    seed: o.seed, heights, decided, violations, evidence: [...nodes.values()].reduce((s, n) => s + n.evidence, 0), byzantineBlocks, events, log,
    decidedAt, marks, ...(ledgers ? { ledgers } : {}), refused, garbage,
  };
}
