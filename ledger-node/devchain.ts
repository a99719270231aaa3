/**
 * Data-dir layout and the dev chain that `meterledger init` writes: one validator, one
 * operator, N meters registered in genesis, every key in its own 0600 file.
 */
import { randomBytes } from 'node:crypto';
import { type Stats, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Alg, AlgName, type Genesis, type GenesisRecipient, Kem, KemName, ProtocolError, parseGenesis, toHex } from '../protocols/index.js';
import { fsError } from './fs-errors.js';
import { KeyFileError, generateKeyPair, keyFolderProblem, saveKeyFile } from './keyfile.js';
import { DEV_TOU_TARIFF, writeDevAccountPlan, writeDevBillingPlan } from './billing/dev-setup.js';
import { generateRecipientKey, saveRecipientKeyFile } from './recipient-keyfile.js';

export function dataPaths(dataDir: string) {
  return {
    genesis: join(dataDir, 'genesis.json'),
    store: join(dataDir, 'store'),
    /** Write-ahead segments (ledger-node/store/wal.ts): accepted readings not yet in a block. */
    wal: join(dataDir, 'wal'),
    keys: join(dataDir, 'keys'),
    validatorKey: join(dataDir, 'keys', 'validator.key'),
    operatorKey: join(dataDir, 'keys', 'operator.key'),
    meterKeys: join(dataDir, 'keys', 'meters'),
    meterKey: (meterId: string) => join(dataDir, 'keys', 'meters', `${meterId}.key`),
    /** Owners' account keys of a dev chain made with billing (they sign mandates). */
    accountKey: (account: string) => join(dataDir, 'keys', 'accounts', `${account}.key`),
    /**
     * Recipient key files (docs/protocol.md §11.2) of a dev chain made with --confidential:
     * one per holder (an owner account, the biller operator), as `reading decrypt --key` reads them.
     */
    recipientKey: (holder: string) => join(dataDir, 'keys', 'recipients', `${holder}.key`),
  };
}

/** stat, or undefined when the path does not exist; any other failure names its cause (EACCES ...). */
function statOrAbsent(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw fsError(e, `cannot look into ${path}`);
  }
}

/**
 * Does the data dir hold a chain? Only a genesis.json that is not there says no: one that
 * cannot be seen (a folder we may not enter) is an error naming the cause, never "empty".
 */
export function isInitialized(dataDir: string): boolean {
  return statOrAbsent(dataPaths(dataDir).genesis) !== undefined;
}

/** Refuse to make a chain where parts of one are (a store, keys, a write-ahead) without genesis.json. */
function assertNoChainParts(dataDir: string): void {
  const p = dataPaths(dataDir);
  if (statOrAbsent(p.genesis)) throw new ProtocolError('E_DATADIR_EXISTS', `${dataDir} already holds a chain (${p.genesis})`);
  const parts = [p.store, p.wal, p.keys].filter((d) => statOrAbsent(d) !== undefined);
  if (parts.length > 0) {
    throw new ProtocolError('E_DATADIR_NOT_EMPTY', `${dataDir} has ${parts.map((d) => d.slice(dataDir.length + 1) + '/').join(', ')} but no genesis.json: ` +
      'restore genesis.json, or use an empty folder for a new chain');
  }
}

/**
 * The data dir and its key folders must not be writable by others: they could put keys or
 * a genesis of their own in place. keys/ and keys/meters/ are ours (made 0700); the data
 * dir itself may be group-writable but not world-writable (unless sticky, like /tmp).
 */
export function checkDataDirPermissions(dataDir: string): void {
  const p = dataPaths(dataDir);
  const top = statOrAbsent(dataDir);
  if (top && (top.mode & 0o002) !== 0 && (top.mode & 0o1000) === 0) {
    throw new KeyFileError('E_KEY_PERMISSIONS', `the data dir ${dataDir} is writable by everyone (mode ${(top.mode & 0o777).toString(8)}); run chmod o-w on it`);
  }
  for (const dir of [p.keys, p.meterKeys]) {
    const st = statOrAbsent(dir);
    const problem = st && keyFolderProblem(st);
    if (problem) throw new KeyFileError('E_KEY_PERMISSIONS', `${dir} is ${problem}: others could replace the keys in it; run chmod 700 on it`);
  }
}

