/**
 * A deterministic simulation of the production consensus code (TigerBeetle's
 * testing/cluster.zig is the model): each honest validator is the node's own
 * ConsensusRunner, PeerInput and BlockSync (ledger-node/consensus/), over in-memory ports:
 * virtual time (./virtual-clock.ts), the consensus record in memory
 * (ledger-node/consensus/memory-log.ts), a chain of test blocks and keyed-hash signatures
 * (./sim-chain.ts), or with `signatures: 'ed25519'` the node's own Ed25519Signer over keys
 * derived from the validators' names (./sim-keys.ts). Every validator talks through the
 * node's own peer layer (ledger-node/p2p/peers.ts, PeerLayer, on virtual time) over the
 * in-memory carrier (ledger-node/p2p/memory.ts): each message is encoded
 * (encodePeerMessage), sealed in an envelope, carried, opened (frame, sender, time,
 * signature, replay window) and handed to PeerInput.onBytes (decoder, bounds, the
 * message's signature), as in the node; sync's requests and answers go the same way, and
 * heartbeats give the layers their liveness. Envelopes are signed with the sim's
 * keyed-hash tags (./sim-keys.ts SIM_ENVELOPE_TAGS), or Ed25519 with `signatures:
 * 'ed25519'`. The carrier hands every hop to the adversary (MemoryNetwork's schedule):
 * seeded random delays, drops, duplicates (which the peer layer refuses as replays) and
 * reordering; a validator cut off for a while (the carrier's cut: its layer sees itself
 * disconnected); windows in which non-nil
 * precommits reach only the round's proposer and status, re-sent messages and sync are
 * dropped; honest validators crashing, also half-way through a step (between the writes
 * and sends it makes), and restarting; optionally one Byzantine validator (equivocating
 * proposals, double votes, invalid blocks, and now and then bytes no honest node sends:
 * bad envelopes (a flipped signature bit, a replay, a stranger's key) that the honest peer
 * layers must refuse, and in good envelopes malformed payloads, votes in another's name,
 * signatures with a bit flipped, that the honest peer inputs must refuse; the result
 * counts both). The same seed replays the same run exactly.
 *
 * A crash keeps the validator's block store and its consensus record, exactly as saved,
 * and nothing else (its peer layer and carrier close: what is in flight to it is lost): a
 * restart builds a new runner and peer layer over them, as a restarted process does.
 */
import type { KeyObject } from 'node:crypto';
import {
  type Block, decodePeerMessage, decodeSyncRequest, encodeBlock, encodeCbor, encodePeerMessage, headerHash, joinPeerEnvelope, makeHeader,
  parsePeerEnvelope, peerSubjects, sha256, toHex, utf8,
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
import type { Carrier } from '../../ledger-node/p2p/carrier.js';
import { ED25519_ENVELOPES, sealEnvelope } from '../../ledger-node/p2p/envelope.js';
import { P2pCode } from '../../ledger-node/p2p/errors.js';
import { type MemoryHop, MemoryNetwork } from '../../ledger-node/p2p/memory.js';
import { PeerLayer } from '../../ledger-node/p2p/peers.js';
import type { PeerKey } from '../../ledger-node/p2p/transport.js';
import { type SimSetChange, SimChain, SimSigner, applySimChange } from './sim-chain.js';
import { SIM_ENVELOPE_TAGS, simKey } from './sim-keys.js';
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
  /**
   * The Byzantine validator's garbage: sent; malformed payloads that reached a running
   * honest node's peer input (each must be refused); envelopes that reached its peer
   * layer, by the code the layer must refuse them with.
   */
  readonly garbage: { readonly sent: number; readonly malformedDelivered: number; readonly envelopesDelivered: Record<string, number> };
  /** What the honest peer layers (ledger-node/p2p/peers.ts) refused of what reached them, by code. */
  readonly envelopes: SimEnvelopeRefusals;
}

