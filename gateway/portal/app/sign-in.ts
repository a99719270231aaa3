/**
 * Access to meters' data. Readings are personal data: the gateway answers them only to
 * the owning account's session or to the operator (docs/http-api.md, "Access"), on every
 * route; this form only stores the token the browser then sends. Sign-in with a key kept
 * in this browser (WebCrypto) comes with enrolment; until then an owner pastes a session
 * token (POST /api/v1/session) and an operator the admin token.
 */
import { clearToken, getToken, setToken } from './api.js';
import { h } from './dom.js';

/** The sign-in form; `why` says why it is shown (a refusal's message). */
export function signInForm(why?: string): HTMLElement {
  const input = h('input', { id: 'access-token', name: 'token', type: 'password', autocomplete: 'off', required: true });
  const form = h('form', { class: 'inline-form', id: 'sign-in' },
    h('label', { for: 'access-token' }, 'Access token'), input, h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    location.reload();
  });
  return h('section', { 'aria-labelledby': 'sign-in-h' },
    h('h2', { id: 'sign-in-h' }, 'Sign in'),
    why ? h('p', { role: 'alert', id: 'sign-in-error' }, why) : null,
    h('p', { class: 'note' }, 'A meter\'s readings are shown only to its owner and to the operator. Paste your session token, or the gateway\'s operator token. The token stays in this tab and goes only to this gateway.'),
    form);
}

/** A "Sign out" button for the navigation, when a token is stored. */
export function signOutButton(): HTMLElement | null {
  if (!getToken()) return null;
  const b = h('button', { type: 'button', id: 'sign-out', class: 'link-button' }, 'Sign out');
  b.addEventListener('click', () => {
    clearToken();
    location.reload();
  });
  return b;
}
