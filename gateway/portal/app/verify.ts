/**
 * A receipt checked in the browser with protocols/ alone (docs/portal.md):
 *   1. it decodes (deterministic CBOR) and is for the trusted chain;
 *   2. Merkle inclusion of the transaction in the header's txRoot (RFC 6962 §2.1.1);
 *   3. the commit certificate: precommits of more than 2/3 of the voting power of the
 *      validator set in force at the block's height: genesis's, or the set after the
 *      validator-set changes (docs/protocol.md §13.5) the browser follows from genesis
 *      (GET /api/v1/validator-set/changes, each change's receipt checked with the set
 *      of its own height and its block on the hash chain below);
 *   4. the header is on the hash chain from the trusted genesis (prevHash links, block 1's
 *      prevHash is the genesis hash), each header hashed here, never taken from the server,
 *      and kept in IndexedDB per genesis (header-chain.ts): a header served differently
 *      later is a fork and fails;
 *   5. the meter's COSE_Sign1 signature, with the key in force at the reading's place in
 *      the chain: from genesis, or from a registration or rotation transaction whose own
 *      receipt passes checks 1-4 and whose operator signature verifies (key-epochs.ts).
 * Anything that cannot be checked is not "verified": the result is failed or unverified.
 */
import { commitProblem, headerHash } from '../../../protocols/block.js';
import { equalBytes, fromHex, toHex } from '../../../protocols/bytes.js';
import { sigStructure } from '../../../protocols/cose.js';
import { type Genesis, decodeKey, genesisHash } from '../../../protocols/genesis.js';
import { verifySignature } from '../../../protocols/keys.js';
import { verifyInclusion } from '../../../protocols/merkle.js';
import { type Receipt, decodeReceipt } from '../../../protocols/receipt.js';
import { type Reading, TxType, decodeAnyTx, decodeTx } from '../../../protocols/tx.js';
import type { ValidatorSchedule } from '../../../protocols/validator-set.js';
import { decodeSetChanges, followSetChanges } from '../../../protocols/valset-proof.js';
import { type BlockSummary, getJson } from './api.js';
import { IdbHeaderStore } from './header-cache.js';
import { ChainVerifier as HeaderChain, type HeaderStore } from './header-chain.js';
import { type KeyEvent, keyAt } from './key-epochs.js';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ReceiptResult {
  /** Every check passed. */
  readonly verified: boolean;
  readonly checks: readonly Check[];
  readonly reading?: Reading;
  readonly receipt?: Receipt;
  readonly txHash?: string;
  readonly blockHash?: string;
}

/** The header chain of the trusted genesis (cached in IndexedDB) and the meters' registry, for the page's life. */
export class ChainVerifier {
  readonly headers: HeaderChain;
  private readonly keys = new Map<string, Promise<KeyEvent[]>>();
  /** The validator sets followed from genesis, with the heights of the changes (loaded once, again when a later block needs it). */
  private sets: Promise<FollowedSets> | undefined;

  constructor(readonly genesis: Genesis, store: HeaderStore = new IdbHeaderStore(toHex(genesisHash(genesis)))) {
    this.headers = new HeaderChain(genesis.chainId, genesisHash(genesis), async (from, limit) => {
      // The listing goes newest first from `from` downwards: ask for the page whose lowest block is `from`.
      const top = from + limit - 1;
      return (await getJson<{ blocks: BlockSummary[] }>(`/api/v1/blocks?from=${top}&limit=${limit}`)).blocks;
    }, store);
  }

  /**
   * The meter's registry transactions (GET /api/v1/meters/:id/keys), each receipt checked
   * as a reading's is (chain, Merkle proof, commit certificate, hash chain) and its
   * operator signature against genesis; throws naming the first that fails.
   */
  meterKeys(meterId: string): Promise<KeyEvent[]> {
    let p = this.keys.get(meterId);
    if (!p) {
      p = this.loadKeys(meterId);
      p.catch(() => this.keys.delete(meterId)); // a failure is retried on the next check
      this.keys.set(meterId, p);
    }
    return p;
  }

