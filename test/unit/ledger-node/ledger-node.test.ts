/**
 * The ledger's transactions 6-19 on a node (issue 12): test/vectors/billing-ledger.json's
 * own signed transactions, and readings signed with its meter keys at the times it lists,
 * submitted to a LedgerNode on a memory store whose clock walks through the vector's
 * dates; committed in blocks (the bills after a crash, from the write-ahead), then
 * checked again by the audit and by a second validator's block validation, and a bad
 * bill refused with its code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  type Block, type Genesis, ReasonCode, type StateChange, StateKind, TxType, decodeBlock, encodeCbor, fromHex, headerHash, makeHeader,
  ledgerChain, readingWindow, seqWindowOf, signTx, toHex,
} from '../../../protocols/index.js';
import { InvalidTxError, validateBlock } from '../../../ledger-node/blocks/validate.js';
import { SignatureVerifier } from '../../../ledger-node/crypto/verifier.js';
import { dataPaths } from '../../../ledger-node/devchain.js';
import { LedgerNode } from '../../../ledger-node/node.js';
import { WriteAheadLog } from '../../../ledger-node/store/wal.js';
import { type TxContext } from '../../../ledger-node/signatures.js';
import { ChainState } from '../../../ledger-node/state/layers.js';
import { CommittedReadings } from '../../../ledger-node/state/ledger.js';
import { operatorsOf } from '../../../ledger-node/state/meter.js';
import {
  DEC_20, FEB_2, type LedgerStep, billingVector, fillerRegistration, januaryReadings, signAsRegistrar, signVectorReading, vectorGenesis, vectorStep,
} from '../../helpers/billing-vector.js';
import { type TestChain, makeTestChain } from '../../helpers/devchain.js';
import { auditInMemory, inMemory } from '../../helpers/memory-store.js';
import { until } from '../../helpers/until.js';

const v = billingVector();
const step = (name: string): LedgerStep => vectorStep(v, name);

describe('ledger transactions on a node, end to end', () => {
  let chain: TestChain;
  let genesis: Genesis;
  let node: LedgerNode | undefined;
  let clock = DEC_20;

  before(() => {
    chain = makeTestChain({ meters: 1 });
    // The vector's genesis with this node as its validator.
    genesis = vectorGenesis(v, chain);
  });
  after(async () => {
    await node?.close();
    chain.cleanup();
  });

  const submit = async (n: LedgerNode, bytes: Uint8Array, name: string): Promise<void> => {
    const r = await n.submitTx(bytes);
    assert.equal(r.status, 'accepted', `${name}: ${r.status === 'rejected' ? `${r.code} ${r.message}` : ''}`);
  };
  const committed = async (n: LedgerNode): Promise<void> => until('everything waiting is committed', () => n.status().pending === 0, 20_000, 20);
  const reading = (meterId: string, seq: string, time: number, importWh: number): Uint8Array => signVectorReading(v, genesis.chainId, { meterId, seq, time, importWh });
  const registrar = (body: Parameters<typeof signTx>[3]): Uint8Array => signAsRegistrar(v, genesis.chainId, body);

  test('accounts, money, a tariff, agreements, readings, bills, a mandate and payments commit; the audit agrees', async () => {
    node = await openNode();
    try {
      await run(node);
    } finally {
      await node?.close();
      node = undefined;
    }
  });

  // Blocks 1 s apart: each group of readings below must land in one block (the vector's
  // heights), also when a loaded machine takes a while between two submits.
  const openNode = (): Promise<LedgerNode> => LedgerNode.open({ openStore: inMemory, dataDir: chain.dataDir, genesis, blockIntervalMs: 1000, verifyWorkers: 1, now: () => clock });

  const run = async (first: LedgerNode): Promise<void> => {
    let n = first;
    // 20 December: accounts, a key rotation, meters to accounts, money in and out, the tariff, agreements, the mandate.
    for (const name of [
      'account open (Ed25519 owner key)', 'account open (ES256 owner key)', 'account open of the payee account',
      'account open by an operator without roles in genesis (registrar)', 'account key rotation to epoch 1', 'meter to account',
      'meter to account (ES256 meter)', 'deposit (ES256 custodian)', 'withdrawal', 'tariff publication', 'agreement', 'agreement (meter-2)',
      'mandate (owner, rotated key), no autopay',
    ]) await submit(n, fromHex(step(name).tx), name);
    await committed(n);
    // The same refusals at intake as in the vector, with their codes (the first is the same
    // bytes as an account opened: while it waited, a retransmission, accepted again).
    for (const name of ['account open again: E_ACCOUNT_EXISTS', 'account open by a biller: E_TX_ROLE', 'mandate signed with the key rotated away: E_READING_BAD_SIGNATURE']) {
      const r = await n.submitTx(fromHex(step(name).tx));
      assert.equal(r.status === 'rejected' ? r.code : 'accepted', step(name).error!.code, name);
    }
    // The readings January's bills are computed from, each committed at its own time.
    for (const r of januaryReadings(v)) {
      clock = Math.max(clock, r.time);
      await submit(n, reading(r.meterId, r.seq, r.time, r.importWh), `reading ${r.meterId}/${r.seq}`);
      if (r.meterId === 'meter-2') await committed(n);
    }
    const readingsTop = n.status().height;
    assert.ok(readingsTop <= 9, `the readings are committed by height 9, where the vector's bills were computed (at ${readingsTop})`);
    // Blocks up to height 9 with meter registrations: a registrar's transactions (type 2).
    clock = FEB_2;
    for (let i = 0; n.status().height < 9; i++) {
      await submit(n, fillerRegistration(v, genesis.chainId, i, clock), `filler ${i}`);
      await committed(n);
    }
    // A bill that does not recompute is refused at intake with the engine's code.
    const bad = await n.submitTx(fromHex(step('bill with a wrong total: E_BILL_MISMATCH').tx));
    assert.equal(bad.status === 'rejected' ? bad.code : 'accepted', ReasonCode.BILL_MISMATCH);
    // 2 February: both January bills, accepted and then a crash: they are in the write-ahead
    // only, and the node applies them at start (its recovery loads the meters' readings).
    await n.close();
    const { wal } = await WriteAheadLog.open(dataPaths(chain.dataDir).wal);
    await wal.append([{ no: 100, bytes: fromHex(step('bill').tx) }, { no: 101, bytes: fromHex(step('bill (meter-2)').tx) }]);
    await wal.close();
    const before = n.status().height;
    n = node = await openNode();
    assert.equal(n.status().pending, 2, 'both bills recovered');
    await committed(n);
    assert.ok(n.status().height > before);
    // Money for Mary, the meter's payment under the mandate, Mary's own.
    for (const name of ['deposit (mary)', 'payment signed by the meter, under the mandate', 'payment by the owner (ES256 account key)']) {
      await submit(n, fromHex(step(name).tx), name);
    }
    const again = await n.submitTx(fromHex(step('payment again: E_BILL_ALREADY_PAID').tx));
    assert.equal(again.status === 'rejected' ? again.code : 'accepted', ReasonCode.BILL_ALREADY_PAID);
    await committed(n);
    const height = n.status().height;
    await n.close();
    node = undefined;

    // The records the node committed are the vector's (bills and payments name the height they were made at: ours).
    const store = await inMemory(dataPaths(chain.dataDir).store);
    const records = new Map<string, StateChange>();
    try {
      for await (const r of store.stateRecords()) records.set(`${r.kind}/${r.id}`, r);
    } finally {
      await store.close();
    }
    const last = (kind: string, id: string): string => {
      const steps = v.steps.filter((s) => s.changes?.some((c) => c.kind === kind && c.id === id) && s.ctx.time <= FEB_2 && !s.name.startsWith('bill whose') && !s.name.startsWith('dispute'));
      return steps.at(-1)!.changes!.find((c) => c.kind === kind && c.id === id)!.cbor!;
    };
    for (const id of ['john', 'mary', 'superenergy']) assert.equal(toHex(encodeCbor(records.get(`account/${id}`)!.value)), last(StateKind.Account, id), `account ${id}`);
    assert.equal(toHex(encodeCbor(records.get('mandate/john/superenergy')!.value)), last(StateKind.Mandate, 'john/superenergy'));
    const bill = records.get('bill/meter-1/2026-01')!.value as { total: bigint | number; height: number };
    assert.equal(BigInt(bill.total), 7874n);
    assert.ok(bill.height > 9 && bill.height <= height);
    assert.equal((records.get('payment/meter-1/2026-01')!.value as { by: string }).by, 'meter');
    assert.equal((records.get('payment/meter-2/2026-01')!.value as { by: string }).by, 'owner');

    // The audit replays every block with its own readings and state and finds the same.
    const audit = await auditInMemory(chain.dataDir, genesis);
    assert.equal(audit.ok, true, JSON.stringify(audit));
  };

  test('a block holding a bill that does not recompute is refused by block validation with E_BILL_MISMATCH', async () => {
    const store = await inMemory(dataPaths(chain.dataDir).store);
    const verifier = new SignatureVerifier(1);
    try {
      const head = (await store.head())!;
      const top = decodeBlock((await store.blockBytes(head.height))!);
      const records: StateChange[] = [];
      for await (const r of store.stateRecords()) records.push(r);
      // A second validator's view: the stored state and readings, its own index of what bills need.
      const bills = new CommittedReadings(store);
      const ctx: TxContext & { genesis: Genesis } = {
        genesis, chainId: genesis.chainId, maxTxBytes: genesis.params.maxTxBytes, window: readingWindow(genesis), seqWindow: seqWindowOf(genesis),
        operators: operatorsOf(genesis), verifier, ledger: ledgerChain(genesis, bills), bills,
      };
      const state = new ChainState(records);
      const parent = { height: head.height, hash: head.hash, time: top.header.time };
      const blockOf = (txs: Uint8Array[]): Block => ({
        header: makeHeader({ chainId: genesis.chainId, height: head.height + 1, time: top.header.time, prevHash: headerHash(top.header), proposer: genesis.validators[0]!.id }, txs),
        txs,
      });
      // A bill of February for meter-2 that the ledger has not seen: first, the one of the vector's wrong total.
      const wrong = fromHex(step('bill with a wrong total: E_BILL_MISMATCH').tx);
      await assert.rejects(validateBlock(ctx, parent, state.committed, blockOf([wrong])), (e: unknown) => {
        assert.ok(e instanceof InvalidTxError, String(e));
        assert.equal(e.code, ReasonCode.BILL_EXISTS); // meter-1's January is billed: the rules say so first
        return true;
      });
      // A copy of the committed state without meter-1's January bill: the wrong total is what is refused.
      const unbilled = new ChainState(records.filter((r) => !(r.kind === StateKind.Bill && r.id === 'meter-1/2026-01')).map((r) => (
        r.kind === StateKind.Agreement && r.id === 'meter-1' ? { ...r, value: { ...(r.value as object), billedUntil: 0 } } : r)));
      await assert.rejects(validateBlock(ctx, parent, unbilled.committed, blockOf([wrong])), (e: unknown) => {
        assert.ok(e instanceof InvalidTxError, String(e));
        assert.equal(e.code, ReasonCode.BILL_MISMATCH);
        assert.equal(e.index, 0);
        return true;
      });
      // And the right one passes there, from the same readings.
      const ok = await validateBlock(ctx, parent, unbilled.committed, blockOf([fromHex(step('bill').tx)]));
      assert.equal(ok.decoded[0]!.body.type, TxType.Bill);
    } finally {
      await verifier.close();
      await store.close();
    }
  });
});
