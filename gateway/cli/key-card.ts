/**
 * Key cards: the public half of a key, as `meterledger keygen --json` prints it and
 * `meterledger genesis add-*` reads it. A card never holds anything secret; it is what a
 * party sends the coordinator of a consortium's genesis (docs/consensus.md).
 */
import { readFileSync } from 'node:fs';
import { AlgName, toHex } from '../../protocols/index.js';
import type { KeyPair } from '../../ledger-node/keyfile.js';
import { GatewayError } from '../errors.js';

/** A node key (validator or observer: the coordinator decides), an operator's or a meter's. */
export const CARD_ROLES = ['node', 'operator', 'meter'] as const;
export type CardRole = (typeof CARD_ROLES)[number];

export interface KeyCard {
  readonly role: CardRole;
  readonly id: string;
  readonly alg: string;
  /** Hex of the raw public key, as in genesis (docs/protocol.md §3.3). */
  readonly publicKey: string;
  readonly owner?: string;
  readonly jid?: string;
}

const FIELDS = ['role', 'id', 'alg', 'publicKey', 'owner', 'jid'];

export function cardOf(role: CardRole, id: string, key: KeyPair, extra: { owner?: string; jid?: string } = {}): KeyCard {
  return { role, id, alg: AlgName[key.alg], publicKey: toHex(key.publicKey), ...extra };
}

function invalid(source: string, why: string): GatewayError {
  return new GatewayError('E_CARD_INVALID', `${source}: ${why} (a card is what meterledger keygen --json prints)`);
}

/** Check the shape of one card; its id, alg and key are checked by the genesis rules when added. */
function card(x: unknown, source: string): KeyCard {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw invalid(source, 'not a JSON object');
  const o = x as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!FIELDS.includes(k)) throw invalid(source, `unknown field "${k}"`);
  if (!CARD_ROLES.includes(o.role as CardRole)) throw invalid(source, `role must be one of ${CARD_ROLES.join(', ')}`);
  for (const k of ['id', 'alg', 'publicKey']) if (typeof o[k] !== 'string' || o[k] === '') throw invalid(source, `${k} must be a non-empty string`);
  for (const k of ['owner', 'jid']) if (o[k] !== undefined && typeof o[k] !== 'string') throw invalid(source, `${k} must be a string`);
  return o as unknown as KeyCard;
}

/** Cards from text: one JSON object, a JSON array of them, or one object per line. */
export function parseCards(text: string, source: string): KeyCard[] {
  const t = text.trim();
  if (t === '') throw invalid(source, 'empty');
  try {
    const doc: unknown = JSON.parse(t);
    return Array.isArray(doc) ? doc.map((c, i) => card(c, `${source}[${i}]`)) : [card(doc, source)];
  } catch (e) {
    if (e instanceof GatewayError) throw e;
  }
  return t.split(/\r?\n/).filter((l) => l.trim() !== '').map((line, i) => {
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      throw invalid(`${source} line ${i + 1}`, 'not JSON');
    }
    return card(doc, `${source} line ${i + 1}`);
  });
}

/** Cards from a file, or from standard input for `-`. */
export function readCards(path: string): KeyCard[] {
  let text: string;
  try {
    text = readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (cause) {
    throw new GatewayError('E_CARD_INVALID', `cannot read ${path === '-' ? 'standard input' : path}: ${(cause as Error).message}`, { cause });
  }
  return parseCards(text, path === '-' ? 'standard input' : path);
}