  /**
   * The validator set in force at `height` (docs/protocol.md §13.4), from the set changes
   * the gateway serves, followed from genesis here (§13.5): each change's receipt checked
   * with the set of its height (commit certificate, approvals, COSE signature) and its block
   * on the verified hash chain. `fresh` fetches the changes again (a change committed after
   * they were loaded). Throws naming the change that fails.
   */
  async validatorsAt(height: number, fresh = false): Promise<{ validators: Genesis['validators']; changes: number }> {
    if (fresh || !this.sets) {
      const p = this.loadSets();
      p.catch(() => {
        if (this.sets === p) this.sets = undefined; // retried on the next check
      });
      this.sets = p;
    }
    const { schedule } = await this.sets;
    return { validators: schedule.at(height), changes: schedule.list.filter((e) => e.from <= height).length };
  }

  private async loadSets(): Promise<FollowedSets> {
    const j = await getJson<{ cbor: string }>('/api/v1/validator-set/changes');
    const changes = decodeSetChanges(fromHex(String(j.cbor), 'cbor'));
    const schedule = followSetChanges(this.genesis, changes);
    for (const [i, r] of changes.entries()) {
      const known = await this.headers.hashAt(r.header.height);
      if (!equalBytes(known.hash, headerHash(r.header))) throw new Error(`set change ${i + 1} (height ${r.header.height}): its block is not the one on the chain from genesis`);
    }
    return { schedule };
  }

  private async loadKeys(meterId: string): Promise<KeyEvent[]> {
    const j = await getJson<{ txs: { cbor: string }[] }>(`/api/v1/meters/${encodeURIComponent(meterId)}/keys`);
    const out: KeyEvent[] = [];
    for (const t of j.txs) {
      const r = decodeReceipt(fromHex(String(t.cbor), 'cbor'));
      const tx = decodeAnyTx(r.tx, this.genesis.params.maxTxBytes);
      const b = tx.body;
      const where = `the registry transaction at block ${r.header.height}`;
      if (b.type !== TxType.MeterRegister && b.type !== TxType.MeterRotate && b.type !== TxType.MeterRevoke) throw new Error(`${where} is not a meter registry transaction`);
      if (b.meterId !== meterId) throw new Error(`${where} is about meter ${b.meterId}`);
      const failed = (await blockChecks(this, r)).find((c) => !c.ok);
      if (failed) throw new Error(`${where}: ${failed.name} failed: ${failed.detail}`);
      const op = this.genesis.operators.find((o) => o.id === tx.cose.kid);
      if (!op) throw new Error(`${where} is signed by "${tx.cose.kid ?? ''}", not a genesis operator`);
      const k = decodeKey(op);
      const msg = sigStructure(tx.cose.protectedBytes, tx.cose.payload, this.genesis.chainId);
      if (k.alg !== tx.cose.alg || !verifySignature(k.alg, k.publicKey, msg, tx.cose.signature)) throw new Error(`${where}: the operator signature of ${op.id} does not verify`);
      const at = { height: r.header.height, index: r.index };
      if (b.type === TxType.MeterRegister) out.push({ ...at, type: 'register', alg: b.alg, publicKey: b.publicKey });
      else if (b.type === TxType.MeterRotate) out.push({ ...at, type: 'rotate', alg: b.alg, publicKey: b.publicKey, keyEpoch: b.keyEpoch });
      else out.push({ ...at, type: 'revoke' });
    }
    return out;
  }
}

interface FollowedSets {
  readonly schedule: ValidatorSchedule;
}