export type MeterAlgChoice = 'Ed25519' | 'ES256' | 'mixed';

export interface DevChainOptions {
  readonly meters: number;
  /** Key type of the meters; 'mixed' alternates Ed25519 and ES256. Default Ed25519. */
  readonly meterAlg?: MeterAlgChoice;
  readonly chainId?: string;
  /** Owner account of every meter. Default "owner-1" (with billing: one account per meter, owner-0001 ...). */
  readonly owner?: string;
  /**
   * A chain that demonstrates billing (docs/billing.md; README "Billing walk-through"):
   * EUR, a billing cycle of `cycleMs`, the operator as registrar, biller and custodian,
   * one account per meter with its key, the plan of billing/dev-setup.ts and a
   * config.json turning billing.autoIssue on with the operator's key.
   */
  readonly billing?: { readonly cycleMs: number };
  /**
   * Every meter confidential from genesis (docs/protocol.md §11): its recipients are its
   * owner's key `<owner>/enc-1` (P-256, what a browser's WebCrypto holds) and the
   * operator's (the biller of a billing chain) `operator-0/enc-1` (X25519), each secret in
   * a 0600 file `keys/recipients/<holder>.key`.
   */
  readonly confidential?: boolean;
}

/** The holder of the dev chain's biller recipient key (the operator). */
export const DEV_BILLER_RECIPIENT = 'operator-0';
export const devRecipientId = (holder: string): string => `${holder}/enc-1`;

/** Default billing cycle of `meterledger init --billing`: one minute. */
export const DEV_BILLING_CYCLE_MS = 60_000;
/** The account the dev chain's bills are paid to. */
export const DEV_PAYEE = 'superenergy';
export const accountIdOf = (i: number): string => `owner-${String(i + 1).padStart(4, '0')}`;

export const meterIdOf = (i: number): string => `meter-${String(i + 1).padStart(4, '0')}`;

/** Create a dev chain in `dataDir` (which must not hold one yet). */
export function initDevChain(dataDir: string, opts: DevChainOptions): { genesis: Genesis; meterIds: string[] } {
  if (!Number.isSafeInteger(opts.meters) || opts.meters < 0) throw new RangeError('meters must be a whole number >= 0');
  const p = dataPaths(dataDir);
  assertNoChainParts(dataDir);
  makeDataDir(dataDir);
  const validator = generateKeyPair(Alg.EdDSA);
  const operator = generateKeyPair(Alg.EdDSA);
  saveKeyFile(p.validatorKey, validator);
  saveKeyFile(p.operatorKey, operator);
  const recipients = new Map<string, GenesisRecipient>();
  // One recipient key per holder, written once, named in every meter the holder reads.
  const recipientOf = (holder: string, kem: Kem): GenesisRecipient => {
    let r = recipients.get(holder);
    if (!r) {
      const { key, secretKey } = generateRecipientKey(devRecipientId(holder), kem);
      saveRecipientKeyFile(p.recipientKey(holder), key.id, kem, secretKey);
      r = { id: key.id, kem: KemName[kem], publicKey: toHex(key.publicKey) };
      recipients.set(holder, r);
    }
    return r;
  };
  const meters = [];
  for (let i = 0; i < opts.meters; i++) {
    const alg = opts.meterAlg === 'ES256' || (opts.meterAlg === 'mixed' && i % 2 === 1) ? Alg.ES256 : Alg.EdDSA;
    const k = generateKeyPair(alg);
    const id = meterIdOf(i);
    saveKeyFile(p.meterKey(id), k);
    const owner = opts.billing ? accountIdOf(i) : opts.owner ?? 'owner-1';
    // Sorted by id (§11.2): "operator-0/..." before "owner-...".
    const conf = opts.confidential ? { recipients: [recipientOf(DEV_BILLER_RECIPIENT, Kem.X25519), recipientOf(owner, Kem.P256)].sort((a, b) => (a.id < b.id ? -1 : 1)) } : {};
    meters.push({ id, alg: AlgName[alg], publicKey: toHex(k.publicKey), owner, ...conf });
  }
  const now = Date.now();
  const genesis = parseGenesis({
    chainId: opts.chainId ?? `dev-${toHex(randomBytes(4))}`,
    genesisTime: new Date(now).toISOString(),
    validators: [{ id: 'validator-0', alg: 'Ed25519', publicKey: toHex(validator.publicKey), power: 1 }],
    operators: [{ id: 'operator-0', alg: 'Ed25519', publicKey: toHex(operator.publicKey), ...(opts.billing ? { roles: ['registrar', 'biller', 'custodian'] } : {}) }],
    meters,
    // A currency on every dev chain: accounts need one (docs/billing.md); only --billing adds a cycle, a tariff and autoIssue.
    currency: { code: 'EUR', minorUnits: 2 },
    ...(opts.billing ? {
      billingCycle: { epoch: new Date(Math.floor(now / 1000) * 1000).toISOString(), lengthMs: opts.billing.cycleMs },
    } : {}),
  });
  writeGenesis(p.genesis, genesis);
  if (opts.billing) writeDevBilling(dataDir, meters.map((m) => m.id), opts.confidential === true);
  else if (meters.length > 0) writeDevAccount(dataDir, opts.owner ?? 'owner-1');
  return { genesis, meterIds: meters.map((m) => m.id) };
}

