/**
 * An account's bills: each one's line items from its bundle, recomputed in this browser
 * (bill-check.ts) and shown as "match" or FAILED, its status (due, paid at a height,
 * disputed), the balance, and the downloads (downloads.ts), which hold verified data only.
 * The signed-in owner pays a due bill that matched here with "Pay now": after a
 * confirmation showing the amount, the Payment transaction (docs/billing.md §19, as
 * `meterledger pay` builds it) is signed in this browser with the account key and posted.
 */
import { LedgerTxType } from '../../../../protocols/billing/txs.js';
import { ApiError, type MeterInfo, type ReadingRow, getJson, isRefusal, meterPath } from '../api.js';
import { type BillCheck, billPath, checkBill } from '../bill-check.js';
import type { PageContext } from '../context.js';
import { badge, h, kWh, replace, when } from '../dom.js';
import { type VerifiedBill, type VerifiedReading, billsCsv, espiXml, formatMinor, lineLabel, readingsCsv } from '../downloads.js';
import { openAccountLive } from '../live.js';
import { signOwnerTx, signedInAccount, submitTx, untilCommitted } from '../owner.js';
import { signInForm } from '../sign-in.js';

/** Readings per meter a download verifies and holds (the latest ones). */
export const DOWNLOAD_READINGS = 1000;

interface BillState {
  meterId: string; period: string; account: string; payee: string; start: number; end: number; total: string; height: number; paid: boolean; autopayRefused?: string;
}
interface BillDetail extends BillState {
  payment: { amount: string; by: string; height: number } | null;
  dispute: { status: string; reason: string } | null;
}
interface Account { account: string; balance: string; meters: string[] }

/** The account the page is about: ?account=, else the owner of the meters the token may read. */
export async function pageAccount(q: URLSearchParams): Promise<string | undefined> {
  const a = q.get('account');
  if (a && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(a)) return a;
  const { meters } = await getJson<{ meters: MeterInfo[] }>('/api/v1/meters');
  const owners = [...new Set(meters.map((m) => m.owner).filter((o): o is string => o !== undefined))];
  return owners.length === 1 ? owners[0] : undefined;
}

