/**
 * The XMPP bridge against a real Prosody 0.12 (STARTTLS required, SCRAM-SHA-1): readings
 * in, acks and receipts out, refusals with codes, malformed envelopes answered with
 * RFC 6120 §8.3 errors, foreign stanzas left alone.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { xml } from '@xmpp/xml';
import { ReasonCode, decodeReceipt, toHex, sha256, verifyReceipt } from '../../../protocols/index.js';
import { XmppBridge, XmppBridgeError } from '../../../bridge/xmpp/index.js';
import { encodeBase64 } from '../../../bridge/xmpp/base64.js';
import { type Prosody, startProsody } from '../../helpers/prosody.js';
import { TestIntake } from '../../helpers/test-intake.js';
import { NS_READING, NS_STANZAS, TestClient } from './support.js';

const T = { timeout: 20_000 };

describe('XMPP bridge with a real Prosody', { timeout: 120_000 }, () => {
  let p: Prosody;
  let ledger: TestIntake;
  let bridge: XmppBridge;
  let m1: TestClient;
  let m2: TestClient;
  let gw: string;
  const refused: string[] = [];
  let received = 0;

  before(async () => {
    p = await startProsody({ accounts: { gateway: 'gw-secret', m1: 'm1-secret', m2: 'm2-secret' } });
    gw = `gateway@${p.domain}`;
    ledger = await TestIntake.open([{ id: 'meter-0001', jid: `m1@${p.domain}` }, { id: 'meter-0002', jid: `m2@${p.domain}` }]);
    ledger.holdCommitted = true; // receipts follow commitPending()
    bridge = await XmppBridge.start({
      intake: ledger, service: p.service, domain: p.domain, username: 'gateway', password: 'gw-secret',
      resource: 'bridge', tls: { ca: p.ca! }, maxPayloadBytes: 1024, maxInFlight: 3,
      metrics: { state: () => undefined, stanzaReceived: () => void received++, stanzaRefused: (r) => void refused.push(r), receiptSent: () => undefined },
    });
    m1 = await TestClient.connect(p, 'm1', 'm1-secret');
    m2 = await TestClient.connect(p, 'm2', 'm2-secret');
  });

  after(async () => {
    await m1?.close();
    await m2?.close();
    await bridge?.close();
    await ledger?.close();
    await p?.stop();
  });

  test('start() resolves online over STARTTLS, and the ledger listener is registered', T, () => {
    assert.equal(bridge.state(), 'online');
    assert.equal(ledger.listenerCount(), 1);
  });

  test('a reading is accepted, then its receipt arrives, both correlated by the message id; the receipt verifies with genesis', T, async () => {
    const bytes = ledger.reading('meter-0001', 1n);
    await m1.sendReading(gw, 'r-1', 'meter-0001', bytes);
    const ack = await m1.ack('r-1');
    assert.equal(ack.attrs.status, 'accepted');
    assert.equal(ack.attrs.seq, '1');
    assert.equal(ack.attrs.tx, toHex(sha256(bytes)));
    assert.ok(ledger.accepted.has(toHex(sha256(bytes))));
    assert.equal(m1.received.filter((s) => s.getChild('receipt', NS_READING)).length, 0, 'no receipt before the commit');

    await ledger.commitPending();
    const rc = await m1.receipt('r-1');
    assert.equal(rc.attrs.seq, '1');
    assert.equal(rc.attrs.height, '1');
    assert.equal(rc.attrs.tx, toHex(sha256(bytes)));
    const receipt = decodeReceipt(new Uint8Array(Buffer.from(rc.getText(), 'base64')));
    const v = verifyReceipt(ledger.genesis(), receipt);
    assert.equal(v.height, 1);
    assert.equal(v.signatureChecked, true);
    assert.deepEqual(receipt.tx, bytes);
    const sub = ledger.submitted.at(-1)!;
    assert.deepEqual(sub.ctx, { meterId: 'meter-0001', transport: 'xmpp', jid: `m1@${p.domain}` });
  });

  test('a replayed sequence number is rejected with E_READING_SEQ_REPLAY', T, async () => {
    await m1.sendReading(gw, 'r-2', 'meter-0001', ledger.reading('meter-0001', 2n));
    assert.equal((await m1.ack('r-2')).attrs.status, 'accepted');
    // Seq 2 again in other bytes (the same bytes again would be a retransmission, accepted: docs/protocol.md §3.8).
    await m1.sendReading(gw, 'r-2-again', 'meter-0001', ledger.reading('meter-0001', 2n, 2000));
    const ack = await m1.ack('r-2-again');
    assert.equal(ack.attrs.status, 'rejected');
    assert.equal(ack.attrs.code, 'E_READING_SEQ_REPLAY');
    assert.equal(ack.attrs.seq, '2');
    assert.match(ack.getText(), /^seq 2 was already accepted$/, 'the ledger\'s reason, without its code');
  });

  test('a bad signature is rejected with E_READING_BAD_SIGNATURE', T, async () => {
    const bytes = ledger.reading('meter-0001', 3n);
    bytes[bytes.length - 1]! ^= 0x01; // last byte of the signature
    await m1.sendReading(gw, 'r-3', 'meter-0001', bytes);
    const ack = await m1.ack('r-3');
    assert.equal(ack.attrs.status, 'rejected');
    assert.equal(ack.attrs.code, 'E_READING_BAD_SIGNATURE');
  });

  test('a meter sending as another meter is refused with E_READING_WRONG_METER (JID binding, and meter attribute)', T, async () => {
    // m2 holds a correctly signed reading of meter-0001, but meter-0001 is bound to m1@.
    await m2.sendReading(gw, 'x-1', 'meter-0001', ledger.reading('meter-0001', 10n));
    const a1 = await m2.ack('x-1');
    assert.equal(a1.attrs.status, 'rejected');
    assert.equal(a1.attrs.code, 'E_READING_WRONG_METER');
    // The meter attribute says meter-0002 but the reading is meter-0001's.
    await m2.sendReading(gw, 'x-2', 'meter-0002', ledger.reading('meter-0001', 11n));
    const a2 = await m2.ack('x-2');
    assert.equal(a2.attrs.code, 'E_READING_WRONG_METER');
    // m1 can still go on from where it was: nothing of the above moved its sequence.
    await m1.sendReading(gw, 'r-4', 'meter-0001', ledger.reading('meter-0001', 4n));
    assert.equal((await m1.ack('r-4')).attrs.status, 'accepted');
  });

  test('malformed envelopes get an RFC 6120 §8.3 error reply with a code, and the bridge keeps working', T, async () => {
    const before = refused.length;
    const cases: { id: string; el: ReturnType<typeof xml>; condition: string; code: string }[] = [
      { id: 'bad-b64', el: xml('reading', { xmlns: NS_READING, meter: 'meter-0002' }, 'not base64!!'), condition: 'bad-request', code: 'E_READING_MALFORMED' },
      { id: 'bad-b64-lines', el: xml('reading', { xmlns: NS_READING, meter: 'meter-0002' }, 'AAAA\nAAAA'), condition: 'bad-request', code: 'E_READING_MALFORMED' },
      { id: 'too-big', el: xml('reading', { xmlns: NS_READING, meter: 'meter-0002' }, encodeBase64(new Uint8Array(1025))), condition: 'policy-violation', code: 'E_READING_TOO_LARGE' },
      { id: 'no-meter', el: xml('reading', { xmlns: NS_READING }, encodeBase64(ledger.reading('meter-0002', 1n))), condition: 'bad-request', code: 'E_READING_MALFORMED' },
      { id: 'empty', el: xml('reading', { xmlns: NS_READING, meter: 'meter-0002' }), condition: 'bad-request', code: 'E_READING_MALFORMED' },
    ];
    for (const c of cases) await m2.send(xml('message', { to: gw, id: c.id }, c.el));
    for (const c of cases) {
      const err = await m2.error(c.id);
      const e = err.getChild('error')!;
      assert.equal(e.attrs.type, 'modify', c.id);
      assert.ok(e.getChild(c.condition, NS_STANZAS), `${c.id}: ${err.toString()}`);
      assert.ok(e.getChildText('text', NS_STANZAS), c.id);
      assert.equal(e.getChild('refused', NS_READING)?.attrs.code, c.code, c.id);
    }
    // The metric's label is the code of the reply.
    assert.deepEqual(refused.slice(before), cases.map((c) => c.code));
    assert.equal(bridge.state(), 'online');
    await m2.sendReading(gw, 'ok-after', 'meter-0002', ledger.reading('meter-0002', 1n));
    assert.equal((await m2.ack('ok-after')).attrs.status, 'accepted');
  });

  test('foreign stanzas are ignored: chat, other namespaces, presence, errors; unknown iq gets service-unavailable', T, async () => {
    const submitted = ledger.submitted.length;
    const got = m2.received.length;
    const recv = received;
    await m2.send(xml('message', { to: gw, type: 'chat', id: 'chat-1' }, xml('body', {}, 'hello gateway')));
    await m2.send(xml('message', { to: gw, id: 'other-ns' }, xml('reading', { xmlns: 'urn:example:other' }, 'AAAA')));
    await m2.send(xml('message', { to: `${gw}/bridge`, id: 'groupchat', type: 'groupchat' }, xml('reading', { xmlns: NS_READING, meter: 'meter-0002' }, 'AAAA')));
    // An error message carrying our element must never be answered (RFC 6120 §8.3.1: no loops).
    await m2.send(xml('message', { to: gw, id: 'err-1', type: 'error' }, xml('reading', { xmlns: NS_READING }, '!!'), xml('error', { type: 'cancel' }, xml('undefined-condition', { xmlns: NS_STANZAS }))));
    await m2.send(xml('presence', { to: gw, type: 'subscribe' }));
    await m2.send(xml('iq', { to: `${gw}/bridge`, type: 'get', id: 'iq-1' }, xml('query', { xmlns: 'urn:example:unknown' })));
    const iq = await m2.waitFor((s) => s.is('iq') && s.attrs.id === 'iq-1');
    assert.equal(iq.attrs.type, 'error');
    assert.ok(iq.getChild('error')?.getChild('service-unavailable', NS_STANZAS), iq.toString());
    // XEP-0199: the bridge answers pings.
    await m2.send(xml('iq', { to: `${gw}/bridge`, type: 'get', id: 'ping-1' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    assert.equal((await m2.waitFor((s) => s.is('iq') && s.attrs.id === 'ping-1')).attrs.type, 'result');
    // Then a reading: its ack proves everything before it was seen and passed over.
    await m2.sendReading(gw, 'after-foreign', 'meter-0002', ledger.reading('meter-0002', 2n));
    assert.equal((await m2.ack('after-foreign')).attrs.status, 'accepted');
    const replies = m2.received.slice(got).filter((s) => s.is('message'));
    assert.deepEqual(replies.map((s) => s.getChild('ack', NS_READING)?.attrs.id), ['after-foreign'], replies.map(String).join('\n'));
    assert.equal(ledger.submitted.length, submitted + 1);
    assert.equal(received, recv + 1, 'only our reading counts as received');
  });

  test('a slow intake: acks come when the intake decides, each to its own message id', T, async () => {
    ledger.delayMs = 300;
    try {
      const ids = [5n, 6n, 7n].map((s) => `slow-${s}`);
      await Promise.all([5n, 6n, 7n].map((s) => m1.sendReading(gw, `slow-${s}`, 'meter-0001', ledger.reading('meter-0001', s))));
      const acks = await Promise.all(ids.map((id) => m1.ack(id)));
      assert.deepEqual(acks.map((a) => a.attrs.status), ['accepted', 'accepted', 'accepted']);
      assert.deepEqual(acks.map((a) => a.attrs.seq), ['5', '6', '7']);
      await ledger.commitPending();
      const rcs = await Promise.all(ids.map((id) => m1.receipt(id)));
      assert.deepEqual(rcs.map((r) => r.attrs.seq), ['5', '6', '7']);
    } finally {
      ledger.delayMs = 0;
    }
  });

  test('one reading more than maxInFlight under way is answered E_GATEWAY_BUSY, counted and labelled with that code', T, async () => {
    // Long enough that the first three are still under way when the fourth arrives.
    ledger.delayMs = 1500;
    const before = refused.length;
    try {
      const seqs = [3n, 4n, 5n, 6n];
      for (const s of seqs) await m2.sendReading(gw, `busy-${s}`, 'meter-0002', ledger.reading('meter-0002', s));
      const acks = await Promise.all(seqs.map((s) => m2.ack(`busy-${s}`)));
      assert.deepEqual(acks.map((a) => a.attrs.status), ['accepted', 'accepted', 'accepted', 'rejected']);
      assert.equal(acks[3]!.attrs.code, ReasonCode.BUSY);
      assert.match(acks[3]!.getText(), /^3 readings under way; retry later$/, 'the message does not repeat the code');
      assert.deepEqual(refused.slice(before), [ReasonCode.BUSY]);
      await ledger.commitPending();
    } finally {
      ledger.delayMs = 0;
    }
  });

  test('an accepted reading the ledger drops before its commit (a block made it invalid) is answered with a rejection to its message id', T, async () => {
    await m1.sendReading(gw, 'drop-1', 'meter-0001', ledger.reading('meter-0001', 8n));
    assert.equal((await m1.ack('drop-1')).attrs.status, 'accepted');
    ledger.drop('meter-0001', 8n, ReasonCode.SEQ_REPLAY, 'seq 8 is not above the last accepted 9');
    const refusal = await m1.waitFor((st) => {
      const a = st.getChild('ack', NS_READING);
      return a?.attrs.id === 'drop-1' && a.attrs.status === 'rejected';
    }, 10_000, 'the rejection of drop-1').then((st) => st.getChild('ack', NS_READING)!);
    assert.equal(refusal.attrs.code, ReasonCode.SEQ_REPLAY);
    assert.equal(refusal.attrs.seq, '8');
    assert.match(refusal.getText(), /not above/);
  });

  test('wrong password: start() rejects with E_XMPP_AUTH and leaves nothing running', T, async (t) => {
    const other = await TestIntake.open([]);
    t.after(() => other.close());
    await assert.rejects(
      XmppBridge.start({ intake: other, service: p.service, domain: p.domain, username: 'gateway', password: 'wrong', tls: { ca: p.ca! } }),
      (e: unknown) => e instanceof XmppBridgeError && e.code === 'E_XMPP_AUTH' && /not-authorized/.test(e.message),
    );
    assert.equal(other.listenerCount(), 0);
  });

  test('an untrusted certificate: start() rejects with E_XMPP_CONNECT', T, async (t) => {
    const intake = await TestIntake.open([]);
    t.after(() => intake.close());
    await assert.rejects(
      XmppBridge.start({ intake, service: p.service, domain: p.domain, username: 'gateway', password: 'gw-secret' }),
      (e: unknown) => e instanceof XmppBridgeError && e.code === 'E_XMPP_CONNECT' && /certificate/i.test(e.message),
    );
  });
});
