/**
 * The genesis file: the one thing a verifier needs to trust. JSON for people to read;
 * its hash is SHA-256 over the deterministic CBOR (RFC 8949 §4.2.1) of the normalized
 * document, so whitespace and key order in the file do not matter.
 */
import { encodeCbor } from './cbor.js';
import { fromHex, toHex } from './bytes.js';
import { sha256 } from './hash.js';
import { type Alg, AlgName, algFromName, publicKeyProblem } from './keys.js';
import { METER_ID_PATTERN } from './payload.js';
import { ProtocolError } from './errors.js';
import { parseInstant } from './billing/localtime.js';
import { type CycleRule, checkCycleRule } from './billing/period.js';
import { KemName, kemFromName } from './confidential/hpke.js';
import { type RecipientKey, recipientKeysFrom } from './confidential/recipients.js';
import { RejectionError } from './errors.js';

export interface GenesisKey {
  readonly id: string;
  readonly alg: AlgName;
  /** Hex of the raw public key (see keys.ts for the encodings). */
  readonly publicKey: string;
}
export interface GenesisValidator extends GenesisKey {
  readonly power: number;
}
/** A recipient key of a confidential meter (docs/protocol.md §11.2), as genesis writes it. */
export interface GenesisRecipient {
  readonly id: string;
  readonly kem: KemName;
  /** Hex: 32 bytes for X25519, the 65-byte uncompressed point for P-256. */
  readonly publicKey: string;
}
export interface GenesisMeter extends GenesisKey {
  readonly owner?: string;
  readonly jid?: string;
  /** Present: the meter is confidential from the start, its period keys wrapped to these (§11.2, as label 16). */
  readonly recipients?: readonly GenesisRecipient[];
}
/** What an operator key may do (docs/billing.md §13.3). */
export type OperatorRole = 'registrar' | 'biller' | 'custodian';
export const OPERATOR_ROLES: readonly OperatorRole[] = ['registrar', 'biller', 'custodian'];
export interface GenesisOperator extends GenesisKey {
  /** In the order of OPERATOR_ROLES, without repeats. Absent: ['registrar'] (genesis files before roles). */
  readonly roles?: readonly OperatorRole[];
}
/** The chain's money: ISO 4217 alphabetic code and digits of its minor unit (EUR 2, JPY 0). */
export interface GenesisCurrency {
  readonly code: string;
  readonly minorUnits: number;
}
/** A short billing cycle instead of calendar months (dev chains, demos): docs/billing.md §5.1. */
export interface GenesisBillingCycle {
  /** RFC 3339 instant where cycle-0 starts, whole milliseconds. */
  readonly epoch: string;
  readonly lengthMs: number;
}
export interface GenesisParams {
  /** Largest transaction accepted into a block, bytes. */
  readonly maxTxBytes: number;
  /** Most transactions in one block. */
  readonly maxBlockTxs: number;
  /** A reading's time may be this far behind its block's time, ms (absent: DEFAULT_READING_WINDOW). */
  readonly maxReadingPastMs?: number;
  /** A reading's time may be this far ahead of its block's time, ms (absent: DEFAULT_READING_WINDOW). */
  readonly maxReadingFutureMs?: number;
  /**
   * Width of each meter's anti-replay window, in sequence numbers (absent:
   * DEFAULT_SEQ_WINDOW): a reading up to this far below its meter's highest committed seq
   * may still commit, once (docs/protocol.md §3.9).
   */
  readonly seqWindow?: number;
}

/** Where a reading's time must lie around a time `at`: [at - maxPastMs, at + maxFutureMs]. */
export interface ReadingWindow {
  readonly maxPastMs: number;
  readonly maxFutureMs: number;
}
export interface Genesis {
  readonly chainId: string;
  /** RFC 3339 time, informational. */
  readonly genesisTime: string;
  readonly validators: readonly GenesisValidator[];
  /** Gateways that replicate and take meter traffic without voting (Ed25519 node keys). */
  readonly observers?: readonly GenesisKey[];
  readonly operators: readonly GenesisOperator[];
  readonly meters: readonly GenesisMeter[];
  readonly params: GenesisParams;
  /** Absent: the chain has no money, and the ledger's types 6-19 are refused (E_LEDGER_DISABLED). */
  readonly currency?: GenesisCurrency;
  /** Absent: bills are for calendar months in the tariff's local time. */
  readonly billingCycle?: GenesisBillingCycle;
}

