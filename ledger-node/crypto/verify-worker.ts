/** Worker thread of the verification pool: checks a batch of signatures with OpenSSL. */
import type { Alg } from '../../protocols/index.js';
import { KeyObjectCache, nativeVerify } from './native.js';

export interface VerifyBatch {
  readonly algs: Alg[];
  readonly keys: Uint8Array[];
  readonly msgs: Uint8Array[];
  readonly sigs: Uint8Array[];
}

const cache = new KeyObjectCache();

/** One result byte per item: 1 valid, 0 not. */
export default function verifyBatch(b: VerifyBatch): Uint8Array {
  const out = new Uint8Array(b.algs.length);
  for (let i = 0; i < out.length; i++) {
    let ok = false;
    try {
      ok = nativeVerify(b.algs[i]!, cache.get(b.algs[i]!, b.keys[i]!), b.msgs[i]!, b.sigs[i]!);
    } catch {
      ok = false; // a key that does not parse verifies nothing
    }
    out[i] = ok ? 1 : 0;
  }
  return out;
}
