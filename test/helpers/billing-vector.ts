/**
 * The ledger vector's story (test/vectors/billing-ledger.json) as tests replay it on a
 * node: its steps' signed transactions by name, its genesis with a test chain's
 * validator, and January's readings and the filler registrations that bring the chain to
 * height 9, where the vector's bills were computed. Pure: the callers submit.
 */
import assert from 'node:assert/strict';
import { Alg, type Genesis, type TxBody, TxType, fromHex, parseGenesis, signTx } from '../../protocols/index.js';
import type { TestChain } from './devchain.js';
import { readVector } from '../vectors/generate.js';

export interface LedgerStep {
  name: string; type: number; ctx: { height: number; time: number }; tx: string;
  changes?: { kind: string; id: string; cbor?: string }[]; error?: { code: string };
}
export interface LedgerVector {
  genesis: Record<string, unknown>;
  keys: Record<string, { alg: 'Ed25519' | 'ES256'; secretKey: string }>;
  readings: { meterId: string; seq: string; time: number; importWh: number }[];
  steps: LedgerStep[];
}

export const DEC_20 = 1766188800000;
export const FEB_1 = 1769904000000;
export const FEB_2 = 1769990400000;

export function billingVector(): LedgerVector {
  return readVector<LedgerVector>('billing-ledger.json');
}

export function vectorStep(v: LedgerVector, name: string): LedgerStep {
  const s = v.steps.find((x) => x.name === name);
  assert.ok(s, `vector step "${name}"`);
  return s;
}

/** A step's signed transaction. */
export const vectorTx = (v: LedgerVector, name: string): Uint8Array => fromHex(vectorStep(v, name).tx);

/** The vector's genesis with `chain`'s validator: the transactions sign the chain id (protocol.md §3.2), not the genesis hash, so its bytes hold. */
export function vectorGenesis(v: LedgerVector, chain: TestChain): Genesis {
  return parseGenesis({ ...v.genesis, validators: chain.genesis.validators.map((x) => ({ id: x.id, alg: x.alg, publicKey: x.publicKey })) });
}

/** The readings January's bills are computed from, in time order (meter-1 before meter-2 at one time). */
export function januaryReadings(v: LedgerVector): LedgerVector['readings'] {
  return v.readings.filter((x) => x.time <= FEB_1).sort((a, b) => a.time - b.time || a.meterId.localeCompare(b.meterId));
}

/** A reading of the vector signed with its meter's key. */
export function signVectorReading(v: LedgerVector, chainId: string, r: { meterId: string; seq: string; time: number; importWh: number }): Uint8Array {
  const k = v.keys[r.meterId]!;
  return signTx(chainId, k.alg === 'ES256' ? Alg.ES256 : Alg.EdDSA, fromHex(k.secretKey), { type: TxType.Reading, meterId: r.meterId, seq: BigInt(r.seq), time: r.time, importWh: r.importWh });
}

/** A transaction signed by the vector's registrar (Ed25519). */
export function signAsRegistrar(v: LedgerVector, chainId: string, body: TxBody): Uint8Array {
  return signTx(chainId, Alg.EdDSA, fromHex(v.keys.registrar!.secretKey), body, 'registrar');
}

/** The i-th meter registration that fills a block on the way to height 9 (the vector's first meter key, a new id). */
export function fillerRegistration(v: LedgerVector, chainId: string, i: number, time: number): Uint8Array {
  const pub = fromHex((v.genesis.meters as { publicKey: string }[])[0]!.publicKey);
  return signAsRegistrar(v, chainId, { type: TxType.MeterRegister, meterId: `filler-${i}`, alg: Alg.EdDSA, publicKey: pub, time });
}
