/**
 * The billing nouns of the CLI (docs/billing.md §14-20), each one signed transaction of
 * protocols/billing/txs.ts sent through a gateway's POST /api/v1/tx:
 *   deposit (custodian), tariff publish and agreement set (biller), bill issue (biller,
 *   the bill computed here by the same engine every validator runs), mandate sign|revoke,
 *   pay and dispute (the owner, `--key FILE`); bill show reads a bill back.
 */
import { readFileSync } from 'node:fs';
import {
  type Agreement, type Bill, type Genesis, LedgerTxType, MemoryReadingIndex, ProtocolError, ReasonCode, TARIFF_ID_PATTERN, type Tariff,
  chainCycle, computeBill, formatInstant, parseGenesis, readingsForBill, resolvePeriod, tariffFromJson, termsTimeline,
} from '../../../protocols/index.js';
import { GatewayError, UsageError } from '../../errors.js';
import { type CommandSpec, type ParsedArgs, need, optionalString, out, stringList } from '../args.js';
import { adminToken, needGatewayUrl } from '../client-env.js';
import { getJson } from '../http-client.js';
import {
  currencyOf, formatAmount, idFlag, instantFlag, operatorOptions, owner, ownerOptions, ownerSession, parseAmount, periodFlag, readView, readerOptions,
  runCustodianTransfer, submitAsOperator, submitAsOwner,
} from '../billing-common.js';

const AMOUNT_HELP = 'whole minor units ("1234") or a decimal of the chain\'s currency ("12.34" = 1234 when it has 2 minor units); never rounded';

// ------------------------------------------------------------------ deposit (custodian, §14)

export const depositCommand: CommandSpec = {
  name: 'deposit',
  summary: 'Credit an account with money a custodian received (a bank transfer, a card payment), signed as custodian by keys/operator.key.',
  options: {
    ...operatorOptions('custodian'),
    account: { type: 'string', value: 'ID', required: true, help: 'the account credited' },
    amount: { type: 'string', value: 'AMT', required: true, help: AMOUNT_HELP },
    ref: { type: 'string', value: 'EXT', required: true, help: 'the custodian\'s external reference of the transfer (1-128 characters): one deposit per reference' },
  },
  details: 'Amounts are integers of the currency\'s minor units (genesis "currency"), parsed as text, no floats:\n' +
    '"1234" is 1234 minor units; "12.34" is 12.34 units of the currency, 1234 minor units for EUR (2);\n' +
    'more decimals than the currency has is E_AMOUNT_INVALID, never rounded.\n' +
    'Idempotent by reference: a reference this custodian applied already moves nothing again\n' +
    '(the ledger refuses it, E_TRANSFER_DUPLICATE); the command says so and exits 0.',
  run: (args) => runCustodianTransfer(args, 'deposit', LedgerTxType.Deposit, { noun: 'deposit', preposition: 'to', duplicate: 'was deposited before' }),
};

// ------------------------------------------------------------------ tariffs and agreements (biller, §15-16)

