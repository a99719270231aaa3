/**
 * The guard before the parser: sizes are judged from the fixed header (MQTT 3.1.1 §2.2),
 * and the UTF-8 strings that name things from their bytes ([MQTT-1.5.3-1], [MQTT-1.5.3-2]),
 * however the bytes are split.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { FrameGuard, guardReads } from '../../../bridge/mqtt/frame-guard.js';
import { connectPacket, publishPacket, subscribePacket, unsubscribePacket } from '../../helpers/mqtt-client.js';
import { rawPacket } from '../../helpers/raw-mqtt.js';

/** A packet of `type` with a body of `bodyLength` bytes. */
const frame = (type: number, bodyLength: number): Buffer => rawPacket(type, Buffer.alloc(bodyLength, 7));

describe('FrameGuard', { timeout: 10_000 }, () => {
  test('§2.2.3 Remaining Length: a stream of packets within the limit passes, split anywhere (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 10 }),
      fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
      (sizes, cuts) => {
        const bytes = Buffer.concat(sizes.map((s) => frame(0x30, s)));
        const g = new FrameGuard(300);
        let at = 0;
        for (let i = 0; at < bytes.length; i++) {
          const n = cuts[i % cuts.length]!;
          if (g.feed(bytes.subarray(at, at + n)) !== undefined) return false;
          at += n;
        }
        return true;
      }));
  });

  test('a packet over the limit is reported from its header, even fed byte by byte', () => {
    const g = new FrameGuard(1000);
    assert.equal(g.feed(frame(0x30, 10)), undefined);
    const big = frame(0x30, 1001).subarray(0, 3); // header only: 0x30, 2 length bytes
    assert.equal(g.feed(big.subarray(0, 1)), undefined);
    assert.equal(g.feed(big.subarray(1, 2)), undefined);
    assert.match(g.feed(big.subarray(2, 3)) ?? '', /1001 bytes exceeds the limit of 1000/);
  });

  test('a Remaining Length longer than four bytes is malformed', () => {
    assert.match(new FrameGuard(1e9).feed(Buffer.of(0x30, 0xff, 0xff, 0xff, 0xff, 0x01)) ?? '', /malformed/);
  });

  test('the largest four-byte length (268,435,455) is decoded exactly', () => {
    assert.match(new FrameGuard(268_435_454).feed(Buffer.of(0x30, 0xff, 0xff, 0xff, 0x7f)) ?? '', /268435455 bytes/);
    assert.equal(new FrameGuard(268_435_455).feed(Buffer.of(0x30, 0xff, 0xff, 0xff, 0x7f)), undefined);
  });
});

/** Feed `bytes` in pieces of `cut` bytes; the first reason, if any. */
function feedSplit(bytes: Buffer, cut: number, g = new FrameGuard(1 << 20)): string | undefined {
  for (let at = 0; at < bytes.length; at += cut) {
    const r = g.feed(bytes.subarray(at, at + cut));
    if (r !== undefined) return r;
  }
  return undefined;
}

const s = (...bytes: number[]): Buffer => Buffer.from(bytes);
/** Ill-formed UTF-8 ([MQTT-1.5.3-1]): surrogates, overlong forms, stray or missing continuation bytes, past U+10FFFF. */
const ILL_FORMED: [string, Buffer][] = [
  ['a high surrogate U+D800', s(0x61, 0xed, 0xa0, 0x80)],
  ['a low surrogate U+DFFF', s(0xed, 0xbf, 0xbf, 0x61)],
  ['an overlong U+0000 (C0 80)', s(0x61, 0xc0, 0x80)],
  ['an overlong "/" (E0 80 AF)', s(0xe0, 0x80, 0xaf)],
  ['a stray continuation byte', s(0x61, 0x80)],
  ['a truncated sequence', s(0x61, 0xe2, 0x82)],
  ['0xFF', s(0x6d, 0x31, 0xff)],
  ['a code point past U+10FFFF', s(0xf4, 0x90, 0x80, 0x80)],
];
const NUL = s(0x61, 0x00, 0x62);
const WELL_FORMED = ['café', 'Zähler/😀', '\uFEFFbom', 'm1', ''];
const prefix = (name: Buffer | string, with_: Buffer): Buffer => Buffer.concat([Buffer.from(name), with_]);