/**
 * The accounts' keys, the set-up plan the gateway submits at its first start
 * (billing/dev-setup.ts) and a config.json with billing.autoIssue (the operator is the biller).
 */
function writeDevBilling(dataDir: string, meterIds: readonly string[], confidential: boolean): void {
  const p = dataPaths(dataDir);
  const accountKeys: Record<string, string> = {};
  for (const account of [DEV_PAYEE, ...meterIds.map((_, i) => accountIdOf(i))]) {
    saveKeyFile(p.accountKey(account), generateKeyPair(Alg.EdDSA));
    accountKeys[account] = join('keys', 'accounts', `${account}.key`);
  }
  writeDevBillingPlan(dataDir, {
    operator: 'operator-0', operatorKey: join('keys', 'operator.key'), payee: DEV_PAYEE, accountKeys, tariff: DEV_TOU_TARIFF,
    // 50.00 EUR each, a cap of 20.00 a bill and 100.00 a month: a minute's bill is a few cents.
    meters: meterIds.map((meterId, i) => ({ meterId, account: accountIdOf(i), deposit: 5000, capPerBill: 2000, capPerMonth: 10_000 })),
  });
  const config = { billing: { autoIssue: { keyFile: join('keys', 'operator.key'), payee: DEV_PAYEE, ...(confidential ? { recipientKeyFile: join('keys', 'recipients', `${DEV_BILLER_RECIPIENT}.key`) } : {}) } } };
  try {
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify(config, null, 2) + '\n', { mode: 0o644 });
  } catch (e) {
    throw fsError(e, `cannot write ${join(dataDir, 'config.json')}`);
  }
}

/** The plan naming the owner account the first enrolment opens (billing/dev-setup.ts). */
function writeDevAccount(dataDir: string, account: string): void {
  try {
    writeDevAccountPlan(dataDir, { account });
  } catch (e) {
    throw fsError(e, `cannot write the dev account plan in ${dataDir}`);
  }
}

function makeDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw fsError(e, `cannot create the data dir ${dataDir}`);
  }
}

function writeGenesis(path: string, genesis: Genesis): void {
  try {
    writeFileSync(path, JSON.stringify(genesis, null, 2) + '\n', { mode: 0o644 });
  } catch (e) {
    throw fsError(e, `cannot write ${path}`);
  }
}

