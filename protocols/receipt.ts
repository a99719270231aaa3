/**
 * Receipts: proof that a transaction is in the ledger, checkable offline with the genesis
 * file alone. Deterministic CBOR map, text keys:
 *   v 1, chainId tstr, tx bstr (exact transaction bytes), index uint (leaf index),
 *   header bstr (encoded block header), proof [bstr32] (RFC 6962 audit path, bottom-up),
 *   commit (commit certificate map, see block.ts).
 */
import { decodeCanonicalCbor, encodeCbor, textKeyMapEncoder } from './cbor.js';
import { type Block, type BlockHeader, commitFromCbor, commitProblem, commitToCbor, decodeHeader, encodeHeader } from './block.js';
import type { CommitCertificate } from './block.js';
import { ProtocolError } from './errors.js';
import { type Genesis, decodeKey } from './genesis.js';
import { inclusionProof, verifyInclusion } from './merkle.js';
import { type SignedTx, type TxBody, TxType, decodeAnyTx } from './tx.js';
import { sigStructure } from './cose.js';
import { verifySignature } from './keys.js';
import { PERIOD_KEY_TX_TYPE } from './confidential/period-key.js';

export interface Receipt {
  readonly chainId: string;
  readonly tx: Uint8Array;
  readonly index: number;
  readonly header: BlockHeader;
  readonly proof: readonly Uint8Array[];
  readonly commit: CommitCertificate;
}

/**
 * The receipt of transaction `index` of `block`, which `commit` certifies: the one
 * constructor, for the chain writer, the read API and the tests. `proof` may be given when
 * the block's paths were computed at once (allInclusionProofs).
 */
export function makeReceipt(
  chainId: string, block: Block, index: number, commit: CommitCertificate, proof: readonly Uint8Array[] = inclusionProof(block.txs, index),
): Receipt {
  const tx = block.txs[index];
  if (tx === undefined) throw new ProtocolError('E_RECEIPT_INVALID', `block ${block.header.height} has no transaction ${index}`);
  return { chainId, tx, index, header: block.header, proof, commit };
}

export function receiptToCbor(r: Receipt): unknown {
  return {
    v: 1, chainId: r.chainId, tx: r.tx, index: r.index, header: encodeHeader(r.header),
    proof: r.proof, commit: commitToCbor(r.commit),
  };
}

const receiptMap = textKeyMapEncoder(['v', 'chainId', 'tx', 'index', 'header', 'proof', 'commit']);
const V1 = encodeCbor(1);

/**
 * The parts every receipt of one block shares, encoded once: the receipts of a block
 * carry the same header and commit objects (ChainWriter), so encoding them per reading
 * (a CBOR map sort each) was most of the cost of a block's receipts.
 */
const shared = new WeakMap<CommitCertificate, { header: BlockHeader; chainId: string; headerEnc: Uint8Array; commitEnc: Uint8Array; chainIdEnc: Uint8Array }>();

function sharedParts(r: Receipt): { headerEnc: Uint8Array; commitEnc: Uint8Array; chainIdEnc: Uint8Array } {
  let s = shared.get(r.commit);
  if (!s || s.header !== r.header || s.chainId !== r.chainId) {
    s = {
      header: r.header, chainId: r.chainId, headerEnc: encodeCbor(encodeHeader(r.header)),
      commitEnc: encodeCbor(commitToCbor(r.commit)), chainIdEnc: encodeCbor(r.chainId),
    };
    shared.set(r.commit, s);
  }
  return s;
}

/** The receipt's deterministic CBOR (the same bytes as encodeCbor(receiptToCbor(r))). */
export function encodeReceipt(r: Receipt): Uint8Array {
  const s = sharedParts(r);
  return receiptMap({
    v: V1, chainId: s.chainIdEnc, tx: encodeCbor(r.tx), index: encodeCbor(r.index), header: s.headerEnc,
    proof: encodeCbor(r.proof), commit: s.commitEnc,
  });
}

const bad = (msg: string): ProtocolError => new ProtocolError('E_RECEIPT_MALFORMED', msg);

const RECEIPT_KEYS = ['v', 'chainId', 'tx', 'index', 'header', 'proof', 'commit'];