/** A JSON tariff file, validated (docs/billing.md §3.2): E_TARIFF_JSON when not JSON, E_TARIFF_INVALID naming the field. */
export function readTariffFile(path: string): Tariff {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new GatewayError('E_TARIFF_FILE', `cannot read the tariff file ${path}`, { cause });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new GatewayError('E_TARIFF_JSON', `${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
  try {
    return tariffFromJson(doc);
  } catch (e) {
    if (e instanceof ProtocolError) throw new GatewayError(e.code, `${path}: ${e.message.replace(/^E_[A-Z_]+: /, '')}`, { cause: e });
    throw e;
  }
}

export const tariffPublishCommand: CommandSpec = {
  name: 'tariff publish',
  summary: 'Publish a tariff version from its JSON form (docs/billing.md §3.2), signed as biller; prints its id, the SHA-256 of its canonical CBOR.',
  options: {
    ...operatorOptions('biller'),
    check: { type: 'boolean', help: 'only validate the file and print its id; send nothing' },
  },
  positionals: [{ name: 'FILE', help: 'the tariff, JSON' }],
  details: 'Errors name the field: E_TARIFF_INVALID (e.g. "bands[1].pricesPerKWh: ..."), E_TARIFF_JSON when the\n' +
    'file is not JSON. effectiveFrom must not be before the block that commits it; a version with the\n' +
    'same content is E_TARIFF_DUPLICATE. Agreements name the tariff by its "tariff" name.',
  async run(args) {
    const cmd = 'tariff publish';
    const tariff = readTariffFile(args.positionals[0]!);
    if (args.values.check === true) {
      out(`tariff ${tariff.id} (${tariff.tariff}, effective from ${formatInstant(tariff.effectiveFrom)}): valid`);
      return 0;
    }
    const { txHash } = await submitAsOperator(args, cmd, () => ({ type: LedgerTxType.TariffPublish, time: Date.now(), tariff }));
    out(`accepted: tariff ${tariff.id} (${tariff.tariff}, effective from ${formatInstant(tariff.effectiveFrom)}) (tx ${txHash})`);
    return 0;
  },
};

interface TariffList { tariffs: { name: string; versions: { id: string }[] }[] }

export const agreementSetCommand: CommandSpec = {
  name: 'agreement set',
  summary: 'Bind a meter to a tariff from an instant, signed as biller (a switch mid-period splits the period).',
  options: {
    ...operatorOptions('biller'),
    meter: { type: 'string', value: 'ID', required: true, help: 'meter id' },
    tariff: { type: 'string', value: 'T', required: true, help: 'the tariff\'s name, or the id of one of its versions (64 hex digits); "none" ends the agreement' },
    from: { type: 'string', value: 'ISO', required: true, help: 'instant it takes effect: ISO 8601 with Z or an offset, or ms since 1970' },
  },
  async run(args) {
    const cmd = 'agreement set';
    const meterId = idFlag(args, 'meter', cmd);
    const from = instantFlag(args, 'from', cmd);
    let tariff: string | null = need(args, 'tariff', cmd);
    if (tariff === 'none') tariff = null;
    else if (/^[0-9a-f]{64}$/.test(tariff)) {
      const id = tariff;
      const list = await getJson<TariffList>(needGatewayUrl(args, cmd), '/api/v1/tariffs');
      const t = list.tariffs.find((x) => x.versions.some((v) => v.id === id));
      if (!t) throw new GatewayError('E_TARIFF_NOT_FOUND', `no committed tariff has a version ${id}`);
      tariff = t.name;
    } else if (!TARIFF_ID_PATTERN.test(tariff)) throw new UsageError('--tariff must be a tariff name, a version id (64 hex digits) or "none"');
    const name = tariff;
    const { txHash } = await submitAsOperator(args, cmd, () => ({ type: LedgerTxType.Agreement, time: Date.now(), meterId, from, tariff: name }));
    out(`accepted: agreement of ${meterId}: ${name ?? 'none'} from ${formatInstant(from)} (tx ${txHash})`);
    return 0;
  },
};

// ------------------------------------------------------------------ bills (biller, §17)

interface AgreementJson { meterId: string; entries: { from: number; tariff: string | null; biller: string }[] }
interface TariffJson { versions: { id: string; tariff: unknown }[] }
interface ReadingJson { seq: string; time: number; importWh?: number; exportWh?: number; height: number; sealed?: string }

/** Every committed reading of the meter (paged by seq). */
async function allReadings(http: string, meterId: string, token: string): Promise<ReadingJson[]> {
  const all: ReadingJson[] = [];
  let from: string | null = '0';
  while (from !== null) {
    const page: { readings: ReadingJson[]; nextFromSeq: string | null } =
      await getJson(http, `/api/v1/meters/${encodeURIComponent(meterId)}/readings?fromSeq=${from}&limit=1000`, token);
    all.push(...page.readings);
    from = page.nextFromSeq;
  }
  return all;
}

/**
 * The bill as every validator computes it (§17 steps 5-6): the meter's agreement and the
 * versions of the tariffs it names, its readings committed at heights <= `height` chosen
 * as readingsForBill does, the engine over them.
 */
async function computeFromGateway(http: string, token: string, genesis: Genesis, meterId: string, label: string, height: number): Promise<Bill> {
  const currency = currencyOf(genesis);
  const a = await getJson<AgreementJson>(http, `/api/v1/meters/${encodeURIComponent(meterId)}/agreement`, token);
  const agreements: Agreement[] = a.entries.map((e) => ({ from: e.from, tariff: e.tariff }));
  const tariffs: Tariff[] = [];
  for (const name of new Set(a.entries.flatMap((e) => (e.tariff === null ? [] : [e.tariff])))) {
    const t = await getJson<TariffJson>(http, `/api/v1/tariffs/${encodeURIComponent(name)}`);
    for (const v of t.versions) tariffs.push(tariffFromJson(v.tariff));
  }
  const index = new MemoryReadingIndex();
  for (const x of await allReadings(http, meterId, token)) {
    if (x.height > height) continue;
    if (x.sealed !== undefined || x.importWh === undefined) {
      throw new GatewayError(ReasonCode.BILL_CONFIDENTIAL, `meter "${meterId}" is confidential: its bill must disclose its readings; let billing.autoIssue issue it`);
    }
    index.add(meterId, { seq: BigInt(x.seq), time: x.time, importWh: x.importWh, ...(x.exportWh !== undefined ? { exportWh: x.exportWh } : {}), height: x.height });
  }
  const cycle = chainCycle(genesis);
  const period = resolvePeriod(label, termsTimeline(agreements, tariffs), cycle);
  return computeBill({
    meterId, period: period.label, currency, agreements, tariffs, readings: readingsForBill(index, meterId, period, height), ...(cycle ? { cycle } : {}),
  });
}

export const billIssueCommand: CommandSpec = {
  name: 'bill issue',
  summary: 'Compute a meter\'s bill for one period from the committed readings, agreements and tariffs, and submit it signed as biller.',
  options: {
    ...operatorOptions('biller'),
    meter: { type: 'string', value: 'ID', required: true, help: 'meter id' },
    period: { type: 'string', value: 'YYYY-MM', required: true, help: 'calendar month in the tariff\'s local time, or "cycle-N" on a chain with a short billing cycle' },
    payee: { type: 'string', value: 'ACCOUNT', required: true, help: 'the account the bill is paid to' },
  },
  details: 'The bill names the committed height it was computed at; every validator recomputes it and refuses a\n' +
    'mismatch (E_BILL_MISMATCH). A period without a committed reading after its end is E_BILL_NOT_READY;\n' +
    'one not over yet E_BILL_PERIOD_OPEN. Bills of confidential meters need their disclosures: billing.autoIssue.',
  async run(args) {
    const cmd = 'bill issue';
    const meterId = idFlag(args, 'meter', cmd);
    const label = periodFlag(args, cmd);
    const payee = idFlag(args, 'payee', cmd);
    const http = needGatewayUrl(args, cmd);
    const token = adminToken(args, cmd);
    let bill: Bill | undefined;
    const { txHash, genesis } = await submitAsOperator(args, cmd, async (g) => {
      const height = (await getJson<{ height: number }>(http, '/api/v1/status')).height;
      bill = await computeFromGateway(http, token, g, meterId, label, height);
      return { type: LedgerTxType.Bill, time: Date.now(), payee, height, bill };
    });
    out(`accepted: bill of ${meterId} for ${bill!.period.label}: ${formatAmount(BigInt(bill!.total), genesis.currency)} (${bill!.total} minor units), ${bill!.lines.length} lines, to ${payee} (tx ${txHash})`);
    return 0;
  },
};

interface BillAnswer {
  meterId: string; period: string; account: string; payee: string; biller: string; start: number; end: number; total: string; credited: string;
  height: number; paid: boolean; autopayRefused?: string; txHash: string | null;
  bill: { lines: { kind: string; band?: string; tier?: number; energyWh?: number; days?: string; amount: number }[] } | null;
  payment: { amount: string; by: string; height: number } | null;
  dispute: { status: string; reason: string; note?: string } | null;
}

export const billShowCommand: CommandSpec = {
  name: 'bill show',
  summary: 'Show a committed bill: its line items, total, payment and dispute.',
  options: {
    meter: { type: 'string', value: 'ID', required: true, help: 'meter id' },
    period: { type: 'string', value: 'YYYY-MM', required: true, help: 'the bill\'s period ("YYYY-MM" or "cycle-N")' },
    account: { type: 'string', value: 'ID', help: 'with --key: the account it signs for' },
    ...readerOptions('the paying account\'s key file: read as the owner (with --account), else with the admin token'),
  },
  async run(args) {
    const cmd = 'bill show';
    const meterId = idFlag(args, 'meter', cmd);
    const period = periodFlag(args, cmd);
    const read = await readView<BillAnswer>(args, cmd, `/api/v1/bills/${encodeURIComponent(meterId)}/${encodeURIComponent(period)}`, optionalString(args, 'account'));
    if (!read) return 0;
    const { http, view: b } = read;
    const cur = parseGenesis(await getJson<unknown>(http, '/api/v1/genesis')).currency;
    const money = (v: bigint | string | number): string => formatAmount(BigInt(v), cur);
    out(`bill        ${b.meterId} ${b.period} (${formatInstant(b.start)} .. ${formatInstant(b.end)}), committed at height ${b.height}${b.txHash ? `, tx ${b.txHash}` : ''}`);
    out(`account     ${b.account} pays ${b.payee} (biller ${b.biller})`);
    for (const l of b.bill?.lines ?? []) {
      const what = l.kind === 'standing' ? `standing charge, ${l.days} days` : l.kind === 'energy' ? `energy ${l.band} tier ${l.tier}, ${l.energyWh} Wh` : `export credit, ${l.energyWh} Wh`;
      out(`  ${what.padEnd(40)}${money(l.amount)}`);
    }
    out(`total       ${money(b.total)} (${b.total} minor units)${b.credited !== '0' ? `, credited ${money(b.credited)}` : ''}`);
    out(`paid        ${b.payment ? `yes, ${money(b.payment.amount)} by ${b.payment.by} at height ${b.payment.height}` : `no${b.autopayRefused ? ` (autopay refused: ${b.autopayRefused})` : ''}`}`);
    out(`dispute     ${b.dispute ? `${b.dispute.status}: ${b.dispute.reason}${b.dispute.note ? ` (${b.dispute.note})` : ''}` : 'none'}`);
    return 0;
  },
};

// ------------------------------------------------------------------ the owner (§18-20)

export const mandateSignCommand: CommandSpec = {
  name: 'mandate sign',
  summary: 'Sign a mandate with the owner\'s key: which meters may pay which payee, up to a cap per bill and per calendar month, until an expiry.',
  options: {
    ...ownerOptions,
    payee: { type: 'string', value: 'ACCOUNT', required: true, help: 'the account the meters may pay' },
    meter: { type: 'string', value: 'ID', required: true, multiple: true, help: 'a meter of the account that may pay' },
    'cap-per-bill': { type: 'string', value: 'AMT', required: true, help: `largest bill paid under the mandate: ${AMOUNT_HELP}` },
    'cap-per-month': { type: 'string', value: 'AMT', required: true, help: 'most paid under it in one UTC calendar month (same form)' },
    expires: { type: 'string', value: 'ISO', required: true, help: 'instant from which it authorises nothing: ISO 8601 or ms since 1970' },
    autopay: { type: 'boolean', help: 'each bill pays itself under the mandate when it is committed' },
  },
  details: 'A new mandate for the same payee replaces the old one. Sent without the admin token: the\n' +
    'signature of the account\'s key is the credential.',
  async run(args) {
    const cmd = 'mandate sign';
    const meters = [...new Set(stringList(args, 'meter'))].sort();
    if (meters.length === 0) throw new UsageError('missing --meter (see meterledger mandate sign --help)');
    const payee = idFlag(args, 'payee', cmd);
    const expires = instantFlag(args, 'expires', cmd);
    const o = await owner(args, cmd);
    const mu = currencyOf(o.genesis).minorUnits;
    const capPerBill = parseAmount(need(args, 'cap-per-bill', cmd), mu, 'cap-per-bill');
    const capPerMonth = parseAmount(need(args, 'cap-per-month', cmd), mu, 'cap-per-month');
    const txHash = await submitAsOwner(o, {
      type: LedgerTxType.Mandate, time: Date.now(), account: o.account, payee, meters, capPerBill, capPerMonth, expires, autopay: args.values.autopay === true,
    });
    out(`accepted: mandate of ${o.account} for ${payee}: meters ${meters.join(' ')}, up to ${formatAmount(capPerBill, o.genesis.currency)} a bill and ` +
      `${formatAmount(capPerMonth, o.genesis.currency)} a month until ${formatInstant(expires)}, autopay ${args.values.autopay === true ? 'on' : 'off'} (tx ${txHash})`);
    return 0;
  },
};

export const mandateRevokeCommand: CommandSpec = {
  name: 'mandate revoke',
  summary: 'Revoke the account\'s mandate for a payee at once, signed with the owner\'s key.',
  options: {
    ...ownerOptions,
    payee: { type: 'string', value: 'ACCOUNT', required: true, help: 'the payee of the mandate' },
  },
  async run(args) {
    const cmd = 'mandate revoke';
    const payee = idFlag(args, 'payee', cmd);
    const o = await owner(args, cmd);
    const txHash = await submitAsOwner(o, { type: LedgerTxType.MandateRevoke, time: Date.now(), account: o.account, payee });
    out(`accepted: mandate of ${o.account} for ${payee} revoked (tx ${txHash})`);
    return 0;
  },
};

const billOptions = {
  meter: { type: 'string', value: 'ID', required: true, help: 'the bill\'s meter' },
  period: { type: 'string', value: 'YYYY-MM', required: true, help: 'the bill\'s period ("YYYY-MM" or "cycle-N")' },
} as const;

export const payCommand: CommandSpec = {
  name: 'pay',
  summary: 'Pay a bill from the owner\'s account, signed with the owner\'s key: the amount is the bill\'s total, read from the gateway.',
  options: { ...ownerOptions, ...billOptions },
  details: 'Refusals: E_BILL_ALREADY_PAID, E_PAYMENT_INSUFFICIENT_FUNDS (deposit, then pay again),\n' +
    'E_BILL_NOTHING_DUE, E_TX_NOT_OWNER (the key is not the paying account\'s).',
  async run(args) {
    const cmd = 'pay';
    const meterId = idFlag(args, 'meter', cmd);
    const period = periodFlag(args, cmd);
    const o = await owner(args, cmd);
    const b = await getJson<BillAnswer>(o.http, `/api/v1/bills/${encodeURIComponent(meterId)}/${encodeURIComponent(period)}`, await ownerSession(o));
    if (b.paid) throw new GatewayError(ReasonCode.BILL_ALREADY_PAID, `the bill of "${meterId}" for ${period} is paid`);
    const amount = BigInt(b.total);
    if (amount <= 0n) throw new GatewayError(ReasonCode.BILL_NOTHING_DUE, `the bill's total is ${amount}: nothing is due`);
    const txHash = await submitAsOwner(o, { type: LedgerTxType.Payment, time: Date.now(), meterId, period, amount });
    out(`accepted: payment of ${formatAmount(amount, o.genesis.currency)} (${amount} minor units) for ${meterId} ${period} from ${o.account} to ${b.payee} (tx ${txHash})`);
    return 0;
  },
};