export function accountForm(action: string): HTMLElement {
  return h('form', { action, method: 'get', class: 'inline-form' },
    h('label', { for: 'account-id' }, 'Account id'),
    h('input', { id: 'account-id', name: 'account', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' }),
    h('button', { type: 'submit' }, 'Show'));
}

export function statusText(d: BillDetail): string {
  if (d.dispute && d.dispute.status === 'open') return `disputed (${d.dispute.reason})`;
  if (d.payment) return `paid at height ${d.payment.height} (by ${d.payment.by})${d.dispute ? `; dispute ${d.dispute.status}` : ''}`;
  return `due${d.autopayRefused ? `; automatic payment refused: ${d.autopayRefused}` : ''}${d.dispute ? `; dispute ${d.dispute.status}` : ''}`;
}

function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function billsPage(main: HTMLElement, ctx: PageContext, q: URLSearchParams): Promise<void> {
  document.title = 'Bills · meterledger portal';
  let id: string | undefined;
  try {
    id = await pageAccount(q);
  } catch (e) {
    replace(main, h('h1', {}, 'Bills'), isRefusal(e) ? signInForm(`Refused: ${e.message} (${e.code})`) : h('p', { role: 'alert' }, (e as Error).message));
    return;
  }
  if (!id) {
    replace(main, h('h1', {}, 'Bills'), h('p', {}, 'Which account? (The operator reads any account; an owner reads its own.)'), accountForm('/portal/bills'));
    return;
  }
  const account = id;
  const facts = h('div', { id: 'account' });
  const list = h('div', { id: 'bills', 'aria-live': 'polite' }, h('p', {}, 'Loading bills…'));
  const liveState = h('p', { class: 'note', id: 'live-state', role: 'status' }, 'live feed: connecting…');
  const dlState = h('p', { class: 'note', id: 'download-state', role: 'status' });
  const dlBills = h('button', { type: 'button', id: 'download-bills' }, 'Bills (CSV)');
  const dlReadings = h('button', { type: 'button', id: 'download-readings' }, 'Readings (CSV)');
  const dlUsage = h('button', { type: 'button', id: 'download-usage' }, 'Usage (Green Button XML)');
  replace(main,
    h('h1', {}, `Bills of ${account}`),
    h('p', { class: 'note' }, 'Each bill is recomputed in this browser from the receipts it rests on, checked against the trusted genesis: "match" means the committed bill is exactly what its readings and tariff give. The status (due, paid, disputed) is the gateway\'s word.'),
    facts, liveState,
    h('section', { 'aria-labelledby': 'bills-h' }, h('h2', { id: 'bills-h' }, 'Bills'), list),
    h('section', { 'aria-labelledby': 'dl-h' }, h('h2', { id: 'dl-h' }, 'Download'),
      h('p', { class: 'note' }, `Built in this browser from verified data only: bills that match, and each meter's latest ${DOWNLOAD_READINGS} readings whose receipts verify.`),
      h('p', { class: 'buttons' }, dlBills, ' ', dlReadings, ' ', dlUsage), dlState));

  const checks = new Map<string, { state: BillState; detail?: BillDetail; check?: BillCheck }>();
  let acct: Account | undefined;
  /** Each due bill's pay control, kept across renders so a confirmation or a refusal stays (and its focus). */
  const payBoxes = new Map<string, HTMLElement>();
  const payer = signedInAccount() === account && ctx.genesis?.currency ? ctx.genesis : undefined;

  /** "Pay now", then a confirmation with the amount, then sign, post and wait for the commit. */
  function payBox(s: BillState, money: (n: bigint) => string): HTMLElement {
    const key = `${s.meterId}/${s.period}`;
    const amount = BigInt(s.total);
    const what = `${s.meterId} · ${s.period}`;
    const msg = h('p', { class: 'pay-status', role: 'status', 'aria-live': 'polite' });
    const pay = h('button', { type: 'button', class: 'pay-bill', 'aria-label': `Pay now: ${what}, ${money(amount)}` }, 'Pay now');
    const yes = h('button', { type: 'button', class: 'pay-confirm' }, `Sign and pay ${money(amount)}`);
    const no = h('button', { type: 'button', class: 'pay-cancel' }, 'Cancel');
    const ask = h('p', { class: 'buttons', role: 'group', 'aria-label': `Confirm the payment of ${what}`, hidden: true },
      `Pay ${money(amount)} from account ${account} to ${s.payee} for ${what}? `, yes, ' ', no);
    const box = h('div', { class: 'pay', 'data-pay': key }, pay, ask, msg);
    const say = (t: string, failed = false): void => {
      msg.className = failed ? 'pay-status error' : 'pay-status';
      msg.setAttribute('role', failed ? 'alert' : 'status');
      msg.textContent = t;
    };
    const asking = (on: boolean): void => {
      ask.hidden = !on;
      pay.hidden = on;
      (on ? yes : pay).focus();
    };
    pay.addEventListener('click', () => asking(true));
    no.addEventListener('click', () => asking(false));
    yes.addEventListener('click', () => {
      yes.disabled = no.disabled = true;
      void (async () => {
        say(`Payment of ${what}: signing in this browser…`);
        try {
          const tx = await signOwnerTx(payer!.chainId, account, { type: LedgerTxType.Payment, time: Date.now(), meterId: s.meterId, period: s.period, amount });
          const hash = await submitTx(tx);
          say(`Payment of ${what}: accepted (tx ${hash.slice(0, 16)}…), waiting for the commit…`);
          await untilCommitted(() => getJson<BillDetail>(billPath(s.meterId, s.period)), (d) => d.payment !== null);
          say(`Payment of ${what}: committed.`);
          refreshSoon();
        } catch (e) {
          say(`Payment refused: ${(e as Error).message}${e instanceof ApiError ? ` (${e.code})` : ''}`, true);
          asking(false);
        } finally {
          yes.disabled = no.disabled = false;
        }
      })();
    });
    return box;
  }

  /** The pay control of a bill the signed-in owner may pay: due, and recomputed here as a match. */
  function payControl(s: BillState, detail: BillDetail | undefined, check: BillCheck | undefined, money: (n: bigint) => string): HTMLElement | null {
    const key = `${s.meterId}/${s.period}`;
    if (!payer || !check?.ok || !detail || detail.payment || s.paid || BigInt(s.total) <= 0n) {
      payBoxes.delete(key);
      return null;
    }
    let box = payBoxes.get(key);
    if (!box) payBoxes.set(key, box = payBox(s, money));
    return box;
  }

  function render(): void {
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (acct && ctx.genesis?.currency) {
      const c = ctx.genesis.currency;
      replace(facts, h('dl', { class: 'facts' },
        h('dt', {}, 'Balance'), h('dd', { id: 'balance' }, `${c.code} ${formatMinor(BigInt(acct.balance), c.minorUnits)}`),
        h('dt', {}, 'Meters'), h('dd', {}, ...acct.meters.flatMap((m, i) => [i ? ', ' : '', h('a', { href: `/portal/meter?id=${encodeURIComponent(m)}` }, m)]))));
    }
    const rows = [...checks.values()].filter((x) => x.state.account === account).sort((a, b) => b.state.start - a.state.start || (a.state.meterId < b.state.meterId ? -1 : 1));
    if (rows.length === 0) {
      replace(list, h('p', {}, 'No bills yet.'));
      return;
    }
    replace(list, ...rows.map(({ state: s, detail, check }) => {
      const key = `${s.meterId}/${s.period}`;
      const minor = ctx.genesis?.currency?.minorUnits ?? 0;
      const code = ctx.genesis?.currency?.code ?? '';
      const money = (n: bigint | number): string => `${code} ${formatMinor(n, minor)}`;
      const result = !check ? badge('checking')
        : check.ok ? badge('verified', 'match') : badge('failed');
      const lines = check?.ok ? h('table', { class: 'lines' },
        h('caption', {}, `Line items of ${s.meterId}, ${s.period}`),
        h('thead', {}, h('tr', {}, ...['item', 'kWh', 'amount'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...check.bill.lines.map((l) => h('tr', {},
          h('td', {}, l.kind === 'energy' ? `energy, band ${l.band}, tier ${l.tier}` : lineLabel(l)),
          h('td', {}, l.kind === 'standing' ? '—' : kWh(l.energyWh)),
          h('td', { class: 'amount' }, money(l.amount)))),
        h('tr', { class: 'total' }, h('th', { scope: 'row' }, 'total'), h('td', {}), h('td', { class: 'amount', 'data-total': String(check.bill.total) }, money(check.bill.total)))))
        : null;
      return h('article', { class: 'bill', 'data-bill': key, 'data-state': !check ? 'checking' : check.ok ? 'match' : 'failed', 'aria-labelledby': `bill-${key}` },
        h('h3', { id: `bill-${key}` }, `${s.meterId} · ${s.period}`),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Period'), h('dd', {}, `${when(s.start)} to ${when(s.end)}`),
          h('dt', {}, 'Recomputed in your browser'), h('dd', { class: 'recomputed' }, result,
            check && !check.ok ? h('span', { class: 'why' }, ` ${check.code}: ${check.why}`) : null,
            check?.ok ? ` from ${check.readings} verified readings, committed at height ${check.height}` : null),
          h('dt', {}, 'Total'), h('dd', {}, check?.ok ? money(check.bill.total) : h('span', {}, `${money(BigInt(s.total))} `, badge('unverified'))),
          h('dt', {}, 'Status'), h('dd', { class: 'status' }, detail ? statusText(detail) : s.paid ? 'paid' : 'due')),
        payControl(s, detail, check, money),
        lines);
    }));
    // A pay control moved by the re-render keeps the keyboard focus it had.
    if (focused && focused !== document.activeElement && focused.isConnected && focused.closest('.pay')) focused.focus();
  }

  async function refresh(): Promise<void> {
    let states: BillState[];
    try {
      [acct, { bills: states }] = await Promise.all([
        getJson<Account>(`/api/v1/accounts/${encodeURIComponent(account)}`),
        getJson<{ bills: BillState[] }>(`/api/v1/accounts/${encodeURIComponent(account)}/bills`),
      ]);
    } catch (e) {
      replace(list, isRefusal(e) ? signInForm(`Refused: ${e.message} (${e.code})`) : h('p', { role: 'alert' }, `Cannot list bills: ${(e as Error).message}`));
      return;
    }
    const todo: string[] = [];
    for (const s of states) {
      const key = `${s.meterId}/${s.period}`;
      const had = checks.get(key);
      if (!had) todo.push(key);
      checks.set(key, { ...had, state: s });
    }
    render();
    // Status may change on any bill (paid, disputed): reload every detail; check new bills' bundles.
    await Promise.all([...checks.entries()].filter(([, x]) => x.state.account === account).map(async ([key, x]) => {
      try {
        x.detail = await getJson<BillDetail>(billPath(x.state.meterId, x.state.period));
      } catch { /* keep the state's status */ }
      if (todo.includes(key)) x.check = await checkBill(ctx, x.state.meterId, x.state.period);
      render();
    }));
    main.dataset.loaded = 'true';
  }

  let refreshing: Promise<void> | undefined;
  let again = false;
  const refreshSoon = (): void => {
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = refresh().finally(() => {
      refreshing = undefined;
      if (again) {
        again = false;
        refreshSoon();
      }
    });
  };

  dlBills.addEventListener('click', () => {
    const ok: VerifiedBill[] = [...checks.values()].flatMap((x) => (x.check?.ok && x.state.account === account
      ? [{ bill: x.check.bill, height: x.check.height, status: x.detail ? statusText(x.detail) : 'due' }] : []));
    download(`bills-${account}.csv`, 'text/csv;charset=utf-8', billsCsv(ok));
    replace(dlState, `Bills: ${ok.length} recomputed bills downloaded.`);
  });

  async function verifiedReadings(): Promise<Map<string, VerifiedReading[]>> {
    const out = new Map<string, VerifiedReading[]>();
    for (const meterId of acct?.meters ?? []) {
      const info = await getJson<MeterInfo>(meterPath(meterId));
      const last = BigInt(info.lastSeq);
      const rows: ReadingRow[] = [];
      for (let next: string | null = (last > BigInt(DOWNLOAD_READINGS) ? last - BigInt(DOWNLOAD_READINGS) + 1n : 1n).toString(); next !== null && rows.length < DOWNLOAD_READINGS;) {
        const page: { readings: ReadingRow[]; nextFromSeq: string | null } = await getJson(`${meterPath(meterId)}/readings?fromSeq=${next}&limit=1000`);
        rows.push(...page.readings);
        next = page.nextFromSeq;
      }
      const list: VerifiedReading[] = [];
      let i = 0;
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (i < rows.length) {
          const seq = BigInt(rows[i++]!.seq);
          const r = await ctx.verify(meterId, seq);
          replace(dlState, `Checking readings of ${meterId}: ${i} of ${rows.length}…`);
          if (!r.verified || !r.reading || !r.receipt || !r.txHash) continue;
          const rd = r.reading;
          list.push({ meterId, seq: rd.seq, time: rd.time, importWh: rd.importWh, ...(rd.exportWh !== undefined ? { exportWh: rd.exportWh } : {}), height: r.receipt.header.height, txHash: r.txHash });
        }
      }));
      out.set(meterId, list);
    }
    return out;
  }

  const readingsButton = (b: HTMLButtonElement, make: (m: Map<string, VerifiedReading[]>) => void): void => {
    b.addEventListener('click', () => {
      b.disabled = true;
      void verifiedReadings().then(make, (e: unknown) => replace(dlState, `Download failed: ${(e as Error).message}`)).finally(() => {
        b.disabled = false;
      });
    });
  };
  readingsButton(dlReadings, (m) => {
    const all = [...m.values()].flat();
    download(`readings-${account}.csv`, 'text/csv;charset=utf-8', readingsCsv(all));
    replace(dlState, `Readings: ${all.length} verified readings downloaded.`);
  });
  readingsButton(dlUsage, (m) => {
    download(`usage-${account}.xml`, 'application/atom+xml;charset=utf-8', espiXml({
      chainId: ctx.genesis?.chainId ?? '', account, now: Date.now(),
      meters: [...m.entries()].map(([meterId, readings]) => ({ meterId, readings })),
    }));
    replace(dlState, `Usage: ${[...m.values()].reduce((n, r) => n + r.length, 0)} verified readings downloaded as register deltas.`);
  });

  await refresh();
  openAccountLive(account, {
    change: () => refreshSoon(),
    state: (s) => replace(liveState, s === 'live' ? 'live feed: connected, new bills and payments appear here as they are committed' : 'live feed: reconnecting…'),
  });
}
