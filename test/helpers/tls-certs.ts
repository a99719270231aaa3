/** Test certificates: a key pair from node:crypto and a self-signed certificate from `openssl req -x509`. */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pem { key: string; cert: string; secretKey: Uint8Array }

/** `name`.key and `name`.crt in `dir`, with `cn` as the subject's CN; also the raw secret key. */
export function makeCert(dir: string, name: string, type: 'ed25519' | 'ec', cn: string): Pem {
  // Encoded by the key-generation job itself (see ledger-node/keyfile.ts on Node 20's export deadlock).
  const publicKeyEncoding = { type: 'spki', format: 'pem' } as const;
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const;
  const privateKey: string = type === 'ed25519'
    ? generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding }).privateKey
    : generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding, privateKeyEncoding }).privateKey;
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  writeFileSync(keyPath, privateKey);
  try {
    execFileSync('openssl', ['req', '-x509', '-new', '-key', keyPath, '-subj', `/CN=${cn}`, '-days', '1', '-out', certPath], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`openssl is needed to make test certificates: ${(e as Error).message}`);
  }
  const d = createPrivateKey(privateKey).export({ format: 'jwk' }).d!;
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8'), secretKey: new Uint8Array(Buffer.from(d, 'base64url')) };
}
