/**
 * Disputes (docs/billing.md §19): the owner disputes a bill of the account with a reason;
 * the transaction is signed in this browser with the account key and posted; the page
 * shows each bill's dispute as the ledger holds it (open, rejected with the biller's
 * note, or credited), read back once committed.
 */
import { LedgerTxType } from '../../../../protocols/billing/txs.js';
import type { Genesis } from '../../../../protocols/genesis.js';
import { ApiError, getJson } from '../api.js';
import { h, replace, when } from '../dom.js';
import { formatMinor, signOwnerTx, submitTx, untilCommitted } from '../owner.js';
import { ownerOf, statusLine } from './owner-common.js';

interface BillRow { meterId: string; period: string; account: string; payee: string; start: number; end: number; total: string; credited: string; paid: boolean }
interface Dispute { reason: string; status: 'open' | 'rejected' | 'credited'; time: number; note?: string }

/** Bills shown (newest first). */
const MAX_BILLS = 50;

export async function disputesPage(main: HTMLElement, genesis: Genesis | undefined): Promise<void> {
  document.title = 'Disputes · meterledger portal';
  const o = ownerOf(main, genesis, 'Disputes');
  if (!o) return;
  const status = statusLine('dispute-status');
  const table = h('div', { id: 'bills', class: 'wide', role: 'region', tabindex: '0', 'aria-label': 'Bills and their disputes', 'aria-live': 'polite' }, h('p', {}, 'Loading bills…'));
  const formSlot = h('div');
  replace(main, h('h1', {}, 'Disputes'),
    h('p', { class: 'note' }, `Account ${o.account}. Dispute a bill you think is wrong: the biller answers with a credit note or a rejection, both on the ledger. `,
      'The dispute is signed in this browser with your account key.'),
    status.el, formSlot, h('h2', {}, 'Bills of this account'), table);
  const money = (v: string): string => `${formatMinor(v, o.minorUnits)} ${o.currency}`;
  const billPath = (b: { meterId: string; period: string }): string => `/api/v1/bills/${encodeURIComponent(b.meterId)}/${encodeURIComponent(b.period)}`;
  const disputeOf = async (b: BillRow): Promise<Dispute | null> => (await getJson<{ dispute: Dispute | null }>(billPath(b))).dispute;

  let bills: BillRow[];
  try {
    bills = (await getJson<{ bills: BillRow[] }>(`/api/v1/accounts/${encodeURIComponent(o.account)}/bills`)).bills
      .filter((b) => b.account === o.account).sort((a, b) => b.end - a.end).slice(0, MAX_BILLS);
  } catch (e) {
    replace(table, h('p', { role: 'alert' }, `Cannot list bills: ${(e as Error).message}${e instanceof ApiError ? ` (${e.code})` : ''}`));
    return;
  }
  const disputes = await Promise.all(bills.map((b) => disputeOf(b).catch(() => null)));

  function draw(): void {
    if (bills.length === 0) return replace(table, h('p', {}, 'No bills yet.'));
    replace(table, h('table', {},
      h('caption', {}, `The newest ${bills.length} bills this account pays`),
      h('thead', {}, h('tr', {}, ...['Bill', 'Total', 'Paid', 'Dispute'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...bills.map((b, i) => {
        const d = disputes[i];
        return h('tr', { 'data-bill': `${b.meterId}/${b.period}`, 'data-dispute': d?.status ?? 'none' },
          h('td', {}, `${b.meterId} · ${b.period}`, h('br'), h('small', { class: 'note' }, `${when(b.start)} – ${when(b.end)}`)),
          h('td', { class: 'num' }, money(b.total), b.credited !== '0' ? h('small', { class: 'note' }, h('br'), `credited ${money(b.credited)}`) : null),
          h('td', {}, b.paid ? 'yes' : 'no'),
          h('td', {}, d ? `${d.status}: “${d.reason}”${d.note ? ` (biller: ${d.note})` : ''}` : '—'));
      }))));
  }
  draw();
  if (bills.length === 0) return;

  const select = h('select', { id: 'dispute-bill', name: 'bill', required: true },
    ...bills.map((b, i) => h('option', { value: String(i) }, `${b.meterId} · ${b.period} · ${money(b.total)}`)));
  const reason = h('textarea', { id: 'dispute-reason', name: 'reason', required: true, maxlength: '1024', rows: '3' });
  const form = h('form', { id: 'dispute', class: 'stack-form' },
    h('label', { for: 'dispute-bill' }, 'Bill'), select,
    h('label', { for: 'dispute-reason' }, 'What is wrong with it'), reason,
    h('button', { type: 'submit' }, 'Sign and dispute this bill'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const i = Number(select.value);
    const b = bills[i]!;
    const why = reason.value.trim();
    if (!why) return status.fail('Say what is wrong with the bill.');
    void (async () => {
      const what = `Dispute of ${b.meterId} ${b.period}`;
      status.info(`${what}: signing in this browser…`);
      try {
        const tx = await signOwnerTx(o.chainId, o.account, { type: LedgerTxType.Dispute, time: Date.now(), meterId: b.meterId, period: b.period, reason: why, readings: [] });
        const hash = await submitTx(tx);
        status.info(`${what}: accepted (tx ${hash.slice(0, 16)}…), waiting for the commit…`);
        disputes[i] = await untilCommitted(() => disputeOf(b), (d) => d?.status === 'open' && d.reason === why);
        draw();
        status.info(`${what}: committed; the dispute is open.`);
      } catch (e) {
        status.fail(`Dispute refused: ${(e as Error).message}${e instanceof ApiError ? ` (${e.code})` : ''}`);
      }
    })();
  });
  replace(formSlot, h('h2', {}, 'Dispute a bill'), form);
}
