/**
 * COSE_Sign1 (RFC 9052 §4.2) in its tagged form (tag 18), deterministic CBOR only.
 *
 *   COSE_Sign1 = [ protected: bstr .cbor {1: alg, ?4: kid}, unprotected: {}, payload: bstr, signature: bstr ]
 *   Sig_structure = [ "Signature1", protected, external_aad, payload ]   (RFC 9052 §4.4)
 *
 * external_aad is the UTF-8 chain id: a signature made for one chain never verifies on another.
 */
import { type CborLimits, TAG_COSE_SIGN1, Tagged, decodeCanonicalCbor, encodeCbor } from './cbor.js';
import { ReasonCode, RejectionError } from './errors.js';
import { fromUtf8, utf8 } from './bytes.js';
import { type Alg, isAlg, signMessage } from './keys.js';

/** COSE header labels (RFC 9052 §3.1). */
const HDR_ALG = 1;
const HDR_KID = 4;

export interface CoseSign1 {
  /** The protected header exactly as sent (a bstr holding a CBOR map). */
  readonly protectedBytes: Uint8Array;
  readonly alg: Alg;
  /** Key id from the protected header, when present (operators put their id here). */
  readonly kid?: string;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

const malformed = (msg: string, field?: string): RejectionError =>
  new RejectionError(ReasonCode.MALFORMED, msg, field);

/**
 * Bounds on the envelope's own items (the payload is a byte string, decoded on its own):
 * a valid one is 7 items, 2 deep below its tag. Generous, so small faults still get their
 * precise message; a deep nest is refused before decoding, not by the stack running out.
 */
const ENVELOPE_LIMITS: CborLimits = { maxItems: 64, maxDepth: 8 };

/** Parse COSE_Sign1_Tagged bytes; checks structure and header, not the signature. */
export function decodeCoseSign1(bytes: Uint8Array): CoseSign1 {
  let outer: unknown;
  try {
    outer = decodeCanonicalCbor(bytes, ENVELOPE_LIMITS);
  } catch (cause) {
    throw new RejectionError(ReasonCode.MALFORMED, `not deterministic CBOR: ${(cause as Error).message}`, undefined, { cause });
  }
  if (!(outer instanceof Tagged) || outer.tag !== TAG_COSE_SIGN1) throw malformed('not a COSE_Sign1_Tagged (tag 18)');
  const arr = outer.value;
  if (!Array.isArray(arr) || arr.length !== 4) throw malformed('COSE_Sign1 must be an array of 4');
  const [prot, unprot, payload, signature] = arr as unknown[];
  if (!(prot instanceof Uint8Array)) throw malformed('protected header must be a bstr', 'protected');
  if (!(unprot instanceof Map)) throw malformed('unprotected header must be a map', 'unprotected');
  if (unprot.size !== 0) throw malformed('unprotected header must be empty', 'unprotected');
  if (!(payload instanceof Uint8Array)) throw malformed('payload must be a bstr (not detached)', 'payload');
  if (!(signature instanceof Uint8Array)) throw malformed('signature must be a bstr', 'signature');
  let hdr: unknown;
  try {
    hdr = decodeCanonicalCbor(prot, ENVELOPE_LIMITS); // RFC 8949 §4.2.1 here too: one encoding per header
  } catch (cause) {
    throw new RejectionError(ReasonCode.MALFORMED, 'protected header is not CBOR', 'protected', { cause });
  }
  if (!(hdr instanceof Map)) throw malformed('protected header must be a map', 'protected');
  for (const k of hdr.keys()) {
    if (k !== HDR_ALG && k !== HDR_KID) throw malformed(`protected header label ${String(k)} not allowed`, 'protected');
  }
  const alg = hdr.get(HDR_ALG);
  if (!isAlg(alg)) throw new RejectionError(ReasonCode.BAD_ALG, `alg ${String(alg)} is not EdDSA (-8) or ES256 (-7)`, 'alg');
  const kidRaw = hdr.get(HDR_KID);
  let kid: string | undefined;
  if (kidRaw !== undefined) {
    if (!(kidRaw instanceof Uint8Array)) throw malformed('kid must be a bstr', 'kid');
    try {
      kid = fromUtf8(kidRaw);
    } catch {
      throw malformed('kid must be UTF-8', 'kid');
    }
  }
  return kid === undefined
    ? { protectedBytes: prot, alg, payload, signature }
    : { protectedBytes: prot, alg, kid, payload, signature };
}

/** RFC 9052 §4.4: the bytes that are signed. */
export function sigStructure(protectedBytes: Uint8Array, payload: Uint8Array, chainId: string): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, utf8(chainId), payload]);
}

export function encodeProtectedHeader(alg: Alg, kid?: string): Uint8Array {
  const m = new Map<number, unknown>([[HDR_ALG, alg]]);
  if (kid !== undefined) m.set(HDR_KID, utf8(kid));
  return encodeCbor(m);
}

/** Build COSE_Sign1_Tagged bytes by signing `payload` with a raw secret key. */
export function signCoseSign1(
  alg: Alg,
  secretKey: Uint8Array,
  payload: Uint8Array,
  chainId: string,
  kid?: string,
): Uint8Array {
  const prot = encodeProtectedHeader(alg, kid);
  const sig = signMessage(alg, secretKey, sigStructure(prot, payload, chainId));
  return encodeCoseSign1(prot, payload, sig);
}

export function encodeCoseSign1(protectedBytes: Uint8Array, payload: Uint8Array, signature: Uint8Array): Uint8Array {
  return encodeCbor(new Tagged(TAG_COSE_SIGN1, [protectedBytes, new Map(), payload, signature]));
}
