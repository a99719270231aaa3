/** Where a secret key could leak to, for tests that prove it did not. */
import { readFileSync } from 'node:fs';
import { toHex } from '../../protocols/index.js';
import { loadKeyFile } from '../../ledger-node/keyfile.js';

/** Every form a key file's secret could be found in: raw hex, base64, base64url and its PEM body. */
export function secretForms(keyFile: string): string[] {
  const k = loadKeyFile(keyFile);
  const pem = readFileSync(keyFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  return [toHex(k.secretKey), Buffer.from(k.secretKey).toString('base64'), Buffer.from(k.secretKey).toString('base64url'), pem];
}
