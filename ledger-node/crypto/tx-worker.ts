/**
 * The hot path's per-reading work, done in a verify worker (ledger-node/crypto/verifier.ts):
 * decode a device's transaction with the same strict decoder the main thread uses
 * (decodeAnyTx: size, COSE envelope, deterministic CBOR, schema), and check its signature
 * with the key the main thread expects (its meter's registered key). The main thread
 * keeps everything that needs state (meter, time, seq, backlog) and applies those rules in
 * accept order after this answer; it rebuilds the transaction from its own bytes and the
 * figures below, so nothing but a few numbers and the reading's clear fields cross the
 * threads (a sealed reading's COSE_Encrypt0 is rebuilt as views of those bytes too).
 *
 * Readings are answered here, clear and sealed. Anything else (a refusal, a period key, any
 * other type) comes back as DECODE_ON_MAIN: the main thread decodes it itself, as before,
 * so every error a meter gets is the one decodeAnyTx throws there, word for word.
 */
import type { Alg } from '../../protocols/keys.js';
import { equalBytes } from '../../protocols/bytes.js';
import { sigStructure } from '../../protocols/cose.js';
import { IV_BYTES, KEY_COMMITMENT_BYTES, KEY_ID_BYTES } from '../../protocols/confidential/schedule.js';
import { SEALED_CIPHERTEXT_BYTES, type SealedFields, type SealedReading } from '../../protocols/confidential/sealed-reading.js';
import { type Reading, decodeAnyTx, isAnyReadingTx } from '../../protocols/tx.js';
import { KeyObjectCache, nativeVerify } from './native.js';

/** Per item status. */
export const TxCheck = {
  /** Not decoded here (refused, or not a reading): the main thread decodes it. */
  DECODE_ON_MAIN: 0,
  /** A reading (clear or sealed); its signature verifies with the key given. */
  SIG_OK: 1,
  /** A reading; its signature does not verify with the key given. */
  SIG_BAD: 2,
  /** A reading; no key was given (meter unknown to the main thread). */
  SIG_UNCHECKED: 3,
} as const;

export interface TxBatch {
  readonly kind: 'tx';
  readonly chainId: string;
  readonly maxTxBytes: number;
  /** Every item's bytes, one after the other (transferred, not copied). */
  readonly data: ArrayBuffer;
  /** Per item: offset and length in `data`, of the bytes and then of the key (length 0: no key). */
  readonly spans: Uint32Array;
  /** Per item: the key's alg (0 when there is no key). */
  readonly algs: Int8Array;
}

/** What crosses the threads of a reading's body: a clear one whole, a sealed one without its `sealed` (rebuilt over the bytes). */
export type ReadingFields = Reading | Omit<SealedReading, 'sealed'>;

export interface TxBatchResult {
  readonly status: Uint8Array;
  /** Per reading: its body (a sealed one's clear fields only); undefined otherwise. */
  readonly bodies: (ReadingFields | undefined)[];
  /** Per sealed reading: where its COSE_Encrypt0's protected header starts in its bytes (sealedSpans); 0 otherwise. */
  readonly sealedAt: Uint32Array;
  /** Per reading: the COSE alg, and the lengths of its protected header, payload and signature. */
  readonly algs: Int8Array;
  readonly lens: Uint32Array;
  /** 32 bytes per item: the transaction hash (SHA-256 of its bytes). */
  readonly hashes: Uint8Array;
  readonly hashHex: string[];
  /** Signatures checked (for the verify metric). */
  readonly verified: number;
}

const cache = new KeyObjectCache();

export function checkTxBatch(b: TxBatch): TxBatchResult {
  const n = b.algs.length;
  const status = new Uint8Array(n);
  const bodies: (ReadingFields | undefined)[] = new Array(n);
  const sealedAt = new Uint32Array(n);
  const algs = new Int8Array(n);
  const lens = new Uint32Array(n * 3);
  const hashes = new Uint8Array(n * 32);
  const hashHex: string[] = new Array(n);
  let verified = 0;
  for (let i = 0; i < n; i++) {
    const bytes = new Uint8Array(b.data, b.spans[4 * i]!, b.spans[4 * i + 1]!);
    let tx;
    try {
      tx = decodeAnyTx(bytes, b.maxTxBytes);
    } catch {
      continue; // DECODE_ON_MAIN: the main thread throws the same refusal itself
    }
    if (!isAnyReadingTx(tx)) continue;
    const { cose, body } = tx;
    if ('sealed' in body) {
      const at = sealedOffset(bytes, body.sealed, cose);
      if (at === undefined) continue; // not the one layout (never, for bytes that decoded): decoded on main
      sealedAt[i] = at;
      bodies[i] = { type: body.type, meterId: body.meterId, seq: body.seq, time: body.time };
    } else {
      bodies[i] = body;
    }
    algs[i] = cose.alg;
    lens[3 * i] = cose.protectedBytes.length;
    lens[3 * i + 1] = cose.payload.length;
    lens[3 * i + 2] = cose.signature.length;
    hashes.set(tx.hash, 32 * i);
    hashHex[i] = tx.hashHex;
    const keyLen = b.spans[4 * i + 3]!;
    if (keyLen === 0) {
      status[i] = TxCheck.SIG_UNCHECKED;
      continue;
    }
    const alg = b.algs[i]! as Alg;
    let ok = false;
    try {
      const key = new Uint8Array(b.data, b.spans[4 * i + 2]!, keyLen);
      ok = nativeVerify(alg, cache.get(alg, key), sigStructure(cose.protectedBytes, cose.payload, b.chainId), cose.signature);
    } catch {
      ok = false; // a key that does not parse verifies nothing
    }
    verified++;
    status[i] = ok ? TxCheck.SIG_OK : TxCheck.SIG_BAD;
  }
  return { status, bodies, sealedAt, algs, lens, hashes, hashHex, verified };
}