export interface SimEnvelopeRefusals {
  /** Of the Byzantine validator's envelope garbage. */
  readonly garbage: Record<string, number>;
  /** Of the copies the network duplicated (E_P2P_REPLAY, unless the first copy reached an earlier life). */
  readonly duplicates: Record<string, number>;
  /** Of anything else: nothing an honest node or the Byzantine validator's own peer layer seals. */
  readonly other: Record<string, number>;
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
  readonly layer: PeerLayer;
  /** Set by open(); messages reach the node only then, as the node subscribes after restoring. */
  up: boolean;
  dead: boolean;
  /** A torn crash on its way: writes and sends left before it takes the node down, and for how long. */
  torn: { left: number; downMs: number } | undefined;
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
  readonly cut: { add(id: string): void; delete(id: string): void; has(id: string): boolean; clear(): void };
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

/** The Byzantine validator's garbage in flight: to one node, its outcome known in advance. */
interface Garbage {
  /** What the honest node runs as when it is sent: the garbage reaches only that life. */
  readonly life: Life;
  /** The payload is malformed: the peer input must refuse it (the envelope is good). */
  readonly malformed: boolean;
  /** The code its peer layer must refuse the envelope with; undefined: it opens. */
  readonly refuse: string | undefined;
  /** Delivered twice, the second a replay (E_P2P_REPLAY). */
  readonly replay: boolean;
}

interface Sending {
  readonly gossip: boolean;
  /** The consensus message being sent (the sim saves the adversary decoding every envelope again). */
  readonly message?: PeerMessage;
  readonly aim?: string;
  readonly garbage?: Garbage;
}

interface Arrival {
  readonly hop: MemoryHop;
  readonly duplicate: boolean;
  readonly garbage?: Garbage;
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
  const garbage = { sent: 0, malformedDelivered: 0, envelopesDelivered: {} as Record<string, number> };
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
  // The production peer layer over the in-memory carrier, every hop by the adversary's schedule (onHop below).
  const wire = new MemoryNetwork({ schedule: (deliver, hop) => onHop(deliver, hop) });
  const peerKeys: PeerKey[] = allIds.map((id) => ({ id, publicKey: Buffer.from(simKey(id).publicKey, 'hex') }));
  /** Envelopes signed as consensus messages are: Ed25519 with `signatures: 'ed25519'`, else the sim's tags (same size, far cheaper). */
  const scheme = ed25519 ? ED25519_ENVELOPES : SIM_ENVELOPE_TAGS;
  /** What a sender is doing while its carrier hands the hops to onHop (publish is synchronous). */
  let sending: Sending | undefined;
  /** The height a sync request asked for, by `${requester}>${server}`: its answer is judged by it. */
  const asked = new Map<string, number>();
  const envelopes: SimEnvelopeRefusals = { garbage: {}, duplicates: {}, other: {} };
  const subjects = peerSubjects(CHAIN_ID);
  /** Partitions are the carrier's (MemoryNetwork.cut): a cut node's peer layer sees itself disconnected. */
  const cut: Net['cut'] = {
    add: (id) => wire.cut(id), delete: (id) => wire.heal(id), has: (id) => wire.isCut(id), clear: () => allIds.forEach((id) => wire.heal(id)),
  };
  const net: Net = { cut, dropRate: 0.15, maxDelayMs: 200, precommitsToProposer: false, gossip: true, drop: undefined };
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
   * Every hop the carriers make, decided when it is sent (MemoryNetwork calls this inside
   * publish and request). The adversary reads the envelope, as one on the wire can: a
   * consensus message's type, height and block; the height a sync request asks for.
   */
  const onHop = (deliver: () => void, hop: MemoryHop | undefined): void => {
    if (!hop) return void clock.after(1, deliver); // nobody listens: known at once
    const ctx = sending;
    if (ctx?.aim !== undefined && hop.to !== ctx.aim) return; // the Byzantine validator and the adversary: to one node only
    if (ctx?.garbage) return garbageHop(deliver, hop, ctx.garbage);
    let height = 0;
    let gossip = true;
    const m = ctx?.message; // what the envelope carries, as the adversary would decode it
    if (m) {
      height = m.height;
      gossip = m.t === 'status' || ctx.gossip;
      if (!gossip && net.precommitsToProposer && m.t === 'precommit' && m.blockHash !== null && hop.to !== proposerOf(setAt(m.height), m.height, m.round)) return;
    } else {
      const env = parsePeerEnvelope(hop.data); // a heartbeat, or sync
      if (env.header.kind === 'sync-req') {
        height = decodeSyncRequest(env.payload);
        asked.set(`${hop.from}>${hop.to}`, height);
      } else if (env.header.kind === 'sync-res') {
        height = asked.get(`${hop.to}>${hop.from}`) ?? 0;
      }
    }
    if (!passes(hop.from, hop.to, height, gossip)) return;
    const d = delay();
    at(clock.elapsed + d, () => arrive(deliver, { hop, duplicate: false }));
    if (r() < net.dropRate / 3) at(clock.elapsed + d + Math.floor(r() * 100), () => arrive(deliver, { hop, duplicate: true })); // duplicate
  };
  /** The hop being delivered: a peer layer's refusal is counted against it (delivery is synchronous down to the refusal). */
  let current: Arrival | undefined;
  const arrive = (deliver: () => void, a: Arrival): void => {
    events++;
    current = a;
    try {
      deliver();
    } finally {
      current = undefined;
    }
  };
  /** A peer layer's drop: counted when it refused what just arrived for it (not its own sends that failed). */
  const dropped = (id: string, reason: string): void => {
    const a = current;
    if (!a || a.hop.to !== id) return;
    const bucket = a.garbage ? envelopes.garbage : a.duplicate ? envelopes.duplicates : envelopes.other;
    bucket[reason] = (bucket[reason] ?? 0) + 1;
  };
  /** The production peer layer for `id` over `carrier`, on virtual time; `count`: its refusals are counted. */
  const layerFor = (id: string, carrier: Carrier, count: boolean): PeerLayer => new PeerLayer(carrier, {
    chainId: CHAIN_ID, nodeId: id, nodeKey: simKey(id).privateKey, peers: peerKeys, clock, logger: noLogger, envelopes: scheme,
    metrics: { connected() {}, messageDropped: (reason) => (count ? dropped(id, reason) : undefined) },
  });
  /** Send `m` from `layer`, in the context the adversary reads (`gossip`: what the status tick sends). */
  const broadcast = (layer: PeerLayer, m: PeerMessage, gossip: boolean, aim?: string): void => {
    sending = { gossip, message: m, ...(aim !== undefined ? { aim } : {}) };
    try {
      layer.broadcast('consensus', encodePeerMessage(m));
    } finally {
      sending = undefined;
    }
  };

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
        broadcast(life.layer, m, false);
      },
      evidence: async () => {},
      metrics: { consensusRound() {}, consensusTimeout() {}, consensusStateUnrestorable() {}, evidence: () => void n.evidence++ },
      logger: noLogger,
      onBehind: () => life.sync.kick(),
      onHeight: () => life.runner.startHeight(), // a block is always due: there is always work
      onFatal: (e) => void n.fatal.push(e.message),
    });
    // The process's peer layer: sealing, opening, replay window, liveness (a restart has a new one, as a process does).
    const layer = layerFor(id, wire.carrier(id), true);
    const sync = new BlockSync({
      transport: layer,
      wire: (m) => {
        if (!life.dead) broadcast(layer, m, true);
      },
      runner, chain, scheduler, random: r, sets: n.chain.sets, me: id,
      statusEveryMs: STATUS_EVERY_MS, requestTimeoutMs: SYNC_TIMEOUT_MS, metrics: { peers() {}, blockSynced() {} }, logger: noLogger,
    });
    const input = new PeerInput({ sets: n.chain.sets, onAhead: () => life.sync.kick(), signer, runner, onStatus: (from, h) => sync.onStatus(from, h), metrics: { consensusMessage() {} }, logger: countingLogger });
    life = { runner, input, sync, layer, up: false, dead: false, torn: undefined };
    n.life = life;
    void runner.open().then(() => {
      if (life.dead) return;
      life.up = true;
      // As NodeConsensus.start: the node listens once its record is restored.
      layer.onMessage((from, kind, payload) => {
        if (kind === 'consensus') input.onBytes(from, payload);
      });
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
    void life.layer.close(); // its carrier goes with it: what is in flight to it is lost
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
  // Its own peer layer seals what it sends and opens what it gets (its key is good: it
  // is a validator); its carrier sends its garbage raw.
  const byzCarrier = byzId ? wire.carrier(byzId) : undefined;
  const byzLayer = byzId && byzCarrier ? layerFor(byzId, byzCarrier, false) : undefined;
  byzLayer?.onMessage((from, kind, payload) => {
    if (kind !== 'consensus') return;
    let m: PeerMessage;
    try {
      m = decodePeerMessage(payload);
    } catch (e) {
      violations.push(`wire: ${from} sent a payload that does not decode: ${(e as Error).message}`);
      return;
    }
    byzantine(m);
  });
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
  const byzSend = (to: string, m: SignedProposal | SignedVote): void => broadcast(byzLayer!, m, false, to);

  // Now and then bytes no honest node sends, to one honest node, each sealed in an
  // envelope. Good envelopes around bad payloads: malformed (each must be refused by the
  // decoder, E_P2P_MALFORMED), or well-formed votes whose signature cannot hold (in
  // another validator's name, or its own with a bit flipped: refused with
  // E_P2P_BAD_SIGNATURE when the receiver knows the height's set). And bad envelopes, which
  // the peer layer must refuse before the node sees them: its own with a bit of the
  // envelope's signature flipped (E_P2P_BAD_SIGNATURE), one taken twice (the second is
  // E_P2P_REPLAY), one sealed by a stranger's key in a name genesis does not know
  // (E_P2P_UNKNOWN_PEER) or in an honest peer's name (E_P2P_BAD_SIGNATURE). Their own
  // random source and a fixed network (cut links only), so the rest of the run draws what
  // it would draw without them.
  const g = rng(o.seed ^ 0x5bd1e995);
  let garbageTime = 0;
  const sendGarbage = (height: number, round: number): void => {
    if (!byzId || !byzSigner || !byzCarrier) return;
    const to = honestIds[Math.floor(g() * honestIds.length)]!;
    const v = byzSigner.sign({ type: 'prevote', from: byzId, height, round, valueId: null }) as SignedVote;
    const fields = { t: v.t, from: v.from, height, round, blockHash: null, signature: v.signature };
    const enc = encodePeerMessage(v);
    const noise = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => Math.floor(g() * 256));
    const flip = (b: Uint8Array): Uint8Array => b.map((x, i) => (i === 0 ? x ^ 1 : x));
    const other = honestIds.find((x) => x !== to) ?? to;
    const kind = Math.floor(g() * 13);
    const payload = [
      () => enc.subarray(0, 1 + Math.floor(g() * (enc.length - 1))), // truncated
      () => Uint8Array.from([...enc, 0]), // a byte after the item
      () => encodeCbor({ ...fields, signature: v.signature.subarray(0, 63) }), // signature not 64 bytes
      () => encodeCbor({ ...fields, extra: 1 }), // a field not of the format
      () => encodeCbor({ ...fields, t: 'vote' }), // no such message type
      () => noise(1 + Math.floor(g() * 80)),
      () => encodeCbor({ t: 'proposal', from: byzId, height, round, validRound: -1, block: noise(40), signature: v.signature }), // no block inside
      () => encodePeerMessage({ ...v, from: other }), // in another's name
      () => encodePeerMessage({ ...v, signature: flip(v.signature) }), // a bit flipped
      () => enc, // the envelope's signature flipped, below
      () => noise(1 + Math.floor(g() * 80)), // taken twice
      () => enc, // a stranger
      () => encodePeerMessage({ ...v, from: other }), // a stranger in an honest peer's name
    ][kind]!();
    garbageTime = Math.max(clock.now(), garbageTime + 1); // two alike in one ms would be one envelope, the second a replay
    const seal = (from: string, key: KeyObject): Uint8Array => sealEnvelope(CHAIN_ID, from, key, 'consensus', payload, garbageTime, '', scheme).bytes;
    let bytes = kind === 11 ? seal('x9', simKey('stranger').privateKey) : kind === 12 ? seal(other, simKey('stranger').privateKey) : seal(byzId, simKey(byzId).privateKey);
    if (kind === 9) {
      const e = parsePeerEnvelope(bytes);
      bytes = joinPeerEnvelope(e.headerBytes, flip(e.signature), e.payload);
    }
    garbage.sent++;
    const life = nodes.get(to)?.life;
    if (!life || net.cut.has(byzId)) return;
    const refuse = kind === 9 || kind === 12 ? P2pCode.BAD_SIGNATURE : kind === 11 ? P2pCode.UNKNOWN_PEER : undefined;
    sending = { gossip: false, aim: to, garbage: { life, malformed: kind < 7 || kind === 10, refuse, replay: kind === 10 } };
    try {
      byzCarrier.publish(subjects.consensus, bytes);
    } finally {
      sending = undefined;
    }
  };
  /** Garbage reaches its node only as the life it was sent to, running, and not cut off: so what it must do there is known. */
  const garbageHop = (deliver: () => void, hop: MemoryHop, gb: Garbage): void => {
    const reaches = (): boolean => nodes.get(hop.to)?.life === gb.life && gb.life.up && !net.cut.has(hop.from) && !net.cut.has(hop.to);
    const expect = (code: string): void => void (garbage.envelopesDelivered[code] = (garbage.envelopesDelivered[code] ?? 0) + 1);
    at(clock.elapsed + 1 + Math.floor(g() * 100), () => {
      if (!reaches()) return;
      if (gb.malformed) garbage.malformedDelivered++;
      if (gb.refuse) expect(gb.refuse);
      arrive(deliver, { hop, duplicate: false, garbage: gb });
      if (!gb.replay) return;
      at(clock.elapsed + 1, () => {
        if (!reaches()) return;
        expect(P2pCode.REPLAY);
        arrive(deliver, { hop, duplicate: true, garbage: gb });
      });
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
    decidedAt, marks, ...(ledgers ? { ledgers } : {}), refused, garbage, envelopes,
  };
}