export const DEFAULT_PARAMS: GenesisParams = { maxTxBytes: 1024, maxBlockTxs: 10_000 };
/**
 * The block rule's window when genesis names none (docs/protocol.md §3.5): wider than the
 * gateway's default intake window (7 days, 5 minutes) by a day and by 5 minutes, so that a
 * reading accepted at the edge stays valid while it waits for its block and across the
 * clocks of the gateways.
 */
export const DEFAULT_READING_WINDOW: ReadingWindow = { maxPastMs: 8 * 86_400_000, maxFutureMs: 600_000 };

/** docs/protocol.md §3.9: wide enough for a meter's readings acknowledged by one gateway to commit after ones it sent another. */
export const DEFAULT_SEQ_WINDOW = 256;
/** Largest seqWindow genesis may set: the window is state in every meter's record. */
export const MAX_SEQ_WINDOW = 4096;

/** The anti-replay window of genesis (docs/protocol.md §3.9). */
export const seqWindowOf = (g: Genesis): number => g.params.seqWindow ?? DEFAULT_SEQ_WINDOW;

/** The window of the block rule on reading times, relative to the block header's time. */
export function readingWindow(g: Genesis): ReadingWindow {
  return {
    maxPastMs: g.params.maxReadingPastMs ?? DEFAULT_READING_WINDOW.maxPastMs,
    maxFutureMs: g.params.maxReadingFutureMs ?? DEFAULT_READING_WINDOW.maxFutureMs,
  };
}
export const CHAIN_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** RFC 3339 date-time (§5.6), as genesisTime must be. */
export const GENESIS_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** A key from genesis, decoded for use. */
export interface KeyEntry {
  readonly id: string;
  readonly alg: Alg;
  readonly publicKey: Uint8Array;
}

function fail(field: string, msg: string): never {
  throw new ProtocolError('E_GENESIS_INVALID', `genesis${field ? `.${field}` : ''}: ${msg}`);
}

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function onlyKeys(o: Record<string, unknown>, allowed: string[], field: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(field, `unknown field "${k}"`);
}

function str(o: Record<string, unknown>, k: string, field: string, optional = false): string | undefined {
  const v = o[k];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string' || v.length === 0) fail(field ? `${field}.${k}` : k, 'must be a non-empty string');
  return v;
}

function key(o: unknown, field: string, extra: string[] = []): GenesisKey {
  if (!isObj(o)) fail(field, 'must be an object');
  onlyKeys(o, ['id', 'alg', 'publicKey', ...extra], field);
  const id = str(o, 'id', field)!;
  if (!METER_ID_PATTERN.test(id)) fail(`${field}.id`, 'must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}');
  const algName = str(o, 'alg', field)!;
  let alg: Alg;
  try {
    alg = algFromName(algName);
  } catch (e) {
    fail(`${field}.alg`, (e as Error).message);
  }
  const pkHex = str(o, 'publicKey', field)!.toLowerCase();
  let pk: Uint8Array;
  try {
    pk = fromHex(pkHex);
  } catch {
    fail(`${field}.publicKey`, 'must be hex');
  }
  const problem = publicKeyProblem(alg, pk);
  if (problem) fail(`${field}.publicKey`, problem);
  return { id, alg: AlgName[alg], publicKey: pkHex };
}

function uniqueIds(list: readonly { id: string }[], field: string): void {
  const seen = new Set<string>();
  for (const k of list) {
    if (seen.has(k.id)) fail(field, `duplicate id "${k.id}"`);
    seen.add(k.id);
  }
}

/** Node keys sign votes under their id: one key under two ids would cast two votes. */
function uniqueNodeKeys(list: readonly GenesisKey[]): void {
  const seen = new Map<string, string>();
  for (const k of list) {
    const other = seen.get(k.publicKey);
    if (other !== undefined) fail('validators and observers', `"${other}" and "${k.id}" have the same public key`);
    seen.set(k.publicKey, k.id);
  }
}

/** Largest total voting power (votes are summed as integers, §5). */
export const MAX_TOTAL_POWER = 2 ** 50;

/** One `validators[i]` entry, validated and normalized; `field` names it in errors. */
export function parseGenesisValidator(v: unknown, field: string): GenesisValidator {
  const k = key(v, field, ['power']);
  if (k.alg !== 'Ed25519') fail(`${field}.alg`, 'validators sign with Ed25519');
  const power = (v as Record<string, unknown>).power ?? 1;
  if (typeof power !== 'number' || !Number.isSafeInteger(power) || power < 1 || power > MAX_TOTAL_POWER) {
    fail(`${field}.power`, `must be an integer 1..2^50`);
  }
  return { ...k, power };
}

