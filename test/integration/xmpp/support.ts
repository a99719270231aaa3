/** A meter (or any XMPP client) in tests: logs in to the test Prosody and records what it gets. */
import type { Element } from '@xmpp/xml';
import { xml } from '@xmpp/xml';
import { createXmppClient, type XmppClient } from '../../../bridge/xmpp/client.js';
import { NS_READING, readingMessage } from '../../../bridge/xmpp/stanzas.js';
import type { Prosody } from '../../helpers/prosody.js';

export { NS_READING };
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

export class TestClient {
  readonly received: Element[] = [];
  private waiters: { pred: (e: Element) => boolean; resolve: (e: Element) => void }[] = [];

  private constructor(readonly c: XmppClient, readonly jid: string) {
    c.entity.on('error', () => undefined);
    c.entity.on('stanza', (s: Element) => {
      this.received.push(s);
      this.waiters = this.waiters.filter((w) => {
        if (!w.pred(s)) return true;
        w.resolve(s);
        return false;
      });
    });
  }

  static async connect(p: Prosody, user: string, password: string, resource = 'meter'): Promise<TestClient> {
    const c = createXmppClient({ service: p.service, domain: p.domain, username: user, password, resource, tls: { ca: p.ca! } });
    const t = new TestClient(c, `${user}@${p.domain}`);
    await c.entity.start();
    await c.entity.send(xml('presence'));
    return t;
  }

  send(el: Element): Promise<void> {
    return this.c.entity.send(el);
  }

  sendReading(to: string, id: string, meterId: string, bytes: Uint8Array): Promise<void> {
    return this.send(readingMessage(to, id, meterId, bytes));
  }

  /** The first stanza (already received or coming) that matches, within `timeoutMs`. */
  waitFor(pred: (e: Element) => boolean, timeoutMs = 5000, what = 'a stanza'): Promise<Element> {
    const seen = this.received.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: Element) => { clearTimeout(t); resolve(e); } };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`${this.jid}: no ${what} within ${timeoutMs} ms; got:\n${this.received.map(String).join('\n')}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Our `<ack/>` for message id `id`. */
  ack(id: string, timeoutMs?: number): Promise<Element> {
    return this.waitFor((s) => s.getChild('ack', NS_READING)?.attrs.id === id, timeoutMs, `ack of ${id}`).then((s) => s.getChild('ack', NS_READING)!);
  }

  receipt(id: string, timeoutMs?: number): Promise<Element> {
    return this.waitFor((s) => s.getChild('receipt', NS_READING)?.attrs.id === id, timeoutMs, `receipt of ${id}`).then((s) => s.getChild('receipt', NS_READING)!);
  }

  /** The error reply to message id `id`. */
  error(id: string, timeoutMs?: number): Promise<Element> {
    return this.waitFor((s) => s.is('message') && s.attrs.type === 'error' && s.attrs.id === id, timeoutMs, `error reply to ${id}`);
  }

  async close(): Promise<void> {
    await Promise.race([this.c.entity.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))]);
  }
}

/** Poll `cond` every 20 ms until true or `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
