/**
 * A draft genesis: what a consortium's coordinator assembles from the parties' public keys
 * before `meterledger genesis finalize` turns it into the genesis file. Every entry goes
 * through the genesis rules of protocols/genesis.ts as it is added, and a draft adds two
 * of its own: an id is taken once per list (validators and observers share one), and a
 * public key appears once in the whole genesis, whatever its role.
 *
 * A draft is JSON with the genesis fields plus `meterledgerDraft: 1`, a field a genesis may
 * not have, so a draft is never mistaken for a genesis (parseGenesis refuses it).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import {
  CHAIN_ID_PATTERN, DEFAULT_PARAMS, GENESIS_TIME_PATTERN, MAX_TOTAL_POWER, algFromName, canonicalPublicKey, fromHex,
  parseGenesis, parseGenesisMeter, parseGenesisObserver, parseGenesisOperator, parseGenesisParams, parseGenesisValidator, toHex,
  type Genesis, type GenesisKey, type GenesisMeter, type GenesisParams, type GenesisValidator,
} from '../../protocols/index.js';
import { GatewayError } from '../errors.js';

export const DRAFT_MARK = 'meterledgerDraft';

export interface GenesisDraft {
  readonly [DRAFT_MARK]: 1;
  readonly chainId: string;
  /** Set at `new` or `finalize`; finalize uses the time it runs otherwise. */
  readonly genesisTime?: string;
  readonly validators: readonly GenesisValidator[];
  readonly observers: readonly GenesisKey[];
  readonly operators: readonly GenesisKey[];
  readonly meters: readonly GenesisMeter[];
  readonly params: GenesisParams;
}

export type DraftRole = 'validator' | 'observer' | 'operator' | 'meter';

const LIST = { validator: 'validators', observer: 'observers', operator: 'operators', meter: 'meters' } as const;
const PARSE = {
  validator: parseGenesisValidator, observer: parseGenesisObserver, operator: parseGenesisOperator, meter: parseGenesisMeter,
} as const;

function draftError(why: string): GatewayError {
  return new GatewayError('E_DRAFT_INVALID', why);
}

function checkChainId(chainId: unknown): string {
  if (typeof chainId !== 'string' || !CHAIN_ID_PATTERN.test(chainId)) throw draftError('chainId must match [a-z0-9][a-z0-9._-]{0,63}');
  return chainId;
}

export function checkGenesisTime(t: unknown): string {
  if (typeof t !== 'string' || !GENESIS_TIME_PATTERN.test(t) || Number.isNaN(Date.parse(t))) {
    throw draftError('genesisTime must be an RFC 3339 time such as 2026-01-01T00:00:00Z');
  }
  return t;
}

export function newDraft(o: { chainId: string; genesisTime?: string; params?: Partial<GenesisParams> }): GenesisDraft {
  return {
    [DRAFT_MARK]: 1,
    chainId: checkChainId(o.chainId),
    ...(o.genesisTime !== undefined ? { genesisTime: checkGenesisTime(o.genesisTime) } : {}),
    validators: [], observers: [], operators: [], meters: [],
    params: parseGenesisParams({ ...DEFAULT_PARAMS, ...o.params }),
  };
}

/** A key as compared for duplicates: alg and canonical encoding. */
const keyOf = (k: GenesisKey): string => `${k.alg}:${toHex(canonicalPublicKey(algFromName(k.alg), fromHex(k.publicKey)))}`;

/**
 * The draft with more entries, each checked by the genesis rules (its field named as in
 * the genesis it will be: `validators[3].publicKey`), for an id not taken in its list and
 * a key used nowhere else in the draft.
 */
export function addEntries(d: GenesisDraft, entries: Iterable<readonly [DraftRole, unknown]>): GenesisDraft {
  const lists = {
    validators: [...d.validators], observers: [...d.observers], operators: [...d.operators], meters: [...d.meters],
  };
  // validators and observers share one namespace: an id names one gateway
  const ids = { validators: new Map<string, string>(), operators: new Map<string, string>(), meters: new Map<string, string>() };
  const idSpace = (role: DraftRole) => (role === 'validator' || role === 'observer' ? ids.validators : ids[LIST[role] as 'operators' | 'meters']);
  const keys = new Map<string, string>();
  let power = 0;
  const take = (role: DraftRole, k: GenesisKey): void => {
    const space = idSpace(role);
    const other = space.get(k.id);
    if (other !== undefined) throw new GatewayError('E_GENESIS_DUPLICATE', `${role} "${k.id}": the id is already taken by ${other} "${k.id}" in the draft`);
    const key = keyOf(k);
    const holder = keys.get(key);
    if (holder !== undefined) throw new GatewayError('E_GENESIS_DUPLICATE', `${role} "${k.id}": its public key is already the key of ${holder}; every gateway, operator and meter needs a key of its own`);
    if (role === 'validator') {
      power += (k as GenesisValidator).power;
      if (power > MAX_TOTAL_POWER) throw new GatewayError('E_GENESIS_INVALID', `validator "${k.id}": the total voting power would be ${power}, above 2^50`);
    }
    space.set(k.id, role);
    keys.set(key, `${role} "${k.id}"`);
  };
  for (const role of Object.keys(LIST) as DraftRole[]) for (const k of lists[LIST[role]]) take(role, k);
  for (const [role, entry] of entries) {
    const list = LIST[role];
    const k = PARSE[role](entry, `${list}[${lists[list].length}]`);
    take(role, k);
    (lists[list] as GenesisKey[]).push(k);
  }
  return { ...d, ...lists };
}

