/**
 * Key files: PKCS#8 PEM (what OpenSSL and TLS tooling read), mode 0600 in 0700 folders.
 * A key file that others can read is refused, like ssh does; so is one in a folder others
 * may write to (they could put their own key in its place). The same rule holds for every
 * file holding a secret (TLS keys, NATS seeds, token files, a config with a secret):
 * private to its owner, or owned by root and readable by its group (as PostgreSQL allows
 * for its TLS key), so a root-managed /etc/meterledger/ with a service group works.
 */
import { type KeyObject, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { type Stats, chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Alg, CodedError } from '../protocols/index.js';
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

export class KeyFileError extends CodedError<'E_KEY_MISSING' | 'E_KEY_PERMISSIONS' | 'E_KEY_INVALID' | 'E_KEY_EXISTS' | 'E_KEY_ERASED'> {
  override readonly name = 'KeyFileError';
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

const mode = (st: Stats): string => (st.mode & 0o777).toString(8).padStart(3, '0');

/** Why a file holding a secret is not private enough, or undefined when it is. */
export function privateFileProblem(st: Stats): string | undefined {
  if ((st.mode & 0o077) === 0) return undefined;
  if (st.uid === 0 && (st.mode & 0o037) === 0) return undefined; // root's, readable by its group only
  return `${st.mode & 0o022 ? 'writable' : 'readable'} by others (mode ${mode(st)})`;
}

/** Why a folder holding keys is unsafe (others may replace what is in it), or undefined. */
export function keyFolderProblem(st: Stats): string | undefined {
  return (st.mode & 0o022) !== 0 ? `writable by others (mode ${mode(st)})` : undefined;
}

/**
 * Read a file holding a secret: E_KEY_MISSING when absent, E_KEY_PERMISSIONS when others
 * may read it or write to its folder, E_FS_* (the real cause) when it cannot be read.
 * `what` names it in messages ("the MQTT TLS key").
 */
export function readPrivateFile(path: string, what = 'key file'): Buffer {
  let st: Stats;
  let folder: Stats;
  try {
    st = statSync(path);
    folder = statSync(dirname(path));
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') throw new KeyFileError('E_KEY_MISSING', `no ${what} at ${path}`, { cause });
    throw fsError(cause, `cannot read the ${what} ${path}`);
  }
  const problem = privateFileProblem(st);
  if (problem) throw new KeyFileError('E_KEY_PERMISSIONS', `${path} (${what}) is ${problem}; run chmod 600 on it`);
  const folderProblem = keyFolderProblem(folder);
  if (folderProblem) throw new KeyFileError('E_KEY_PERMISSIONS', `${dirname(path)}, the folder of ${what} ${path}, is ${folderProblem}; run chmod go-w on it`);
  try {
    return readFileSync(path);
  } catch (cause) {
    throw fsError(cause, `cannot read the ${what} ${path}`);
  }
}

export function loadKeyFile(path: string): KeyPair {
  const pem = readPrivateFile(path);
  try {
    return describe(createPrivateKey(pem));
  } catch (cause) {
    if (cause instanceof KeyFileError) throw cause;
    throw new KeyFileError('E_KEY_INVALID', `${path} is not a PKCS#8 PEM private key`, { cause });
  }
}