/** One `observers[i]` entry: a non-voting gateway's Ed25519 node key. */
export function parseGenesisObserver(o: unknown, field: string): GenesisKey {
  const k = key(o, field);
  if (k.alg !== 'Ed25519') fail(`${field}.alg`, 'observers sign with Ed25519');
  return k;
}

/** One `operators[i]` entry: Ed25519 or ES256. */
export function parseGenesisOperator(o: unknown, field: string): GenesisOperator {
  const k = key(o, field, ['roles']);
  const roles = (o as Record<string, unknown>).roles;
  if (roles === undefined) return k;
  if (!Array.isArray(roles) || roles.length === 0) fail(`${field}.roles`, 'must list at least one of "registrar", "biller", "custodian"');
  for (const r of roles) if (!OPERATOR_ROLES.includes(r as OperatorRole)) fail(`${field}.roles`, `unknown role ${JSON.stringify(r)}`);
  if (new Set(roles).size !== roles.length) fail(`${field}.roles`, 'lists a role twice');
  return { ...k, roles: OPERATOR_ROLES.filter((r) => roles.includes(r)) };
}

/** One `meters[i]` entry. */
export function parseGenesisMeter(m: unknown, field: string): GenesisMeter {
  const k = key(m, field, ['owner', 'jid', 'recipients']);
  const o = m as Record<string, unknown>;
  const owner = str(o, 'owner', field, true);
  const jid = str(o, 'jid', field, true);
  const recipients = o.recipients === undefined ? undefined : parseGenesisRecipients(o.recipients, `${field}.recipients`);
  return { ...k, ...(owner !== undefined ? { owner } : {}), ...(jid !== undefined ? { jid } : {}), ...(recipients ? { recipients } : {}) };
}

/** `meters[i].recipients`: the rules of label 16 (§11.2), in JSON: [{id, kem: "X25519" | "P-256", publicKey: hex}], sorted by id. */
function parseGenesisRecipients(v: unknown, field: string): GenesisRecipient[] {
  if (!Array.isArray(v)) fail(field, 'must be an array of {id, kem, publicKey}');
  const entries = v.map((e, i): [string, number, Uint8Array] => {
    const f = `${field}[${i}]`;
    if (!isObj(e)) fail(f, 'must be an object');
    onlyKeys(e, ['id', 'kem', 'publicKey'], f);
    const id = str(e, 'id', f)!;
    let kem: number;
    try {
      kem = kemFromName(str(e, 'kem', f)!);
    } catch (err) {
      fail(`${f}.kem`, (err as Error).message);
    }
    let pk: Uint8Array;
    try {
      pk = fromHex(str(e, 'publicKey', f)!.toLowerCase());
    } catch {
      fail(`${f}.publicKey`, 'must be hex');
    }
    return [id, kem, pk];
  });
  let keys: RecipientKey[];
  try {
    keys = recipientKeysFrom(entries);
  } catch (err) {
    if (err instanceof RejectionError) fail(field, err.message.replace(/^E_[A-Z_]+: (recipients \(label 16\): )?/, ''));
    throw err;
  }
  return keys.map((r) => ({ id: r.id, kem: KemName[r.kem], publicKey: toHex(r.publicKey) }));
}

/** The recipient keys of a genesis meter, decoded (undefined: a clear meter). */
export function genesisRecipientKeys(m: GenesisMeter): RecipientKey[] | undefined {
  return m.recipients?.map((r) => ({ id: r.id, kem: kemFromName(r.kem), publicKey: fromHex(r.publicKey) }));
}

/** `params`, missing ones at their defaults. */
export function parseGenesisParams(p: unknown): GenesisParams {
  if (!isObj(p)) fail('params', 'must be an object');
  onlyKeys(p, ['maxTxBytes', 'maxBlockTxs', 'maxReadingPastMs', 'maxReadingFutureMs', 'seqWindow'], 'params');
  // The reading and seq windows stay absent when absent (its defaults are not written in), so a
  // chain made before it existed keeps its genesis hash.
  const params = { ...DEFAULT_PARAMS, ...p } as GenesisParams;
  for (const [k, v] of Object.entries(params)) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) fail(`params.${k}`, 'must be a positive integer');
  }
  if (params.seqWindow !== undefined && params.seqWindow > MAX_SEQ_WINDOW) fail('params.seqWindow', `must be at most ${MAX_SEQ_WINDOW}`);
  return params;
}

