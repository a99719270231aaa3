/**
 * The owner's mandates (docs/billing.md §18): create one, change its caps, revoke it.
 * Each is a transaction signed in this browser with the account key (owner.ts) and
 * posted to the gateway; the page shows it once committed, read back from the account.
 */
import { LedgerTxType } from '../../../../protocols/billing/txs.js';
import { ApiError, getJson } from '../api.js';
import { h, replace, when } from '../dom.js';
import { formatMinor, parseMinor, signOwnerTx, submitTx, untilCommitted } from '../owner.js';
import { type OwnerPage, ownerOf, statusLine } from './owner-common.js';
import type { Genesis } from '../../../../protocols/genesis.js';

interface MandateView {
  payee: string; meters: string[]; capPerBill: string; capPerMonth: string; expires: number; autopay: boolean; revoked: boolean; time: number; spentThisMonth: string;
}
interface AccountView { account: string; meters: string[]; balance: string }

const YEAR = 365 * 86_400_000;

export async function mandatesPage(main: HTMLElement, genesis: Genesis | undefined): Promise<void> {
  document.title = 'Mandates · meterledger portal';
  const o = ownerOf(main, genesis, 'Mandates');
  if (!o) return;
  const status = statusLine('mandate-status');
  const list = h('div', { id: 'mandates', class: 'wide', 'aria-live': 'polite' }, h('p', {}, 'Loading…'));
  const createSlot = h('div');
  replace(main, h('h1', {}, 'Mandates'),
    h('p', { class: 'note' }, `Account ${o.account}. A mandate lets a payee be paid for your meters' bills, up to its caps. `,
      'Each change is signed in this browser with your account key and shown here once the ledger has committed it.'),
    status.el, h('h2', {}, 'Your mandates'), list, createSlot);
  const mandatesOf = async (): Promise<MandateView[]> => (await getJson<{ mandates: MandateView[] }>(`/api/v1/accounts/${encodeURIComponent(o.account)}/mandates`)).mandates;
  let acc: AccountView;
  try {
    acc = await getJson<AccountView>(`/api/v1/accounts/${encodeURIComponent(o.account)}`);
  } catch (e) {
    replace(list, h('p', { role: 'alert' }, `Cannot read the account: ${(e as Error).message}${e instanceof ApiError ? ` (${e.code})` : ''}`));
    return;
  }
  const money = (v: string): string => `${formatMinor(v, o.minorUnits)} ${o.currency}`;

  /** Sign, submit, wait for `done` on the mandates; then redraw. */
  async function act(what: string, body: Parameters<typeof signOwnerTx>[2], done: (ms: MandateView[]) => boolean): Promise<void> {
    status.info(`${what}: signing in this browser…`);
    try {
      const tx = await signOwnerTx(o!.chainId, o!.account, body);
      const hash = await submitTx(tx);
      status.info(`${what}: accepted (tx ${hash.slice(0, 16)}…), waiting for the commit…`);
      const ms = await untilCommitted(mandatesOf, done);
      draw(ms);
      status.info(`${what}: committed.`);
    } catch (e) {
      status.fail(`${what} refused: ${(e as Error).message}${e instanceof ApiError ? ` (${e.code})` : ''}`);
    }
  }

  function capsForm(m: MandateView, i: number): HTMLElement {
    const perBill = h('input', { id: `cap-bill-${i}`, name: 'capPerBill', inputmode: 'decimal', required: true, value: formatMinor(m.capPerBill, o!.minorUnits), size: '8' });
    const perMonth = h('input', { id: `cap-month-${i}`, name: 'capPerMonth', inputmode: 'decimal', required: true, value: formatMinor(m.capPerMonth, o!.minorUnits), size: '8' });
    const f = h('form', { class: 'inline-form', 'aria-label': `Change the caps of the mandate for ${m.payee}` },
      h('label', { for: `cap-bill-${i}` }, 'Per bill'), perBill, h('label', { for: `cap-month-${i}` }, 'Per month'), perMonth,
      h('button', { type: 'submit' }, 'Change caps'));
    f.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const b = parseMinor(perBill.value, o!.minorUnits);
      const mo = parseMinor(perMonth.value, o!.minorUnits);
      if (!b || !mo) return status.fail(`Caps must be amounts in ${o!.currency} with at most ${o!.minorUnits} decimals, above zero.`);
      void act(`Caps of the mandate for ${m.payee}`, {
        type: LedgerTxType.Mandate, time: Date.now(), account: o!.account, payee: m.payee, meters: m.meters, capPerBill: b, capPerMonth: mo,
        expires: m.expires, autopay: m.autopay,
      }, (ms) => ms.some((x) => x.payee === m.payee && x.capPerBill === b.toString() && x.capPerMonth === mo.toString()));
    });
    return f;
  }

  function draw(ms: MandateView[]): void {
    if (ms.length === 0) return replace(list, h('p', {}, 'No mandates.'));
    replace(list, h('table', { class: 'mandates' },
      h('caption', {}, 'Mandates of this account, by payee'),
      h('thead', {}, h('tr', {}, ...['Payee', 'Caps', 'State', 'Change'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...ms.map((m, i) => {
        const revoke = h('button', { type: 'button', 'aria-label': `Revoke the mandate for ${m.payee}` }, 'Revoke');
        revoke.addEventListener('click', () => void act(`Revocation of the mandate for ${m.payee}`,
          { type: LedgerTxType.MandateRevoke, time: Date.now(), account: o!.account, payee: m.payee },
          (xs) => xs.some((x) => x.payee === m.payee && x.revoked)));
        return h('tr', { 'data-payee': m.payee, 'data-state': m.revoked ? 'revoked' : 'active' },
          h('td', {}, m.payee, h('br'), h('small', { class: 'note' }, `meters ${m.meters.join(', ')}`)),
          h('td', {}, `${money(m.capPerBill)} a bill, ${money(m.capPerMonth)} a month`, h('br'),
            h('small', { class: 'note' }, `spent this month ${money(m.spentThisMonth)}`)),
          h('td', {}, m.revoked ? 'revoked' : 'active', h('br'), h('small', { class: 'note' }, `${m.autopay ? 'autopay, ' : ''}until ${when(m.expires)}`)),
          h('td', {}, m.revoked ? '' : capsForm(m, i), m.revoked ? null : revoke));
      }))));
  }

  // A new mandate (or a replacement of one for the same payee).
  const payee = h('input', { id: 'new-payee', name: 'payee', type: 'text', required: true, spellcheck: 'false', autocomplete: 'off' });
  const capBill = h('input', { id: 'new-cap-bill', name: 'capPerBill', inputmode: 'decimal', required: true, value: formatMinor(2000n, o.minorUnits) });
  const capMonth = h('input', { id: 'new-cap-month', name: 'capPerMonth', inputmode: 'decimal', required: true, value: formatMinor(10_000n, o.minorUnits) });
  const expires = h('input', { id: 'new-expires', name: 'expires', type: 'date', required: true, value: new Date(Date.now() + YEAR).toISOString().slice(0, 10) });
  const autopay = h('input', { id: 'new-autopay', name: 'autopay', type: 'checkbox' });
  const meterBoxes = acc.meters.map((id, i) => {
    const box = h('input', { id: `new-meter-${i}`, name: 'meters', type: 'checkbox', value: id, checked: true });
    return { id, box, el: h('span', {}, box, h('label', { for: `new-meter-${i}` }, id)) };
  });
  const create = h('form', { id: 'new-mandate', class: 'stack-form' },
    h('label', { for: 'new-payee' }, 'Payee account'), payee,
    h('fieldset', { class: 'units' }, h('legend', {}, 'Meters that may pay'), ...meterBoxes.map((m) => m.el)),
    h('label', { for: 'new-cap-bill' }, `Cap per bill (${o.currency})`), capBill,
    h('label', { for: 'new-cap-month' }, `Cap per month (${o.currency})`), capMonth,
    h('label', { for: 'new-expires' }, 'Expires on (UTC midnight)'), expires,
    h('span', {}, autopay, h('label', { for: 'new-autopay' }, ' Pay bills automatically when issued')),
    h('button', { type: 'submit' }, 'Sign and create mandate'));
  create.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const meters = meterBoxes.filter((m) => m.box.checked).map((m) => m.id).sort();
    const b = parseMinor(capBill.value, o.minorUnits);
    const mo = parseMinor(capMonth.value, o.minorUnits);
    const exp = Date.parse(`${expires.value}T00:00:00Z`);
    if (meters.length === 0) return status.fail('Pick at least one meter.');
    if (!b || !mo) return status.fail(`Caps must be amounts in ${o.currency} with at most ${o.minorUnits} decimals, above zero.`);
    if (!Number.isFinite(exp)) return status.fail('Expiry: pick a date.');
    const p = payee.value.trim();
    void act(`Mandate for ${p}`, {
      type: LedgerTxType.Mandate, time: Date.now(), account: o.account, payee: p, meters, capPerBill: b, capPerMonth: mo, expires: exp, autopay: autopay.checked,
    }, (ms) => ms.some((x) => x.payee === p && !x.revoked && x.capPerBill === b.toString() && x.expires === exp));
  });
  replace(createSlot, h('h2', {}, 'New mandate'), acc.meters.length === 0 ? h('p', {}, 'This account has no meters yet.') : create);
  try {
    draw(await mandatesOf());
  } catch (e) {
    replace(list, h('p', { role: 'alert' }, `Cannot list mandates: ${(e as Error).message}`));
  }
}
