/**
 * The consensus driver as peers see it, through an in-memory network with a "spy" that
 * holds the other validators' keys: invalid proposals get nil prevotes (Tendermint
 * Alg. 1 line 22-25 with our valid()), a valid one a prevote for its hash, and what a
 * validator signed survives a restart: it sends the same prevote again, never another.
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
import { type PeerMessage, decodePeerMessage, encodePeerMessage, proposalSignBytes } from '../../../ledger-node/consensus/messages.js';

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
    open: () => LedgerNode.open({ dataDir: dirs[0]!, genesis, carrier: net.carrier('validator-0'), timeouts: SLOW, verifyWorkers: 0 }),
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

async function prevoteOf(s: Setup, ms = 5000): Promise<PeerMessage & { t: 'prevote' }> {
  const end = Date.now() + ms;
  for (;;) {
    const v = s.heard.find((m): m is PeerMessage & { t: 'prevote' } => m.t === 'prevote' && m.height === 1 && m.round === 0);
    if (v) return v;
    if (Date.now() > end) throw new Error('validator-0 sent no prevote');
    await new Promise((r) => setTimeout(r, 10));
  }
}

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
