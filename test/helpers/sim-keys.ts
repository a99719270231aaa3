/**
 * Ed25519 keys for the simulation, derived from a name (the seed is SHA-256 of
 * "sim-key/<name>"), so a seed's run is the same on every machine and no key file is
 * written: the private key for the node's production signer (Ed25519Signer) and the
 * public key, hex, as a validator set lists it.
 */
import { type KeyObject, createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import type { EnvelopeScheme } from '../../ledger-node/p2p/envelope.js';

export interface SimKey {
  readonly privateKey: KeyObject;
  /** Raw 32-byte public key, hex (Validator.publicKey). */
  readonly publicKey: string;
}

/** PKCS#8 DER of an Ed25519 private key is this prefix and the 32-byte seed (RFC 8410). */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const keys = new Map<string, SimKey>();

export function simKey(name: string): SimKey {
  let k = keys.get(name);
  if (!k) {
    const seed = createHash('sha256').update(`sim-key/${name}`).digest();
    const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
    const x = createPublicKey(privateKey).export({ format: 'jwk' }).x!;
    k = { privateKey, publicKey: Buffer.from(x, 'base64url').toString('hex') };
    keys.set(name, k);
  }
  return k;
}

const raw = new WeakMap<KeyObject, Buffer>();
/** The raw public key of a private or public Ed25519 KeyObject, worked out once per object. */
function rawPublic(k: KeyObject): Buffer {
  let b = raw.get(k);
  if (!b) raw.set(k, (b = Buffer.from((k.type === 'public' ? k : createPublicKey(k)).export({ format: 'jwk' }).x!, 'base64url')));
  return b;
}
const envelopeTag = (k: KeyObject, header: Uint8Array): Uint8Array => new Uint8Array(createHash('sha512').update('sim-envelope/').update(rawPublic(k)).update(header).digest());

/**
 * Envelope signatures for the simulation's tag seeds (the peer layer's EnvelopeScheme,
 * ledger-node/p2p/envelope.ts): SHA-512 over the signer's public key and the header, 64
 * bytes as Ed25519's, a tenth of the cost. In the simulation only the key's holder makes
 * its tags: one made with a stranger's key fails under a peer's key, as does a flipped bit.
 */
export const SIM_ENVELOPE_TAGS: EnvelopeScheme = {
  sign: envelopeTag,
  verify: (k, header, signature) => Buffer.from(envelopeTag(k, header)).equals(signature),
};
