/**
 * Access to meters' data. Readings are personal data: the gateway answers them only to
 * the owning account's session or to the operator (docs/http-api.md, "Access"), on every
 * route; this form only obtains the token the browser then sends. An owner signs in with
 * the key this browser enrolled (keys.ts: the session challenge signed here, owner.ts);
 * an operator pastes the gateway's operator token (or an owner a session token made
 * elsewhere).
 */
import { ApiError, clearToken, getToken, setToken } from './api.js';
import { h } from './dom.js';
import { storedAccounts } from './keys.js';
import { forgetAccount, signIn, signedInAccount } from './owner.js';

/** The sign-in form; `why` says why it is shown (a refusal's message). */
export function signInForm(why?: string): HTMLElement {
  const account = h('input', { id: 'sign-in-account', name: 'account', type: 'text', required: true, autocomplete: 'username', spellcheck: 'false', list: 'enrolled-accounts' });
  const accounts = h('datalist', { id: 'enrolled-accounts' });
  const keyStatus = h('p', { id: 'sign-in-status', role: 'status', 'aria-live': 'polite' });
  const keyForm = h('form', { class: 'inline-form', id: 'sign-in' },
    h('label', { for: 'sign-in-account' }, 'Account id'), account, accounts, h('button', { type: 'submit' }, 'Sign in with this browser\'s key'));
  keyForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    keyStatus.textContent = 'Signing the challenge…';
    signIn(account.value.trim()).then(() => location.reload(), (e: unknown) => {
      keyStatus.setAttribute('role', 'alert');
      keyStatus.id = 'sign-in-key-error';
      const replaced = e instanceof ApiError && e.code === 'E_SESSION_BAD_SIGNATURE'
        ? ' This browser\'s key is no longer the account\'s key (another device was enrolled since, e.g. after a lost one): enrol again with a new code.' : '';
      keyStatus.textContent = `Refused: ${(e as Error).message}${e instanceof ApiError ? ` (${e.code})` : ''}${replaced}`;
    });
  });
  void storedAccounts().then((ids) => {
    accounts.replaceChildren(...ids.map((id) => h('option', { value: id })));
    if (ids.length === 1 && !account.value) account.value = ids[0]!;
  }, () => undefined);

  const input = h('input', { id: 'access-token', name: 'token', type: 'password', autocomplete: 'off', required: true });
  const tokenForm = h('form', { class: 'inline-form', id: 'token-sign-in' },
    h('label', { for: 'access-token' }, 'Access token'), input, h('button', { type: 'submit' }, 'Sign in'));
  tokenForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    forgetAccount();
    setToken(input.value.trim());
    location.reload();
  });
  return h('section', { 'aria-labelledby': 'sign-in-h' },
    h('h2', { id: 'sign-in-h' }, 'Sign in'),
    why ? h('p', { role: 'alert', id: 'sign-in-error' }, why) : null,
    h('p', { class: 'note' }, 'A meter\'s readings are shown only to its owner and to the operator. Sign in with the key this browser enrolled for your account; ',
      'no key yet? ', h('a', { href: '/portal/enrol' }, 'Enrol this browser'), ' with the code your utility gave you.'),
    keyForm, keyStatus,
    // Open when a pasted token was just refused, so it can be corrected at once.
    h('details', { id: 'operator-sign-in', open: why !== undefined && signedInAccount() === null }, h('summary', {}, 'Operators: sign in with a token'),
      h('p', { class: 'note' }, 'The gateway\'s operator token, or a session token made elsewhere. It stays in this tab and goes only to this gateway.'),
      tokenForm));
}

/** A "Sign out" button for the navigation, when a token is stored. */
export function signOutButton(): HTMLElement | null {
  if (!getToken()) return null;
  const b = h('button', { type: 'button', id: 'sign-out', class: 'link-button' }, 'Sign out');
  b.addEventListener('click', () => {
    clearToken();
    forgetAccount();
    location.reload();
  });
  return b;
}
