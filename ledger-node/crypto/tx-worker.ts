/**
 * The hot path's per-reading work, done in a verify worker (ledger-node/crypto/verifier.ts):
 * decode a device's transaction with the same strict decoder the main thread uses
 * (decodeAnyTx: size, COSE envelope, deterministic CBOR, schema), and check its signature
 * with the key the main thread expects (its meter's registered key). The main thread
 * keeps everything that needs state (meter, time, seq, backlog) and applies those rules in
 * accept order after this answer; it rebuilds the transaction from its own bytes and the
 * figures below, so nothing but a few numbers and the clear body cross the threads.
 *
 * Only clear readings are answered here. Anything else (a refusal, a sealed reading, a
 * period key) comes back as DECODE_ON_MAIN: the main thread decodes it itself, as before,
 * so every error a meter gets is the one decodeAnyTx throws there, word for word.
 */
import type { Alg } from '../../protocols/keys.js';
import { sigStructure } from '../../protocols/cose.js';
import { type Reading, decodeAnyTx, isReadingTx } from '../../protocols/tx.js';
import { KeyObjectCache, nativeVerify } from './native.js';

/** Per item status. */
export const TxCheck = {
  /** Not decoded here (refused, or not a clear reading): the main thread decodes it. */
  DECODE_ON_MAIN: 0,
  /** A clear reading; its signature verifies with the key given. */
  SIG_OK: 1,
  /** A clear reading; its signature does not verify with the key given. */
  SIG_BAD: 2,
  /** A clear reading; no key was given (meter unknown to the main thread). */
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

export interface TxBatchResult {
  readonly status: Uint8Array;
  /** Per clear reading: its body; undefined otherwise. */
  readonly bodies: (Reading | undefined)[];
  /** Per clear reading: the COSE alg, and the lengths of its protected header, payload and signature. */
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
  const bodies: (Reading | undefined)[] = new Array(n);
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
    if (!isReadingTx(tx)) continue;
    const { cose } = tx;
    bodies[i] = tx.body;
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
  return { status, bodies, algs, lens, hashes, hashHex, verified };
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
