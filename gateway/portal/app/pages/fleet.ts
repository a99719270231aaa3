/**
 * The operator's fleet (read-only): every meter, when it was last seen, and readings
 * refused by reason. GET /api/v1/fleet needs the admin token; it is kept as this tab's
 * access token (api.ts), so the meter pages it links to can be read with it too.
 */
import { ApiError, clearToken, getJson, getToken, setToken } from '../api.js';
import { ago, h, replace, when } from '../dom.js';

interface Fleet {
  chainId: string;
  height: number;
  pending: number;
  meters: { meterId: string; alg: string; revoked: boolean; owner?: string; lastSeq: string; lastSeen: number | null; lastHeight: number | null }[];
  rejects: Record<string, number>;
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
      h('h2', {}, 'Meters'),
      h('table', { id: 'meters' }, h('caption', {}, `${f.meters.length} meters`),
        h('thead', {}, h('tr', {}, ...['meter', 'last seq', 'last seen', 'status'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, ...f.meters.map((m) => h('tr', {},
          h('td', {}, h('a', { href: `/portal/meter?id=${encodeURIComponent(m.meterId)}` }, m.meterId)),
          h('td', {}, m.lastSeq),
          h('td', {}, m.lastSeen === null ? 'never' : `${when(m.lastSeen)} (${ago(m.lastSeen)})`),
          h('td', {}, m.revoked ? 'revoked' : 'active'))))));
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void show(input.value);
  });
  const saved = getToken();
  if (saved) await show(saved);
}
