/**
 * The operator's fleet (read-only): every meter, when it was last seen, the committed
 * bills not yet paid (on a chain with billing), and readings refused by reason. GET /api/v1/fleet needs the admin token; it is kept as this tab's
 * access token (api.ts), so the meter pages it links to can be read with it too.
 */
import { ApiError, clearToken, getJson, getToken, setToken } from '../api.js';
import { formatMinor } from '../downloads.js';
import { ago, h, replace, when } from '../dom.js';

interface Fleet {
  chainId: string;
  height: number;
  pending: number;
  meters: { meterId: string; alg: string; revoked: boolean; owner?: string; lastSeq: string; lastSeen: number | null; lastHeight: number | null }[];
  rejects: Record<string, number>;
  currency: { code: string; minorUnits: number } | null;
  unpaidBills: { meterId: string; period: string; account: string; total: string; credited: string; currency: string; height: number; disputed: boolean }[] | null;
  unpaidBillsCount: number | null;
  unpaidBillsLimit: number;
}

/** The unpaid bills section: a table, or a sentence when there are none or the chain has no billing. */
function unpaidSection(f: Fleet): HTMLElement {
  if (f.unpaidBills === null || f.currency === null) return h('p', { id: 'unpaid-bills' }, 'This chain has no billing (no currency in its genesis).');
  if (f.unpaidBills.length === 0) return h('p', { id: 'unpaid-bills' }, 'None: every committed bill is paid.');
  const minor = f.currency.minorUnits;
  const shown = f.unpaidBills.length < (f.unpaidBillsCount ?? 0) ? `the newest ${f.unpaidBills.length} of ${f.unpaidBillsCount}` : `${f.unpaidBills.length}`;
  return h('div', { class: 'wide', role: 'region', tabindex: '0', 'aria-label': 'Unpaid bills' }, h('table', { id: 'unpaid-bills' },
    h('caption', {}, `Committed bills with no payment: ${shown} (at most ${f.unpaidBillsLimit} are listed), newest first`),
    h('thead', {}, h('tr', {}, ...['meter', 'period', 'account', `total (${f.currency.code})`, 'committed at height', 'disputed'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...f.unpaidBills.map((b) => h('tr', {},
      h('td', {}, h('a', { href: `/portal/meter?id=${encodeURIComponent(b.meterId)}` }, b.meterId)),
      h('td', {}, b.period),
      h('td', {}, b.account),
      h('td', {}, `${formatMinor(BigInt(b.total), minor)} ${b.currency}${BigInt(b.credited) > 0n ? ` (credited ${formatMinor(BigInt(b.credited), minor)})` : ''}`),
      h('td', {}, String(b.height)),
      h('td', {}, b.disputed ? 'yes' : 'no'))))));
}

export async function fleetPage(main: HTMLElement): Promise<void> {
  document.title = 'Fleet · meterledger portal';
  const input = h('input', { id: 'op-token', name: 'token', type: 'password', autocomplete: 'off', required: true });
  const form = h('form', { class: 'inline-form' }, h('label', { for: 'op-token' }, 'Operator token'), input, h('button', { type: 'submit' }, 'Show fleet'));
  const out = h('div', { id: 'fleet', 'aria-live': 'polite' });
  replace(main, h('h1', {}, 'Fleet'), h('p', { class: 'note' }, 'Read-only, for operators: needs the gateway\'s admin token (http.adminToken).'), form, out);

  const show = async (token: string): Promise<void> => {
    replace(out, h('p', {}, 'Loading…'));
    let f: Fleet;
    try {
      f = await getJson<Fleet>('/api/v1/fleet', { authorization: `Bearer ${token}` });
    } catch (e) {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) clearToken();
      replace(out, h('p', { role: 'alert' }, `Refused: ${(e as Error).message}${e instanceof ApiError ? ` (${e.code})` : ''}`));
      return;
    }
    setToken(token);
    const rejects = Object.entries(f.rejects).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    replace(out,
      h('p', {}, `Chain ${f.chainId}, height ${f.height}, ${f.pending} accepted and not yet committed.`),
      h('h2', {}, 'Readings refused, by reason'),
      rejects.length === 0 ? h('p', { id: 'rejects' }, 'None since the gateway started.')
        : h('table', { id: 'rejects' }, h('caption', {}, 'Since the gateway started (reasons not listed: 0)'),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'reason'), h('th', { scope: 'col' }, 'readings'))),
          h('tbody', {}, ...rejects.map(([r, n]) => h('tr', {}, h('td', {}, h('code', {}, r)), h('td', {}, String(n)))))),
      h('h2', {}, 'Unpaid bills'),
      unpaidSection(f),
      h('h2', {}, 'Meters'),
      // A seq is up to 20 digits: kept on one line, the table scrolls in its own box on a phone.
      h('div', { class: 'wide', role: 'region', tabindex: '0', 'aria-label': 'Meters' }, h('table', { id: 'meters', class: 'meters' }, h('caption', {}, `${f.meters.length} meters`),
        h('thead', {}, h('tr', {}, ...['meter', 'last seq', 'last seen', 'status'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...f.meters.map((m) => h('tr', {},
          h('td', {}, h('a', { href: `/portal/meter?id=${encodeURIComponent(m.meterId)}` }, m.meterId)),
          h('td', { class: 'seq' }, m.lastSeq),
          h('td', {}, m.lastSeen === null ? 'never' : `${when(m.lastSeen)} (${ago(m.lastSeen)})`),
          h('td', {}, m.revoked ? 'revoked' : 'active')))))));
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void show(input.value);
  });
  const saved = getToken();
  if (saved) await show(saved);
}
