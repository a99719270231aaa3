/**
 * The consensus driver as peers see it, through an in-memory network with a "spy" that
 * holds the other validators' keys: invalid proposals get nil prevotes (Tendermint
 * Alg. 1 line 22-25 with our valid()), a valid one a prevote for its hash, and what a
 * validator signed survives a restart: it sends the same prevote again, never another;
 * its lock survives too (issue 17), and a record it cannot read makes it follow, not vote.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  Alg, type BlockHeader, type Genesis, TxType, encodeBlock, genesisHash, headerHash, makeHeader, signTx, toHex,
} from '../../../protocols/index.js';
import { dataPaths, initCluster } from '../../../ledger-node/devchain.js';
import { nativeSign } from '../../../ledger-node/crypto/native.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { MemoryNetwork } from '../../../ledger-node/p2p/memory.js';
import type { PeerLayer } from '../../../ledger-node/p2p/peers.js';
import { memoryPeer } from '../../helpers/memory-peers.js';
import { type PeerMessage, decodePeerMessage, encodePeerMessage, proposalSignBytes, voteBytesOf } from '../../../protocols/index.js';
import { until } from '../../helpers/until.js';
import { inMemory } from '../../helpers/memory-store.js';

const roots: string[] = [];
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const SLOW = { proposeBaseMs: 60_000, proposeDeltaMs: 0, prevoteBaseMs: 60_000, prevoteDeltaMs: 0, precommitBaseMs: 60_000, precommitDeltaMs: 0 };

interface Setup {
  genesis: Genesis;
  dirs: string[];
  net: MemoryNetwork;
  spy: PeerLayer;
  heard: PeerMessage[];
  open(): Promise<LedgerNode>;
  reading(meterNode: number, seq: number, signWithNode?: number, wh?: number, time?: number): Uint8Array;
  propose(header: BlockHeader, txs: Uint8Array[]): void;
}

function setup(): Setup {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-driver-'));
  roots.push(root);
  const dirs = Array.from({ length: 4 }, (_, i) => join(root, `node${i}`));
  const { genesis, meterIds } = initCluster(dirs, { validators: 4, metersPerNode: 1 });
  const net = new MemoryNetwork();
  const spy = memoryPeer(net, genesis, 'validator-1', dirs[1]!); // round 0 of height 1 is validator-1's to propose
  const heard: PeerMessage[] = [];
  spy.onMessage((from, kind, payload) => {
    if (from === 'validator-0' && kind === 'consensus') heard.push(decodePeerMessage(payload));
  });
  const v1 = loadKeyFile(dataPaths(dirs[1]!).validatorKey);
  return {
    genesis, dirs, net, spy, heard,
    open: () => LedgerNode.open({ openStore: inMemory, dataDir: dirs[0]!, genesis, carrier: net.carrier('validator-0'), timeouts: SLOW, verifyWorkers: 0 }),
    reading(meterNode, seq, signWithNode = meterNode, wh = seq, time = Date.now()) {
      const id = meterIds[meterNode]![0]!;
      const key = loadKeyFile(dataPaths(dirs[signWithNode]!).meterKey(meterIds[signWithNode]![0]!));
      return signTx(genesis.chainId, key.alg, key.secretKey, { type: TxType.Reading, meterId: id, seq: BigInt(seq), time, importWh: wh });
    },
    propose(header, txs) {
      const block = { header, txs };
      const blockHash = headerHash(header);
      const signature = nativeSign(Alg.EdDSA, v1.privateKey, proposalSignBytes(genesis.chainId, header.height, 0, -1, blockHash));
      spy.broadcast('consensus', encodePeerMessage({ t: 'proposal', from: 'validator-1', height: header.height, round: 0, validRound: -1, blockBytes: encodeBlock(block), block, blockHash, signature }));
    },
  };
}

const headerFor = (s: Setup, txs: Uint8Array[], over: Partial<BlockHeader> = {}): BlockHeader => ({
  ...makeHeader({ chainId: s.genesis.chainId, height: 1, time: Date.now(), prevHash: genesisHash(s.genesis), proposer: 'validator-1' }, txs),
  ...over,
});

/** The first message validator-0 sent that `pick` accepts, waiting up to `ms`. */
async function heardFrom0(s: Setup, pick: (m: PeerMessage) => boolean, what: string, ms = 8000): Promise<PeerMessage> {
  const end = Date.now() + ms;
  for (;;) {
    const m = s.heard.find(pick);
    if (m) return m;
    if (Date.now() > end) throw new Error(`validator-0 sent no ${what}; heard ${JSON.stringify(s.heard.map((x) => [x.t, 'round' in x ? x.round : -1]))}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const prevoteOf = (s: Setup, ms = 5000) =>
  heardFrom0(s, (m) => m.t === 'prevote' && m.height === 1 && m.round === 0, 'prevote', ms) as Promise<PeerMessage & { t: 'prevote' }>;

const cases: [string, (s: Setup) => { header: BlockHeader; txs: Uint8Array[] }][] = [
  ['a forged reading (signed by another meter\'s key)', (s) => {
    const txs = [s.reading(0, 1), s.reading(2, 1, 3)];
    return { header: headerFor(s, txs), txs };
  }],
  ['a replayed sequence number', (s) => {
    const txs = [s.reading(0, 5), s.reading(0, 5, 0, 999)];
    return { header: headerFor(s, txs), txs };
  }],
  ['a wrong Merkle root', (s) => {
    const txs = [s.reading(0, 1), s.reading(1, 1)];
    return { header: headerFor(s, txs, { txRoot: new Uint8Array(32).fill(7) }), txs };
  }],
  ['a meter-signed reading dated 1970 (docs/protocol.md §3.5: outside the window of the header time)', (s) => {
    const txs = [s.reading(0, 1), s.reading(1, 1, 1, 1, 0)];
    return { header: headerFor(s, txs), txs };
  }],
  ['a reading 11 minutes ahead of the header time', (s) => {
    const txs = [s.reading(0, 1, 0, 1, Date.now() + 11 * 60_000)];
    return { header: headerFor(s, txs), txs };
  }],
  ['a bad previous hash', (s) => {
    const txs = [s.reading(0, 1)];
    return { header: headerFor(s, txs, { prevHash: new Uint8Array(32).fill(1) }), txs };
  }],
];

for (const [what, make] of cases) {
  test(`an invalid proposal gets a nil prevote: ${what}`, { timeout: 20_000 }, async () => {
    const s = setup();
    const node = await s.open();
    try {
      const { header, txs } = make(s);
      s.propose(header, txs);
      assert.equal((await prevoteOf(s)).blockHash, null);
    } finally {
      await node.close();
    }
  });
}

test('a valid proposal gets a prevote for its hash; after a restart the same prevote is sent again, never another', { timeout: 30_000 }, async () => {
  const s = setup();
  let node = await s.open();
  const txs = [s.reading(0, 1), s.reading(1, 1)];
  const header = headerFor(s, txs);
  s.propose(header, txs);
  const first = await prevoteOf(s);
  assert.equal(toHex(first.blockHash!), toHex(headerHash(header)));
  await node.close(); // no quorum: nothing commits; the signed prevote is on disk
  s.heard.length = 0;
  node = await s.open();
  try {
    // The proposal is not sent again; a fresh validator would time out and prevote nil.
    // This one re-sends (status gossip) exactly what it signed before.
    const again = await prevoteOf(s, 8000);
    assert.deepEqual(encodePeerMessage(again), encodePeerMessage(first));
    const prevotes = s.heard.filter((m) => m.t === 'prevote' && m.height === 1 && m.round === 0);
    assert.ok(prevotes.every((m) => m.t === 'prevote' && m.blockHash !== null && toHex(m.blockHash) === toHex(first.blockHash!)));
  } finally {
    await node.close();
  }
});

// ---- crash recovery (issue 17) ------------------------------------------------------

/** Sign a proposal or vote as validator-i (the spy holds every key but validator-0's). */
function signer(s: Setup) {
  const keys = s.dirs.map((d) => loadKeyFile(dataPaths(d).validatorKey).privateKey);
  const chainId = s.genesis.chainId;
  return {
    proposal(i: number, height: number, round: number, block: { header: BlockHeader; txs: Uint8Array[] }, validRound = -1): Uint8Array {
      const blockHash = headerHash(block.header);
      const signature = nativeSign(Alg.EdDSA, keys[i]!, proposalSignBytes(chainId, height, round, validRound, blockHash));
      return encodePeerMessage({ t: 'proposal', from: `validator-${i}`, height, round, validRound, blockBytes: encodeBlock(block), block, blockHash, signature });
    },
    vote(i: number, t: 'prevote' | 'precommit', height: number, round: number, blockHash: Uint8Array | null): Uint8Array {
      const v = { t, from: `validator-${i}`, height, round, blockHash } as const;
      return encodePeerMessage({ ...v, signature: nativeSign(Alg.EdDSA, keys[i]!, voteBytesOf(chainId, v)) });
    },
  };
}

/** validator-0 open, and validator-1's block A of height 1 proposed to it in round 0. */
async function proposedA(s: Setup) {
  const sig = signer(s);
  const node = await s.open();
  const txs = [s.reading(0, 1)];
  const a = { header: headerFor(s, txs), txs };
  s.spy.broadcast('consensus', sig.proposal(1, 1, 0, a));
  return { sig, node, a, aHash: headerHash(a.header) };
}

test('a validator locked on a block stays locked across a restart: in a later round it prevotes nil for another block (Alg. 1 line 23; issue 17)', { timeout: 40_000 }, async () => {
  const s = setup();
  const { sig, aHash, ...first } = await proposedA(s);
  let node = first.node;
  for (const i of [1, 2, 3]) s.spy.broadcast('consensus', sig.vote(i, 'prevote', 1, 0, aHash)); // a polka: validator-0 locks on A
  const pc = await heardFrom0(s, (m) => m.t === 'precommit' && m.round === 0, 'precommit');
  assert.equal(pc.t === 'precommit' && pc.blockHash && toHex(pc.blockHash), toHex(aHash));
  await node.close(); // no 2/3 of precommits: nothing commits; the lock is on disk
  s.heard.length = 0;
  node = await s.open();
  try {
    assert.equal(node.status().stateProblem, undefined);
    // Round 1 (proposer validator-2) with another valid block: f+1 of round 1 moves it there (line 55).
    const b = { header: makeHeader({ chainId: s.genesis.chainId, height: 1, time: Date.now(), prevHash: genesisHash(s.genesis), proposer: 'validator-2' }, []), txs: [] as Uint8Array[] };
    for (const i of [2, 3]) s.spy.broadcast('consensus', sig.vote(i, 'prevote', 1, 1, null));
    s.spy.broadcast('consensus', sig.proposal(2, 1, 1, b));
    const pv = await heardFrom0(s, (m) => m.t === 'prevote' && m.round === 1, 'round-1 prevote');
    assert.equal(pv.t === 'prevote' && pv.blockHash, null, 'locked on A, it must not prevote B');
    // And it still holds A: its round-0 precommit for A is what it sends again.
    const again = await heardFrom0(s, (m) => m.t === 'precommit' && m.round === 0, 'round-0 precommit again');
    assert.equal(again.t === 'precommit' && again.blockHash && toHex(again.blockHash), toHex(aHash));
  } finally {
    await node.close();
  }
});

test('a consensus record that cannot be restored: the validator does not vote at that height, says why, follows the others, and votes again at the next', { timeout: 40_000 }, async () => {
  const s = setup();
  const { sig, a, aHash, ...first } = await proposedA(s);
  let node = first.node;
  await heardFrom0(s, (m) => m.t === 'prevote' && m.round === 0, 'prevote');
  await node.close();
  const store = await inMemory(dataPaths(s.dirs[0]!).store);
  await store.saveConsensus(1, { state: Uint8Array.of(0xa1, 0x61) }); // a torn, undecodable record
  await store.close();
  s.heard.length = 0;
  node = await s.open();
  try {
    assert.match(node.status().stateProblem ?? '', /^E_CONSENSUS_STATE_CORRUPT: consensus record of height 1: safety state is not deterministic CBOR/);
    // It follows: three others precommit A, it commits A without a vote of its own.
    s.spy.broadcast('consensus', sig.proposal(1, 1, 0, a));
    for (const i of [1, 2, 3]) s.spy.broadcast('consensus', sig.vote(i, 'precommit', 1, 0, aHash));
    await untilHead(node, 1);
    assert.deepEqual(s.heard.filter((m) => m.t !== 'status' && m.height === 1), [], 'no proposal or vote of height 1 from validator-0');
    await untilTrue(() => node.status().stateProblem === undefined, 'at height 2 its record is fresh');
    const txs2 = [s.reading(1, 1)];
    const block2 = { header: makeHeader({ chainId: s.genesis.chainId, height: 2, time: Date.now(), prevHash: aHash, proposer: 'validator-2' }, txs2), txs: txs2 };
    s.spy.broadcast('consensus', sig.proposal(2, 2, 0, block2));
    const pv = await heardFrom0(s, (m) => m.t === 'prevote' && m.height === 2, 'height-2 prevote');
    assert.equal(pv.t === 'prevote' && pv.blockHash && toHex(pv.blockHash), toHex(headerHash(block2.header)));
  } finally {
    await node.close();
  }
});

const untilHead = (node: LedgerNode, height: number): Promise<void> => untilTrue(() => node.status().height >= height, `height ${height}`);
const untilTrue = (cond: () => boolean, what: string): Promise<void> => until(what, cond, 10_000, 10);

test('a valid block proposed again in a later round by that round\'s proposer gets a prevote, though its header names the proposer that made it (Alg. 1 lines 14-16, 28)', { timeout: 30_000 }, async () => {
  const s = setup();
  const sig = signer(s);
  const node = await s.open();
  try {
    const txs = [s.reading(1, 1)];
    const a = { header: headerFor(s, txs), txs }; // made by validator-1 for round 0
    const aHash = headerHash(a.header);
    // validator-0 never saw round 0's proposal, only its polka; round 1 is validator-2's.
    for (const i of [1, 2, 3]) s.spy.broadcast('consensus', sig.vote(i, 'prevote', 1, 0, aHash));
    for (const i of [2, 3]) s.spy.broadcast('consensus', sig.vote(i, 'prevote', 1, 1, aHash));
    s.spy.broadcast('consensus', sig.proposal(2, 1, 1, a, 0));
    const pv = await heardFrom0(s, (m) => m.t === 'prevote' && m.round === 1, 'round-1 prevote');
    assert.equal(pv.t === 'prevote' && pv.blockHash && toHex(pv.blockHash), toHex(aHash));
  } finally {
    await node.close();
  }
});