/** Length of a definite CBOR head with argument `n` in its shortest form (RFC 8949 §4.2.1). */
const headLen = (n: number): number => (n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5);

/**
 * Where the parts of a COSE_Sign1_Tagged lie in its bytes, from their lengths: the bytes
 * passed decodeAnyTx, so each head is in its shortest form and the layout is fixed:
 * tag 18, array of 4, bstr protected, empty map, bstr payload, bstr signature.
 * Undefined when the lengths do not add up to the bytes (never, for bytes that decoded).
 */
export function coseSpans(total: number, protLen: number, payLen: number, sigLen: number): [prot: number, pay: number, sig: number] | undefined {
  const prot = 2 + headLen(protLen);
  const pay = prot + protLen + 1 + headLen(payLen);
  const sig = pay + payLen + headLen(sigLen);
  return sig + sigLen === total ? [prot, pay, sig] : undefined;
}

/**
 * A sealed reading's COSE_Encrypt0 as views of `over` from `at` (where its protected header
 * starts): the one encoding that passed decodeAnyTx (docs/protocol.md §11.4, deterministic
 * CBOR), so each part lies at a fixed place:
 *   protected (56): a3 01 03 04 5820 <kid 32> 0a 50 <kid context 16>, then a1 05 4c <IV 12>, 5830 <ciphertext 48>.
 * The worker checks the decoded fields against these views (sealedOffset), so the main
 * thread gets from them what its own decode would give.
 */
export function sealedSpans(over: Uint8Array, at: number): SealedFields {
  const view = (from: number, len: number): Uint8Array => new Uint8Array(over.buffer, over.byteOffset + from, len);
  const iv = at + SEALED_PROTECTED_BYTES + 3; // after the map head a1, label 05 and the bstr head 4c
  return {
    protectedBytes: view(at, SEALED_PROTECTED_BYTES),
    keyCommitment: view(at + 6, KEY_COMMITMENT_BYTES),
    keyId: view(at + 8 + KEY_COMMITMENT_BYTES, KEY_ID_BYTES),
    iv: view(iv, IV_BYTES),
    ciphertext: view(iv + IV_BYTES + headLen(SEALED_CIPHERTEXT_BYTES), SEALED_CIPHERTEXT_BYTES),
  };
}

/** The protected header of a sealed reading: {1: 3, 4: kid (32), 10: kid context (16)}. */
const SEALED_PROTECTED_BYTES = 8 + KEY_COMMITMENT_BYTES + KEY_ID_BYTES;
/** The COSE_Encrypt0 encoded: array head, the protected bstr, {5: IV}, the ciphertext bstr. */
const SEALED_ENCRYPT0_BYTES = 1 + headLen(SEALED_PROTECTED_BYTES) + SEALED_PROTECTED_BYTES + 3 + IV_BYTES + headLen(SEALED_CIPHERTEXT_BYTES) + SEALED_CIPHERTEXT_BYTES;

/**
 * Where the protected header of `sealed` starts in `bytes`: label 12 sorts last in the
 * payload map (RFC 8949 §4.2.1, keys by their encoded bytes), so its COSE_Encrypt0 ends
 * the payload. Undefined unless the views there (sealedSpans) hold exactly the decoded fields.
 */
function sealedOffset(bytes: Uint8Array, sealed: SealedFields, cose: { protectedBytes: Uint8Array; payload: Uint8Array; signature: Uint8Array }): number | undefined {
  const spans = coseSpans(bytes.length, cose.protectedBytes.length, cose.payload.length, cose.signature.length);
  if (!spans || cose.payload.length < SEALED_ENCRYPT0_BYTES) return undefined;
  const at = spans[1] + cose.payload.length - SEALED_ENCRYPT0_BYTES + 1 + headLen(SEALED_PROTECTED_BYTES);
  const v = sealedSpans(bytes, at);
  const same = equalBytes(v.protectedBytes, sealed.protectedBytes) && equalBytes(v.keyCommitment, sealed.keyCommitment)
    && equalBytes(v.keyId, sealed.keyId) && equalBytes(v.iv, sealed.iv) && equalBytes(v.ciphertext, sealed.ciphertext);
  return same ? at : undefined;
}
