/**
 * The genesis the browser verifies against. The gateway hands over its genesis document;
 * the browser hashes it itself (protocols/genesis.ts) and, once the user pins that hash
 * (localStorage), refuses any other: a gateway that swaps its genesis then fails every
 * check instead of vouching for itself.
 */
import { type Genesis, genesisHash, parseGenesis } from '../../../protocols/genesis.js';
import { toHex } from '../../../protocols/bytes.js';
import { getJson } from './api.js';

const PIN_KEY = 'meterledger.pinnedGenesis';

export type TrustState =
  /** The gateway's genesis hashes to the pinned hash. */
  | { readonly kind: 'pinned'; readonly genesis: Genesis; readonly hash: string }
  /** Nothing pinned yet: checks run against the gateway's genesis, and say so. */
  | { readonly kind: 'unpinned'; readonly genesis: Genesis; readonly hash: string }
  /** The gateway's genesis is not the pinned one (or not a genesis): nothing verifies. */
  | { readonly kind: 'mismatch'; readonly pinned: string; readonly hash: string | undefined; readonly why: string };

export function pinnedHash(): string | undefined {
  try {
    return localStorage.getItem(PIN_KEY) ?? undefined;
  } catch {
    return undefined; // storage disabled: nothing pinned
  }
}

export function pin(hash: string): void {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error('a genesis hash is 64 lower-case hex digits');
  localStorage.setItem(PIN_KEY, hash);
}

export function unpin(): void {
  localStorage.removeItem(PIN_KEY);
}

export async function loadTrust(): Promise<TrustState> {
  const pinned = pinnedHash();
  let genesis: Genesis;
  let hash: string;
  try {
    genesis = parseGenesis(await getJson<unknown>('/api/v1/genesis'));
    hash = toHex(genesisHash(genesis));
  } catch (e) {
    if (pinned) return { kind: 'mismatch', pinned, hash: undefined, why: `the gateway's genesis could not be read: ${(e as Error).message}` };
    throw e;
  }
  if (pinned === undefined) return { kind: 'unpinned', genesis, hash };
  if (pinned !== hash) return { kind: 'mismatch', pinned, hash, why: `the gateway runs genesis ${hash}, you pinned ${pinned}` };
  return { kind: 'pinned', genesis, hash };
}
