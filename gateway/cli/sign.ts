/** Signing as a meter does, with the key file's OpenSSL key (RFC 9052 §4.4 Sig_structure). */
import {
  type Reading, encodeCoseSign1, encodeProtectedHeader, encodeTxBody, sigStructure,
} from '../../protocols/index.js';
import { nativeSign } from '../../ledger-node/crypto/native.js';
import type { KeyPair } from '../../ledger-node/keyfile.js';

/** COSE_Sign1 bytes of a reading, signed by the meter key (no kid: the meter id is in the payload). */
export function signReading(chainId: string, key: KeyPair, body: Reading): Uint8Array {
  const prot = encodeProtectedHeader(key.alg);
  const payload = encodeTxBody(body);
  const sig = nativeSign(key.alg, key.privateKey, sigStructure(prot, payload, chainId));
  return encodeCoseSign1(prot, payload, sig);
}
