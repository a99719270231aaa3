/** The start page: open a meter by id, or pick one of the registered meters. */
import { type MeterInfo, getJson, isRefusal } from '../api.js';
import { signInForm } from '../sign-in.js';
import { h, replace } from '../dom.js';

export async function homePage(main: HTMLElement): Promise<void> {
  document.title = 'Meters · meterledger portal';
  const input = h('input', { id: 'meter-id', name: 'id', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}' });
  const form = h('form', { action: '/portal/meter', method: 'get', class: 'inline-form' },
    h('label', { for: 'meter-id' }, 'Meter id'), input, h('button', { type: 'submit' }, 'Open meter'));
  const list = h('div', { 'aria-live': 'polite' }, h('p', {}, 'Loading meters…'));
  replace(main,
    h('h1', {}, 'Your meters'),
    h('p', { class: 'note' }, 'Every reading shown here is checked in this browser against the chain\'s genesis before it is shown. ',
      'The gateway lists only the meters your token may read: your account\'s, or all of them for the operator.'),
    form, h('h2', {}, 'Registered meters'), list);
  try {
    const { meters } = await getJson<{ meters: MeterInfo[] }>('/api/v1/meters');
    replace(list, meters.length === 0 ? h('p', {}, 'No meters are registered.') : h('ul', { class: 'meter-list' },
      ...meters.map((m) => h('li', {}, h('a', { href: `/portal/meter?id=${encodeURIComponent(m.meterId)}` }, m.meterId),
        ` · ${m.lastSeq === '0' ? 'no readings yet' : `last seq ${m.lastSeq}`}${m.revoked ? ' · revoked' : ''}`))));
  } catch (e) {
    replace(list, isRefusal(e) ? signInForm(`Refused: ${e.message} (${e.code})`) : h('p', { role: 'alert' }, `Cannot list meters: ${(e as Error).message}`));
  }
}
