/**
 * test/vectors/billing-ledger.json replayed from the file alone, as a second
 * implementation would: the genesis, the initial state and the readings it lists, each
 * step's bytes decoded and applied in order, the records read equal to the listed
 * `before`, the changes or the refusal's code and field equal to the listed ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MemoryReadingIndex, RejectionError, type StateChange, applyLedgerTx, decodeAnyTx, decodeLedgerValue, encodeCbor, fromHex, ledgerChain,
  parseGenesis, toHex,
} from '../../protocols/index.js';
import { readVector } from './generate.js';

interface Rec { kind: string; id: string; absent?: true; cbor?: string }
interface StepVector {
  name: string; type: number; ctx: { height: number; time: number }; tx: string; before: Rec[];
  changes?: Rec[]; error?: { code: string; field?: string };
}
interface LedgerFile {
  chainId: string; genesis: unknown; initialState: Rec[];
  readings: { meterId: string; seq: string; time: number; importWh: number; height: number }[];
  steps: StepVector[]; finalState: Rec[];
}

const v = readVector<LedgerFile>('billing-ledger.json');
const key = (kind: string, id: string): string => `${kind}\u0000${id}`;

test('ledger vectors cover every transaction type 6-19 and each listed refusal', () => {
  const types = new Set(v.steps.filter((s) => s.changes).map((s) => s.type));
  for (let t = 6; t <= 19; t++) assert.ok(types.has(t), `type ${t} has an accepted step`);
  const codes = new Set(v.steps.flatMap((s) => (s.error ? [s.error.code] : [])));
  assert.ok(codes.size >= 15, `${codes.size} refusal codes`);
});

test('ledger vectors replay from the file: records read, changes and codes as listed', () => {
  const genesis = parseGenesis(v.genesis);
  const index = new MemoryReadingIndex();
  for (const r of v.readings) index.add(r.meterId, { seq: BigInt(r.seq), time: r.time, importWh: r.importWh, height: r.height });
  const chain = ledgerChain(genesis, index);
  // State values as CBOR bytes: what a store holds, so the rules read back numbers where they wrote bigints.
  const state = new Map<string, string>(v.initialState.map((r) => [key(r.kind, r.id), r.cbor!]));
  const view = { get: (kind: string, id: string): unknown => { const h = state.get(key(kind, id)); return h === undefined ? undefined : decodeLedgerValue(fromHex(h)); } };
  for (const s of v.steps) {
    for (const b of s.before) assert.equal(state.get(key(b.kind, b.id)), b.absent ? undefined : b.cbor, `${s.name}: before ${b.kind}/${b.id}`);
    let changes: StateChange[] | undefined;
    let error: RejectionError | undefined;
    try {
      changes = applyLedgerTx(chain, view, decodeAnyTx(fromHex(s.tx), genesis.params.maxTxBytes), s.ctx);
    } catch (e) {
      if (!(e instanceof RejectionError)) throw e;
      error = e;
    }
    if (s.error) {
      assert.equal(error?.code, s.error.code, `${s.name}: ${error?.message ?? 'accepted'}`);
      assert.equal(error?.field, s.error.field, s.name);
      continue;
    }
    assert.ok(changes, `${s.name}: refused with ${error?.message}`);
    assert.deepEqual(changes.map((c) => ({ kind: c.kind, id: c.id, cbor: toHex(encodeCbor(c.value)) })), s.changes!.map((c) => ({ kind: c.kind, id: c.id, cbor: c.cbor })), s.name);
    for (const c of changes) state.set(key(c.kind, c.id), toHex(encodeCbor(c.value)));
  }
  assert.deepEqual(new Map(v.finalState.map((r) => [key(r.kind, r.id), r.cbor])), state);
});
