/**
 * Browser notifications (Notification API) for what the live feed brings: a meter gone
 * silent, a new bill, a payment made or refused. Permission is asked only when the user
 * presses the button, never on load; without it (or where the API is missing) nothing is
 * shown outside the page and the page itself still says everything.
 */
import { h } from './dom.js';

const supported = (): boolean => typeof Notification !== 'undefined';

/** Show a notification when permitted; returns whether one was shown. */
export function notify(title: string, body: string, tag?: string): boolean {
  if (!supported() || Notification.permission !== 'granted') return false;
  try {
    new Notification(title, { body, ...(tag !== undefined ? { tag } : {}) });
    return true;
  } catch {
    return false; // some browsers allow notifications from a service worker only
  }
}

/** The "Notify me" control: a button that asks for permission, or what was decided. */
export function notifyControl(): HTMLElement {
  const state = h('span', { id: 'notify-state', role: 'status' });
  const wrap = h('p', { class: 'notify' });
  const show = (): void => {
    if (!supported()) {
      wrap.replaceChildren('Notifications: this browser has none.');
      return;
    }
    const p = Notification.permission;
    if (p === 'granted') wrap.replaceChildren(state, 'Notifications: on (a meter gone silent, new bills, payments made or refused).');
    else if (p === 'denied') wrap.replaceChildren(state, 'Notifications: blocked in this browser\'s site settings.');
    else {
      const b = h('button', { type: 'button', id: 'notify-button' }, 'Notify me');
      b.addEventListener('click', () => void Notification.requestPermission().then(show));
      wrap.replaceChildren(b, ' when a meter goes silent, a bill is issued, or a payment is made or refused (asks this browser for permission).');
    }
  };
  show();
  return wrap;
}