export function receiptFromCbor(m: unknown): Receipt {
  if (!(m instanceof Map)) throw bad('receipt must be a map');
  // docs/protocol.md §7: exactly these fields; an extra one is refused, not ignored (a
  // checker must not show unverified data next to verified data).
  for (const k of m.keys()) if (typeof k !== 'string' || !RECEIPT_KEYS.includes(k)) throw bad(`receipt has an unknown field ${JSON.stringify(String(k))}`);
  if (m.get('v') !== 1) throw bad('receipt.v must be 1');
  const chainId = m.get('chainId');
  const tx = m.get('tx');
  const index = m.get('index');
  const header = m.get('header');
  const proof = m.get('proof');
  if (typeof chainId !== 'string') throw bad('receipt.chainId must be a string');
  if (!(tx instanceof Uint8Array)) throw bad('receipt.tx must be bytes');
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) throw bad('receipt.index must be an unsigned integer');
  if (!(header instanceof Uint8Array)) throw bad('receipt.header must be bytes');
  if (!Array.isArray(proof) || !proof.every((p) => p instanceof Uint8Array && p.length === 32)) throw bad('receipt.proof must be an array of 32-byte hashes');
  try {
    return { chainId, tx, index, header: decodeHeader(header), proof, commit: commitFromCbor(m.get('commit')) };
  } catch (e) {
    throw new ProtocolError('E_RECEIPT_MALFORMED', `receipt: ${(e as Error).message}`, { cause: e });
  }
}

export function decodeReceipt(bytes: Uint8Array): Receipt {
  let m: unknown;
  try {
    m = decodeCanonicalCbor(bytes);
  } catch (cause) {
    throw new ProtocolError('E_RECEIPT_MALFORMED', 'receipt is not deterministic CBOR', { cause });
  }
  return receiptFromCbor(m);
}

export interface VerifiedReceipt {
  /** Any registered type: readings and meter transactions (1-4), the ledger's (6-19). */
  readonly tx: SignedTx<TxBody>;
  readonly height: number;
  /**
   * True when the signer's key is in genesis (a genesis meter's reading, period key or payment, a
   * genesis operator's transaction, named by its kid) and its signature was checked too.
   */
  readonly signatureChecked: boolean;
}

/** The genesis key a transaction names as its signer, if genesis holds it (docs/protocol.md §7.1). */
function genesisSigner(genesis: Genesis, tx: SignedTx<TxBody>): ReturnType<typeof decodeKey> | undefined {
  const kid = tx.cose.kid;
  if (kid !== undefined) {
    const op = genesis.operators.find((o) => o.id === kid);
    return op ? decodeKey(op) : undefined;
  }
  // Without a kid the meter signs: a reading (clear or sealed), its period key (§11.6), or a
  // payment by the meter (docs/billing.md §19.1).
  const t = tx.body.type;
  const meterId = t === TxType.Reading || t === TxType.Payment || t === PERIOD_KEY_TX_TYPE ? (tx.body as { meterId: string }).meterId : undefined;
  const m = meterId === undefined ? undefined : genesis.meters.find((x) => x.id === meterId);
  return m ? decodeKey(m) : undefined;
}

/**
 * Verify a receipt with the genesis alone: chain id, inclusion proof to the header's
 * txRoot, and a commit certificate with more than 2/3 of genesis voting power. The
 * transaction may be of any registered type (docs/protocol.md §7.1). When the signer is
 * in genesis (a meter, an operator), its signature is checked too (a later key is
 * vouched for by the validators that committed the block).
 * Throws ProtocolError('E_RECEIPT_INVALID') naming what failed.
 */
export function verifyReceipt(genesis: Genesis, r: Receipt): VerifiedReceipt {
  const fail = (msg: string): never => {
    throw new ProtocolError('E_RECEIPT_INVALID', msg);
  };
  if (r.chainId !== genesis.chainId || r.header.chainId !== genesis.chainId) fail(`receipt is for chain "${r.chainId}", genesis is "${genesis.chainId}"`);
  let tx: SignedTx<TxBody>;
  try {
    // Every registered type, each with its own size limit (docs/billing.md §13.2).
    tx = decodeAnyTx(r.tx, genesis.params.maxTxBytes);
  } catch (e) {
    return fail(`transaction does not decode: ${(e as Error).message}`);
  }
  if (!verifyInclusion(r.tx, r.index, r.header.txCount, r.proof, r.header.txRoot)) fail('inclusion proof does not lead to the header\'s txRoot');
  const problem = commitProblem(genesis, r.header, r.commit);
  if (problem) fail(`commit certificate: ${problem}`);
  // A genesis signer's signature is checked too; a mismatch is not conclusive (a meter's
  // key may have been rotated since), so it only leaves signatureChecked false.
  let signatureChecked = false;
  const k = genesisSigner(genesis, tx);
  if (k) {
    const msg = sigStructure(tx.cose.protectedBytes, tx.cose.payload, genesis.chainId);
    signatureChecked = k.alg === tx.cose.alg && verifySignature(k.alg, k.publicKey, msg, tx.cose.signature);
  }
  return { tx, height: r.header.height, signatureChecked };
}
