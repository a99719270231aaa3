/**
 * Recipient key files (docs/protocol.md §11.2): the secret of an HPKE key a period key is
 * wrapped to, as JSON `{"id", "kem": "X25519" | "P-256", "secretKey": hex}`, private to
 * its owner like every key file (./keyfile.ts readPrivateFile).
 */
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { type HpkeRecipient, Kem, KemName, type RecipientKey, fromHex, kemFromName, kemPublicKey, recipientFromSecretKey, recipientKeyProblem, toHex } from '../protocols/index.js';
import { fsError } from './fs-errors.js';
import { KeyFileError, readPrivateFile } from './keyfile.js';

export interface RecipientSecret {
  readonly key: RecipientKey;
  readonly recipient: HpkeRecipient;
}

/** A new recipient key (32 random bytes: X25519 clamps any; P-256 needs a scalar below n, retried). */
export function generateRecipientKey(id: string, kem: Kem): { key: RecipientKey; secretKey: Uint8Array } {
  for (;;) {
    const secretKey = crypto.getRandomValues(new Uint8Array(32));
    try {
      const key = { id, kem, publicKey: kemPublicKey(kem, secretKey) };
      const problem = recipientKeyProblem(key);
      if (problem) throw new TypeError(problem);
      return { key, secretKey };
    } catch (e) {
      if (kem !== Kem.P256) throw e;
    }
  }
}

export function saveRecipientKeyFile(path: string, id: string, kem: Kem, secretKey: Uint8Array): void {
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, `${JSON.stringify({ id, kem: KemName[kem], secretKey: toHex(secretKey) })}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyFileError('E_KEY_EXISTS', `${path} already exists; it is never overwritten`, { cause: e });
    throw fsError(e, `cannot write the recipient key file ${path}`);
  }
}

export function loadRecipientKeyFile(path: string): RecipientSecret {
  const text = readPrivateFile(path, 'recipient key file').toString('utf8');
  let erasedError: KeyFileError | undefined;
  try {
    const j = JSON.parse(text) as { id?: unknown; kem?: unknown; secretKey?: unknown; erased?: unknown };
    if (typeof j.erased === 'string') erasedError = new KeyFileError('E_KEY_ERASED', `${path}: the recipient key ${String(j.id)} was erased at ${j.erased}; nothing wrapped to it opens with it (docs/protocol.md §11.8)`);
    if (erasedError) throw erasedError;
    if (typeof j.id !== 'string' || typeof j.kem !== 'string' || typeof j.secretKey !== 'string') throw new TypeError('needs id, kem and secretKey');
    const kem = kemFromName(j.kem);
    const secretKey = fromHex(j.secretKey, 'secretKey');
    const key = { id: j.id, kem, publicKey: kemPublicKey(kem, secretKey) };
    const problem = recipientKeyProblem(key);
    if (problem) throw new TypeError(problem);
    return { key, recipient: recipientFromSecretKey(kem, secretKey) };
  } catch (cause) {
    if (cause === erasedError) throw cause;
    throw new KeyFileError('E_KEY_INVALID', `${path} is not a recipient key file ({"id", "kem", "secretKey"}): ${(cause as Error).message}`, { cause });
  }
}

/**
 * Erase a recipient key file (docs/protocol.md §11.8): the secret is overwritten in place with
 * zeros, then with a tombstone `{"id", "kem", "erased": ISO time}` (synced each time), so that
 * whoever reads it later learns it was erased (E_KEY_ERASED), not that a file went missing.
 * A copy elsewhere (a backup) is not reached: erasing those is the holder's. Returns the id,
 * and false as `now` when the file was already a tombstone.
 */
export function eraseRecipientKeyFile(path: string, at = new Date()): { id: string; now: boolean } {
  let id: string;
  let kem: string;
  try {
    const k = loadRecipientKeyFile(path);
    id = k.key.id;
    kem = KemName[k.key.kem];
  } catch (e) {
    if ((e as KeyFileError).code !== 'E_KEY_ERASED') throw e;
    const j = JSON.parse(readPrivateFile(path, 'recipient key file').toString('utf8')) as { id: string };
    return { id: j.id, now: false };
  }
  try {
    const size = readPrivateFile(path, 'recipient key file').length;
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, new Uint8Array(size), 0, size, 0);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    writeFileSync(path, `${JSON.stringify({ id, kem, erased: at.toISOString() })}\n`, { mode: 0o600 });
    const fd2 = openSync(path, 'r');
    try {
      fsyncSync(fd2);
    } finally {
      closeSync(fd2);
    }
  } catch (e) {
    throw fsError(e, `cannot erase the recipient key file ${path}`);
  }
  return { id, now: true };
}