export function addToDraft(d: GenesisDraft, role: DraftRole, entry: unknown): GenesisDraft {
  return addEntries(d, [[role, entry]]);
}

/** A draft from its JSON: the mark, then every entry checked again, in order, as addToDraft does. */
export function parseDraft(doc: unknown, source: string): GenesisDraft {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw draftError(`${source} is not a JSON object`);
  const o = doc as Record<string, unknown>;
  if (o[DRAFT_MARK] !== 1) {
    const hint = 'chainId' in o && 'validators' in o ? ' (it looks like a finished genesis)' : '';
    throw draftError(`${source} is not a genesis draft${hint}: make one with meterledger genesis new`);
  }
  for (const k of Object.keys(o)) {
    if (![DRAFT_MARK, 'chainId', 'genesisTime', 'params', ...Object.values(LIST)].includes(k)) throw draftError(`${source}: unknown field "${k}"`);
  }
  const d = newDraft({
    chainId: o.chainId as string,
    ...(o.genesisTime !== undefined ? { genesisTime: o.genesisTime as string } : {}),
    params: parseGenesisParams(o.params ?? {}),
  });
  const all: [DraftRole, unknown][] = [];
  for (const role of Object.keys(LIST) as DraftRole[]) {
    const entries = o[LIST[role]] ?? [];
    if (!Array.isArray(entries)) throw draftError(`${source}: ${LIST[role]} must be an array`);
    for (const e of entries) all.push([role, e]);
  }
  return addEntries(d, all);
}

/** The genesis the draft becomes, at `genesisTime` (the draft's own if it has one). */
export function finalizeDraft(d: GenesisDraft, genesisTime: string): Genesis {
  if (d.validators.length === 0) throw new GatewayError('E_GENESIS_INVALID', 'the draft has no validator: add them with meterledger genesis add-validator');
  const { [DRAFT_MARK]: _mark, genesisTime: own, ...rest } = d;
  return parseGenesis({ ...rest, genesisTime: own ?? checkGenesisTime(genesisTime) });
}

export function loadDraft(path: string): GenesisDraft {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new GatewayError('E_DRAFT_MISSING', `cannot read draft ${path}: ${(cause as Error).message}`, { cause });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw draftError(`${path} is not JSON: ${(cause as Error).message}`);
  }
  return parseDraft(doc, path);
}

/** Write whole or not at all: a temp file in the same folder, renamed over the target. */
export function writeFileAtomic(path: string, text: string, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}

/** Write whole or not at all; `create` refuses an existing file. */
export function saveDraft(path: string, d: GenesisDraft, opts: { create?: boolean } = {}): void {
  const text = JSON.stringify(d, null, 2) + '\n';
  if (opts.create) {
    try {
      writeFileSync(path, text, { mode: 0o644, flag: 'wx' });
    } catch (cause) {
      if ((cause as { code?: string }).code === 'EEXIST') throw new GatewayError('E_DRAFT_EXISTS', `${path} already exists; choose another file`, { cause });
      throw cause;
    }
    return;
  }
  writeFileAtomic(path, text, 0o644);
}

/** `3 validators (total power 3), 1 observer, 1 operator, 8 meters`. */
export function describeDraft(d: { validators: readonly GenesisValidator[]; observers?: readonly GenesisKey[]; operators: readonly GenesisKey[]; meters: readonly GenesisMeter[] }): string {
  const n = (k: number, what: string): string => `${k} ${what}${k === 1 ? '' : 's'}`;
  const power = d.validators.reduce((s, v) => s + v.power, 0);
  return `${n(d.validators.length, 'validator')} (total power ${power}), ${n(d.observers?.length ?? 0, 'observer')}, ` +
    `${n(d.operators.length, 'operator')}, ${n(d.meters.length, 'meter')}`;
}

/** A finished genesis or a draft, read from a file, with errors that say which it is not. */
export function loadGenesisOrDraft(path: string): { genesis: Genesis } | { draft: GenesisDraft } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new GatewayError('E_GENESIS_MISSING', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new GatewayError('E_GENESIS_INVALID', `${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
  if (typeof doc === 'object' && doc !== null && DRAFT_MARK in doc) return { draft: parseDraft(doc, path) };
  return { genesis: parseGenesis(doc) };
}

/** A finished genesis from a file; a draft is refused with what to do about it. */
export function loadFinishedGenesis(path: string): Genesis {
  const g = loadGenesisOrDraft(path);
  if ('draft' in g) throw new GatewayError('E_GENESIS_DRAFT', `${path} is a draft, not a genesis: the coordinator finishes it with meterledger genesis finalize`);
  return g.genesis;
}

/** A genesis hash as typed by a person: 64 hex digits, any case. */
export const GENESIS_HASH_PATTERN = /^[0-9a-fA-F]{64}$/;
