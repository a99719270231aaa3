/**
 * The XMPP bridge across a real Prosody restart: it goes offline, retries with backoff,
 * comes back online by itself, keeps answering, and nothing it acknowledged as accepted
 * is missing from the ledger. Answers decided while the server was down are sent when
 * it is back (the meter gets them live or from the server's offline storage).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { toHex, sha256 } from '../../../protocols/index.js';
import { XmppBridge, type XmppState } from '../../../bridge/xmpp/index.js';
import { type Prosody, startProsody } from '../../helpers/prosody.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { TestClient, until } from './support.js';

const debugLogger = {
  debug: (o: object | string, m?: string) => console.error('debug', o, m ?? ''),
  info: (o: object | string, m?: string) => console.error('info', o, m ?? ''),
  warn: (o: object | string, m?: string) => console.error('warn', o, m ?? ''),
  error: (o: object | string, m?: string) => console.error('error', o, m ?? ''),
};

let p: Prosody | undefined;
let bridge: XmppBridge | undefined;
const clients: TestClient[] = [];

after(async () => {
  for (const c of clients) await c.close();
  await bridge?.close();
  await p?.stop();
});

/** True when `want` appears in `xs` in order (not necessarily adjacent). */
const subsequence = <T>(xs: readonly T[], want: readonly T[]): boolean => {
  let i = 0;
  for (const x of xs) if (x === want[i]) i++;
  return i === want.length;
};

test('Prosody restarted mid-run: the bridge reconnects (offline, connecting, online) and every accepted reading is in the ledger', { timeout: 60_000 }, async (t) => {
  p = await startProsody({ accounts: { gateway: 'gw-secret', m1: 'm1-secret' } });
  const gw = `gateway@${p.domain}`;
  const ledger = await TestIntake.open([{ id: 'meter-0001', jid: `m1@${p.domain}` }]);
  t.after(() => ledger.close());
  ledger.holdCommitted = true; // receipts follow commitPending()
  const states: XmppState[] = [];
  bridge = await XmppBridge.start({
    intake: ledger, service: p.service, domain: p.domain, username: 'gateway', password: 'gw-secret', resource: 'bridge',
    tls: { ca: p.ca! }, reconnect: { minMs: 100, maxMs: 800 },
    ...(process.env.XMPP_DEBUG ? { logger: debugLogger } : {}),
    metrics: { state: (s) => void states.push(s), stanzaReceived: () => undefined, stanzaRefused: () => undefined, receiptSent: () => undefined },
  });
  assert.deepEqual(states, ['connecting', 'online']);
  let m1 = await TestClient.connect(p, 'm1', 'm1-secret');
  clients.push(m1);
  const acked = new Map<string, string>(); // message id -> tx hex, for every 'accepted' ack seen
  const collect = async (c: TestClient, id: string, timeoutMs?: number): Promise<string> => {
    const a = await c.ack(id, timeoutMs);
    if (a.attrs.status === 'accepted') acked.set(id, a.attrs.tx!);
    return a.attrs.status!;
  };

  // Before: five readings, all accepted.
  let seq = 0n;
  for (let i = 0; i < 5; i++) {
    seq++;
    await m1.sendReading(gw, `pre-${seq}`, 'meter-0001', ledger.reading('meter-0001', seq));
  }
  for (let s = 1n; s <= seq; s++) assert.equal(await collect(m1, `pre-${s}`), 'accepted');

  // During: a slow intake holds five readings while the server goes down for 1.5 s.
  ledger.delayMs = 600;
  const during: string[] = [];
  for (let i = 0; i < 5; i++) {
    seq++;
    during.push(`during-${seq}`);
    await m1.sendReading(gw, `during-${seq}`, 'meter-0001', ledger.reading('meter-0001', seq));
  }
  await new Promise((r) => setTimeout(r, 100)); // let them reach the bridge
  const restarted = p.restart({ downMs: 1500 });
  await until(() => bridge!.state() !== 'online', 5000, 'the bridge to notice the server is gone');
  await restarted;
  await until(() => bridge!.state() === 'online', 15_000, 'the bridge to come back online');
  ledger.delayMs = 0;
  const afterOnline = states.slice(2);
  assert.ok(subsequence(afterOnline, ['offline', 'connecting', 'online']), `states after the restart: ${afterOnline.join(' ')}`);
  assert.equal(states.at(-1), 'online');

  // The meter logs in again; the answers decided while the server was down reach it.
  await m1.close();
  m1 = await TestClient.connect(p, 'm1', 'm1-secret');
  clients.push(m1);
  for (const id of during) assert.equal(await collect(m1, id, 10_000), 'accepted', id);

  // After: the bridge goes on as before; receipts follow a commit.
  for (let i = 0; i < 5; i++) {
    seq++;
    await m1.sendReading(gw, `post-${seq}`, 'meter-0001', ledger.reading('meter-0001', seq));
  }
  for (let s = seq - 4n; s <= seq; s++) assert.equal(await collect(m1, `post-${s}`), 'accepted');
  await ledger.commitPending();
  for (let s = seq - 4n; s <= seq; s++) await m1.receipt(`post-${s}`);

  // The invariant: every reading acknowledged as accepted is in the ledger.
  assert.equal(acked.size, 15);
  for (const [id, tx] of acked) assert.ok(ledger.accepted.has(tx), `${id} was acknowledged but is not in the ledger`);
  assert.equal(ledger.accepted.size, 15);
  assert.ok([...ledger.accepted.values()].every((r) => acked.has(`pre-${r.seq}`) || acked.has(`during-${r.seq}`) || acked.has(`post-${r.seq}`)));
  assert.equal(toHex(sha256(ledger.accepted.get(acked.get('post-15')!)!.bytes)), acked.get('post-15'));
});
