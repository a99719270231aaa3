/**
 * Four validators and an observer in one process, on an in-memory network: readings sent
 * to different gateways commit everywhere with identical chains; a validator cut off
 * catches up by sync; with two of four down nothing commits but readings are still
 * accepted durably, and they commit once a validator returns.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type Genesis, TxType, signTx } from '../../../protocols/index.js';
import { dataPaths, initCluster } from '../../../ledger-node/devchain.js';
import { loadKeyFile } from '../../../ledger-node/keyfile.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { MemoryNetwork } from '../../../ledger-node/p2p/memory.js';
import { until as untilEvery } from '../../helpers/until.js';
import { auditInMemory, inMemory } from '../../helpers/memory-store.js';

const until = (what: string, cond: () => boolean, ms = 15_000): Promise<void> => untilEvery(what, cond, ms, 25);

const FAST = { proposeBaseMs: 300, proposeDeltaMs: 100, prevoteBaseMs: 150, prevoteDeltaMs: 50, precommitBaseMs: 150, precommitDeltaMs: 50 };

describe('a cluster of 4 validators and 1 observer (in-memory network)', { timeout: 120_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'meterledger-cluster-'));
  const dirs = Array.from({ length: 5 }, (_, i) => join(root, `node${i}`));
  const { genesis, nodeIds, meterIds } = initCluster(dirs, { validators: 4, observers: 1, metersPerNode: 2 });
  const net = new MemoryNetwork();
  const nodes: (LedgerNode | undefined)[] = [];
  const seqs = new Map<string, bigint>();
  after(async () => {
    for (const n of nodes) await n?.close().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  });

  const open = async (i: number) => {
    nodes[i] = await LedgerNode.open({
      openStore: inMemory, dataDir: dirs[i]!, genesis, carrier: net.carrier(nodeIds[i]!), timeouts: FAST, blockIntervalMs: 100, verifyWorkers: 0,
    });
  };
  const reading = (g: Genesis, node: number, k: number) => {
    const id = meterIds[node]![k]!;
    const key = loadKeyFile(dataPaths(dirs[node]!).meterKey(id));
    const seq = (seqs.get(id) ?? 0n) + 1n;
    seqs.set(id, seq);
    return { id, seq, bytes: signTx(g.chainId, key.alg, key.secretKey, { type: TxType.Reading, meterId: id, seq, time: Date.now(), importWh: Number(seq) }) };
  };
  const send = async (node: number, k = 0) => {
    const r = reading(genesis, node, k);
    const res = await nodes[node]!.intake.submit(r.bytes, { meterId: r.id, transport: 'mqtt' });
    assert.equal(res.status, 'accepted', res.status === 'rejected' ? res.message : '');
    return r;
  };
  const committed = async (i: number, id: string, seq: bigint) => (await nodes[i]!.getReceipt(id, seq)) !== undefined;

  test('readings sent to different gateways (and an observer) commit on every node, same chain', async () => {
    for (let i = 0; i < 5; i++) await open(i);
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await send(i), await send(i, 1));
    for (const r of sent) {
      for (let i = 0; i < 5; i++) {
        const n = i;
        let ok = false;
        await until(`${r.id}/${r.seq} on node ${n}`, () => {
          void committed(n, r.id, r.seq).then((c) => (ok = c));
          return ok;
        });
      }
    }
    await until('same head everywhere', () => new Set(nodes.map((n) => n!.status().headHash)).size === 1);
    assert.equal(nodes[4]!.status().role, 'observer');
    assert.ok(nodes[0]!.status().peers.length >= 3, 'validators hear each other');
  });

  test('a validator cut off misses blocks, then catches up by sync', async () => {
    net.cut(nodeIds[3]!);
    const r = await send(0);
    const r2 = await send(1);
    await until('three validators commit without the fourth', () => nodes[0]!.status().pending === 0 && nodes[1]!.status().pending === 0);
    let ok = false;
    await until('commit on node0', () => {
      void committed(0, r2.id, r2.seq).then((c) => (ok = c));
      return ok;
    });
    assert.ok(nodes[3]!.status().height < nodes[0]!.status().height, 'the cut-off node fell behind');
    net.heal(nodeIds[3]!);
    await until('node3 caught up', () => nodes[3]!.status().headHash === nodes[0]!.status().headHash, 20_000);
    assert.ok(await committed(3, r.id, r.seq));
  });

  test('two of four validators down: no commit, readings still accepted; one returns: the backlog commits', async () => {
    const height = nodes[0]!.status().height;
    await nodes[2]!.close();
    await nodes[3]!.close();
    nodes[2] = undefined;
    nodes[3] = undefined;
    const waiting = [];
    for (let k = 0; k < 5; k++) waiting.push(await send(0), await send(1));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(nodes[0]!.status().height, height, 'no quorum, no block');
    assert.ok(nodes[0]!.status().pending >= 5);
    await open(2);
    for (const r of waiting) {
      let ok = false;
      await until(`${r.id}/${r.seq} committed after a validator returned`, () => {
        void committed(0, r.id, r.seq).then((c) => (ok = c));
        return ok;
      }, 30_000);
    }
    await open(3);
    await until('node3 back in step', () => nodes[3]!.status().headHash === nodes[0]!.status().headHash, 30_000);
  });

  test('every store verifies from genesis and all agree', async () => {
    const heads = new Set(nodes.map((n) => n!.status().headHash));
    for (let i = 0; i < 5; i++) {
      await nodes[i]!.close();
      nodes[i] = undefined;
    }
    assert.equal(heads.size, 1);
    for (const d of dirs) {
      const a = await auditInMemory(d, genesis);
      assert.equal(a.ok, true, a.ok ? '' : `${d}: ${a.height} ${a.reason}`);
    }
  });
});
