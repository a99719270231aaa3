/**
 * Key files: PKCS#8 PEM (what OpenSSL and TLS tooling read), mode 0600 in 0700 folders.
 * A key file that others can read is refused, like ssh does.
 */
import { type KeyObject, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Alg } from '../protocols/index.js';
import { fsError } from './fs-errors.js';

const fromBase64UrlNode = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64url'));

export interface KeyPair {
  readonly alg: Alg;
  readonly privateKey: KeyObject;
  /** Raw public key: Ed25519 32 bytes; P-256 compressed SEC1, 33 bytes. */
  readonly publicKey: Uint8Array;
  /** Raw 32-byte secret, for noble-based signing in pure code. */
  readonly secretKey: Uint8Array;
}

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  constructor(readonly code: 'E_KEY_MISSING' | 'E_KEY_PERMISSIONS' | 'E_KEY_INVALID' | 'E_KEY_EXISTS', message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
  }
}

function describe(privateKey: KeyObject): KeyPair {
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return { alg: Alg.EdDSA, privateKey, publicKey: fromBase64UrlNode(jwk.x!), secretKey: fromBase64UrlNode(jwk.d!) };
  }
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') {
    const x = fromBase64UrlNode(jwk.x!);
    const y = fromBase64UrlNode(jwk.y!);
    const pk = new Uint8Array(33);
    pk[0] = 2 + (y[31]! & 1);
    pk.set(x, 1);
    return { alg: Alg.ES256, privateKey, publicKey: pk, secretKey: fromBase64UrlNode(jwk.d!) };
  }
  throw new KeyFileError('E_KEY_INVALID', `unsupported key type ${jwk.kty}/${jwk.crv ?? ''} (expected Ed25519 or P-256)`);
}

/**
 * A new key pair. The key-generation job encodes the key itself (PKCS#8 DER) and we import
 * that into a KeyObject of our own: exporting the job's own KeyObject as JWK can deadlock
 * in Node 20 (the export holds the key's mutex while allocating; a GC in between destroys
 * the finished job, whose destructor takes the same mutex). `init` with 1,000 P-256 meters
 * hung in 4 of 30 runs that way.
 */
export function generateKeyPair(alg: Alg): KeyPair {
  const publicKeyEncoding = { type: 'spki', format: 'der' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'der' } as const;
  const der: Buffer = alg === Alg.EdDSA
    ? generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding }).privateKey
    : generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding, privateKeyEncoding }).privateKey;
  return describe(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
}

/** Write a new key file; an existing file is never replaced (E_KEY_EXISTS): a lost key cannot be made again. */
export function saveKeyFile(path: string, key: KeyPair): void {
  const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyFileError('E_KEY_EXISTS', `${path} already exists; it is never overwritten`, { cause: e });
    throw fsError(e, `cannot write the key file ${path}`);
  }
}

export function loadKeyFile(path: string): KeyPair {
  let st;
  try {
    st = statSync(path);
  } catch (cause) {
    // Only a file that is not there is missing; one we may not see says why (EACCES ...).
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') throw new KeyFileError('E_KEY_MISSING', `no key file at ${path}`, { cause });
    throw fsError(cause, `cannot read the key file ${path}`);
  }
  if ((st.mode & 0o077) !== 0) {
    throw new KeyFileError('E_KEY_PERMISSIONS', `${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`);
  }
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (cause) {
    throw fsError(cause, `cannot read the key file ${path}`);
  }
  try {
    return describe(createPrivateKey(pem));
  } catch (cause) {
    if (cause instanceof KeyFileError) throw cause;
    throw new KeyFileError('E_KEY_INVALID', `${path} is not a PKCS#8 PEM private key`, { cause });
  }
}
