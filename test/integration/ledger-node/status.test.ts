/**
 * What status() says of consensus, which /readyz turns into reasons: hasQuorum follows
 * the validators heard from (a lone validator always has one), and a node that fell
 * behind reports `behind` and `syncing` until sync has fetched what it missed. Four
 * validators on an in-memory network; the laggard's sync requests are held back by a
 * gate on its carrier so the test sees it syncing for as long as it needs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { TxType, signTx } from '../../../protocols/index.js';
import { dataPaths, initCluster } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { MemoryNetwork } from '../../../ledger-node/p2p/memory.js';
import type { Carrier } from '../../../ledger-node/p2p/carrier.js';
import { until as untilEvery } from '../../helpers/until.js';
import { inMemory } from '../../helpers/memory-store.js';

const until = (what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> => untilEvery(what, cond, ms, 25);
const FAST = { proposeBaseMs: 300, proposeDeltaMs: 100, prevoteBaseMs: 150, prevoteDeltaMs: 50, precommitBaseMs: 150, precommitDeltaMs: 50 };

/** `c`, with request() (block sync) held back until open() is called. */
function gated(c: Carrier): { carrier: Carrier; open: () => void } {
  let opened = false;
  const held: (() => void)[] = [];
  return {
    open: () => {
      opened = true;
      for (const send of held.splice(0)) send();
    },
    carrier: {
      publish: (subject, data) => c.publish(subject, data),
      subscribe: (subject, onMessage) => c.subscribe(subject, onMessage),
      request: (subject, data, onAnswer, onNoResponders) => {
        if (opened) return c.request(subject, data, onAnswer, onNoResponders);
        let cancel: (() => void) | undefined;
        let cancelled = false;
        held.push(() => {
          if (!cancelled) cancel = c.request(subject, data, onAnswer, onNoResponders);
        });
        return () => {
          cancelled = true;
          cancel?.();
        };
      },
      connected: () => c.connected(),
      onConnectionChange: (listener) => c.onConnectionChange(listener),
      close: () => c.close(),
    },
  };
}

describe('status(): quorum and sync as /readyz sees them', { timeout: 120_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-status-'));
  const nodes: LedgerNode[] = [];
  after(async () => {
    for (const n of nodes) await n.close().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  });

  test('a lone validator has a quorum and is never behind', async () => {
    const dir = join(root, 'lone');
    const { genesis } = initCluster([dir], { validators: 1, metersPerNode: 1 });
    const n = await LedgerNode.open({ openStore: inMemory, dataDir: dir, genesis, verifyWorkers: 0 });
    nodes.push(n);
    const s = n.status();
    assert.deepEqual([s.hasQuorum, s.behind, s.syncing], [true, 0, false]);
  });

  test('four validators: one cut off loses its quorum (the others keep theirs), then syncs what it missed', async () => {
    const dirs = Array.from({ length: 4 }, (_, i) => join(root, `node${i}`));
    const { genesis, nodeIds, meterIds } = initCluster(dirs, { validators: 4, metersPerNode: 1 });
    const net = new MemoryNetwork();
    const laggard = gated(net.carrier(nodeIds[3]!));
    const cluster: LedgerNode[] = [];
    for (let i = 0; i < 4; i++) {
      const carrier = i === 3 ? laggard.carrier : net.carrier(nodeIds[i]!);
      cluster.push(await LedgerNode.open({ openStore: inMemory, dataDir: dirs[i]!, genesis, carrier, timeouts: FAST, blockIntervalMs: 50, verifyWorkers: 0 }));
    }
    nodes.push(...cluster);
    await until('every validator counts a quorum', () => cluster.every((n) => n.status().hasQuorum));

    net.cut(nodeIds[3]!);
    await until('the cut-off validator counts no quorum', () => !cluster[3]!.status().hasQuorum);
    const id = meterIds[0]![0]!;
    const key = loadKeyFile(dataPaths(dirs[0]!).meterKey(id));
    const start = cluster[3]!.status().height;
    for (let seq = 1n; seq <= 4n; seq++) {
      const bytes = signTx(genesis.chainId, key.alg, key.secretKey, { type: TxType.Reading, meterId: id, seq, time: Date.now(), importWh: Number(seq) });
      const r = await cluster[0]!.intake.submit(bytes, { meterId: id, transport: 'mqtt' });
      assert.equal(r.status, 'accepted');
      await until(`reading ${seq} committed by the three`, async () => (await cluster[0]!.getReceipt(id, seq)) !== undefined);
    }
    assert.ok(cluster[0]!.status().hasQuorum, 'three of four validators are a quorum');
    assert.equal(cluster[0]!.status().syncing, false);
    const top = cluster[0]!.status().height;
    assert.ok(top - start >= 3, `the three committed ${top - start} blocks`);
    assert.equal(cluster[3]!.status().height, start, 'the cut-off validator committed nothing');

    net.heal(nodeIds[3]!);
    await until('the laggard hears the others and knows it is behind', () => {
      const s = cluster[3]!.status();
      return s.hasQuorum && s.syncing && s.behind === top - start;
    });
    laggard.open();
    await until('the laggard synced', () => {
      const s = cluster[3]!.status();
      return !s.syncing && s.behind === 0 && s.headHash === cluster[0]!.status().headHash;
    });
  });
});