/** The commit certificate of `r` against the set of its height; a failure with the sets loaded before is tried once more with the changes fetched again. */
async function certificate(chain: ChainVerifier, r: Receipt): Promise<{ problem: string | undefined; detail: string }> {
  const h = r.header.height;
  let problem: string | undefined;
  let changes = 0;
  for (const fresh of [false, true]) {
    let set;
    try {
      set = await chain.validatorsAt(h, fresh);
    } catch (e) {
      problem = `the validator-set changes do not verify from genesis: ${(e as Error).message}`;
      continue;
    }
    changes = set.changes;
    problem = commitProblem({ chainId: chain.genesis.chainId, validators: set.validators }, r.header, r.commit);
    if (problem === undefined) break;
  }
  const of = changes === 0 ? 'genesis power' : `the power of the validator set of height ${h} (after ${changes} set ${changes === 1 ? 'change' : 'changes'} followed from genesis)`;
  return { problem, detail: problem ?? `${r.commit.signatures.length} validator signatures, more than 2/3 of ${of}` };
}

/** Checks 2-4 of a receipt (Merkle proof, commit certificate, hash chain to genesis) and the chain id. */
async function blockChecks(chain: ChainVerifier, r: Receipt): Promise<Check[]> {
  const genesis = chain.genesis;
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string): void => void checks.push({ name, ok, detail });
  const blockHash = headerHash(r.header);
  const forChain = r.chainId === genesis.chainId && r.header.chainId === genesis.chainId;
  add('chain', forChain, forChain ? `chain "${genesis.chainId}"` : `receipt is for chain "${r.chainId}", the trusted genesis is "${genesis.chainId}"`);
  const included = verifyInclusion(r.tx, r.index, r.header.txCount, r.proof, r.header.txRoot);
  add('Merkle proof', included, included ? `leaf ${r.index} of ${r.header.txCount} leads to the block's txRoot` : 'the inclusion proof does not lead to the block\'s txRoot');
  let known;
  try {
    known = await chain.headers.hashAt(r.header.height);
  } catch (e) {
    add('commit certificate', false, 'not checked: the block is not on the verified chain');
    add('hash chain to genesis', false, (e as Error).message);
    return checks;
  }
  const on = equalBytes(known.hash, blockHash);
  if (on && known.certified) {
    add('commit certificate', true, `verified before by this browser for block ${r.header.height}'s hash (cached)`);
  } else {
    const { problem, detail } = await certificate(chain, r);
    add('commit certificate', problem === undefined, detail);
    if (on && problem === undefined) await chain.headers.certify(r.header.height, blockHash);
  }
  add('hash chain to genesis', on, on
    ? `block ${r.header.height} links back to the trusted genesis${known.cached ? ' (verified before, cached in this browser)' : ''}`
    : known.cached
      ? `fork: block ${r.header.height} is not the block this browser verified at that height before (${toHex(known.hash).slice(0, 16)}…): the gateway serves another chain`
      : `block ${r.header.height} is not the one on the chain from genesis`);
  return checks;
}

export interface Expect {
  readonly meterId?: string;
  readonly seq?: bigint;
}

export async function verifyReceiptBytes(genesis: Genesis, chain: ChainVerifier, bytes: Uint8Array, expect: Expect = {}): Promise<ReceiptResult> {
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string): boolean => {
    checks.push({ name, ok, detail });
    return ok;
  };
  let r: Receipt;
  try {
    r = decodeReceipt(bytes);
  } catch (e) {
    add('receipt decodes', false, (e as Error).message);
    return { verified: false, checks };
  }
  let tx;
  try {
    tx = decodeTx(r.tx, genesis.params.maxTxBytes);
  } catch (e) {
    add('receipt decodes', false, `transaction: ${(e as Error).message}`);
    return { verified: false, checks, receipt: r };
  }
  const body = tx.body;
  const base = { receipt: r, txHash: toHex(tx.hash), blockHash: toHex(headerHash(r.header)) };
  if (body.type !== TxType.Reading) {
    add('receipt decodes', false, 'the transaction is not a reading');
    return { verified: false, checks, ...base };
  }
  add('receipt decodes', true, `reading ${body.seq} of ${body.meterId}`);
  if (expect.meterId !== undefined || expect.seq !== undefined) {
    const same = (expect.meterId === undefined || body.meterId === expect.meterId) && (expect.seq === undefined || body.seq === expect.seq);
    add('the reading asked for', same, same ? `meter ${body.meterId}, seq ${body.seq}` : `asked for ${expect.meterId} seq ${expect.seq}, got ${body.meterId} seq ${body.seq}`);
  }
  checks.push(...await blockChecks(chain, r));
  const m = genesis.meters.find((x) => x.id === body.meterId);
  let events: KeyEvent[] = [];
  let keysProblem: string | undefined;
  try {
    events = await chain.meterKeys(body.meterId);
  } catch (e) {
    keysProblem = (e as Error).message;
  }
  const answer = keysProblem !== undefined ? { ok: false as const, why: keysProblem } : keyAt(m ? decodeKey(m) : undefined, events, { height: r.header.height, index: r.index });
  if (!answer.ok) {
    add('meter signature', false, `no key of ${body.meterId} to check it with: ${answer.why}`);
  } else {
    const k = answer.key;
    const msg = sigStructure(tx.cose.protectedBytes, tx.cose.payload, genesis.chainId);
    const ok = k.alg === tx.cose.alg && verifySignature(k.alg, k.publicKey, msg, tx.cose.signature);
    const which = k.from === 'genesis' ? 'genesis key' : `key of epoch ${k.epoch} (committed at block ${k.from})`;
    add('meter signature', ok, ok ? `signed by ${body.meterId}'s ${which}` : `the signature is not ${body.meterId}'s ${which}, the key in force at this reading`);
  }
  return { verified: checks.every((c) => c.ok), checks, reading: body, ...base };
}

