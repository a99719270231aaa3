/**
 * An account's money: its balance, deposits, withdrawals and the payments of its bills,
 * each shown with its receipt checked in this browser as readings' are (the receipt
 * against the trusted genesis, its block on the hash chain from it, the transaction about
 * this account), and automatic payments refused with their codes. New ones arrive live.
 */
import { headerHash } from '../../../../protocols/block.js';
import { equalBytes, fromHex, toHex } from '../../../../protocols/bytes.js';
import { type Deposit, LedgerTxType, type Payment, type Withdrawal } from '../../../../protocols/billing/txs.js';
import { decodeReceipt, verifyReceipt } from '../../../../protocols/receipt.js';
import { sha256 } from '../../../../protocols/hash.js';
import { getJson, isRefusal } from '../api.js';
import type { PageContext } from '../context.js';
import { badge, h, replace, short, when } from '../dom.js';
import { formatMinor } from '../downloads.js';
import { openAccountLive } from '../live.js';
import { signInForm } from '../sign-in.js';
import { accountForm, pageAccount } from './bills.js';

interface MoneyAnswer {
  account: string;
  balance: string;
  transactions: { type: number; typeName: string; height: number; index: number; receipt: string }[];
  refused: { bill: string; code: string; height: number }[];
}

/** One money transaction as checked here. */
export type MoneyCheck =
  | { readonly ok: true; readonly kind: 'deposit' | 'withdrawal' | 'payment'; readonly amount: bigint; readonly time: number; readonly height: number; readonly bill?: string; readonly by?: string; readonly txHash: string }
  | { readonly ok: false; readonly why: string; readonly height: number };

export async function checkMoneyReceipt(ctx: PageContext, account: string, billIds: ReadonlySet<string>, hex: string, height: number): Promise<MoneyCheck> {
  if (!ctx.genesis || !ctx.chain) return { ok: false, why: 'no trusted genesis', height };
  try {
    const r = decodeReceipt(fromHex(hex, 'receipt'));
    const v = verifyReceipt(ctx.genesis, r);
    const hash = (await ctx.chain.headers.hashAt(r.header.height)).hash;
    if (!equalBytes(hash, headerHash(r.header))) return { ok: false, why: `block ${r.header.height} is not the one on the chain from genesis`, height };
    const body = v.tx.body;
    const txHash = toHex(sha256(r.tx));
    if (body.type === LedgerTxType.Deposit || body.type === LedgerTxType.Withdrawal) {
      const b = body as Deposit | Withdrawal;
      if (b.account !== account) return { ok: false, why: `the transaction is of account ${b.account}`, height };
      return { ok: true, kind: body.type === LedgerTxType.Deposit ? 'deposit' : 'withdrawal', amount: b.amount, time: b.time, height: r.header.height, txHash };
    }
    if (body.type === LedgerTxType.Payment) {
      const b = body as Payment;
      const bill = `${b.meterId}/${b.period}`;
      if (!billIds.has(bill)) return { ok: false, why: `the payment is of bill ${bill}, not one this account pays`, height };
      return { ok: true, kind: 'payment', amount: b.amount, time: b.time, height: r.header.height, bill, by: v.tx.cose.kid ?? b.meterId, txHash };
    }
    return { ok: false, why: `a transaction of type ${body.type} is not money`, height };
  } catch (e) {
    return { ok: false, why: (e as Error).message, height };
  }
}

