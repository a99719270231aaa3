/** bridge/xmpp pure parts: strict base64 (RFC 4648 §4), classification of stanzas, replies, backoff, pending receipts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { xml } from '@xmpp/xml';
import { decodeBase64Strict, encodeBase64, base64Length } from '../../../bridge/xmpp/base64.js';
import { backoffDelay } from '../../../bridge/xmpp/backoff.js';
import { PendingReceipts } from '../../../bridge/xmpp/pending.js';
import { NS_READING, NS_STANZAS, ackMessage, classifyStanza } from '../../../bridge/xmpp/stanzas.js';
import { ReasonCode } from '../../../protocols/errors.js';

test('RFC 4648 §4 strict base64: padded, no whitespace, canonical pad bits', () => {
  assert.deepEqual(decodeBase64Strict('AQID'), Uint8Array.of(1, 2, 3));
  assert.deepEqual(decodeBase64Strict('AQI='), Uint8Array.of(1, 2));
  assert.deepEqual(decodeBase64Strict('AQ=='), Uint8Array.of(1));
  assert.deepEqual(decodeBase64Strict(''), new Uint8Array(0));
  for (const bad of ['AQ', 'AQI', 'AQ=', 'AQ==AQ==', 'AQ I=', 'AQI=\n', 'AQ-_', 'AR==', 'AQJ=', '====']) {
    assert.equal(decodeBase64Strict(bad), undefined, JSON.stringify(bad));
  }
  const b = new Uint8Array(300).map((_, i) => i);
  assert.deepEqual(decodeBase64Strict(encodeBase64(b)), b);
  assert.equal(encodeBase64(b).length, base64Length(300));
});

test('backoff: exponential from min to max with equal jitter', () => {
  const o = { minMs: 1000, maxMs: 30_000 };
  assert.equal(backoffDelay(0, o, () => 0), 500);
  assert.equal(backoffDelay(0, o, () => 1), 1000);
  assert.equal(backoffDelay(3, o, () => 1), 8000);
  assert.equal(backoffDelay(10, o, () => 0), 15_000);
  assert.equal(backoffDelay(1000, o, () => 1), 30_000);
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(i % 8, o);
    assert.ok(d >= 500 && d <= 30_000);
  }
});

test('pending receipts: first holder wins, drop only its own entry, bounded, expire', () => {
  let now = 0;
  const p = new PendingReceipts({ maxEntries: 3, ttlMs: 1000, now: () => now });
  const a = p.add('m', 1n, 'm@site/a', 'r-1')!;
  assert.equal(p.add('m', 1n, 'x@site/b', 'r-1b'), undefined, 'a resend does not steal the receipt');
  p.drop('m', 1n, { ...a }); // a different entry object: not ours
  assert.equal(p.size, 1);
  p.add('m', 2n, 'm@site/a', 'r-2');
  p.add('m', 3n, 'm@site/a', 'r-3');
  p.add('m', 4n, 'm@site/a', 'r-4');
  assert.equal(p.size, 3);
  assert.equal(p.take('m', 1n), undefined, 'the oldest was dropped to stay bounded');
  assert.equal(p.take('m', 2n)?.id, 'r-2');
  assert.equal(p.take('m', 2n), undefined, 'taken once');
  p.set('m', 3n, 'y@site/c', 'r-3y');
  assert.equal(p.take('m', 3n)?.jid, 'y@site/c');
  now = 5000;
  assert.equal(p.take('m', 4n), undefined, 'expired');
  p.add('m', 5n, 'm@site/a', 'r-5');
  now = 7000;
  p.sweep();
  assert.equal(p.size, 0);
});

const msg = (attrs: Record<string, string>, ...children: ReturnType<typeof xml>[]) => xml('message', { from: 'm1@site/meter', to: 'gw@site', ...attrs }, ...children);
const reading = (text: string, meter: string | null = 'meter-0001') => xml('reading', meter === null ? { xmlns: NS_READING } : { xmlns: NS_READING, meter }, text);

test('classifyStanza: a well-formed reading; the sender as full and bare JID', () => {
  const c = classifyStanza(msg({ id: 'r-1' }, reading('AQID')));
  assert.equal(c.kind, 'reading');
  if (c.kind !== 'reading') return;
  assert.deepEqual([c.from, c.bareJid, c.id, c.meterId, [...c.bytes]], ['m1@site/meter', 'm1@site', 'r-1', 'meter-0001', [1, 2, 3]]);
  const upper = classifyStanza(xml('message', { from: 'M1@Site/meter', id: 'r-2' }, reading(' AQID\n')));
  assert.equal(upper.kind === 'reading' && upper.bareJid, 'm1@site', 'bare JIDs are compared lowercased');
});

test('classifyStanza: not ours is ignored; an error stanza is never answered (RFC 6120 §8.3.1)', () => {
  const ignored = [
    xml('presence', { from: 'm1@site/x' }),
    xml('iq', { from: 'm1@site/x', type: 'get', id: 'q' }, xml('query', { xmlns: 'urn:x' })),
    msg({ id: 'c', type: 'chat' }, xml('body', {}, 'hi')),
    msg({ id: 'o' }, xml('reading', { xmlns: 'urn:other' }, 'AQID')),
    msg({ id: 'e', type: 'error' }, reading('!!')),
    msg({ id: 'g', type: 'groupchat' }, reading('AQID')),
    msg({ id: 'h', type: 'headline' }, reading('AQID')),
    xml('message', { id: 'nofrom' }, reading('AQID')),
  ];
  for (const s of ignored) assert.equal(classifyStanza(s).kind, 'ignore', s.toString());
});

test('classifyStanza: malformed envelopes are refused with RFC 6120 §8.3 errors carrying a reason code', () => {
  const cases: [ReturnType<typeof xml>, string, string, string][] = [
    [msg({ id: 'a' }, reading('AQID', null)), 'bad_attribute', 'bad-request', ReasonCode.MALFORMED],
    [msg({ id: 'b' }, reading('AQID', 'bad id!')), 'bad_attribute', 'bad-request', ReasonCode.MALFORMED],
    [msg({}, reading('AQID')), 'bad_attribute', 'bad-request', ReasonCode.MALFORMED],
    [msg({ id: 'c' }, reading('AQ')), 'bad_base64', 'bad-request', ReasonCode.MALFORMED],
    [msg({ id: 'd' }, reading('')), 'bad_base64', 'bad-request', ReasonCode.MALFORMED],
    [msg({ id: 'e' }, reading(encodeBase64(new Uint8Array(17)))), 'too_large', 'policy-violation', ReasonCode.TOO_LARGE],
    [msg({ id: 'f' }, reading('A'.repeat(10_000))), 'too_large', 'policy-violation', ReasonCode.TOO_LARGE],
  ];
  for (const [s, reason, condition, code] of cases) {
    const c = classifyStanza(s, 16);
    assert.equal(c.kind, 'refuse', s.toString());
    if (c.kind !== 'refuse') continue;
    assert.equal(c.reason, reason, s.toString());
    assert.equal(c.reply.attrs.type, 'error');
    assert.equal(c.reply.attrs.to, 'm1@site/meter');
    assert.equal(c.reply.attrs.id, s.attrs.id);
    const e = c.reply.getChild('error')!;
    assert.ok(e.getChild(condition, NS_STANZAS), c.reply.toString());
    assert.equal(e.getChild('refused', NS_READING)?.attrs.code, code);
  }
});

test('ack stanzas: accepted carries seq and tx; rejected carries code, tx, seq and text', () => {
  const txHash = new Uint8Array(32).fill(0xab);
  const a = ackMessage('m1@site/meter', 'r-1', { status: 'accepted', txHash, seq: 17n }).getChild('ack', NS_READING)!;
  assert.deepEqual({ ...a.attrs }, { xmlns: NS_READING, id: 'r-1', status: 'accepted', seq: '17', tx: 'ab'.repeat(32) });
  const r = ackMessage('m1@site/meter', 'r-2', { status: 'rejected', txHash, code: ReasonCode.SEQ_REPLAY, message: 'seq 1 is not above 1', seq: 1n }).getChild('ack', NS_READING)!;
  assert.deepEqual({ ...r.attrs }, { xmlns: NS_READING, id: 'r-2', status: 'rejected', code: 'E_READING_SEQ_REPLAY', tx: 'ab'.repeat(32), seq: '1' });
  assert.equal(r.getText(), 'seq 1 is not above 1');
});