export interface ClusterOptions {
  readonly validators: number;
  readonly observers?: number;
  /** Meters registered for each node: their keys go to that node's data dir only. */
  readonly metersPerNode: number;
  readonly chainId?: string;
  readonly meterAlg?: MeterAlgChoice;
  /**
   * A billing cluster (`testnet --billing`): as `init --billing` for one gateway, with the
   * owner accounts, their keys, the set-up plan and billing.autoIssue in node0's dir
   * (node0 holds the operator key: registrar, biller and custodian).
   */
  readonly billing?: { readonly cycleMs: number };
}

/** The meter ids of node `n` in a cluster made by initCluster. */
export const clusterMeterId = (node: number, i: number): string => `n${node}-meter-${String(i + 1).padStart(4, '0')}`;

/**
 * A local cluster: one data dir per node (validators first, then observers), a shared
 * genesis in each, every node's key in its own dir, the operator key in the first one.
 */
export function initCluster(dirs: readonly string[], opts: ClusterOptions): { genesis: Genesis; nodeIds: string[]; meterIds: string[][] } {
  const total = opts.validators + (opts.observers ?? 0);
  if (dirs.length !== total) throw new RangeError(`need ${total} data dirs, got ${dirs.length}`);
  if (opts.validators < 1) throw new RangeError('at least one validator');
  for (const d of dirs) assertNoChainParts(d);
  const nodeIds: string[] = [];
  const validators: object[] = [];
  const observers: object[] = [];
  const meters = [];
  const meterIds: string[][] = [];
  const now = Date.now();
  for (let n = 0; n < total; n++) {
    const p = dataPaths(dirs[n]!);
    makeDataDir(dirs[n]!);
    const k = generateKeyPair(Alg.EdDSA);
    saveKeyFile(p.validatorKey, k);
    const isValidator = n < opts.validators;
    const id = isValidator ? `validator-${n}` : `observer-${n - opts.validators}`;
    nodeIds.push(id);
    (isValidator ? validators : observers).push({ id, alg: 'Ed25519', publicKey: toHex(k.publicKey), ...(isValidator ? { power: 1 } : {}) });
    const mine = [];
    for (let i = 0; i < opts.metersPerNode; i++) {
      const alg = opts.meterAlg === 'ES256' || (opts.meterAlg === 'mixed' && i % 2 === 1) ? Alg.ES256 : Alg.EdDSA;
      const mk = generateKeyPair(alg);
      const mid = clusterMeterId(n, i);
      saveKeyFile(p.meterKey(mid), mk);
      meters.push({ id: mid, alg: AlgName[alg], publicKey: toHex(mk.publicKey), owner: opts.billing ? accountIdOf(meters.length) : 'owner-1' });
      mine.push(mid);
    }
    meterIds.push(mine);
  }
  const operator = generateKeyPair(Alg.EdDSA);
  saveKeyFile(dataPaths(dirs[0]!).operatorKey, operator);
  const genesis = parseGenesis({
    chainId: opts.chainId ?? `testnet-${toHex(randomBytes(4))}`,
    genesisTime: new Date(now).toISOString(),
    validators, observers, meters,
    operators: [{ id: 'operator-0', alg: 'Ed25519', publicKey: toHex(operator.publicKey), ...(opts.billing ? { roles: ['registrar', 'biller', 'custodian'] } : {}) }],
    ...(opts.billing ? {
      currency: { code: 'EUR', minorUnits: 2 },
      billingCycle: { epoch: new Date(Math.floor(now / 1000) * 1000).toISOString(), lengthMs: opts.billing.cycleMs },
    } : {}),
  });
  for (const d of dirs) writeGenesis(dataPaths(d).genesis, genesis);
  if (opts.billing) writeDevBilling(dirs[0]!, meters.map((m) => m.id), false);
  return { genesis, nodeIds, meterIds };
}

/** Read and validate a genesis file; errors name the file and the field. */
export function loadGenesisFile(path: string): Genesis {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') throw new ProtocolError('E_GENESIS_MISSING', `no genesis file at ${path}`, { cause });
    throw fsError(cause, `cannot read the genesis file ${path}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new ProtocolError('E_GENESIS_INVALID', `${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
  return parseGenesis(doc);
}
