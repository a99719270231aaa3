/** What the owner's signing pages (mandates, disputes) share: the signed-in account and its currency. */
import type { Genesis } from '../../../../protocols/genesis.js';
import { h, replace } from '../dom.js';
import { signInForm } from '../sign-in.js';
import { signedInAccount } from '../owner.js';

export interface OwnerPage {
  readonly account: string;
  readonly chainId: string;
  readonly minorUnits: number;
  readonly currency: string;
}

/** The account this tab signed in as with its browser key; else the sign-in form is shown and undefined returned. */
export function ownerOf(main: HTMLElement, genesis: Genesis | undefined, title: string): OwnerPage | undefined {
  const account = signedInAccount();
  if (!account || !genesis) {
    replace(main, h('h1', {}, title),
      h('p', { class: 'note' }, !genesis ? 'The trusted genesis does not match this gateway: nothing can be signed here.'
        : 'These are signed with your account key, which this browser holds once enrolled: sign in with it.'),
      genesis ? signInForm() : null);
    return undefined;
  }
  return { account, chainId: genesis.chainId, minorUnits: genesis.currency?.minorUnits ?? 2, currency: genesis.currency?.code ?? '' };
}

/** A live status line for an action's progress; errors are announced. */
export function statusLine(id: string): { el: HTMLElement; info(t: string): void; fail(t: string): void } {
  const el = h('p', { id, role: 'status', 'aria-live': 'polite' });
  return {
    el,
    info(t) {
      el.className = '';
      el.setAttribute('role', 'status');
      el.textContent = t;
    },
    fail(t) {
      el.className = 'error';
      el.setAttribute('role', 'alert');
      el.textContent = t;
    },
  };
}