export async function paymentsPage(main: HTMLElement, ctx: PageContext, q: URLSearchParams): Promise<void> {
  document.title = 'Payments · meterledger portal';
  let id: string | undefined;
  try {
    id = await pageAccount(q);
  } catch (e) {
    replace(main, h('h1', {}, 'Payments'), isRefusal(e) ? signInForm(`Refused: ${e.message} (${e.code})`) : h('p', { role: 'alert' }, (e as Error).message));
    return;
  }
  if (!id) {
    replace(main, h('h1', {}, 'Payments'), h('p', {}, 'Which account? (The operator reads any account; an owner reads its own.)'), accountForm('/portal/payments'));
    return;
  }
  const account = id;
  const c = ctx.genesis?.currency;
  const money = (n: bigint): string => (c ? `${c.code} ${formatMinor(n, c.minorUnits)}` : `${n} minor units`);
  const facts = h('div', { id: 'account' });
  const list = h('div', { id: 'payments', 'aria-live': 'polite' }, h('p', {}, 'Loading…'));
  const refusedEl = h('div', { id: 'refused' });
  const liveState = h('p', { class: 'note', id: 'live-state', role: 'status' }, 'live feed: connecting…');
  replace(main, h('h1', {}, `Payments of ${account}`),
    h('p', { class: 'note' }, 'Each deposit, withdrawal and payment is shown from its receipt, checked in this browser against the trusted genesis. The balance is the gateway\'s word.'),
    facts, liveState,
    h('section', { 'aria-labelledby': 'money-h' }, h('h2', { id: 'money-h' }, 'Deposits, withdrawals and payments'), list),
    h('section', { 'aria-labelledby': 'refused-h' }, h('h2', { id: 'refused-h' }, 'Automatic payments refused'), refusedEl));

  const checked = new Map<string, MoneyCheck>();
  async function refresh(): Promise<void> {
    let m: MoneyAnswer;
    let bills: { meterId: string; period: string; account: string }[];
    try {
      [m, { bills }] = await Promise.all([
        getJson<MoneyAnswer>(`/api/v1/accounts/${encodeURIComponent(account)}/payments`),
        getJson<{ bills: { meterId: string; period: string; account: string }[] }>(`/api/v1/accounts/${encodeURIComponent(account)}/bills`),
      ]);
    } catch (e) {
      replace(list, isRefusal(e) ? signInForm(`Refused: ${e.message} (${e.code})`) : h('p', { role: 'alert' }, `Cannot read payments: ${(e as Error).message}`));
      return;
    }
    const billIds = new Set(bills.filter((b) => b.account === account).map((b) => `${b.meterId}/${b.period}`));
    replace(facts, h('dl', { class: 'facts' }, h('dt', {}, 'Balance'), h('dd', { id: 'balance' }, `${money(BigInt(m.balance))} `, badge('unverified', 'the gateway\'s word'))));
    for (const t of m.transactions) {
      if (!checked.has(t.receipt)) checked.set(t.receipt, await checkMoneyReceipt(ctx, account, billIds, t.receipt, t.height));
    }
    const rows = m.transactions.map((t) => checked.get(t.receipt)!).reverse();
    replace(list, rows.length === 0 ? h('p', {}, 'None yet.') : h('table', { class: 'money' },
      h('caption', {}, `${rows.length} transactions, newest first`),
      h('thead', {}, h('tr', {}, ...['what', 'amount', 'time', 'block', 'check'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, ...rows.map((r) => r.ok
        ? h('tr', { 'data-kind': r.kind, 'data-state': 'verified', ...(r.bill ? { 'data-bill': r.bill } : {}) },
          h('td', {}, r.kind === 'payment' ? `payment of ${r.bill} (by ${r.by})` : r.kind),
          h('td', { class: 'amount' }, r.kind === 'deposit' ? money(r.amount) : money(-r.amount)),
          h('td', {}, when(r.time)), h('td', {}, String(r.height)),
          h('td', {}, badge('verified'), ' ', h('code', { title: r.txHash }, short(r.txHash))))
        : h('tr', { 'data-state': 'failed' }, h('td', {}, 'transaction'), h('td', {}, '—'), h('td', {}, '—'), h('td', {}, String(r.height)),
          h('td', {}, badge('failed'), h('span', { class: 'why' }, ` ${r.why}`)))))));
    replace(refusedEl, m.refused.length === 0 ? h('p', {}, 'None.') : h('table', {},
      h('caption', {}, 'The gateway\'s word: a refused payment is not on the chain'),
      h('thead', {}, h('tr', {}, ...['bill', 'code', 'bill block'].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, ...m.refused.map((r) => h('tr', { 'data-bill': r.bill }, h('td', {}, r.bill), h('td', {}, h('code', {}, r.code)), h('td', {}, String(r.height)))))));
    main.dataset.loaded = 'true';
  }
  let busy: Promise<void> | undefined;
  let again = false;
  const soon = (): void => {
    if (busy) {
      again = true;
      return;
    }
    busy = refresh().finally(() => {
      busy = undefined;
      if (again) {
        again = false;
        soon();
      }
    });
  };
  await refresh();
  openAccountLive(account, {
    change: soon,
    state: (s) => replace(liveState, s === 'live' ? 'live feed: connected, new payments appear here as they are committed' : 'live feed: reconnecting…'),
  });
}
