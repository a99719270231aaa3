/**
 * The portal's entry: decide what genesis to trust, show it, then render the page the path
 * names. Every figure on a page comes from a receipt checked here (verify.ts).
 */
import { h, replace } from './dom.js';
import { PageContext } from './context.js';
import { type TrustState, loadTrust, pin, unpin } from './trust.js';
import { homePage } from './pages/home.js';
import { meterPage } from './pages/meter.js';
import { receiptPage } from './pages/receipt.js';
import { fleetPage } from './pages/fleet.js';
import { enrolPage } from './pages/enrol.js';
import { mandatesPage } from './pages/mandates.js';
import { disputesPage } from './pages/disputes.js';
import { billsPage } from './pages/bills.js';
import { paymentsPage } from './pages/payments.js';
import { getToken } from './api.js';
import { signInForm, signOutButton } from './sign-in.js';

function trustPanel(el: HTMLElement, t: TrustState): void {
  const input = h('input', { id: 'pin-hash', name: 'pin-hash', type: 'text', inputmode: 'latin', autocomplete: 'off', spellcheck: 'false', pattern: '[0-9a-f]{64}', value: t.kind === 'mismatch' ? t.pinned : t.hash });
  const form = h('form', { class: 'pin-form' },
    h('label', { for: 'pin-hash' }, 'Genesis hash to trust'), input,
    h('button', { type: 'submit' }, 'Pin this hash'));
  const pinError = h('p', { role: 'alert', id: 'pin-error' });
  form.append(pinError);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    try {
      pin(input.value.trim());
      location.reload();
    } catch (e) {
      pinError.textContent = (e as Error).message;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    }
  });
  const unpinButton = h('button', { type: 'button' }, 'Unpin');
  unpinButton.addEventListener('click', () => {
    unpin();
    location.reload();
  });
  const status = t.kind === 'pinned'
    ? h('p', {}, h('span', { class: 'badge verified' }, 'pinned'), ' Checks run against genesis ', h('code', { class: 'hash', id: 'genesis-hash' }, t.hash), ', which you pinned in this browser.')
    : t.kind === 'unpinned'
      ? h('p', {}, h('span', { class: 'badge unverified' }, 'not pinned'), ' Checks run against the genesis this gateway serves, ', h('code', { class: 'hash', id: 'genesis-hash' }, t.hash),
        '. Compare it with the hash your utility published, then pin it: a gateway that later swaps its genesis will then fail every check.')
      : h('p', { role: 'alert' }, h('span', { class: 'badge failed' }, 'FAILED'), ` ${t.why}. Nothing on this page is verified.`);
  replace(el, h('h2', { class: 'visually-hidden' }, 'Trusted genesis'), status,
    h('details', {}, h('summary', {}, 'Change the trusted genesis'), form, t.kind !== 'unpinned' ? unpinButton : null));
}

async function main(): Promise<void> {
  const main = document.getElementById('main')!;
  const trustEl = document.getElementById('trust')!;
  let trust: TrustState;
  try {
    trust = await loadTrust();
  } catch (e) {
    replace(trustEl, h('p', { role: 'alert' }, h('span', { class: 'badge failed' }, 'FAILED'), ` cannot read the gateway's genesis: ${(e as Error).message}`));
    return;
  }
  trustPanel(trustEl, trust);
  const ctx = new PageContext(trust);
  const path = location.pathname.replace(/\/+$/, '');
  const q = new URLSearchParams(location.search);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (a.pathname.replace(/\/+$/, '') === path) a.setAttribute('aria-current', 'page');
  }
  const signOut = signOutButton();
  if (signOut) document.querySelector('nav ul')?.append(h('li', {}, signOut));
  // Meters' data needs a token (the fleet page asks for the operator's itself; enrolment makes the key to get one).
  if (path === '/portal/enrol') return enrolPage(main);
  if (path !== '/portal/fleet' && !getToken()) {
    replace(main, h('h1', {}, 'Your meters'), signInForm());
    return;
  }
  if (path === '/portal/meter') await meterPage(main, ctx, q.get('id') ?? '');
  else if (path === '/portal/receipt') await receiptPage(main, ctx, q);
  else if (path === '/portal/fleet') await fleetPage(main);
  else if (path === '/portal/mandates') await mandatesPage(main, ctx.genesis);
  else if (path === '/portal/disputes') await disputesPage(main, ctx.genesis);
  else if (path === '/portal/bills') await billsPage(main, ctx, q);
  else if (path === '/portal/payments') await paymentsPage(main, ctx, q);
  else await homePage(main);
}

void main();