/** Fetch the receipt of meter+seq as JSON and check its exact CBOR (the `cbor` field). */
export async function fetchAndVerify(genesis: Genesis, chain: ChainVerifier, meterId: string, seq: bigint): Promise<ReceiptResult> {
  const j = await getJson<{ cbor: string }>(`/api/v1/meters/${encodeURIComponent(meterId)}/receipts/${seq}`);
  let bytes: Uint8Array;
  try {
    bytes = fromHex(String(j.cbor), 'cbor');
  } catch (e) {
    return { verified: false, checks: [{ name: 'receipt decodes', ok: false, detail: (e as Error).message }] };
  }
  return verifyReceiptBytes(genesis, chain, bytes, { meterId, seq });
}

/**
 * A transaction the meter signs (no kid: a sealed reading, a period key), in a receipt:
 * decodeAnyTx, checks 1-4 (blockChecks) and the meter's signature with the key in force at
 * its place in the chain (ChainVerifier.meterKeys: genesis, a later registration, rotations).
 * Used by sealed.ts; the answer names the first check that failed.
 */
export async function verifyMeterSigned(chain: ChainVerifier, r: Receipt, meterId: string): Promise<{ ok: true; tx: ReturnType<typeof decodeAnyTx> } | { ok: false; why: string }> {
  const genesis = chain.genesis;
  let tx;
  try {
    tx = decodeAnyTx(r.tx, genesis.params.maxTxBytes);
  } catch (e) {
    return { ok: false, why: `transaction: ${(e as Error).message}` };
  }
  if (tx.cose.kid !== undefined || (tx.body as { meterId?: unknown }).meterId !== meterId) return { ok: false, why: `not a transaction signed by meter ${meterId}` };
  const failed = (await blockChecks(chain, r)).find((c) => !c.ok);
  if (failed) return { ok: false, why: `${failed.name}: ${failed.detail}` };
  let events: KeyEvent[];
  try {
    events = await chain.meterKeys(meterId);
  } catch (e) {
    return { ok: false, why: (e as Error).message };
  }
  const m = genesis.meters.find((x) => x.id === meterId);
  const answer = keyAt(m ? decodeKey(m) : undefined, events, { height: r.header.height, index: r.index });
  if (!answer.ok) return { ok: false, why: answer.why };
  const k = answer.key;
  const ok = k.alg === tx.cose.alg && verifySignature(k.alg, k.publicKey, sigStructure(tx.cose.protectedBytes, tx.cose.payload, genesis.chainId), tx.cose.signature);
  return ok ? { ok: true, tx } : { ok: false, why: `the signature is not ${meterId}'s key in force at block ${r.header.height}` };
}