describe('FrameGuard: UTF-8 strings [MQTT-1.5.3-1] [MQTT-1.5.3-2]', { timeout: 10_000 }, () => {
  const packets = (bad: Buffer): [string, Buffer][] => [
    ['client id', connectPacket({ clientId: prefix('m1', bad), username: 'm1', password: 'x' })],
    ['user name', connectPacket({ clientId: 'm1', username: prefix('m1', bad), password: 'x' })],
    ['will topic', connectPacket({ clientId: 'ops', username: 'ops', password: 'x', will: { topic: prefix('site/', bad) } })],
    ['topic name', publishPacket(prefix('site/', bad), Buffer.from('payload'), 1, 3)],
    ['topic name', publishPacket(prefix('site/', bad), Buffer.alloc(0), 0)],
    ['topic filter', subscribePacket(1, [['ok/#', 1], [prefix('site/', bad), 1]])],
    ['topic filter', unsubscribePacket(2, ['ok/#', prefix('site/+', bad)])],
  ];
  for (const [what, bad] of [...ILL_FORMED, ['U+0000', NUL] as [string, Buffer]]) {
    test(`${what} in each named string is reported, fed whole or byte by byte`, () => {
      const rule = what === 'U+0000' ? /\[MQTT-1\.5\.3-2\] U\+0000/ : /\[MQTT-1\.5\.3-1\] ill-formed UTF-8/;
      for (const [field, pkt] of packets(bad)) {
        for (const cut of [pkt.length, 1, 3]) assert.match(feedSplit(pkt, cut) ?? '', new RegExp(`${rule.source} in the ${field}`), `${field}, cut ${cut}`);
      }
    });
  }

  test('well-formed strings pass (BOM kept, [MQTT-1.5.3-3]); binary fields are not judged: password, will message, payload', () => {
    for (const t of WELL_FORMED) {
      for (const pkt of [
        connectPacket({ clientId: t, username: t, password: '\xff', will: { topic: `w/${t}`, payload: 'x' } }),
        publishPacket(`site/${t}`, s(0xff, 0x00, 0xed, 0xa0, 0x80), 1, 9),
        subscribePacket(4, [[`a/${t}`, 0]]),
        unsubscribePacket(5, [`a/${t}`]),
      ]) {
        for (const cut of [pkt.length, 1, 2]) assert.equal(feedSplit(pkt, cut), undefined, `${t}, cut ${cut}`);
      }
    }
    const binaryPassword = Buffer.concat([Buffer.from([0x10]), Buffer.from([0x17]), Buffer.from('\0\x04MQTT\x04\xc2\0\x1e\0\x02m1\0\x02m1\0\x03', 'latin1'), s(0xff, 0x00, 0xc0)]);
    assert.equal(feedSplit(binaryPassword, 1), undefined);
  });

  test('a bad topic in a later packet of the same chunk is found; the packets before it pass (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 40 }), fc.constantFrom(...ILL_FORMED.map(([, b]) => b), NUL), (good, cut, bad) => {
      const ok = Array.from({ length: good }, (_, i) => publishPacket(`site/${i}`, Buffer.alloc(i * 7, 0xff), 1, i + 1));
      return feedSplit(Buffer.concat([...ok, publishPacket(prefix('x/', bad), Buffer.from('p'), 0)]), cut) !== undefined
        && feedSplit(Buffer.concat(ok), cut) === undefined;
    }), { numRuns: 500 });
  });
});

describe('guardReads', { timeout: 10_000 }, () => {
  test('withholds the offending chunk and reports once', async () => {
    const s = new PassThrough();
    const reasons: string[] = [];
    guardReads(s, 100, (r) => reasons.push(r));
    s.write(frame(0x30, 10));
    await new Promise((r) => setImmediate(r));
    assert.equal((s.read() as Buffer).length, 12);
    s.write(frame(0x30, 200));
    await new Promise((r) => setImmediate(r));
    assert.equal(s.read(), null);
    assert.equal(reasons.length, 1);
  });
});
