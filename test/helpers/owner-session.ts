/** An owner's session on a real gateway (docs/http-api.md §Sessions): challenge, signed with the account key file, token. */
import { sessionSignBytes, signMessage, toHex } from '../../protocols/index.js';
import { loadKeyFile } from '../../ledger-node/keyfile.js';

export async function ownerSession(httpUrl: string, account: string, accountKeyFile: string): Promise<string> {
  const post = async (path: string, body: unknown): Promise<Record<string, string>> => {
    const r = await fetch(`${httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const j = await r.json() as Record<string, string>;
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(j)}`);
    return j;
  };
  const c = await post('/api/v1/session/challenge', { account });
  const k = loadKeyFile(accountKeyFile);
  const signature = toHex(signMessage(k.alg, k.secretKey, sessionSignBytes(c.chainId!, account, c.challenge!)));
  return (await post('/api/v1/session', { account, challenge: c.challenge, signature })).token!;
}
