/**
 * A chain with money and bills, built by a real LedgerNode from
 * test/vectors/billing-ledger.json's signed transactions (accounts, deposits, a tariff,
 * agreements, a mandate, January's two bills, a meter's and an owner's payment) and
 * readings signed with its meter keys, the node's clock walking through the vector's
 * dates. The store is LevelDB unless `openStore` is given. The node is closed when it
 * returns: its data dir holds the chain.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Genesis } from '../../protocols/index.js';
import { LedgerNode } from '../../ledger-node/node.js';
import type { StoreOpener } from '../../ledger-node/store/store.js';
import {
  DEC_20, FEB_2, billingVector, fillerRegistration, januaryReadings, signVectorReading, vectorGenesis, vectorTx,
} from './billing-vector.js';
import { type TestChain, makeTestChain } from './devchain.js';
import { until } from './until.js';

export interface BillingChain {
  readonly chain: TestChain;
  /** The vector's genesis, with the test chain's validator. */
  readonly genesis: Genesis;
  /** That genesis as a file (for the CLI's --genesis). */
  readonly genesisFile: string;
  /** Opens the node again on the chain's data dir, its clock at `clock()`. */
  open(blockIntervalMs?: number): Promise<LedgerNode>;
  clock: number;
  /** A vector step's signed transaction. */
  tx(name: string): Uint8Array;
}

/** Build the chain: the vector's transactions up to both January bills paid. */
/** With `stopBefore: 'bills'`, everything up to the bills (the readings committed by height 9). */
export async function buildBillingChain(opts: { openStore?: StoreOpener; stopBefore?: 'bills' } = {}): Promise<BillingChain> {
  const v = billingVector();
  const chain = makeTestChain({ meters: 1 });
  const genesis = vectorGenesis(v, chain);
  const genesisFile = join(chain.dataDir, 'billing-genesis.json');
  writeFileSync(genesisFile, JSON.stringify(genesis, null, 2));
  const tx = (name: string): Uint8Array => vectorTx(v, name);
  const bc: BillingChain = {
    chain, genesis, genesisFile, clock: DEC_20, tx,
    open: (blockIntervalMs = 200) => LedgerNode.open({
      ...(opts.openStore ? { openStore: opts.openStore } : {}), dataDir: chain.dataDir, genesis, blockIntervalMs, verifyWorkers: 0, now: () => bc.clock,
    }),
  };
  const submit = async (n: LedgerNode, bytes: Uint8Array, name: string): Promise<void> => {
    const r = await n.submitTx(bytes);
    assert.equal(r.status, 'accepted', `${name}: ${r.status === 'rejected' ? `${r.code} ${r.message}` : ''}`);
  };
  const committed = (n: LedgerNode): Promise<void> => until('everything waiting is committed', () => n.status().pending === 0, 30_000, 20);
  // A block is cut blockIntervalMs after the first transaction of a batch arrives; each
  // batch below must land in one block (the readings by height 9), so the interval is long
  // against a batch's submission on a loaded machine (13 durable accepts in a row), as in
  // the unit test of the same vector (ledger-node.test.ts), not the 200 ms of later opens.
  const n = await bc.open(1000);
  try {
    for (const name of [
      'account open (Ed25519 owner key)', 'account open (ES256 owner key)', 'account open of the payee account',
      'account open by an operator without roles in genesis (registrar)', 'account key rotation to epoch 1', 'meter to account',
      'meter to account (ES256 meter)', 'deposit (ES256 custodian)', 'withdrawal', 'tariff publication', 'agreement', 'agreement (meter-2)',
      'mandate (owner, rotated key), no autopay',
    ]) await submit(n, tx(name), name);
    await committed(n);
    for (const r of januaryReadings(v)) {
      bc.clock = Math.max(bc.clock, r.time);
      await submit(n, signVectorReading(v, genesis.chainId, r), `reading ${r.meterId}/${r.seq}`);
      if (r.meterId === 'meter-2') await committed(n);
    }
    await committed(n);
    assert.ok(n.status().height <= 9, 'the readings are committed by height 9, where the vector\'s bills were computed');
    bc.clock = FEB_2;
    for (let i = 0; n.status().height < 9; i++) {
      await submit(n, fillerRegistration(v, genesis.chainId, i, bc.clock), `filler ${i}`);
      await committed(n);
    }
    if (opts.stopBefore === 'bills') return bc;
    for (const name of ['bill', 'bill (meter-2)']) await submit(n, tx(name), name);
    await committed(n);
    for (const name of ['deposit (mary)', 'payment signed by the meter, under the mandate', 'payment by the owner (ES256 account key)']) await submit(n, tx(name), name);
    await committed(n);
  } finally {
    await n.close();
  }
  return bc;
}
