/**
 * What sealed readings and period keys share: both are COSE_Sign1 transactions signed by
 * the meter itself (no kid, §3.1), decoded like protocols/tx.ts decodeTx, and both refuse
 * a broken structure of their own with E_CONF_MALFORMED.
 */
import { toHex } from '../bytes.js';
import { type CoseSign1, decodeCoseSign1 } from '../cose.js';
import { ReasonCode, RejectionError } from '../errors.js';
import { sha256 } from '../hash.js';

/** A meter-signed transaction with its exact bytes, its hash and its decoded body (as SignedTx). */
export interface MeterSigned<B> {
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
  /** `hash` in hex, made once. */
  readonly hashHex: string;
  readonly cose: CoseSign1;
  readonly body: B;
}

export const confMalformed = (msg: string, field: string, cause?: unknown): RejectionError =>
  new RejectionError(ReasonCode.CONF_MALFORMED, msg, field, cause === undefined ? undefined : { cause });

/** Size, envelope, body, no kid; not the signature (that needs the meter's key from state). */
export function decodeMeterSigned<B>(bytes: Uint8Array, maxBytes: number, decodeBody: (payload: Uint8Array) => B): MeterSigned<B> {
  if (bytes.length > maxBytes) throw new RejectionError(ReasonCode.TOO_LARGE, `transaction of ${bytes.length} bytes exceeds ${maxBytes}`);
  const cose = decodeCoseSign1(bytes);
  const body = decodeBody(cose.payload);
  if (cose.kid !== undefined) throw new RejectionError(ReasonCode.MALFORMED, 'signed by its meter: carries no kid, the meter id names the key', 'kid');
  const hash = sha256(bytes);
  return { bytes, hash, hashHex: toHex(hash), cose, body };
}