export const disputeCommand: CommandSpec = {
  name: 'dispute',
  summary: 'Dispute a bill, signed with the owner\'s key: a reason and the readings disputed; the biller answers with a credit note or a rejection.',
  options: {
    ...ownerOptions, ...billOptions,
    reason: { type: 'string', value: 'TEXT', required: true, help: 'why (1-1024 characters)' },
    reading: { type: 'string', value: 'SEQ', multiple: true, help: 'seq of a reading disputed' },
  },
  async run(args) {
    const cmd = 'dispute';
    const meterId = idFlag(args, 'meter', cmd);
    const period = periodFlag(args, cmd);
    const reason = need(args, 'reason', cmd);
    const readings = [...new Set(stringList(args, 'reading').map((s) => {
      if (!/^[1-9]\d{0,19}$/.test(s) || BigInt(s) > 2n ** 64n - 1n) throw new UsageError(`--reading "${s}" must be a seq, 1..2^64-1`);
      return BigInt(s);
    }))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const o = await owner(args, cmd);
    const txHash = await submitAsOwner(o, { type: LedgerTxType.Dispute, time: Date.now(), meterId, period, reason, readings });
    out(`accepted: dispute of ${meterId} ${period} by ${o.account} (tx ${txHash})`);
    return 0;
  },
};
