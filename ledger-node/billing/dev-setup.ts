/**
 * The billing story on a dev chain (`meterledger init --billing`, README "Billing
 * walk-through"): what the chain needs so that bills are issued and paid within minutes,
 * as real signed transactions submitted at the gateway's start, idempotently (each step
 * is skipped when the state, committed or waiting, already holds its result):
 * the payee's and every owner's account, each owner's deposit, a time-of-use tariff
 * effective from the first start, an agreement per meter from then, and each owner's
 * mandate letting the meter pay (no autopay: the meters pay themselves over MQTT).
 *
 * The plan (billing-dev.json in the data dir) is written by init; the keys it names are
 * key files under keys/ (operator: registrar, biller and custodian of the dev chain).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Genesis, LedgerTxType, ProtocolError, ReasonCode, type StateReader, StateKind, type SubmitResult, type TxBody, formatInstant, mandateId,
  signTx, tariffFromJson, transferId,
} from '../../protocols/index.js';
import type { Logger } from '../api.js';
import { type KeyPair, loadKeyFile } from '../keyfile.js';

export interface DevBillingMeter {
  readonly meterId: string;
  /** The meter's owner account (its genesis owner). */
  readonly account: string;
  /** Minor units deposited at the first start (0: none). */
  readonly deposit: number;
  readonly capPerBill: number;
  readonly capPerMonth: number;
}

export interface DevBillingPlan {
  /** Operator id signing as registrar, biller and custodian, and its key file (relative to the data dir). */
  readonly operator: string;
  readonly operatorKey: string;
  /** The account bills are paid to. */
  readonly payee: string;
  /** Key files of the accounts (payee and owners), relative to the data dir. */
  readonly accountKeys: Readonly<Record<string, string>>;
  /** The tariff's JSON form (docs/billing.md §3.2) without effectiveFrom: set to the first start. */
  readonly tariff: Readonly<Record<string, unknown>>;
  readonly meters: readonly DevBillingMeter[];
}

export const DEV_BILLING_PLAN_FILE = 'billing-dev.json';

/** The dev chain's time-of-use tariff: night 23-07, day, peak 17-21 on weekdays; in EUR, UTC+01:00. */
export const DEV_TOU_TARIFF: Readonly<Record<string, unknown>> = {
  tariff: 'dev-tou', name: 'Dev chain time of use',
  currency: { code: 'EUR', minorUnits: 2 },
  localTime: { offset: '+01:00' },
  standingChargePerDay: 450000,
  bands: [{ name: 'night', pricesPerKWh: [120000] }, { name: 'day', pricesPerKWh: [280000] }, { name: 'peak', pricesPerKWh: [400000] }],
  schedule: [{ months: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], weekday: '000000011111111122221110', weekend: '000000001111111111111110' }],
};

export function readDevBillingPlan(dataDir: string): DevBillingPlan | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, DEV_BILLING_PLAN_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return JSON.parse(text) as DevBillingPlan;
}

export function writeDevBillingPlan(dataDir: string, plan: DevBillingPlan): void {
  writeFileSync(join(dataDir, DEV_BILLING_PLAN_FILE), JSON.stringify(plan, null, 2) + '\n', { mode: 0o644 });
}

export interface DevSetupPort {
  readonly genesis: Genesis;
  /** Committed state plus what waits for a block. */
  readonly tip: StateReader;
  submit(bytes: Uint8Array): Promise<SubmitResult>;
  now(): number;
}

/** Codes meaning "this step was done already" (a retry after a crash between submit and the state check). */
const DONE = new Set<string>([ReasonCode.ACCOUNT_EXISTS, ReasonCode.TRANSFER_DUPLICATE, ReasonCode.TARIFF_DUPLICATE, ReasonCode.TX_CONFLICT]);

/**
 * Submit what the plan needs and the state lacks, in dependency order; returns how many
 * transactions were submitted. A refusal other than "done already" is an error naming the step.
 */
