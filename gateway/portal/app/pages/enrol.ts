/**
 * Enrolment (docs/portal.md §Enrolment): the account id and the one-time code from the
 * utility; this browser makes a non-extractable P-256 key, keeps it in IndexedDB and
 * sends only its public key. The gateway's registrar makes it the account key, then the
 * page signs in with it. Enrolling again (another device, a lost one) replaces the key:
 * the old one no longer signs in.
 */
import { ApiError } from '../api.js';
import { h, replace } from '../dom.js';
import { deleteKey, loadKey, newKeyPair, saveKey } from '../keys.js';
import { postJson, signIn } from '../owner.js';

export function enrolPage(main: HTMLElement): void {
  document.title = 'Enrol · meterledger portal';
  const account = h('input', { id: 'enrol-account', name: 'account', type: 'text', required: true, autocomplete: 'username', spellcheck: 'false', pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]{0,63}' });
  // A link with ?account= (the dev chain's start prints one) fills the account in.
  account.value = new URLSearchParams(location.search).get('account') ?? '';
  const code = h('input', { id: 'enrol-code', name: 'code', type: 'text', required: true, autocomplete: 'one-time-code', spellcheck: 'false', 'aria-describedby': 'enrol-code-help' });
  const button = h('button', { type: 'submit' }, 'Enrol this browser');
  const status = h('p', { id: 'enrol-status', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { id: 'enrol', class: 'stack-form' },
    h('label', { for: 'enrol-account' }, 'Account id'), account,
    h('label', { for: 'enrol-code' }, 'Enrolment code'), code,
    h('p', { class: 'note', id: 'enrol-code-help' }, 'The one-time code your utility gave you, e.g. ABCD-EFGH-…; it works once.'),
    button);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void enrol(account.value.trim(), code.value.trim());
  });
  replace(main, h('h1', {}, 'Enrol this browser'),
    h('p', { class: 'note' }, 'This browser makes a signing key that never leaves it (the page itself cannot read its secret part) and sends only its public part. ',
      'Your utility\'s registrar makes it your account\'s key: with it you sign in and sign your mandates and disputes here. ',
      'A key enrolled before, on another device, stops working.'),
    form, status);

  async function enrol(acc: string, c: string): Promise<void> {
    button.disabled = true;
    status.className = '';
    status.textContent = 'Making a key and asking the registrar to bind it… (until the change is committed)';
    const previous = await loadKey(acc).catch(() => undefined);
    let bound = false;
    try {
      const k = await newKeyPair();
      // Stored before it is bound, so a key the ledger takes is never lost with the tab.
      await saveKey({ account: acc, keys: k.keys, publicKey: k.publicKey, enrolled: Date.now() });
      const r = await postJson<{ keyEpoch: number; height: number }>('/api/v1/enrol', { account: acc, code: c, publicKey: k.publicKey });
      bound = true;
      status.textContent = `Enrolled: this browser holds the key of account ${acc} (key epoch ${r.keyEpoch}, committed at height ${r.height}). Signing in…`;
      await signIn(acc);
      location.assign('/portal/');
    } catch (e) {
      if (!bound && e instanceof ApiError && e.status !== 0 && e.code !== 'E_ENROL_TIMEOUT') {
        // The gateway refused: this browser keeps the key it had.
        if (previous) await saveKey(previous);
        else await deleteKey(acc);
      }
      status.className = 'error';
      status.setAttribute('role', 'alert');
      status.textContent = `Not enrolled: ${(e as Error).message}${e instanceof ApiError ? ` (${e.code})` : ''}`;
      button.disabled = false;
    }
  }
}