/** Validate and normalize a parsed genesis document; errors name the field. */
export function parseGenesis(doc: unknown): Genesis {
  if (!isObj(doc)) fail('', 'must be a JSON object');
  onlyKeys(doc, ['chainId', 'genesisTime', 'validators', 'observers', 'operators', 'meters', 'params', 'currency', 'billingCycle'], '');
  const chainId = str(doc, 'chainId', '')!;
  if (!CHAIN_ID_PATTERN.test(chainId)) fail('chainId', 'must match [a-z0-9][a-z0-9._-]{0,63}');
  const genesisTime = str(doc, 'genesisTime', '')!;
  if (!GENESIS_TIME_PATTERN.test(genesisTime) || Number.isNaN(Date.parse(genesisTime))) {
    fail('genesisTime', 'must be an RFC 3339 time such as 2026-01-01T00:00:00Z');
  }
  const arr = (k: string): unknown[] => {
    const v = doc[k] ?? [];
    if (!Array.isArray(v)) fail(k, 'must be an array');
    return v;
  };
  const validators = arr('validators').map((v, i) => parseGenesisValidator(v, `validators[${i}]`));
  if (validators.length === 0) fail('validators', 'at least one validator is required');
  if (validators.reduce((s, v) => s + v.power, 0) > MAX_TOTAL_POWER) fail('validators', 'total power must be at most 2^50');
  const observers = arr('observers').map((o, i) => parseGenesisObserver(o, `observers[${i}]`));
  const operators = arr('operators').map((o, i) => parseGenesisOperator(o, `operators[${i}]`));
  const meters = arr('meters').map((m, i) => parseGenesisMeter(m, `meters[${i}]`));
  uniqueIds([...validators, ...observers], 'validators and observers');
  uniqueNodeKeys([...validators, ...observers]);
  uniqueIds(operators, 'operators');
  uniqueIds(meters, 'meters');
  const params = parseGenesisParams(doc.params ?? {});
  const currency = doc.currency === undefined ? undefined : parseCurrency(doc.currency);
  const billingCycle = doc.billingCycle === undefined ? undefined : parseBillingCycle(doc.billingCycle);
  // Optional fields only when present, so a chain without them hashes as before.
  return {
    chainId, genesisTime, validators, ...(observers.length ? { observers } : {}), operators, meters, params,
    ...(currency ? { currency } : {}), ...(billingCycle ? { billingCycle } : {}),
  };
}

function parseCurrency(c: unknown): GenesisCurrency {
  if (!isObj(c)) fail('currency', 'must be an object { code, minorUnits }');
  onlyKeys(c, ['code', 'minorUnits'], 'currency');
  if (typeof c.code !== 'string' || !/^[A-Z]{3}$/.test(c.code)) fail('currency.code', 'must be an ISO 4217 alphabetic code such as "EUR"');
  const m = c.minorUnits;
  if (typeof m !== 'number' || !Number.isSafeInteger(m) || m < 0 || m > 6) fail('currency.minorUnits', 'must be an integer from 0 to 6');
  return { code: c.code, minorUnits: m };
}

function parseBillingCycle(c: unknown): GenesisBillingCycle {
  if (!isObj(c)) fail('billingCycle', 'must be an object { epoch, lengthMs }');
  onlyKeys(c, ['epoch', 'lengthMs'], 'billingCycle');
  const epoch = typeof c.epoch === 'string' ? parseInstant(c.epoch) : undefined;
  if (epoch === undefined) fail('billingCycle.epoch', 'must be an RFC 3339 instant such as 2026-01-01T00:00:00Z');
  try {
    checkCycleRule({ epoch, lengthMs: c.lengthMs as number });
  } catch (e) {
    fail('billingCycle', (e as Error).message);
  }
  return { epoch: c.epoch as string, lengthMs: c.lengthMs as number };
}

/** The roles of an operator (absent in genesis: registrar only). */
export function operatorRoles(op: GenesisOperator): readonly OperatorRole[] {
  return op.roles ?? ['registrar'];
}

/** The billing cycle as the engine takes it, if the chain has one. */
export function chainCycle(g: Genesis): CycleRule | undefined {
  return g.billingCycle ? { epoch: parseInstant(g.billingCycle.epoch)!, lengthMs: g.billingCycle.lengthMs } : undefined;
}

/** SHA-256 of the deterministic CBOR of the normalized genesis; block 1's prevHash. */
export function genesisHash(g: Genesis): Uint8Array {
  return sha256(encodeCbor(JSON.parse(JSON.stringify(g)) as unknown));
}

export function decodeKey(k: GenesisKey): KeyEntry {
  return { id: k.id, alg: algFromName(k.alg), publicKey: fromHex(k.publicKey) };
}
