/**
 * The payload map every transaction is (docs/protocol.md §3.5, docs/billing.md §13.1):
 * a deterministic-CBOR map of small integer labels, and the field readers all the
 * transaction decoders share (./tx.ts, ./billing/txs.ts), so each refuses alike and names
 * the field (E_READING_SCHEMA).
 */
import { decodeCanonicalCbor } from './cbor.js';
import { ReasonCode, RejectionError } from './errors.js';
import { type Alg, isAlg, publicKeyProblem } from './keys.js';

/** Meter, operator and account ids. */
export const METER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type PayloadMap = Map<unknown, unknown>;

export const schema = (msg: string, field: string): RejectionError => new RejectionError(ReasonCode.SCHEMA, msg, field);

/**
 * The deepest nesting a transaction's payload may have (the deepest in the vectors, a tariff, nests 5 containers); a
 * deeper one is E_READING_MALFORMED before decoding, never a stack overflow (§2).
 */
export const PAYLOAD_MAX_DEPTH = 16;

/** A payload as the map of labels every transaction is (E_READING_MALFORMED, E_READING_SCHEMA otherwise). */
export function decodePayloadMap(payload: Uint8Array): PayloadMap {
  let m: unknown;
  try {
    m = decodeCanonicalCbor(payload, { maxItems: payload.length, maxDepth: PAYLOAD_MAX_DEPTH });
  } catch (cause) {
    throw new RejectionError(ReasonCode.MALFORMED, `payload is not deterministic CBOR: ${(cause as Error).message}`, 'payload', { cause });
  }
  if (!(m instanceof Map)) throw schema('payload must be a CBOR map', 'payload');
  return m;
}

/** Refuse any label outside `allowed`. */
export function onlyLabels(m: PayloadMap, allowed: readonly number[], type: number): void {
  for (const k of m.keys()) {
    if (typeof k !== 'number' || !allowed.includes(k)) throw schema(`label ${String(k)} is not allowed for type ${type}`, 'payload');
  }
}

export function uint(m: PayloadMap, label: number, field: string, optional = false): number | undefined {
  const v = m.get(label);
  if (v === undefined) {
    if (optional) return undefined;
    throw schema(`${field} (label ${label}) is required`, field);
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw schema(`${field} must be an unsigned integer below 2^53`, field);
  return v;
}

export function text(m: PayloadMap, label: number, field: string, optional = false, max = 256): string | undefined {
  const v = m.get(label);
  if (v === undefined) {
    if (optional) return undefined;
    throw schema(`${field} (label ${label}) is required`, field);
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw schema(`${field} must be a text string of 1..${max} characters`, field);
  return v;
}

/** An id field (meter, account): METER_ID_PATTERN. */
export function idField(m: PayloadMap, label: number, field: string): string {
  const id = text(m, label, field)!;
  if (!METER_ID_PATTERN.test(id)) throw schema(`${field} must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}`, field);
  return id;
}

/** Labels 7 (alg) and 8 (public key), the key checked as every key is (keys.ts). */
export function keyFields(m: PayloadMap): { alg: Alg; publicKey: Uint8Array } {
  const alg = m.get(7);
  if (!isAlg(alg)) throw schema('key alg (label 7) must be -8 (EdDSA) or -7 (ES256)', 'alg');
  const pk = m.get(8);
  if (!(pk instanceof Uint8Array)) throw schema('public key (label 8) must be a bstr', 'publicKey');
  const problem = publicKeyProblem(alg, pk);
  if (problem) throw schema(problem, 'publicKey');
  return { alg, publicKey: pk };
}