export async function runDevBillingSetup(dataDir: string, plan: DevBillingPlan, port: DevSetupPort, logger: Logger): Promise<number> {
  const { genesis, tip } = port;
  const chainId = genesis.chainId;
  const keyCache = new Map<string, KeyPair>();
  const key = (file: string): KeyPair => {
    let k = keyCache.get(file);
    if (!k) keyCache.set(file, (k = loadKeyFile(join(dataDir, file))));
    return k;
  };
  const op = key(plan.operatorKey);
  let submitted = 0;
  const send = async (what: string, body: TxBody, signer: KeyPair = op, kid: string = plan.operator): Promise<void> => {
    const r = await port.submit(signTx(chainId, signer.alg, signer.secretKey, body, kid));
    if (r.status === 'rejected' && !DONE.has(r.code)) throw new ProtocolError(r.code, `billing set-up, ${what}: ${r.message}`);
    submitted++;
  };
  // Each transaction carries a time after the last one's: the replay guards (§13.5) need times to grow.
  let t = port.now();
  const time = (): number => ++t;

  const accounts = [plan.payee, ...new Set(plan.meters.map((m) => m.account))];
  for (const account of accounts) {
    if (tip.get(StateKind.Account, account) !== undefined) continue;
    const file = plan.accountKeys[account];
    if (!file) throw new ProtocolError('E_CONFIG_INVALID', `billing set-up: no key file for account "${account}" in ${DEV_BILLING_PLAN_FILE}`);
    const k = key(file);
    await send(`opening account ${account}`, { type: LedgerTxType.AccountOpen, time: time(), account, alg: k.alg, publicKey: k.publicKey });
  }
  for (const m of plan.meters) {
    const meter = tip.get(StateKind.Meter, m.meterId) as { owner?: string } | undefined;
    if (!meter) throw new ProtocolError(ReasonCode.UNKNOWN_METER, `billing set-up: meter ${m.meterId} is not registered`);
    if (meter.owner !== m.account) await send(`assigning ${m.meterId} to ${m.account}`, { type: LedgerTxType.MeterAssign, time: time(), meterId: m.meterId, account: m.account });
    const reference = `dev-initial-deposit-${m.account}`;
    if (m.deposit > 0 && tip.get(StateKind.Transfer, transferId(plan.operator, reference)) === undefined) {
      await send(`depositing for ${m.account}`, { type: LedgerTxType.Deposit, time: time(), account: m.account, amount: BigInt(m.deposit), reference });
    }
  }
  const tariffName = String(plan.tariff.tariff);
  // Ahead of the block the tariff goes into (effectiveFrom >= the block's time, §15), whole seconds.
  const from = Math.ceil((port.now() + 10_000) / 1000) * 1000;
  if (tip.get(StateKind.Tariff, tariffName) === undefined) {
    const tariff = tariffFromJson({ ...plan.tariff, effectiveFrom: formatInstant(from) });
    await send(`publishing tariff ${tariffName}`, { type: LedgerTxType.TariffPublish, time: time(), tariff });
  }
  for (const m of plan.meters) {
    if (tip.get(StateKind.Agreement, m.meterId) === undefined) {
      await send(`agreement of ${m.meterId}`, { type: LedgerTxType.Agreement, time: time(), meterId: m.meterId, from, tariff: tariffName });
    }
  }
  const byAccount = new Map<string, DevBillingMeter[]>();
  for (const m of plan.meters) byAccount.set(m.account, [...(byAccount.get(m.account) ?? []), m]);
  for (const [account, ms] of byAccount) {
    if (tip.get(StateKind.Mandate, mandateId(account, plan.payee)) !== undefined) continue;
    const k = key(plan.accountKeys[account]!);
    await send(`mandate of ${account}`, {
      type: LedgerTxType.Mandate, time: time(), account, payee: plan.payee, meters: ms.map((m) => m.meterId).sort(),
      capPerBill: BigInt(Math.min(...ms.map((m) => m.capPerBill))), capPerMonth: BigInt(Math.min(...ms.map((m) => m.capPerMonth))),
      expires: port.now() + 365 * 86_400_000, autopay: false,
    }, k, account);
  }
  if (submitted > 0) logger.info({ submitted }, 'billing set-up of the dev chain submitted (accounts, deposits, tariff, agreements, mandates)');
  return submitted;
}

/**
 * The owner account of the default dev chain (`meterledger init` without --billing, or an
 * empty data dir's first start). It is not opened at start: the first enrolment opens it
 * with the browser's key (the registrar signs AccountOpen), and until then each start
 * prints a fresh enrolment code for it (gateway/gateway.ts, docs/portal.md §Enrolment).
 */
export interface DevAccountPlan {
  readonly account: string;
}

export const DEV_ACCOUNT_FILE = 'dev-account.json';

export function readDevAccountPlan(dataDir: string): DevAccountPlan | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, DEV_ACCOUNT_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return JSON.parse(text) as DevAccountPlan;
}

export function writeDevAccountPlan(dataDir: string, plan: DevAccountPlan): void {
  writeFileSync(join(dataDir, DEV_ACCOUNT_FILE), JSON.stringify(plan, null, 2) + '\n', { mode: 0o644 });
}
